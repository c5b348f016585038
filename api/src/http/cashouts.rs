//! Cash-out to a bank account (seed 003): `POST /wallets/{walletId}/cashOuts`
//! {iban{accountNumber}, amount, concept} and
//! `POST /wallets/{walletId}/cashout-to-favourite-external-account`
//! {favouriteExternalAccountId, amount, concept}.
//!
//! How the money leaves, and why it cannot be lost or paid twice:
//! 1. **Reserve.** The request stores (one transaction) a hold operation
//!    (`holdFromWithExpirationDate`, payer = the wallet, payee and notary = the
//!    platform, perpetual), the hold row, a PENDING LOCK movement, the PENDING
//!    `BANK_ACCOUNT_CASHOUT` movement returned as `movementId`, and a `payouts`
//!    row (RESERVING). The funds are unavailable to the wallet from here on.
//! 2. **Pay out.** Once the hold is mined, the (simulated) bank pays the IBAN.
//!    On success the platform burns the held funds (`burnHeld`, the hold closes
//!    EXECUTED): the BANK_ACCOUNT_CASHOUT movement turns SUCCESS and the payout PAID.
//! 3. **Failed payout.** If the bank refuses the payout (simulated with
//!    `--bank-reject-ibans`), or the burn reverts, the platform releases the hold:
//!    the funds are available to the wallet again (a RELEASE movement), the
//!    BANK_ACCOUNT_CASHOUT movement turns ERROR and the payout RELEASED.
//!    If the reservation itself reverts, nothing was taken: the movements turn
//!    ERROR and the payout FAILED.
//!
//! The payout steps are driven by the submitter (`submitter::payouts`), each step
//! an operation stored together with the payout's status change.

use alloy::{primitives::U256, sol_types::SolCall};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::post,
    Router,
};
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Write},
    extract::{self, path_uuid, Path},
    favourites::ExternalIban,
    hold_ops::insert_hold_row,
    idempotency::{self, Begin},
    money::{self, kind, AcceptedLinks, NewMovement, NewOperation, Party},
    wallets::wallet_facts,
    ApiContext, Error, Result,
};
use crate::validate;

