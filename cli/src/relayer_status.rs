//! `emledger relayer --metrics-listen ADDR`: the relayer's `/health` (UP,
//! DEGRADED with reasons, DOWN with 503 when the database cannot be read) and
//! `/metrics` (Prometheus text). Transport only: the checks are
//! `emledger_operations::crossledger::health`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use emledger_operations::crossledger::{self, RelayerHealth};
use sqlx::PgPool;

#[derive(Clone)]
struct Ctx {
    pool: PgPool,
    health: Arc<RelayerHealth>,
    stuck_after: Duration,
}

/// Longest wait for the database's part of a report.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

async fn report(ctx: &Ctx) -> crossledger::RelayerReport {
    match tokio::time::timeout(READ_TIMEOUT, crossledger::health(&ctx.pool, &ctx.health, ctx.stuck_after)).await {
        Ok(r) => r,
        Err(_) => crossledger::RelayerReport {
            status: "DOWN",
            reasons: vec![format!("the database did not answer within {} s", READ_TIMEOUT.as_secs())],
            networks: Vec::new(),
            open_transfers: None,
            oldest_open_seconds: None,
        },
    }
}

async fn health(State(ctx): State<Ctx>) -> impl IntoResponse {
    let body = report(&ctx).await;
    let code = if body.status == "DOWN" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (code, Json(body))
}

async fn metrics(State(ctx): State<Ctx>) -> impl IntoResponse {
    // the gauges are published by the same checks, so a scrape sees them fresh
    report(&ctx).await;
    ([("content-type", "text/plain; version=0.0.4")], emledger_ledger::metrics::render())
}

/// Binds `addr` (so that a taken port fails the command at once), then serves
/// `/health` and `/metrics` in the background until the process ends.
pub async fn spawn(addr: SocketAddr, pool: PgPool, health_state: Arc<RelayerHealth>, stuck_after: Duration) -> anyhow::Result<()> {
    emledger_ledger::metrics::install();
    let ctx = Ctx { pool, health: health_state, stuck_after };
    let app = Router::new().route("/health", get(health)).route("/metrics", get(metrics)).with_state(ctx);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("--metrics-listen {addr}"))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the relayer's /health and /metrics server failed");
        }
    });
    Ok(())
}
