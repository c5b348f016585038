//! Card cash-in (seed 003): `POST /wallets/{walletId}/cards/cashIns` runs
//! [`emledger_operations::card::StartCardCashIn`] (a PENDING `CARD_CASHIN`
//! movement) and returns a `paymentUrl` to a simulated card payment page served
//! by the API itself (`/card-payments/{token}`, no API key: the 256-bit token in
//! the URL is the credential). On that page, **Pay** stores the mint and
//! redirects (303) to `successUrl`; **Reject** marks the movement ERROR and
//! redirects to `rejectUrl`. Each page can be used once.

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
    Router,
};
use emledger_operations::card::{self, CardCashInStarted as Started, PageOutcome, StartCardCashIn};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Write},
    extract::{self, path_uuid, Path},
    idempotency::{self, Render, Request, Run},
    money, ApiContext, Result,
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

/// Start a card cash-in: a PENDING CARD_CASHIN movement and the payment page URL.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/cards/cashIns", tag = "money", request_body = CardCashIn,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CardCashInStarted), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`", body = super::error::ErrorEnvelope),
        (status = 422, description = "`idempotency_key_reused`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn card_cash_in(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CardCashIn>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let b = body.value;
    let req = Request {
        client_id: auth.client_id,
        key: idempotency::key(&headers, b.idempotency_key.as_deref())?,
        endpoint: format!("POST /api/v1/public/wallets/{wallet_id}/cards/cashIns"),
        raw_body: &body.raw,
    };
    let command = StartCardCashIn { wallet_id, amount: b.amount, success_url: b.success_url, reject_url: b.reject_url };
    idempotency::run(&ctx, req, Run(command)).await
}

impl Render for Started {
    async fn render(self, ctx: &ApiContext, _: &mut PgConnection) -> Result<(StatusCode, Value)> {
        let wallet_id = self.wallet_id;
        let body = CardCashInStarted {
            links: CardLinks {
                self_: super::Link::new(ctx, format!("/api/v1/public/wallets/{wallet_id}/cards/cashIns")),
                movement: super::Link::new(ctx, format!("/api/v1/public/wallets/{wallet_id}/movements/{}", self.movement_id)),
            },
            movement_id: self.movement_id,
            status: "PENDING".into(),
            amount: self.amount,
            payment_url: ctx.href(&format!("/card-payments/{}", self.page_token)),
            api_operation_id: self.operation_id,
        };
        Ok((StatusCode::CREATED, money::to_value(&body)?))
    }
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

/// The simulated card payment page.
pub async fn payment_page(State(ctx): State<ApiContext>, Path(token): Path<String>) -> Result<Response> {
    let Some(p) = card::payment(ctx.platform(), &token).await? else { return Ok(not_found_page()) };
    if p.status != "PENDING" {
        return Ok(already_processed(&p.status));
    }
    let amount = money::wire(p.amount.parse().unwrap_or(0), ctx.chain().await.decimals);
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

fn already_processed(status: &str) -> Response {
    page(StatusCode::CONFLICT, "Payment already processed", &format!("<p>This payment is {status}.</p>"))
}

fn outcome(o: PageOutcome) -> Response {
    match o {
        PageOutcome::NotFound => not_found_page(),
        PageOutcome::AlreadyProcessed(status) => already_processed(&status),
        PageOutcome::Redirect(to) => (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response(),
    }
}

/// Pay: stores the mint and redirects to successUrl.
pub async fn pay(State(ctx): State<ApiContext>, Path(token): Path<String>) -> Result<Response> {
    Ok(outcome(card::pay(ctx.platform(), &token).await?))
}

/// Reject: the movement turns ERROR; redirects to rejectUrl.
pub async fn reject(State(ctx): State<ApiContext>, Path(token): Path<String>) -> Result<Response> {
    Ok(outcome(card::reject(ctx.platform(), &token).await?))
}
