//! Card cash-in (seed 003): `POST /wallets/{walletId}/cards/cashIns` runs
//! [`emledger_operations::card::StartCardCashIn`] (a PENDING `CARD_CASHIN`
//! movement and a card order) and returns the PSP's hosted payment page as
//! `paymentUrl`. The PSP speaks the Ogone / Worldline e-Commerce protocol
//! ([`emledger_operations::psp`]): nothing is minted until its feedback, signed
//! with SHA-OUT, arrives and verifies:
//! - `POST|GET /psp/ogone/notifications`: the server-to-server post-sale
//!   notification (200 when applied or already known; 400 when the signature or
//!   the amount is wrong; 404 for an unknown order);
//! - `GET /psp/ogone/return`: the customer's browser back from the PSP
//!   (accept, decline, exception and cancel URLs); after verification, 303 to the
//!   tenant's `successUrl` (paid or processing) or `rejectUrl`.
//!
//! These routes exist only when a PSP is configured (`--psp-pspid` with both
//! passphrases, or `--psp-simulator`). With `--psp-simulator` the API also serves
//! the simulator's hosted page at `/card-payments/orderstandard_utf8.asp`.

use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
    Router,
};
use emledger_operations::{
    card::{CardCashInStarted as Started, StartCardCashIn},
    psp::{self, simulator, Channel, FeedbackRefused},
};
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
    #[schema(value_type = super::docs::CardAmount)]
    pub amount: Value,
    /// Where the payer's browser goes after paying: an absolute http(s) URL (a host name, no port or credentials), at most 2000 characters.
    #[serde(alias = "succcessUrl")]
    #[schema(max_length = 2000, pattern = r"^[hH][tT][tT][pP][sS]?://(([a-zA-Z0-9-]+\.)*[a-zA-Z][a-zA-Z0-9-]*|(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})(:([1-9][0-9]{0,3}|[1-5][0-9]{4}))?([/?#][!-~]*)?$", example = "https://shop.example/paid")]
    pub success_url: String,
    /// Where it goes after rejecting: an absolute http(s) URL (a host name, no port or credentials), at most 2000 characters.
    #[schema(max_length = 2000, pattern = r"^[hH][tT][tT][pP][sS]?://(([a-zA-Z0-9-]+\.)*[a-zA-Z][a-zA-Z0-9-]*|(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})(:([1-9][0-9]{0,3}|[1-5][0-9]{4}))?([/?#][!-~]*)?$", example = "https://shop.example/paid")]
    pub reject_url: String,
    #[schema(pattern = r"^[!-~]{1,255}$")]
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
    /// The PSP's hosted payment page for this order (Ogone e-Commerce parameters
    /// and their SHA-IN signature): always an absolute `http(s)` URL, to open as is.
    #[schema(example = "https://ogone.test.v-psp.com/ncol/test/orderstandard_utf8.asp?PSPID=…&SHASIGN=…")]
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

/// The simulator's hosted payment page.
pub const SIMULATOR_PAGE: &str = "/card-payments/orderstandard_utf8.asp";
/// The platform's feedback routes.
pub const NOTIFICATION_PATH: &str = "/psp/ogone/notifications";
pub const RETURN_PATH: &str = "/psp/ogone/return";

/// The card routes; the PSP's feedback routes only with a PSP, the simulator's
/// page only with the simulator.
pub fn router(ctx: &ApiContext) -> Router<ApiContext> {
    let mut r = Router::new().route("/api/v1/public/wallets/{walletId}/cards/cashIns", post(card_cash_in));
    if ctx.platform().psp().is_ok() {
        r = r.route(NOTIFICATION_PATH, get(notification_get).post(notification_post)).route(RETURN_PATH, get(customer_return));
    }
    if ctx.simulator().is_some() {
        r = r.route(SIMULATOR_PAGE, get(simulator_page).post(simulator_choice));
    }
    r
}

