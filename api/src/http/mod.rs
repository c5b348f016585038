//! The HTTP layer: the shared [`ApiContext`], the router with its middleware
//! (request ids, request logs, body limit, panic catching), and one module per
//! resource.

pub mod auth;
pub mod bank;
pub mod cards;
pub mod cashouts;
pub mod docs;
pub mod error;
pub mod extract;
pub mod favourites;
pub mod health;
pub mod hold_ops;
pub mod holds;
pub mod idempotency;
pub mod money;
pub mod movements;
pub mod operations;
pub mod paging;
pub mod scheduled;
pub mod transfers;
pub mod users;
pub mod wallets;

use std::{
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use axum::{
    extract::DefaultBodyLimit,
    http::{HeaderName, Request},
    response::{IntoResponse, Response},
    Router,
};
use rand::RngCore;
use sqlx::PgPool;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::ApiConfig;
pub use error::{Error, Result};

/// What the indexer told us about the token (the `chain_cursor` row).
#[derive(Debug, Clone)]
pub struct ChainInfo {
    /// Token decimals: minor units are divided by 10^decimals on the wire.
    pub decimals: u32,
    /// (chain id, contract) of the followed token, when known.
    pub token: Option<(i64, String)>,
}

struct Inner {
    pool: PgPool,
    config: ApiConfig,
    jwt_key: Vec<u8>,
    chain: RwLock<ChainInfo>,
    last_chain_probe: Mutex<Option<Instant>>,
    /// The platform's address (minter, operator, notary), when a key is configured.
    platform: Option<alloy::primitives::Address>,
    /// Wakes the in-process submitter when an operation was stored.
    wake: Arc<tokio::sync::Notify>,
}

/// State shared by every handler.
#[derive(Clone)]
pub struct ApiContext(Arc<Inner>);

#[derive(sqlx::FromRow)]
struct CursorRow {
    chain_id: i64,
    contract: String,
    decimals: i16,
}

async fn read_cursor(pool: &PgPool) -> anyhow::Result<Option<ChainInfo>> {
    let row: Option<CursorRow> =
        sqlx::query_as("SELECT chain_id, contract, decimals FROM chain_cursor ORDER BY updated_at DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|r| ChainInfo { decimals: r.decimals.clamp(0, 28) as u32, token: Some((r.chain_id, r.contract.to_ascii_lowercase())) }))
}

impl ApiContext {
    /// Reads the token's decimals from the `chain_cursor` row (falling back to 2,
    /// with a warning, until the indexer has written one) and prepares the signing key.
    pub async fn new(config: ApiConfig, pool: PgPool) -> anyhow::Result<Self> {
        let jwt_key = match config.jwt_secret.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "no --jwt-secret / EMLEDGER_JWT_SECRET: using a random per-process secret; \
                     bearer tokens will not survive a restart nor work across replicas"
                );
                let mut k = vec![0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut k);
                k
            }
        };
        let chain = match read_cursor(&pool).await? {
            Some(c) => c,
            None => {
                tracing::warn!("no chain_cursor row yet: assuming 2 token decimals until the indexer writes one");
                ChainInfo { decimals: 2, token: None }
            }
        };
        let platform = match config.platform_key.as_deref().filter(|k| !k.trim().is_empty()) {
            Some(k) => Some(crate::submitter::parse_key(k)?.address()),
            None => None,
        };
        Ok(Self(Arc::new(Inner {
            pool,
            config,
            jwt_key,
            chain: RwLock::new(chain),
            last_chain_probe: Mutex::new(Some(Instant::now())),
            platform,
            wake: Arc::new(tokio::sync::Notify::new()),
        })))
    }

    /// The platform's address, when this process has the platform key.
    pub fn platform_address(&self) -> Option<alloy::primitives::Address> {
        self.0.platform
    }

    /// Tells the in-process submitter that operations are waiting.
    pub fn wake_submitter(&self) {
        self.0.wake.notify_one();
    }

    pub(crate) fn wake_handle(&self) -> Arc<tokio::sync::Notify> {
        self.0.wake.clone()
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }

    pub(crate) fn jwt_key(&self) -> &[u8] {
        &self.0.jwt_key
    }

    /// The token facts; re-reads the cursor (at most every 5 s) while none was found.
    pub async fn chain(&self) -> ChainInfo {
        let current = self.0.chain.read().map(|c| c.clone()).unwrap_or(ChainInfo { decimals: 2, token: None });
        if current.token.is_some() {
            return current;
        }
        let due = {
            let mut last = self.0.last_chain_probe.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|t| t.elapsed() > Duration::from_secs(5));
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due {
            if let Ok(Some(found)) = read_cursor(self.pool()).await {
                if let Ok(mut w) = self.0.chain.write() {
                    *w = found.clone();
                }
                return found;
            }
        }
        current
    }

    /// A link: the public URL (when configured) and a root-relative path.
    pub fn href(&self, path: &str) -> String {
        match &self.0.config.public_url {
            Some(base) => format!("{}{}", base.trim_end_matches('/'), path),
            None => path.to_owned(),
        }
    }
}

/// A HAL link.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Link {
    pub href: String,
}

impl Link {
    pub fn new(ctx: &ApiContext, path: impl AsRef<str>) -> Self {
        Link { href: ctx.href(path.as_ref()) }
    }
}

async fn not_found() -> Error {
    Error::NotFound("route")
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    Error::Internal(anyhow::anyhow!("handler panicked")).into_response()
}

/// The whole API as an axum router.
pub fn router(ctx: ApiContext) -> Router {
    let max_body = ctx.config().max_body_bytes;
    let api = Router::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(users::router())
        .merge(wallets::router())
        .merge(favourites::router())
        .merge(movements::router())
        .merge(holds::router())
        .merge(transfers::router())
        .merge(hold_ops::router())
        .merge(cards::router())
        .merge(bank::router())
        .merge(cashouts::router())
        .merge(operations::router())
        .merge(scheduled::router())
        .with_state(ctx);
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .merge(docs::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
