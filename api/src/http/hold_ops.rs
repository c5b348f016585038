//! Holds through the API (seed 003): create, execute, execute and keep open,
//! release, renew — each handler parses, runs one command of
//! [`emledger_operations::hold`] (where the rules and statuses are documented)
//! and answers 202 with the hold (status `*_REQUESTED`).

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::post,
    Router,
};
use emledger_operations::hold::{Action, CreateHold as CreateHoldCommand, HoldAction, HoldStored};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Write},
    extract::{self, path_uuid, Path},
    holds::{load_hold, HoldView},
    idempotency::{self, Render, Request, Run},
    money::{self, AcceptedLinks},
    ApiContext, Result,
};

/// Create a hold on the wallet's funds in favour of `targetWalletId`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateHold {
    #[schema(value_type = super::docs::Amount)]
    pub amount: Value,
    /// The payee: another wallet of the tenant: it must differ from the path's
    /// `walletId` (400 on `targetWalletId` otherwise; 404 when unknown).
    pub target_wallet_id: Uuid,
    /// At most 500 characters, no control characters; blank = none.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub concept: Option<String>,
    /// RFC 3339 with an offset (`2030-02-06T10:04:45+02:00`; the seed's `+02` is
    /// taken too), in the future (400 otherwise); absent, null or empty = perpetual.
    #[schema(value_type = Option<super::docs::Expiration>)]
    pub expiration: Option<String>,
    #[schema(pattern = r"^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// Execute a hold (`executeHold`, `executeHoldAndKeepOpen`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecuteHold {
    /// At most the hold's remaining value (409 `amount_exceeds_held_value`).
    #[schema(value_type = super::docs::Amount)]
    pub amount: Value,
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub concept: Option<String>,
    #[schema(pattern = r"^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// Release a hold (its remaining value goes back to the payer's available balance).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReleaseHold {
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub concept: Option<String>,
    #[schema(pattern = r"^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// Renew a hold: a new expiration; absent, null or empty = perpetual.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenewHold {
    /// RFC 3339 with an offset (`2030-02-06T10:04:45+02:00`; the seed's `+02` is
    /// taken too), in the future (400 otherwise); absent, null or empty = perpetual.
    #[schema(value_type = Option<super::docs::Expiration>)]
    pub expiration: Option<String>,
    #[schema(pattern = r"^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// The hold after an accepted request (status `*_REQUESTED`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldAccepted {
    #[serde(flatten)]
    pub hold: HoldView,
    /// The API operation (see `GET /api/v1/public/operations/{id}`).
    pub api_operation_id: Uuid,
    /// The PENDING movements this request created.
    pub movement_ids: Vec<Uuid>,
    #[serde(rename = "_operation")]
    pub operation: AcceptedLinks,
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/wallets/{walletId}/hold", post(create_hold))
        .route("/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHold", post(execute_hold))
        .route("/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHoldAndKeepOpen", post(execute_hold_keep_open))
        .route("/api/v1/public/wallets/{walletId}/hold/{holdId}/releaseHold", post(release_hold))
        .route("/api/v1/public/wallets/{walletId}/hold/{holdId}/renewHold", post(renew_hold))
}

/// Create a hold (the platform is the notary). Idempotent with `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/hold", tag = "money", request_body = CreateHold,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, description = "hold CREATION_REQUESTED", body = HoldAccepted), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `insufficient_funds`", body = super::error::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`, `platform_signer_unavailable`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn create_hold(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CreateHold>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let b = body.value;
    let req = Request {
        client_id: auth.client_id,
        key: idempotency::key(&headers, b.idempotency_key.as_deref())?,
        endpoint: format!("POST /api/v1/public/wallets/{wallet_id}/hold"),
        raw_body: &body.raw,
    };
    let command = CreateHoldCommand {
        wallet_id,
        target_wallet_id: b.target_wallet_id,
        amount: b.amount,
        concept: b.concept,
        expiration: b.expiration,
    };
    idempotency::run(&ctx, req, Run(command)).await
}

