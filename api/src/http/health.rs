//! `GET /health`: liveness plus a database round trip.

use axum::{extract::State, routing::get, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiContext, Error, Result};

/// Health report.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `UP` when the database answers.
    pub status: &'static str,
    pub database: &'static str,
    /// Token decimals in use.
    pub decimals: u32,
}

pub fn router() -> Router<ApiContext> {
    Router::new().route("/health", get(health))
}

/// Liveness and database reachability (no authentication).
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 500, body = super::error::ErrorEnvelope)))]
pub async fn health(State(ctx): State<ApiContext>) -> Result<Json<Health>> {
    sqlx::query("SELECT 1").execute(ctx.pool()).await.map_err(Error::from)?;
    let chain = ctx.chain().await;
    Ok(Json(Health { status: "UP", database: "UP", decimals: chain.decimals }))
}
