//! The operator console (issue 14): a web UI at `/console`, built from
//! `console/` with Vite and embedded in this binary at compile time (see
//! `api/build.rs`), plus the two tenant-scoped JSON endpoints only it needs:
//!
//! - `GET /api/v1/public/console/overview`: the indexer against the chain
//!   head and the submitter (what `/health` computes, through the same
//!   [`health::report`]), the tenant's operations by status, its unsettled ones
//!   oldest first, its latest ones, its settled operations per minute over the
//!   last hour, and a reconciliation of the tenant's wallets against the chain;
//! - `GET /api/v1/public/console/users?q=`: the tenant's users with their
//!   wallets and balances, searched by name, phone, e-mail, external id, or an
//!   exact user/wallet id, DLT address or IBAN.
//!
//! Everything else the console shows comes from the public API with the key
//! the operator signs in with (`X-API-Key`, kept in `sessionStorage`).
//!
//! The console's own files (HTML, JS, CSS) carry no data and need no
//! credential, like Swagger UI at `/docs`: they are served by [`assets`] next to
//! `/docs`, outside the API's router and its OpenAPI. An unknown path under
//! `/console/` that is not a file gets `index.html` (the page routes itself).

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use alloy::providers::DynProvider;
use axum::{
    extract::State,
    http::{header, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{any, get},
    Json, Router,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use emledger_operations::reconcile;

use super::{
    auth::{Auth, Read},
    extract::Query,
    health, ApiContext, Error, Result,
};

/// Longest the reconciliation waits for the chain node, all calls together.
const RECONCILE_TIMEOUT: Duration = Duration::from_secs(3);
/// Most wallets reconciled per overview (the most recently changed first).
const RECONCILE_MAX_WALLETS: i64 = 50;
/// Operations listed per overview section.
const LISTED_OPERATIONS: i64 = 20;
/// Statuses of an operation, in pipeline order.
const STATUSES: [&str; 6] = ["PENDING", "SIGNED", "SENT", "MINED", "SUCCESS", "FAILED"];
/// Default and largest number of users a search answers.
const USERS_DEFAULT: u32 = 50;
const USERS_MAX: u32 = 100;
/// Longest search text.
const QUERY_MAX_CHARS: usize = 100;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/console/overview", get(overview))
        .route("/api/v1/public/console/users", get(search_users))
}

// ---------------------------------------------------------------- overview

/// The chain node and the indexer, as `/health` sees them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleChain {
    /// `UP`, `DOWN`, or `NONE` when this process does not talk to a chain.
    pub status: String,
    pub chain_head: Option<u64>,
    /// Seconds since the chain head last changed.
    pub chain_head_age_seconds: Option<f64>,
    /// The indexer's cursor block.
    pub indexer_block: Option<u64>,
    /// Blocks between the chain head and the indexer's cursor.
    pub indexer_lag_blocks: Option<u64>,
}

/// The platform's health and its operation submitter.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleHealth {
    /// `/health`'s status: `UP`, `DEGRADED` or `DOWN`.
    pub status: String,
    /// `UP`, `DEGRADED`, or `UNKNOWN` while the database is down.
    pub submitter: String,
    /// Why the status is not `UP`, one sentence each (what `/health` says).
    pub reasons: Vec<String>,
}

/// How many of the tenant's operations are in each status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    /// PENDING, SIGNED, SENT, MINED, SUCCESS or FAILED.
    pub status: String,
    pub count: i64,
}

/// One of the tenant's operations, in short.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct OperationSummary {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub wallet_id: Option<Uuid>,
    pub tx_hash: Option<String>,
    /// Seconds since the operation was accepted.
    pub age_seconds: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Settled operations in one minute.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct MinuteCount {
    /// The start of the minute.
    pub minute: DateTime<Utc>,
    pub count: i64,
}

