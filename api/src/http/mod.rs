//! The HTTP layer: the shared [`ApiContext`], the router with its middleware
//! (request ids, request logs, body limit, panic catching), and one module per
//! resource.

pub mod audit;
pub mod auth;
pub mod bank;
pub mod cards;
mod psp_setup;
pub mod cashouts;
pub mod compliance;
pub mod console;
pub mod cross_ledger;
pub mod docs;
pub mod error;
pub mod extract;
pub mod favourites;
pub mod health;
pub mod hold_ops;
pub mod holds;
pub mod idempotency;
pub mod metrics;
pub mod money;
pub mod movements;
pub mod operations;
pub mod paging;
pub mod ratelimit;
pub mod scheduled;
pub mod transfers;
pub mod users;
pub mod wallets;
pub mod webhooks;

use std::sync::Arc;

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

pub use emledger_operations::ChainInfo;
use emledger_operations::Platform;

struct Inner {
    platform: Platform,
    config: ApiConfig,
    jwt_key: Vec<u8>,
    simulator: Option<Arc<emledger_operations::psp::simulator::Simulator>>,
    rate_limits: ratelimit::RateLimits,
}

/// State shared by every handler: the money domain's [`Platform`] plus what
/// only the transport needs (its config, the bearer-token key).
#[derive(Clone)]
pub struct ApiContext(Arc<Inner>);

impl ApiContext {
    /// Prepares the domain (token facts from `chain_cursor`, the platform's
    /// address from its key) and the bearer-token key.
    pub async fn new(config: ApiConfig, pool: PgPool) -> anyhow::Result<Self> {
        let base = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen));
        Self::with_base_url(config, pool, &base).await
    }

    /// Like [`ApiContext::new`]; `base_url` is where the PSP sends the customer and
    /// its notifications back (the public URL, or the bound address).
    pub async fn with_base_url(config: ApiConfig, pool: PgPool, base_url: &str) -> anyhow::Result<Self> {
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
        let signer = match config.platform_key.as_deref().filter(|k| !k.trim().is_empty()) {
            Some(k) => Some(emledger_operations::submitter::parse_key(k)?.address()),
            None => None,
        };
        let platform = Platform::new(pool, config.dlt_network.clone(), signer, config.clock.clone()).await?;
        let simulator = psp_setup::configure(&config, &platform, &psp_setup::absolute_base(base_url)?)?;
        let rate_limits = ratelimit::RateLimits::new(&config.rate_limits);
        let ctx = Self(Arc::new(Inner { platform, config, jwt_key, simulator, rate_limits }));
        // forget idle tenants' limiter state now and then (while the context lives)
        let weak = Arc::downgrade(&ctx.0);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                let Some(inner) = weak.upgrade() else { return };
                inner.rate_limits.tidy();
            }
        });
        Ok(ctx)
    }

    /// The PSP simulator, when this process serves it.
    pub fn simulator(&self) -> Option<&emledger_operations::psp::simulator::Simulator> {
        self.0.simulator.as_deref()
    }

    /// The money domain.
    pub fn platform(&self) -> &Platform {
        &self.0.platform
    }

    /// The platform's address, when this process has the platform key.
    pub fn platform_address(&self) -> Option<alloy::primitives::Address> {
        self.0.platform.signer_address()
    }

    pub fn pool(&self) -> &PgPool {
        self.0.platform.pool()
    }

    pub fn rate_limits(&self) -> &ratelimit::RateLimits {
        &self.0.rate_limits
    }

    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }

    pub(crate) fn jwt_key(&self) -> &[u8] {
        &self.0.jwt_key
    }

    /// The token facts (see [`Platform::chain`]).
    pub async fn chain(&self) -> ChainInfo {
        self.0.platform.chain().await
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

/// While the dependency watchdog sees Postgres down, every request but
/// `/health` and `/metrics` is answered at once with 503
/// `database_unavailable` (and `Retry-After`), instead of waiting for a
/// connection that will not come.
async fn database_gate(
    axum::extract::State(ctx): axum::extract::State<ApiContext>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    if path == "/health" || path == "/metrics" || ctx.platform().dependencies().database_up() {
        return next.run(req).await;
    }
    Error::from(emledger_operations::Error::database_unavailable()).into_response()
}

/// A request whose declared length is over the limit is 413 at once, whether or
/// not its route reads a body (a route that reads one is also limited while
/// reading, for bodies without a length).
async fn body_size_gate(
    axum::extract::State(max): axum::extract::State<usize>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Error::PayloadTooLarge(max).into_response();
    }
    next.run(req).await
}

/// The whole API as an axum router.
pub fn router(ctx: ApiContext) -> Router {
    emledger_ledger::metrics::install();
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
        .merge(cards::router(&ctx))
        .merge(bank::router(&ctx))
        .merge(compliance::router(&ctx))
        .merge(audit::router(&ctx))
        .merge(cashouts::router())
        .merge(operations::router())
        .merge(cross_ledger::router())
        .merge(scheduled::router())
        .merge(webhooks::router())
        .merge(console::router())
        .merge(metrics::router())
        .route_layer(axum::middleware::from_fn_with_state(ctx.clone(), database_gate))
        .route_layer(axum::middleware::from_fn(metrics::record))
        .route_layer(axum::middleware::from_fn(ratelimit::headers))
        .with_state(ctx.clone());
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .merge(docs::router(ctx))
        .merge(console::assets())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(max_body, body_size_gate))
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
