//! Card cash-in (seed 003): `POST /wallets/{walletId}/cards/cashIns` creates a
//! PENDING `CARD_CASHIN` movement and returns a `paymentUrl` to a simulated card
//! payment page served by the API itself (`/card-payments/{token}`, no API key:
//! the 256-bit token in the URL is the credential). On that page, **Pay** stores
//! the mint operation (the platform mints `amount` to the wallet) and redirects
//! (303) to `successUrl`; **Reject** marks the movement ERROR and redirects to
//! `rejectUrl`. Each page can be used once.

use alloy::sol_types::SolCall;
use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
    Router,
};
use emledger_contracts::EmToken;
use emledger_ledger::MovementType;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Write},
    extract::{self, path_uuid, Path},
    idempotency::{self, Begin},
    money::{self, kind, NewMovement, NewOperation, Party},
    wallets::wallet_facts,
    ApiContext, Error, Result,
};

/// Start a card cash-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CardCashIn {
    #[schema(value_type = String, example = "1000")]
    pub amount: Value,
    /// Where the payer's browser goes after paying (http or https URL).
    #[serde(alias = "succcessUrl")]
    pub success_url: String,
    /// Where it goes after rejecting.
    pub reject_url: String,
    pub idempotency_key: Option<String>,
}

/// A started card cash-in.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardCashInStarted {
    #[serde(rename = "_links")]
    pub links: CardLinks,
    /// The CARD_CASHIN movement (PENDING until the mint is mined).
    pub movement_id: Uuid,
    pub status: String,
    #[schema(value_type = String, example = "1000.00")]
    pub amount: String,
    /// The card payment page.
    pub payment_url: String,
    /// The mint operation's id (it exists once the payment is made).
    pub api_operation_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardLinks {
    #[serde(rename = "self")]
    pub self_: super::Link,
    pub movement: super::Link,
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/wallets/{walletId}/cards/cashIns", post(card_cash_in))
        .route("/card-payments/{token}", get(payment_page))
        .route("/card-payments/{token}/pay", post(pay))
        .route("/card-payments/{token}/reject", post(reject))
}

fn http_url(field: &str, text: &str) -> Result<String> {
    let u = url::Url::parse(text.trim()).map_err(|_| Error::invalid(field, "must be an absolute http(s) URL"))?;
    if !matches!(u.scheme(), "http" | "https") || text.len() > 2000 {
        return Err(Error::invalid(field, "must be an absolute http(s) URL"));
    }
    Ok(u.to_string())
}