/// A wallet whose read-model balance differs from the chain's.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletMismatch {
    pub wallet_id: Uuid,
    pub dlt_address: String,
    /// `gross` (`netBalanceOf`), `held` (`balanceOnHold`) or `available` (`balanceOf`).
    pub field: String,
    /// The read model's figure, in minor units.
    pub indexed: String,
    /// The chain's figure at the same block, in minor units.
    pub chain: String,
}

/// The read model against the chain, at the indexer's cursor block.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleReconcile {
    /// `MATCH`, `MISMATCH`, or `UNAVAILABLE` (see `error`).
    pub status: String,
    /// What was compared, in one sentence.
    pub checked: String,
    /// The block both sides were read at (the indexer's cursor).
    pub block: Option<u64>,
    /// The tenant's wallets compared.
    pub wallets_checked: i64,
    /// The tenant's wallets.
    pub wallets_total: i64,
    pub mismatches: Vec<WalletMismatch>,
    /// The sums of every indexed balance against `totalSupply` and
    /// `totalSupplyOnHold`: `MATCH`, `MISMATCH` or `UNAVAILABLE` (no figures:
    /// they are the whole platform's).
    pub token_totals: String,
    /// Why the comparison could not be made.
    pub error: Option<String>,
}

/// What the console's overview shows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleOverview {
    pub generated_at: DateTime<Utc>,
    pub health: ConsoleHealth,
    pub chain: ConsoleChain,
    /// The tenant's operations by status, every status listed.
    pub operations_by_status: Vec<StatusCount>,
    /// After this many seconds unsettled an operation counts as stuck (`--stuck-after-secs`).
    pub stuck_after_seconds: u64,
    /// The tenant's oldest operation not yet SUCCESS or FAILED.
    pub oldest_unsettled: Option<OperationSummary>,
    /// The tenant's operations not yet SUCCESS or FAILED, oldest first (at most 20).
    pub unsettled: Vec<OperationSummary>,
    /// The tenant's latest operations, newest first (at most 20).
    pub recent: Vec<OperationSummary>,
    /// The tenant's operations that turned SUCCESS in each of the last 60
    /// minutes (by their last update), oldest minute first.
    pub settled_per_minute: Vec<MinuteCount>,
    pub reconcile: ConsoleReconcile,
}

/// The console's overview of the tenant: indexer, submitter, operations, reconciliation.
#[utoipa::path(get, path = "/api/v1/public/console/overview", tag = "console",
    responses((status = 200, body = ConsoleOverview)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn overview(auth: Auth<Read>, State(ctx): State<ApiContext>) -> Result<Json<ConsoleOverview>> {
    let client = auth.client_id;
    let pool = ctx.pool();
    let summary = "SELECT id, kind, status, wallet_id, tx_hash, EXTRACT(EPOCH FROM now() - created_at)::float8 AS age_seconds, created_at, updated_at
                   FROM operations WHERE client_id = $1";
    let unsettled_sql = format!("{summary} AND status NOT IN ('SUCCESS', 'FAILED') ORDER BY created_at, id LIMIT $2");
    let recent_sql = format!("{summary} ORDER BY created_at DESC, id DESC LIMIT $2");
    let (report, counts, unsettled, recent, per_minute, reconcile) = tokio::join!(
        health::report(&ctx),
        sqlx::query_as::<_, (String, i64)>("SELECT status, count(*) FROM operations WHERE client_id = $1 GROUP BY status").bind(client).fetch_all(pool),
        sqlx::query_as::<_, OperationSummary>(&unsettled_sql).bind(client).bind(LISTED_OPERATIONS).fetch_all(pool),
        sqlx::query_as::<_, OperationSummary>(&recent_sql).bind(client).bind(LISTED_OPERATIONS).fetch_all(pool),
        sqlx::query_as::<_, MinuteCount>(
            "WITH settled AS (
                 SELECT date_trunc('minute', updated_at) AS minute, count(*) AS n FROM operations
                 WHERE client_id = $1 AND status = 'SUCCESS' AND updated_at >= date_trunc('minute', now()) - interval '59 minutes'
                 GROUP BY 1)
             SELECT g.minute, COALESCE(s.n, 0)::bigint AS count
             FROM generate_series(date_trunc('minute', now()) - interval '59 minutes', date_trunc('minute', now()), interval '1 minute') AS g(minute)
             LEFT JOIN settled s ON s.minute = g.minute ORDER BY g.minute",
        )
        .bind(client)
        .fetch_all(pool),
        reconcile(&ctx, client),
    );
    let counts: HashMap<String, i64> = counts?.into_iter().collect();
    let unsettled = unsettled?;
    Ok(Json(ConsoleOverview {
        generated_at: Utc::now(),
        health: ConsoleHealth { status: report.status.into(), submitter: report.submitter.into(), reasons: report.reasons },
        chain: ConsoleChain {
            status: report.chain.into(),
            chain_head: report.chain_head,
            chain_head_age_seconds: report.chain_head_age_seconds,
            indexer_block: report.indexer_block,
            indexer_lag_blocks: report.indexer_lag_blocks,
        },
        operations_by_status: STATUSES.iter().map(|s| StatusCount { status: (*s).into(), count: counts.get(*s).copied().unwrap_or(0) }).collect(),
        stuck_after_seconds: ctx.config().stuck_after_secs,
        oldest_unsettled: unsettled.first().cloned(),
        unsettled,
        recent: recent?,
        settled_per_minute: per_minute?,
        reconcile,
    }))
}