/// Start a card cash-in: a PENDING CARD_CASHIN movement and the payment page URL.
/// Accepted (202) like every money request: nothing is minted until the PSP's
/// signed feedback says the card was charged.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/cards/cashIns", tag = "money", request_body = CardCashIn,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = CardCashInStarted), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, or `psp_not_configured` when the platform has no card PSP", body = super::error::ErrorEnvelope),
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
            payment_url: self.payment_url,
            api_operation_id: self.operation_id,
        };
        Ok((StatusCode::ACCEPTED, money::to_value(&body)?))
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:30rem;margin:4rem auto}}button{{font-size:1.1rem;padding:.5rem 1.2rem;margin:0 .6rem .6rem 0}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Parameters of a query string or a form body.
fn pairs(text: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(text).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn refused_status(r: &FeedbackRefused) -> StatusCode {
    match r {
        FeedbackRefused::UnknownOrder(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A NUL character in a feedback: no PSP sends one, and no text column can keep
/// one (every feedback is recorded), so it is refused before anything else.
const NUL_REFUSED: &str = "the feedback contains a NUL character";

fn has_nul(params: &[(String, String)]) -> bool {
    params.iter().any(|(k, v)| k.contains('\0') || v.contains('\0'))
}

async fn notification(ctx: &ApiContext, params: Vec<(String, String)>) -> Result<Response> {
    let psp = ctx.platform().psp()?;
    if has_nul(&params) {
        return Ok((StatusCode::BAD_REQUEST, format!("REFUSED {NUL_REFUSED}")).into_response());
    }
    Ok(match psp::apply_feedback(ctx.platform(), psp.as_ref(), Channel::Notification, &params).await? {
        Ok(done) => (StatusCode::OK, format!("OK {:?} {}", done.applied, done.order_status)).into_response(),
        Err(refused) => (refused_status(&refused), format!("REFUSED {refused}")).into_response(),
    })
}

/// The PSP's server-to-server post-sale notification (Ogone e-Commerce parameters,
/// SHA-OUT signed), as a GET. Exists only when a PSP is configured.
#[utoipa::path(get, path = "/psp/ogone/notifications", tag = "card PSP",
    responses((status = 200, description = "applied, or already known (text: `OK <what> <order status>`)"),
        (status = 400, description = "unsigned, bad SHASIGN, a NUL character, or not the order's amount/currency: nothing changed (text: `REFUSED <why>`)"),
        (status = 404, description = "unknown ORDERID")))]
pub async fn notification_get(State(ctx): State<ApiContext>, RawQuery(q): RawQuery) -> Result<Response> {
    notification(&ctx, pairs(q.unwrap_or_default().as_bytes())).await
}

/// The PSP's server-to-server post-sale notification, as a form POST.
#[utoipa::path(post, path = "/psp/ogone/notifications", tag = "card PSP",
    request_body(content_type = "application/x-www-form-urlencoded", description = "ORDERID, PAYID, STATUS, AMOUNT, CURRENCY, NCERROR, …, SHASIGN"),
    responses((status = 200, description = "applied, or already known"),
        (status = 400, description = "unsigned, bad SHASIGN, a NUL character, or not the order's amount/currency: nothing changed (text: `REFUSED <why>`)"),
        (status = 404, description = "unknown ORDERID")))]
pub async fn notification_post(State(ctx): State<ApiContext>, extract::RawBody(body): extract::RawBody) -> Result<Response> {
    notification(&ctx, pairs(&body)).await
}

/// The customer back from the PSP's page: verified like a notification, then
/// sent on to the tenant's successUrl or rejectUrl.
#[utoipa::path(get, path = "/psp/ogone/return", tag = "card PSP",
    responses((status = 303, description = "to successUrl (paid or processing) or rejectUrl"),
        (status = 400, description = "a page: the feedback did not verify"), (status = 404, description = "unknown ORDERID")))]
