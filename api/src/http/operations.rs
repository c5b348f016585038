//! `GET /api/v1/public/operations/{operationId}`: where a money request is in
//! the pipeline (PENDING → SIGNED → SENT → MINED → SUCCESS, or FAILED with the
//! revert reason), with its transaction hash. Never shows the signed transaction.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Read},
    extract::{path_uuid, Path},
    ApiContext, Error, Result,
};

/// An operation: one contract call the platform makes.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct OperationView {
    pub id: Uuid,
    /// TRANSFER, HOLD_CREATE, HOLD_EXECUTE, HOLD_EXECUTE_KEEP_OPEN, HOLD_RELEASE, HOLD_RENEW,
    /// CARD_CASHIN, BANK_CASHIN, CASHOUT_RESERVE, CASHOUT_BURN, CASHOUT_RELEASE, and the
    /// relayer's cross-ledger steps: CROSS_LEDGER_ACCEPT, CROSS_LEDGER_REVOKE,
    /// CROSS_LEDGER_ACKNOWLEDGE, CROSS_LEDGER_ACKNOWLEDGE_REVOCATION, CROSS_LEDGER_EXECUTE_OUT,
    /// CROSS_LEDGER_EXECUTE_IN.
    pub kind: String,
    /// PENDING, SIGNED, SENT, MINED, SUCCESS or FAILED.
    pub status: String,
    /// The operation id given to the contract.
    pub chain_operation_id: String,
    pub wallet_id: Option<Uuid>,
    pub hold_id: Option<Uuid>,
    pub tx_hash: Option<String>,
    pub nonce: Option<i64>,
    pub block_number: Option<i64>,
    /// The revert reason of a FAILED operation.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn router() -> Router<ApiContext> {
    Router::new().route("/api/v1/public/operations/{operationId}", get(get_operation))
}

/// Get an operation of the tenant.
#[utoipa::path(get, path = "/api/v1/public/operations/{operationId}", tag = "money",
    params(("operationId" = Uuid, Path)),
    responses((status = 200, body = OperationView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_operation(auth: Auth<Read>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<Json<OperationView>> {
    let id = path_uuid("operationId", &id)?;
    let row: Option<OperationView> = sqlx::query_as(
        "SELECT id, kind, status, chain_operation_id, wallet_id, hold_id, tx_hash, nonce, block_number, error, created_at, updated_at
         FROM operations WHERE id = $1 AND client_id = $2",
    )
    .bind(id)
    .bind(auth.client_id)
    .fetch_optional(ctx.pool())
    .await?;
    row.map(Json).ok_or(Error::NotFound("operation"))
}