/// One provider per node URL, for the life of the process.
fn provider(url: &str) -> anyhow::Result<DynProvider> {
    static PROVIDERS: OnceLock<Mutex<HashMap<String, DynProvider>>> = OnceLock::new();
    let mut map = PROVIDERS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = map.get(url) {
        return Ok(p.clone());
    }
    let p = emledger_ledger::rpc::http_provider(url)?;
    map.insert(url.to_owned(), p.clone());
    Ok(p)
}

/// The tenant's wallets against the chain at the cursor block
/// (`emledger_operations::reconcile::tenant`), bounded by [`RECONCILE_TIMEOUT`].
async fn reconcile(ctx: &ApiContext, client: Uuid) -> ConsoleReconcile {
    let mut out = ConsoleReconcile {
        status: "UNAVAILABLE".into(),
        checked: reconcile::checked(RECONCILE_MAX_WALLETS),
        block: None,
        wallets_checked: 0,
        wallets_total: 0,
        mismatches: Vec::new(),
        token_totals: "UNAVAILABLE".into(),
        error: None,
    };
    let run = async {
        let token = ctx.platform().token().await.map_err(|_| anyhow::anyhow!("no token deployment is recorded yet"))?;
        let url = ctx.config().rpc_url.clone().ok_or_else(|| anyhow::anyhow!("this API process has no --rpc-url: it cannot read the chain"))?;
        reconcile::tenant(ctx.pool(), &token, provider(&url)?, client, RECONCILE_MAX_WALLETS).await
    };
    match tokio::time::timeout(RECONCILE_TIMEOUT, run).await {
        Ok(Ok(r)) => {
            out.status = if r.mismatches.is_empty() && r.totals_match { "MATCH" } else { "MISMATCH" }.into();
            out.block = Some(r.block);
            out.wallets_total = r.wallets_total;
            out.wallets_checked = r.wallets_checked as i64;
            out.token_totals = if r.totals_match { "MATCH" } else { "MISMATCH" }.into();
            out.mismatches = r
                .mismatches
                .into_iter()
                .map(|m| WalletMismatch {
                    wallet_id: m.wallet_id,
                    dlt_address: m.dlt_address,
                    field: m.field.into(),
                    indexed: m.indexed.to_string(),
                    chain: m.chain.to_string(),
                })
                .collect();
        }
        Ok(Err(e)) => out.error = Some(format!("{e:#}")),
        Err(_) => out.error = Some(format!("the chain node did not answer within {} s", RECONCILE_TIMEOUT.as_secs())),
    }
    out
}