/// What the body of an action asks for.
struct ActionRequest {
    amount: Option<Value>,
    concept: Option<String>,
    expiration: Option<String>,
}

macro_rules! action_handler {
    ($fn:ident, $action:expr, $body:ty, $path:literal, $doc:literal, |$b:ident| $req:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "money", request_body = $body,
            params(("walletId" = Uuid, Path, description = "the payer wallet"), ("holdId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
            responses((status = 202, body = HoldAccepted), (status = 400, body = super::error::ErrorEnvelope),
                (status = 404, body = super::error::ErrorEnvelope),
                (status = 409, description = "`hold_not_notarized_by_platform`, `hold_operation_in_progress`, `hold_not_open`, `hold_reserved_for_cash_out`, `amount_exceeds_held_value`, `wallet_not_ready`", body = super::error::ErrorEnvelope),
                (status = 422, description = "`idempotency_key_reused`", body = super::error::ErrorEnvelope),
                (status = 503, description = "`chain_not_ready`, `platform_signer_unavailable`", body = super::error::ErrorEnvelope)),
            security(("apiKey" = []), ("bearer" = [])))]
        pub async fn $fn(
            auth: Auth<Write>,
            State(ctx): State<ApiContext>,
            Path((wallet_id, hold_id)): Path<(String, String)>,
            headers: HeaderMap,
            body: extract::Json<$body>,
        ) -> Result<Response> {
            let wallet_id = path_uuid("walletId", &wallet_id)?;
            let hold_id = path_uuid("holdId", &hold_id)?;
            let action: Action = $action;
            let req = Request {
                client_id: auth.client_id,
                key: idempotency::key(&headers, body.value.idempotency_key.as_deref())?,
                endpoint: format!("POST /api/v1/public/wallets/{wallet_id}/hold/{hold_id}/{}", action.name()),
                raw_body: &body.raw,
            };
            let $b = body.value;
            let r: ActionRequest = $req;
            let command = HoldAction { wallet_id, hold_id, action, amount: r.amount, concept: r.concept, expiration: r.expiration };
            idempotency::run(&ctx, req, Run(command)).await
        }
    };
}

action_handler!(execute_hold, Action::Execute, ExecuteHold, "/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHold",
    "Execute a hold: `amount` goes to the payee and the hold closes; a partial execute releases the rest to the payer.",
    |b| ActionRequest { amount: Some(b.amount), concept: b.concept, expiration: None });
action_handler!(execute_hold_keep_open, Action::ExecuteKeepOpen, ExecuteHold, "/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHoldAndKeepOpen",
    "Execute part of a hold and keep the rest held (executing all of it closes the hold).",
    |b| ActionRequest { amount: Some(b.amount), concept: b.concept, expiration: None });
action_handler!(release_hold, Action::Release, ReleaseHold, "/api/v1/public/wallets/{walletId}/hold/{holdId}/releaseHold",
    "Release a hold: its remaining value becomes available to the payer again.",
    |b| ActionRequest { amount: None, concept: b.concept, expiration: None });
action_handler!(renew_hold, Action::Renew, RenewHold, "/api/v1/public/wallets/{walletId}/hold/{holdId}/renewHold",
    "Renew a hold with a new expiration (empty = perpetual).",
    |b| ActionRequest { amount: None, concept: None, expiration: b.expiration });

impl Render for HoldStored {
    async fn render(self, ctx: &ApiContext, conn: &mut PgConnection) -> Result<(StatusCode, Value)> {
        let hold = load_hold(conn, ctx, self.client_id, self.wallet_id, self.hold_id).await?;
        let body = HoldAccepted {
            hold,
            api_operation_id: self.operation_id,
            movement_ids: self.movement_ids,
            operation: money::accepted_links(ctx, format!("/api/v1/public/wallets/{}/holds/{}", self.wallet_id, self.hold_id), self.operation_id),
        };
        Ok((StatusCode::ACCEPTED, money::to_value(&body)?))
    }
}
