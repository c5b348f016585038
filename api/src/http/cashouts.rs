//! Cash-out to a bank account (seed 003): `POST /wallets/{walletId}/cashOuts`
//! {iban{accountNumber}, amount, concept} and
//! `POST /wallets/{walletId}/cashout-to-favourite-external-account`
//! {favouriteExternalAccountId, amount, concept}. Both run
//! [`emledger_operations::cashout::CashOut`] (where the reserve → pay out → burn
//! or release lifecycle is documented) and answer 202.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::post,
    Router,
};
use emledger_operations::cashout::{CashOut as CashOutCommand, CashOutStored, Payee};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Write},
    extract::{self, path_uuid, Path},
    favourites::ExternalIban,
    idempotency::{self, Render, Request, Run},
    money::{self, AcceptedLinks},
    ApiContext, Result,
};

/// Cash out to an IBAN.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CashOut {
    pub iban: ExternalIban,
    #[schema(value_type = super::docs::Amount)]
    pub amount: Value,
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub concept: Option<String>,
    #[schema(pattern = r"^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// Cash out to a favourite external account of the wallet.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CashOutToFavourite {
    pub favourite_external_account_id: Uuid,
    #[schema(value_type = super::docs::Amount)]
    pub amount: Value,
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub concept: Option<String>,
    #[schema(pattern = r"^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// An accepted cash-out (seed 003's response, plus the operation and hold).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CashOutAccepted {
    #[serde(rename = "_links")]
    pub links: AcceptedLinks,
    /// The BANK_ACCOUNT_CASHOUT movement.
    pub movement_id: Uuid,
    /// `PENDING`.
    pub status: String,
    #[schema(value_type = String, example = "1.50")]
    pub amount: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favourite_external_account_iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favourite_external_account_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub concept: Option<String>,
    /// The hold reserving the funds.
    pub hold_id: Uuid,
    pub api_operation_id: Uuid,
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/wallets/{walletId}/cashOuts", post(cash_out))
        .route("/api/v1/public/wallets/{walletId}/cashout-to-favourite-external-account", post(cash_out_to_favourite))
}

/// Cash out to an IBAN (funds reserved by a hold, burnt when the payout succeeds).
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/cashOuts", tag = "money", request_body = CashOut,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = CashOutAccepted), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `insufficient_funds`", body = super::error::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`, `platform_signer_unavailable`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn cash_out(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CashOut>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let b = body.value;
    let req = Request {
        client_id: auth.client_id,
        key: idempotency::key(&headers, b.idempotency_key.as_deref())?,
        endpoint: format!("POST /api/v1/public/wallets/{wallet_id}/cashOuts"),
        raw_body: &body.raw,
    };
    let command = CashOutCommand { wallet_id, to: Payee::Iban(b.iban.account_number), amount: b.amount, concept: b.concept };
    idempotency::run(&ctx, req, Run(command)).await
}

/// Cash out to a favourite external account (ACTIVE, of this wallet).
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/cashout-to-favourite-external-account", tag = "money",
    request_body = CashOutToFavourite,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = CashOutAccepted), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, description = "wallet or favouriteExternalAccountId unknown", body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `insufficient_funds`, `favourite_deleted`", body = super::error::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`, `platform_signer_unavailable`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn cash_out_to_favourite(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CashOutToFavourite>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let b = body.value;
    let req = Request {
        client_id: auth.client_id,
        key: idempotency::key(&headers, b.idempotency_key.as_deref())?,
        endpoint: format!("POST /api/v1/public/wallets/{wallet_id}/cashout-to-favourite-external-account"),
        raw_body: &body.raw,
    };
    let to = Payee::Favourite { id: b.favourite_external_account_id, field: "favouriteExternalAccountId" };
    let command = CashOutCommand { wallet_id, to, amount: b.amount, concept: b.concept };
    idempotency::run(&ctx, req, Run(command)).await
}

impl Render for CashOutStored {
    async fn render(self, ctx: &ApiContext, _: &mut PgConnection) -> Result<(StatusCode, Value)> {
        let (favourite_id, alias) = self.favourite.map(|(id, alias)| (Some(id), Some(alias))).unwrap_or_default();
        let body = CashOutAccepted {
            links: money::accepted_links(ctx, format!("/api/v1/public/wallets/{}/movements/{}", self.wallet_id, self.movement_id), self.operation_id),
            movement_id: self.movement_id,
            status: "PENDING".into(),
            amount: self.amount,
            iban: favourite_id.is_none().then(|| self.iban.clone()),
            favourite_external_account_iban: favourite_id.is_some().then_some(self.iban),
            favourite_external_account_id: favourite_id,
            alias,
            concept: self.concept,
            hold_id: self.hold_id,
            api_operation_id: self.operation_id,
        };
        Ok((StatusCode::ACCEPTED, money::to_value(&body)?))
    }
}