// ---------------------------------------------------------------- users

/// A wallet of a user, with its balances.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleWallet {
    pub id: Uuid,
    pub dlt_address: String,
    pub iban: Option<String>,
    /// `READY`, `PENDING`, `PENDING_IBAN` or `UNSUBSCRIBED`.
    pub status: String,
    pub name: Option<String>,
    #[schema(value_type = String, example = "10.50")]
    pub balance: Decimal,
    #[schema(value_type = String, example = "8.50")]
    pub available_balance: Decimal,
    #[schema(value_type = String, example = "2.00")]
    pub held_balance: Decimal,
    pub currency: String,
}

/// A user of the tenant with its wallets.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleUser {
    pub id: Uuid,
    pub name: String,
    pub phone_number: String,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub kyc_level: i16,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub wallets: Vec<ConsoleWallet>,
}

/// The users a search found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleUsers {
    /// Newest first.
    pub users: Vec<ConsoleUser>,
    /// More users match than `limit`.
    pub truncated: bool,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    name: String,
    phone_number: String,
    email: Option<String>,
    external_id: Option<String>,
    kyc_level: i16,
    status: String,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct WalletRow {
    id: Uuid,
    user_id: Uuid,
    dlt_address: String,
    iban: Option<String>,
    status: String,
    name: Option<String>,
    currency: String,
    gross: Decimal,
    held: Decimal,
}

/// Search the tenant's users (and their wallets).
///
/// `q` matches a user's name, phone number, e-mail or external id (any part,
/// any case), or exactly a user id, a wallet id, a wallet's DLT address or
/// IBAN. Without `q`, the newest users.
#[utoipa::path(get, path = "/api/v1/public/console/users", tag = "console",
    params(
        ("q" = Option<String>, Query, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
            description = "search text: at most 100 characters, no control characters"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "most users answered, 1..=100 (default 50)")),
    responses((status = 200, body = ConsoleUsers)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn search_users(auth: Auth<Read>, State(ctx): State<ApiContext>, q: Query) -> Result<Json<ConsoleUsers>> {
    let raw = q.one("q")?.unwrap_or("");
    if raw.chars().any(char::is_control) || raw.chars().count() > QUERY_MAX_CHARS {
        return Err(Error::invalid_query("q", format!("must be at most {QUERY_MAX_CHARS} characters, without control characters")));
    }
    let text = raw.trim().to_owned();
    let limit = match q.one("limit")? {
        None => USERS_DEFAULT,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) && (1..=USERS_MAX).contains(&n) => n,
            _ => return Err(Error::invalid_query("limit", format!("must be an integer in 1..={USERS_MAX}"))),
        },
    };
    let id = text.parse::<Uuid>().ok();
    let mut conn = ctx.pool().acquire().await?;
    let users: Vec<UserRow> = sqlx::query_as(
        "SELECT u.id, u.name, u.phone_number, u.email, u.external_id, u.kyc_level, u.status, u.created_at FROM users u
         WHERE u.client_id = $1 AND ($2 = ''
            OR strpos(lower(u.name), lower($2)) > 0 OR strpos(u.phone_number, $2) > 0
            OR strpos(lower(COALESCE(u.email, '')), lower($2)) > 0 OR strpos(lower(COALESCE(u.external_id, '')), lower($2)) > 0
            OR u.id = $3
            OR EXISTS (SELECT 1 FROM wallets w WHERE w.user_id = u.id AND w.client_id = $1
                       AND (w.id = $3 OR lower(w.dlt_address) = lower($2) OR upper(replace(COALESCE(w.iban, ''), ' ', '')) = upper(replace($2, ' ', '')))))
         ORDER BY u.created_at DESC, u.id DESC LIMIT $4",
    )
    .bind(auth.client_id)
    .bind(&text)
    .bind(id)
    .bind(limit as i64 + 1)
    .fetch_all(&mut *conn)
    .await?;
    let truncated = users.len() > limit as usize;
    let users: Vec<UserRow> = users.into_iter().take(limit as usize).collect();
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let chain = ctx.chain().await;
    let (chain_id, contract) = chain.token.clone().unwrap_or((-1, String::new()));
    let wallets: Vec<WalletRow> = sqlx::query_as(
        "SELECT w.id, w.user_id, w.dlt_address, w.iban, w.status, w.name, w.currency,
                COALESCE(b.gross, 0)::NUMERIC AS gross, COALESCE(b.held, 0)::NUMERIC AS held
         FROM wallets w LEFT JOIN balances b ON b.address = w.dlt_address AND b.chain_id = $3 AND lower(b.contract) = $4
         WHERE w.client_id = $1 AND w.user_id = ANY($2) ORDER BY w.created_at, w.id",
    )
    .bind(auth.client_id)
    .bind(&ids)
    .bind(chain_id)
    .bind(&contract)
    .fetch_all(&mut *conn)
    .await?;
    let m = |d: Decimal| emledger_ledger::amount::minor_to_decimal(d, chain.decimals);
    let mut by_user: HashMap<Uuid, Vec<ConsoleWallet>> = HashMap::new();
    for w in wallets {
        by_user.entry(w.user_id).or_default().push(ConsoleWallet {
            id: w.id,
            dlt_address: w.dlt_address,
            iban: w.iban,
            status: w.status,
            name: w.name,
            balance: m(w.gross),
            available_balance: m(w.gross - w.held),
            held_balance: m(w.held),
            currency: w.currency,
        });
    }
    let users = users
        .into_iter()
        .map(|u| ConsoleUser {
            wallets: by_user.remove(&u.id).unwrap_or_default(),
            id: u.id,
            name: u.name,
            phone_number: u.phone_number,
            email: u.email,
            external_id: u.external_id,
            kyc_level: u.kyc_level,
            status: u.status,
            created_at: u.created_at,
        })
        .collect();
    Ok(Json(ConsoleUsers { users, truncated }))
}