pub async fn customer_return(State(ctx): State<ApiContext>, RawQuery(q): RawQuery) -> Result<Response> {
    let psp = ctx.platform().psp()?;
    let params = pairs(q.unwrap_or_default().as_bytes());
    if has_nul(&params) {
        return Ok(page(StatusCode::BAD_REQUEST, "Payment not confirmed", &format!("<p>{NUL_REFUSED}</p>")));
    }
    Ok(match psp::apply_feedback(ctx.platform(), psp.as_ref(), Channel::Return, &params).await? {
        Ok(done) => (StatusCode::SEE_OTHER, [(header::LOCATION, done.redirect)]).into_response(),
        Err(refused) => page(refused_status(&refused), "Payment not confirmed", &format!("<p>{}</p>", escape(&refused.to_string()))),
    })
}

/// The simulator's hosted payment page: checks the request's SHA-IN.
pub async fn simulator_page(State(ctx): State<ApiContext>, RawQuery(q): RawQuery) -> Result<Response> {
    let Some(sim) = ctx.simulator() else { return Err(super::Error::NotFound("route")) };
    let params = pairs(q.unwrap_or_default().as_bytes());
    let req = match sim.check_request(&params) {
        Ok(r) => r,
        Err(e) => return Ok(page(StatusCode::BAD_REQUEST, "Payment refused", &format!("<p>{}</p>", escape(&e.to_string())))),
    };
    let hidden: String = params
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v)))
        .collect();
    let amount = rust_decimal::Decimal::from_i128_with_scale(req.amount_cents as i128, 2);
    Ok(page(
        StatusCode::OK,
        "Card payment (PSP simulator)",
        &format!(
            "<p>{} — <strong>{amount} {}</strong></p><p>Order <code>{}</code></p>\
             <p>Card number: <input value=\"4242 4242 4242 4242\" disabled></p>\
             <form method=\"post\" action=\"{SIMULATOR_PAGE}\">{hidden}\
             <button type=\"submit\" name=\"action\" value=\"pay\">Pay</button>\
             <button type=\"submit\" name=\"action\" value=\"decline\">Decline</button>\
             <button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></form>\
             <p><small>This is emledger's local PSP simulator: it speaks the Ogone e-Commerce protocol and moves no real money.</small></p>",
            escape(&req.description),
            escape(&req.currency),
            escape(&req.order_id)
        ),
    ))
}

/// The customer's choice on the simulator's page: the feedback is signed with
/// SHA-OUT, notified server to server, and the customer is redirected with it.
///
/// The page's parameters come from the form (the page's hidden fields) or, when
/// the form carries none, from the query string: `POST <paymentUrl>&action=pay`
/// is what a script does instead of clicking.
pub async fn simulator_choice(State(ctx): State<ApiContext>, RawQuery(q): RawQuery, body: axum::body::Bytes) -> Result<Response> {
    let Some(sim) = ctx.simulator() else { return Err(super::Error::NotFound("route")) };
    let mut params = pairs(&body);
    let mut from_query = pairs(q.unwrap_or_default().as_bytes());
    let action = psp::ogone::param(&params, "action").or(psp::ogone::param(&from_query, "action")).unwrap_or("").to_owned();
    params.retain(|(k, _)| k != "action");
    from_query.retain(|(k, _)| k != "action");
    if params.is_empty() {
        params = from_query;
    }
    let Ok(choice) = action.parse::<simulator::Choice>() else {
        return Ok(page(StatusCode::BAD_REQUEST, "Payment refused", "<p>Choose pay, decline or cancel.</p>"));
    };
    let req = match sim.check_request(&params) {
        Ok(r) => r,
        Err(e) => return Ok(page(StatusCode::BAD_REQUEST, "Payment refused", &format!("<p>{}</p>", escape(&e.to_string())))),
    };
    let (feedback, back) = sim.feedback(&req, choice);
    // the post-sale notification, as the PSP sends it: a form POST to the merchant
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&feedback).finish();
    let sent = reqwest::Client::new()
        .post(&sim.notify_url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .timeout(std::time::Duration::from_secs(10))
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = %r.status(), "the PSP simulator's notification was refused"),
        Err(e) => tracing::warn!(error = %e, "the PSP simulator could not deliver its notification"),
    }
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, simulator::with_query(&back, &feedback))]).into_response())
}
