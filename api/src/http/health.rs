//! `GET /health`: the database, and the operation pipeline (stuck operations,
//! a failing or missing submitter) as UP or DEGRADED with reasons.

use axum::{extract::State, routing::get, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use emledger_operations::pipeline;

use super::{ApiContext, Error, Result};

/// Health report.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `UP`; `DEGRADED` (see `reasons`) when money may not be moving.
    pub status: &'static str,
    pub database: &'static str,
    /// `UP` or `DEGRADED`.
    pub submitter: &'static str,
    /// Why the status is not `UP`, one sentence each.
    pub reasons: Vec<String>,
    /// Seconds since the oldest PENDING, SIGNED or SENT operation last moved.
    pub oldest_unsettled_seconds: Option<f64>,
    /// Token decimals in use.
    pub decimals: u32,
}

pub fn router() -> Router<ApiContext> {
    Router::new().route("/health", get(health))
}

/// Database reachability and the operation pipeline's health (no authentication).
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 500, body = super::error::ErrorEnvelope)))]
pub async fn health(State(ctx): State<ApiContext>) -> Result<Json<Health>> {
    let platform = ctx.platform();
    let stuck_after = std::time::Duration::from_secs(ctx.config().stuck_after_secs);
    let pipeline = pipeline::health(ctx.pool(), &platform.submitter_health().snapshot(), stuck_after).await.map_err(Error::from)?;
    let chain = ctx.chain().await;
    Ok(Json(Health {
        status: pipeline.status,
        database: "UP",
        submitter: pipeline.status,
        reasons: pipeline.reasons,
        oldest_unsettled_seconds: pipeline.oldest_unsettled_secs,
        decimals: chain.decimals,
    }))
}
