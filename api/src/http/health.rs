//! `GET /health`: every dependency and the operation pipeline, as `UP`,
//! `DEGRADED` (money may not be moving: stuck operations, a failing or missing
//! submitter) or `DOWN` (the database or the chain node cannot be reached;
//! answered with 503), with one reason per problem. The dependencies are
//! watched by [`emledger_operations::watchdog`], so a dead one shows within 2 s.

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use emledger_operations::pipeline;

use super::ApiContext;

/// Health report.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `UP`; `DEGRADED` (see `reasons`) when money may not be moving; `DOWN` when
    /// the database or the chain node cannot be reached.
    pub status: &'static str,
    /// `UP` or `DOWN`.
    pub database: &'static str,
    /// `UP`, `DOWN`, or `NONE` when this process does not talk to a chain.
    pub chain: &'static str,
    /// The chain head last seen.
    pub chain_head: Option<u64>,
    /// Seconds since the chain head last changed.
    pub chain_head_age_seconds: Option<f64>,
    /// The indexer's cursor block.
    pub indexer_block: Option<u64>,
    /// Blocks between the chain head and the indexer's cursor.
    pub indexer_lag_blocks: Option<u64>,
    /// `UP`, `DEGRADED`, or `UNKNOWN` while the database is down.
    pub submitter: &'static str,
    /// Why the status is not `UP`, one sentence each.
    pub reasons: Vec<String>,
    /// Seconds since the oldest PENDING, SIGNED or SENT operation was accepted.
    pub oldest_unsettled_seconds: Option<f64>,
    /// Token decimals in use.
    pub decimals: u32,
}

/// Longest wait for the read model's figures.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1000);

/// Blocks the indexer may be behind the head before `/health` is DEGRADED.
const INDEXER_LAG_DEGRADED: u64 = 64;

pub fn router() -> Router<ApiContext> {
    Router::new().route("/health", get(health))
}

/// Every dependency and the operation pipeline (no authentication). 200 when UP
/// or DEGRADED, 503 when DOWN.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(ctx): State<ApiContext>) -> impl IntoResponse {
    let body = report(&ctx).await;
    metrics::gauge!("emledger_health_status").set(match body.status {
        "UP" => 0.0,
        "DEGRADED" => 1.0,
        _ => 2.0,
    });
    let code = if body.status == "DOWN" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (code, Json(body))
}

/// What `/health` answers, for whoever shows it (the handler above, the
/// console's overview): the dependencies, the indexer against the chain head,
/// the submitter and the pipeline, each read bounded by [`READ_TIMEOUT`].
pub(crate) async fn report(ctx: &ApiContext) -> Health {
    let platform = ctx.platform();
    let deps = platform.dependencies().report();
    let mut reasons = Vec::new();
    if !deps.database_up {
        reasons.push(format!("the database is unreachable: {}", deps.database_error.as_deref().unwrap_or("no answer")));
    }
    let chain = match deps.chain_up {
        None => "NONE",
        Some(true) => "UP",
        Some(false) => {
            reasons.push(format!("the chain node is unreachable: {}", deps.chain_error.as_deref().unwrap_or("no answer")));
            "DOWN"
        }
    };
    // The read model's view, both queries at once and bounded: /health must answer
    // fast exactly when the database is going away.
    let (cursor, checked) = if deps.database_up {
        let stuck_after = std::time::Duration::from_secs(ctx.config().stuck_after_secs);
        let snapshot = platform.submitter_health().snapshot();
        let (c, p) = tokio::join!(
            tokio::time::timeout(
                READ_TIMEOUT,
                sqlx::query_as::<_, (i64,)>("SELECT max(block_number) FROM chain_cursor").fetch_optional(ctx.pool()),
            ),
            tokio::time::timeout(READ_TIMEOUT, pipeline::health(ctx.pool(), &snapshot, stuck_after)),
        );
        (Some(c), Some(p))
    } else {
        (None, None)
    };
    // the watchdog may have seen the database go while we asked
    let database_up = platform.dependencies().database_up();
    if deps.database_up && !database_up {
        reasons.push("the database is unreachable".into());
    }
    let down = !reasons.is_empty();
    // the indexer: DEGRADED when its cursor is more than INDEXER_LAG_DEGRADED blocks behind
    let indexer_block = match cursor {
        Some(Ok(Ok(Some((b,))))) => Some(b.max(0) as u64),
        _ => None,
    };
    let indexer_lag = match (deps.chain_head, indexer_block) {
        (Some(h), Some(c)) => Some(h.saturating_sub(c)),
        _ => None,
    };
    if let Some(lag) = indexer_lag {
        metrics::gauge!("emledger_api_indexer_lag_blocks").set(lag as f64);
        if lag > INDEXER_LAG_DEGRADED {
            reasons.push(format!("the indexer is {lag} blocks behind the chain head (threshold {INDEXER_LAG_DEGRADED})"));
        }
    }
    // background workers whose rounds have all failed for longer than the stuck threshold
    if !down {
        let after = std::time::Duration::from_secs(ctx.config().stuck_after_secs);
        for f in platform.workers().failing(after) {
            reasons.push(format!(
                "the {} has failed {} rounds in a row for {} s: {}",
                f.worker, f.consecutive_errors, f.failing_secs, f.last_error
            ));
        }
    }
    let (submitter, oldest) = match checked {
        _ if down => ("UNKNOWN", None),
        None => ("UNKNOWN", None),
        Some(Ok(Ok(p))) => {
            reasons.extend(p.reasons);
            (p.status, p.oldest_unsettled_secs)
        }
        Some(Ok(Err(e))) => {
            reasons.push(format!("the operation pipeline could not be read: {e}"));
            ("UNKNOWN", None)
        }
        Some(Err(_)) => {
            reasons.push(format!("the operation pipeline could not be read within {} ms", READ_TIMEOUT.as_millis()));
            ("UNKNOWN", None)
        }
    };
    let status = pipeline::overall_status(down, &reasons);
    Health {
        status,
        database: if database_up { "UP" } else { "DOWN" },
        chain,
        chain_head: deps.chain_head,
        chain_head_age_seconds: deps.chain_head_age_secs,
        indexer_block,
        indexer_lag_blocks: indexer_lag,
        submitter,
        reasons,
        oldest_unsettled_seconds: oldest,
        decimals: ctx.chain().await.decimals,
    }
}