/// Start a card cash-in: a PENDING CARD_CASHIN movement and the payment page URL.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/cards/cashIns", tag = "money", request_body = CardCashIn,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CardCashInStarted), (status = 400, body = super::docs::ErrorEnvelope),
        (status = 404, body = super::docs::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`", body = super::docs::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn card_cash_in(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CardCashIn>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let key = idempotency::key(&headers, body.value.idempotency_key.as_deref())?;
    let endpoint = format!("POST /api/v1/public/wallets/{wallet_id}/cards/cashIns");
    let mut tx = ctx.pool().begin().await?;
    let claim = match idempotency::begin(&mut tx, auth.client_id, key, &endpoint, &body.raw).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Proceed(c) => c,
    };
    let outcome = store(&mut tx, &ctx, auth.client_id, wallet_id, body.value).await;
    idempotency::finish(&ctx, auth.client_id, tx, claim, outcome).await
}

async fn store(conn: &mut PgConnection, ctx: &ApiContext, client_id: Uuid, wallet_id: Uuid, b: CardCashIn) -> Result<(StatusCode, Value)> {
    let token = money::token(ctx).await?;
    let amount = money::amount("amount", &b.amount, token.decimals)?;
    let success_url = http_url("successUrl", &b.success_url)?;
    let reject_url = http_url("rejectUrl", &b.reject_url)?;
    let wallet = wallet_facts(conn, client_id, wallet_id, false).await?;
    money::require_ready(&wallet, "")?;
    let op_id = Uuid::now_v7();
    let movement_id = Uuid::now_v7();
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let page_token = hex::encode(secret);
    money::insert_movement(
        conn,
        ctx,
        &token,
        NewMovement {
            id: movement_id,
            client_id,
            kind: MovementType::CARD_CASHIN,
            amount: amount.minor(),
            concept: Some("Card cash-in".into()),
            owner: Party::of(&wallet),
            origin: None,
            target: Some(Party::of(&wallet)),
            operation_id: op_id,
            chain_operation_id: op_id.to_string(),
            hold_operation_id: None,
        },
    )
    .await?;
    sqlx::query(
        "INSERT INTO card_payments (id, token, client_id, wallet_id, movement_id, operation_id, amount, success_url, reject_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(&page_token)
    .bind(client_id)
    .bind(wallet_id)
    .bind(movement_id)
    .bind(op_id)
    .bind(amount.minor().to_string())
    .bind(&success_url)
    .bind(&reject_url)
    .execute(&mut *conn)
    .await?;
    let body = CardCashInStarted {
        links: CardLinks {
            self_: super::Link::new(ctx, format!("/api/v1/public/wallets/{wallet_id}/cards/cashIns")),
            movement: super::Link::new(ctx, format!("/api/v1/public/wallets/{wallet_id}/movements/{movement_id}")),
        },
        movement_id,
        status: "PENDING".into(),
        amount: money::wire(amount.minor(), token.decimals),
        payment_url: ctx.href(&format!("/card-payments/{page_token}")),
        api_operation_id: op_id,
    };
    Ok((StatusCode::CREATED, money::to_value(&body)?))
}

#[derive(sqlx::FromRow)]
struct Payment {
    client_id: Uuid,
    wallet_id: Uuid,
    movement_id: Uuid,
    operation_id: Uuid,
    amount: String,
    success_url: String,
    reject_url: String,
    status: String,
}

fn valid_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:28rem;margin:4rem auto}}button{{font-size:1.1rem;padding:.5rem 1.5rem;margin-right:1rem}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn not_found_page() -> Response {
    page(StatusCode::NOT_FOUND, "Payment not found", "<p>This payment link is not valid.</p>")
}

async fn load(conn: &mut PgConnection, token: &str, lock: bool) -> Result<Option<Payment>> {
    let sql = format!(
        "SELECT client_id, wallet_id, movement_id, operation_id, amount::text AS amount, success_url, reject_url, status
         FROM card_payments WHERE token = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(sqlx::query_as(&sql).bind(token).fetch_optional(&mut *conn).await?)
}

/// The simulated card payment page.
pub async fn payment_page(State(ctx): State<ApiContext>, Path(token): Path<String>) -> Result<Response> {
    if !valid_token(&token) {
        return Ok(not_found_page());
    }
    let mut conn = ctx.pool().acquire().await?;
    let Some(p) = load(&mut conn, &token, false).await? else { return Ok(not_found_page()) };
    if p.status != "PENDING" {
        return Ok(page(StatusCode::CONFLICT, "Payment already processed", &format!("<p>This payment is {}.</p>", p.status)));
    }
    let decimals = ctx.chain().await.decimals;
    let amount = money::wire(p.amount.parse().unwrap_or(0), decimals);
    Ok(page(
        StatusCode::OK,
        "Card payment (simulated)",
        &format!(
            "<p>Top up wallet <code>{}</code> with <strong>{amount}</strong>.</p>\
             <p>Card number: <input value=\"4242 4242 4242 4242\" disabled></p>\
             <form method=\"post\" action=\"{token}/pay\" style=\"display:inline\"><button type=\"submit\">Pay</button></form>\
             <form method=\"post\" action=\"{token}/reject\" style=\"display:inline\"><button type=\"submit\">Reject</button></form>",
            p.wallet_id
        ),
    ))
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// Pay: stores the mint and redirects to successUrl.
pub async fn pay(State(ctx): State<ApiContext>, Path(token): Path<String>) -> Result<Response> {
    if !valid_token(&token) {
        return Ok(not_found_page());
    }
    let chain = money::token(&ctx).await?;
    let mut tx = ctx.pool().begin().await?;
    let Some(p) = load(&mut tx, &token, true).await? else { return Ok(not_found_page()) };
    if p.status != "PENDING" {
        return Ok(page(StatusCode::CONFLICT, "Payment already processed", &format!("<p>This payment is {}.</p>", p.status)));
    }
    let wallet = wallet_facts(&mut tx, p.client_id, p.wallet_id, false).await?;
    if money::require_ready(&wallet, "").is_err() {
        finish_rejected(&mut tx, &token, p.movement_id, "the wallet is not READY").await?;
        tx.commit().await?;
        return Ok(redirect(&p.reject_url));
    }
    let amount: u128 = p.amount.parse().map_err(|_| Error::Internal(anyhow::anyhow!("bad card payment amount")))?;
    let calldata = EmToken::mintCall {
        operationId: p.operation_id.to_string(),
        to: money::addr(&wallet.dlt_address)?,
        value: alloy::primitives::U256::from(amount),
    }
    .abi_encode();
    money::insert_operation(
        &mut tx,
        NewOperation {
            id: p.operation_id,
            client_id: p.client_id,
            kind: kind::CARD_CASHIN,
            chain_operation_id: p.operation_id.to_string(),
            token: &chain,
            calldata,
            debit: None,
            wallet_id: Some(p.wallet_id),
            hold_id: None,
            payout_id: None,
        },
    )
    .await?;
    sqlx::query("UPDATE card_payments SET status = 'PAID', updated_at = now() WHERE token = $1")
        .bind(&token)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    money::stored(&ctx);
    Ok(redirect(&p.success_url))
}

async fn finish_rejected(conn: &mut PgConnection, token: &str, movement_id: Uuid, reason: &str) -> Result<()> {
    sqlx::query("UPDATE card_payments SET status = 'REJECTED', updated_at = now() WHERE token = $1")
        .bind(token)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE movements SET status = 'ERROR', error = $2, updated_at = now() WHERE id = $1 AND status = 'PENDING'")
        .bind(movement_id)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Reject: the movement turns ERROR; redirects to rejectUrl.
pub async fn reject(State(ctx): State<ApiContext>, Path(token): Path<String>) -> Result<Response> {
    if !valid_token(&token) {
        return Ok(not_found_page());
    }
    let mut tx = ctx.pool().begin().await?;
    let Some(p) = load(&mut tx, &token, true).await? else { return Ok(not_found_page()) };
    if p.status != "PENDING" {
        return Ok(page(StatusCode::CONFLICT, "Payment already processed", &format!("<p>This payment is {}.</p>", p.status)));
    }
    finish_rejected(&mut tx, &token, p.movement_id, "card payment rejected").await?;
    tx.commit().await?;
    Ok(redirect(&p.reject_url))
}
