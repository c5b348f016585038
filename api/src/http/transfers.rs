//! `POST /api/v1/public/wallets/{walletId}/transfer` (seed 003): parse, run
//! [`emledger_operations::transfer::Transfer`], render 202 with its PENDING movements.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::post,
    Router,
};
use emledger_operations::transfer::{Transfer, TransferStored};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Write},
    extract::{self, path_uuid, Path},
    idempotency::{self, Render, Request, Run},
    money::{self, AcceptedLinks},
    ApiContext, Result,
};

/// A transfer between two wallets of the tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransferRequest {
    /// Decimal string or integer, > 0, at most the token's decimals.
    #[schema(value_type = super::docs::Amount)]
    pub amount: Value,
    /// At most 500 characters, no control characters; blank = none.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub concept: Option<String>,
    /// Another wallet of the tenant: it must differ from the path's `walletId`
    /// (400 on `targetWalletId` otherwise; 404 when unknown).
    pub target_wallet_id: Uuid,
    /// Same as the `Idempotency-Key` header (both given: they must be equal).
    #[schema(pattern = r"^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// An accepted transfer: its movements are PENDING until the chain settles them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransferAccepted {
    #[serde(rename = "_links")]
    pub links: AcceptedLinks,
    /// The API operation (see `GET /api/v1/public/operations/{id}`).
    pub api_operation_id: Uuid,
    /// The source wallet's TRANSFER_OUT movement.
    pub movement_id: Uuid,
    /// The target wallet's TRANSFER_IN movement.
    pub target_movement_id: Uuid,
    /// `PENDING`.
    pub status: String,
    #[schema(value_type = String, example = "10.50")]
    pub amount: String,
    pub concept: Option<String>,
    pub wallet_id: Uuid,
    pub target_wallet_id: Uuid,
}

pub fn router() -> Router<ApiContext> {
    Router::new().route("/api/v1/public/wallets/{walletId}/transfer", post(transfer))
}

/// Transfer money to another wallet of the tenant. Idempotent with `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/transfer", tag = "money", request_body = TransferRequest,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = TransferAccepted), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, description = "wallet or targetWalletId unknown", body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `insufficient_funds`, `idempotency_in_flight`", body = super::error::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn transfer(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<TransferRequest>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let b = body.value;
    let req = Request {
        client_id: auth.client_id,
        key: idempotency::key(&headers, b.idempotency_key.as_deref())?,
        endpoint: format!("POST /api/v1/public/wallets/{wallet_id}/transfer"),
        raw_body: &body.raw,
    };
    let command = Transfer { wallet_id, target_wallet_id: b.target_wallet_id, amount: b.amount, concept: b.concept };
    idempotency::run(&ctx, req, Run(command)).await
}

impl Render for TransferStored {
    async fn render(self, ctx: &ApiContext, _: &mut PgConnection) -> Result<(StatusCode, Value)> {
        let body = TransferAccepted {
            links: money::accepted_links(ctx, format!("/api/v1/public/wallets/{}/movements/{}", self.wallet_id, self.movement_id), self.operation_id),
            api_operation_id: self.operation_id,
            movement_id: self.movement_id,
            target_movement_id: self.target_movement_id,
            status: "PENDING".into(),
            amount: self.amount,
            concept: self.concept,
            wallet_id: self.wallet_id,
            target_wallet_id: self.target_wallet_id,
        };
        Ok((StatusCode::ACCEPTED, money::to_value(&body)?))
    }
}
