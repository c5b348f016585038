//! The bank side of SEPA cash-in: `POST /api/v1/bank/incoming-transfers` (admin
//! scope) reports a transfer received on a wallet's IBAN. The platform mints the
//! amount to the wallet owning that IBAN (a BANK_ACCOUNT_CASHIN movement, PENDING
//! → SUCCESS). An IBAN no READY wallet of the tenant owns is recorded and refused
//! (422 `unknown_iban`, nothing minted). Idempotent on the bank's `reference`:
//! the same reference and body get the stored answer (`Idempotency-Replayed:
//! true`), the same reference with another body 422 `idempotency_key_reused`.

use alloy::sol_types::SolCall;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Admin, Auth},
    extract,
    idempotency,
    money::{self, kind, NewMovement, NewOperation, Party},
    wallets::WalletFacts,
    ApiContext, Error, Result,
};
use crate::validate;

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
    responses((status = 202, body = IncomingTransferAccepted), (status = 400, body = super::docs::ErrorEnvelope),
        (status = 403, body = super::docs::ErrorEnvelope),
        (status = 422, description = "`unknown_iban` (recorded, nothing minted), `idempotency_key_reused` (reference reused with another body)", body = super::docs::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`", body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn incoming_transfer(
    auth: Auth<Admin>,
    State(ctx): State<ApiContext>,
    body: extract::Json<IncomingTransfer>,
) -> Result<Response> {
    let b = body.value;
    let reference = b.reference.trim().to_owned();
    if reference.is_empty() || reference.chars().count() > 140 || reference.chars().any(char::is_control) {
        return Err(Error::invalid("reference", "must be 1 to 140 characters without control characters"));
    }
    let iban = validate::iban(&b.iban).map_err(|r| Error::invalid("iban", r))?;
    let token = money::token(&ctx).await?;
    let amount = money::amount("amount", &b.amount, token.decimals)?;
    let debtor = super::wallets::text("debtorName", b.debtor_name, 200)?;
    let hash = idempotency::request_hash("POST /api/v1/bank/incoming-transfers", &body.raw);

    let mut tx = ctx.pool().begin().await?;
    let id = Uuid::now_v7();
    let claimed = sqlx::query(
        "INSERT INTO bank_incoming_transfers (id, client_id, reference, request_hash, iban, amount, debtor_name, status)
         VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, 'PROCESSING') ON CONFLICT (client_id, reference) DO NOTHING",
    )
    .bind(id)
    .bind(auth.client_id)
    .bind(&reference)
    .bind(&hash)
    .bind(&iban)
    .bind(amount.minor().to_string())
    .bind(&debtor)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        let (stored_hash, code, response): (Vec<u8>, Option<i16>, Option<Value>) = sqlx::query_as(
            "SELECT request_hash, status_code, response FROM bank_incoming_transfers WHERE client_id = $1 AND reference = $2",
        )
        .bind(auth.client_id)
        .bind(&reference)
        .fetch_one(&mut *tx)
        .await?;
        if stored_hash != hash {
            return Err(Error::IdempotencyKeyReused);
        }
        let status = code.and_then(|c| StatusCode::from_u16(c as u16).ok()).unwrap_or(StatusCode::OK);
        return Ok(idempotency::replayed(status, response.unwrap_or(Value::Null)));
    }

    let wallet: Option<WalletFacts> =
        sqlx::query_as("SELECT id, user_id, dlt_address, status, iban FROM wallets WHERE iban = $1 AND client_id = $2 FOR UPDATE")
            .bind(&iban)
            .bind(auth.client_id)
            .fetch_optional(&mut *tx)
            .await?;
    let wallet = match wallet {
        Some(w) if w.status == super::wallets::status::READY => w,
        other => {
            let reason = match other {
                Some(w) => format!("the wallet owning this IBAN is {}", w.status),
                None => "no wallet owns this IBAN".to_owned(),
            };
            let err = Error::Unprocessable { code: "unknown_iban", message: format!("refused: {reason}; nothing was minted") };
            sqlx::query(
                "UPDATE bank_incoming_transfers SET status = 'REFUSED', reason = $2, status_code = $3, response = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(&reason)
            .bind(err.status().as_u16() as i16)
            .bind(err.envelope())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Err(err);
        }
    };

    let op_id = Uuid::now_v7();
    let movement_id = Uuid::now_v7();
    let calldata = EmToken::mintCall { operationId: op_id.to_string(), to: money::addr(&wallet.dlt_address)?, value: amount.to_u256() }
        .abi_encode();
    money::insert_operation(
        &mut tx,
        NewOperation {
            id: op_id,
            client_id: auth.client_id,
            kind: kind::BANK_CASHIN,
            chain_operation_id: op_id.to_string(),
            token: &token,
            calldata,
            debit: None,
            wallet_id: Some(wallet.id),
            hold_id: None,
            payout_id: None,
        },
    )
    .await?;
    money::insert_movement(
        &mut tx,
        &ctx,
        &token,
        NewMovement {
            id: movement_id,
            client_id: auth.client_id,
            kind: MovementType::BANK_ACCOUNT_CASHIN,
            amount: amount.minor(),
            concept: Some(match &debtor {
                Some(d) => format!("SEPA transfer {reference} from {d}"),
                None => format!("SEPA transfer {reference}"),
            }),
            owner: Party::of(&wallet),
            origin: None,
            target: Some(Party::of(&wallet)),
            operation_id: op_id,
            chain_operation_id: op_id.to_string(),
            hold_operation_id: None,
        },
    )
    .await?;
    let body = IncomingTransferAccepted {
        id,
        status: "ACCEPTED".into(),
        reference,
        wallet_id: wallet.id,
        movement_id,
        api_operation_id: op_id,
        amount: money::wire(amount.minor(), token.decimals),
    };
    let value = money::to_value(&body)?;
    sqlx::query(
        "UPDATE bank_incoming_transfers SET status = 'ACCEPTED', wallet_id = $2, movement_id = $3, operation_id = $4,
                status_code = 202, response = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(wallet.id)
    .bind(movement_id)
    .bind(op_id)
    .bind(&value)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    money::stored(&ctx);
    Ok((StatusCode::ACCEPTED, Json(value)).into_response())
}