// ---------------------------------------------------------------- the page

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// `/console`, `/console/` and everything under it: the embedded build of `console/`.
pub fn assets() -> Router {
    Router::new()
        .route_service("/console", any(page))
        .route_service("/console/", any(page))
        .route_service("/console/{*path}", any(page))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The page's own files only: scripts and styles from this origin, calls to this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>emledger console</title>\
    <h1>The console was not built into this binary</h1>\
    <p>Run <code>scripts/setup</code> (it runs <code>npm ci</code> and <code>npm run build</code> in <code>console/</code>), \
    then rebuild: <code>cargo build --bin emledger</code>.</p>";

async fn page(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return Error::MethodNotAllowed.into_response();
    }
    let path = uri.path().strip_prefix("/console").unwrap_or("").trim_start_matches('/');
    if embedded::ASSETS.is_empty() {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], NOT_BUILT).into_response();
    }
    let find = |name: &str| embedded::ASSETS.iter().find(|(n, _)| *n == name);
    let (name, bytes) = match find(path) {
        Some((n, b)) if !path.is_empty() => (*n, *b),
        // a file that is not there: 404; any other path is one of the page's screens
        _ if path.starts_with("assets/") || path.rsplit('/').next().is_some_and(|last| last.contains('.')) => {
            return Error::NotFound("console file").into_response();
        }
        _ => match find("index.html") {
            Some((n, b)) => (*n, *b),
            None => return Error::NotFound("console file").into_response(),
        },
    };
    let cache = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut res = if method == Method::HEAD { ().into_response() } else { bytes.into_response() };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/index-abc.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("assets/index-abc.css"), "text/css; charset=utf-8");
    }

    #[test]
    fn the_build_is_embedded_with_its_index() {
        if !embedded::ASSETS.is_empty() {
            assert!(embedded::ASSETS.iter().any(|(n, _)| *n == "index.html"), "console/dist has no index.html");
        }
    }
}
