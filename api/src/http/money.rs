//! What the money endpoints render alike: the links of an accepted request and
//! JSON bodies. The rules of moving money are in `emledger_operations`.

use serde_json::Value;
use uuid::Uuid;

use super::{ApiContext, Error, Link, Result};

/// Links of an accepted money request.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AcceptedLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    /// The operation (its status, tx hash, revert reason).
    pub operation: Link,
}

pub fn accepted_links(ctx: &ApiContext, self_path: String, operation_id: Uuid) -> AcceptedLinks {
    AcceptedLinks {
        self_: Link::new(ctx, self_path),
        operation: Link::new(ctx, format!("/api/v1/public/operations/{operation_id}")),
    }
}

/// JSON value of a response body.
pub fn to_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::Internal(e.into()))
}

/// Minor units as a wire decimal string with exactly `decimals` digits.
pub use emledger_operations::money::wire;
