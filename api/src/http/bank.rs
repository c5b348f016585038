//! The bank side of SEPA cash-in: `POST /api/v1/bank/incoming-transfers` (admin
//! scope) reports a transfer received on a wallet's IBAN; the rules (mint to the
//! wallet owning the IBAN, `unknown_iban`, idempotency on the bank's
//! `reference`) are in [`emledger_operations::bank`].

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use emledger_operations::bank::{self, IncomingAccepted, Received};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Admin, Auth},
    extract, idempotency, money, ApiContext, Error, Result,
};

/// A SEPA transfer received on a wallet IBAN.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IncomingTransfer {
    /// The receiving IBAN (a wallet's).
    pub iban: String,
    #[schema(value_type = String, example = "250.00")]
    pub amount: Value,
    /// The bank's unique reference of the transfer (1..=140 characters).
    pub reference: String,
    pub debtor_name: Option<String>,
}

/// An accepted incoming transfer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncomingTransferAccepted {
    pub id: Uuid,
    /// `ACCEPTED`.
    pub status: String,
    pub reference: String,
    pub wallet_id: Uuid,
    /// The BANK_ACCOUNT_CASHIN movement (PENDING until the mint is mined).
    pub movement_id: Uuid,
    pub api_operation_id: Uuid,
    #[schema(value_type = String, example = "250.00")]
    pub amount: String,
}

pub fn router() -> Router<ApiContext> {
    Router::new().route("/api/v1/bank/incoming-transfers", post(incoming_transfer))
}

/// Report a SEPA transfer received on a wallet IBAN (bank side, admin scope).
#[utoipa::path(post, path = "/api/v1/bank/incoming-transfers", tag = "bank", request_body = IncomingTransfer,
    responses((status = 202, body = IncomingTransferAccepted), (status = 400, body = super::error::ErrorEnvelope),
        (status = 403, body = super::error::ErrorEnvelope),
        (status = 422, description = "`unknown_iban` (recorded, nothing minted), `idempotency_key_reused` (reference reused with another body)", body = super::error::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn incoming_transfer(
    auth: Auth<Admin>,
    State(ctx): State<ApiContext>,
    body: extract::Json<IncomingTransfer>,
) -> Result<Response> {
    let b = body.value;
    let t = bank::IncomingTransfer { iban: b.iban, amount: b.amount, reference: b.reference, debtor_name: b.debtor_name };
    Ok(match bank::receive(ctx.platform(), auth.client_id, t, &body.raw).await? {
        Received::Accepted(a) => (StatusCode::ACCEPTED, Json(view(a)?)).into_response(),
        Received::Replayed(Ok(a)) => idempotency::replayed(StatusCode::ACCEPTED, view(a)?),
        Received::Replayed(Err(refused)) => {
            let e = Error::from(refused);
            idempotency::replayed(e.status(), e.envelope())
        }
    })
}

fn view(a: IncomingAccepted) -> Result<Value> {
    money::to_value(&IncomingTransferAccepted {
        id: a.id,
        status: "ACCEPTED".into(),
        reference: a.reference,
        wallet_id: a.wallet_id,
        movement_id: a.movement_id,
        api_operation_id: a.operation_id,
        amount: a.amount,
    })
}