/// Cash out to an IBAN.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CashOut {
    pub iban: ExternalIban,
    #[schema(value_type = String, example = "1.50")]
    pub amount: Value,
    pub concept: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Cash out to a favourite external account of the wallet.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CashOutToFavourite {
    pub favourite_external_account_id: Uuid,
    #[schema(value_type = String, example = "1.50")]
    pub amount: Value,
    pub concept: Option<String>,
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
    responses((status = 202, body = CashOutAccepted), (status = 400, body = super::docs::ErrorEnvelope),
        (status = 404, body = super::docs::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `insufficient_funds`", body = super::docs::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::docs::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`, `platform_signer_unavailable`", body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn cash_out(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CashOut>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let key = idempotency::key(&headers, body.value.idempotency_key.as_deref())?;
    let endpoint = format!("POST /api/v1/public/wallets/{wallet_id}/cashOuts");
    let b = body.value;
    let mut tx = ctx.pool().begin().await?;
    let claim = match idempotency::begin(&mut tx, auth.client_id, key, &endpoint, &body.raw).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Proceed(c) => c,
    };
    let outcome = async {
        let iban = validate::iban(&b.iban.account_number).map_err(|r| Error::invalid("iban.accountNumber", r))?;
        store(&mut tx, &ctx, auth.client_id, wallet_id, iban, None, b.amount, b.concept).await
    }
    .await;
    let res = idempotency::finish(&ctx, auth.client_id, tx, claim, outcome).await?;
    money::stored(&ctx);
    Ok(res)
}

/// Cash out to a favourite external account (ACTIVE, of this wallet).
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/cashout-to-favourite-external-account", tag = "money",
    request_body = CashOutToFavourite,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = CashOutAccepted), (status = 400, body = super::docs::ErrorEnvelope),
        (status = 404, description = "wallet or favouriteExternalAccountId unknown", body = super::docs::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `insufficient_funds`, `favourite_deleted`", body = super::docs::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::docs::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`, `platform_signer_unavailable`", body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn cash_out_to_favourite(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CashOutToFavourite>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let key = idempotency::key(&headers, body.value.idempotency_key.as_deref())?;
    let endpoint = format!("POST /api/v1/public/wallets/{wallet_id}/cashout-to-favourite-external-account");
    let b = body.value;
    let mut tx = ctx.pool().begin().await?;
    let claim = match idempotency::begin(&mut tx, auth.client_id, key, &endpoint, &body.raw).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Proceed(c) => c,
    };
    let outcome = async {
        let (iban, alias) = favourite(&mut tx, auth.client_id, wallet_id, b.favourite_external_account_id, "favouriteExternalAccountId").await?;
        store(&mut tx, &ctx, auth.client_id, wallet_id, iban, Some((b.favourite_external_account_id, alias)), b.amount, b.concept).await
    }
    .await;
    let res = idempotency::finish(&ctx, auth.client_id, tx, claim, outcome).await?;
    money::stored(&ctx);
    Ok(res)
}

/// The (IBAN, alias) of an ACTIVE favourite external account of the wallet: 404
/// (naming `field`) when unknown, 409 `favourite_deleted` when deleted.
pub(crate) async fn favourite(
    conn: &mut PgConnection,
    client_id: Uuid,
    wallet_id: Uuid,
    favourite_id: Uuid,
    field: &'static str,
) -> Result<(String, String)> {
    let fav: Option<(String, String, String)> = sqlx::query_as(
        "SELECT iban, alias, status FROM favourite_external_accounts WHERE id = $1 AND wallet_id = $2 AND client_id = $3",
    )
    .bind(favourite_id)
    .bind(wallet_id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (iban, alias, status) = fav.ok_or(Error::ReferenceNotFound { resource: "favourite external account", field })?;
    if status != "ACTIVE" {
        return Err(Error::conflict("favourite_deleted", "this favourite external account was deleted"));
    }
    Ok((iban, alias))
}

/// Stores a cash-out (reservation hold, LOCK + BANK_ACCOUNT_CASHOUT movements,
/// payout row) on `conn`; the caller owns the transaction. Shared by the endpoints
/// and the scheduled-operations worker. The answer is the 202 body ([`CashOutAccepted`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn store(
    conn: &mut PgConnection,
    ctx: &ApiContext,
    client_id: Uuid,
    wallet_id: Uuid,
    iban: String,
    favourite: Option<(Uuid, String)>,
    amount: Value,
    concept: Option<String>,
) -> Result<(StatusCode, Value)> {
    let token = money::token(ctx).await?;
    let platform = money::platform(ctx)?;
    let amount = money::amount("amount", &amount, token.decimals)?;
    let concept = money::concept(concept)?;
    let wallet = wallet_facts(conn, client_id, wallet_id, true).await?;
    money::require_ready(&wallet, "")?;
    money::check_available(conn, &token, &wallet.dlt_address, amount).await?;

    let hold_id = Uuid::now_v7();
    let op_id = Uuid::now_v7();
    let payout_id = Uuid::now_v7();
    let chain_op = hold_id.to_string();
    let calldata = EmToken::holdFromWithExpirationDateCall {
        operationId: chain_op.clone(),
        from: money::addr(&wallet.dlt_address)?,
        to: platform,
        notary: platform,
        value: amount.to_u256(),
        expiration: U256::ZERO,
    }
    .abi_encode();
    money::insert_operation(
        conn,
        NewOperation {
            id: op_id,
            client_id,
            kind: kind::CASHOUT_RESERVE,
            chain_operation_id: chain_op.clone(),
            token: &token,
            calldata,
            debit: Some((wallet.dlt_address.clone(), amount.minor())),
            wallet_id: Some(wallet_id),
            hold_id: Some(hold_id),
            payout_id: Some(payout_id),
        },
    )
    .await?;
    let hold_concept = Some(concept.clone().unwrap_or_else(|| format!("Cash-out to {iban}")));
    insert_hold_row(conn, ctx, &token, hold_id, client_id, platform, &wallet, &format!("{platform:#x}"), None, amount.minor(), None, hold_concept)
        .await?;
    let (lock_id, cashout_id) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, kind) in [(lock_id, MovementType::LOCK), (cashout_id, MovementType::BANK_ACCOUNT_CASHOUT)] {
        money::insert_movement(
            conn,
            ctx,
            &token,
            NewMovement {
                id,
                client_id,
                kind,
                amount: amount.minor(),
                concept: concept.clone(),
                owner: Party::of(&wallet),
                origin: (kind == MovementType::BANK_ACCOUNT_CASHOUT).then(|| Party::of(&wallet)),
                target: None,
                operation_id: op_id,
                chain_operation_id: chain_op.clone(),
                hold_operation_id: (kind == MovementType::BANK_ACCOUNT_CASHOUT).then(|| chain_op.clone()),
            },
        )
        .await?;
    }
    sqlx::query(
        "INSERT INTO payouts (id, client_id, wallet_id, hold_id, movement_id, iban, favourite_id, alias, amount, concept, status,
                              reserve_operation_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric, $10, 'RESERVING', $11)",
    )
    .bind(payout_id)
    .bind(client_id)
    .bind(wallet_id)
    .bind(hold_id)
    .bind(cashout_id)
    .bind(&iban)
    .bind(favourite.as_ref().map(|f| f.0))
    .bind(favourite.as_ref().map(|f| f.1.clone()))
    .bind(amount.minor().to_string())
    .bind(&concept)
    .bind(op_id)
    .execute(&mut *conn)
    .await?;
    let body = CashOutAccepted {
        links: money::accepted_links(ctx, format!("/api/v1/public/wallets/{wallet_id}/movements/{cashout_id}"), op_id),
        movement_id: cashout_id,
        status: "PENDING".into(),
        amount: money::wire(amount.minor(), token.decimals),
        iban: favourite.is_none().then(|| iban.clone()),
        favourite_external_account_iban: favourite.is_some().then(|| iban.clone()),
        favourite_external_account_id: favourite.as_ref().map(|f| f.0),
        alias: favourite.map(|f| f.1),
        concept,
        hold_id,
        api_operation_id: op_id,
    };
    Ok((StatusCode::ACCEPTED, money::to_value(&body)?))
}
