//! `GET /metrics` (Prometheus text, no credential: aggregate figures only) and
//! the middleware that records every request: `emledger_api_requests_total`
//! and `emledger_api_request_duration_seconds` by method, route template and
//! status. At each scrape the operation pipeline's state is read too
//! (`emledger_operations{status}`, the oldest pending operation's age); the
//! submitter records its in-flight transactions and failed passes itself.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use super::{ApiContext, Result};

pub fn router() -> Router<ApiContext> {
    Router::new().route("/metrics", get(metrics))
}

fn describe() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!("emledger_api_requests_total", "HTTP requests answered, by method, route and status.");
        metrics::describe_histogram!("emledger_api_request_duration_seconds", "HTTP request latency, by method, route and status.");
        metrics::describe_gauge!("emledger_operations", "Operations by pipeline status.");
        metrics::describe_gauge!("emledger_operations_oldest_pending_seconds", "Age of the oldest PENDING operation (0 when none).");
        metrics::describe_gauge!(
            "emledger_operations_oldest_unsettled_seconds",
            "Time since the oldest PENDING/SIGNED/SENT operation last moved (0 when none)."
        );
        metrics::describe_gauge!("emledger_submitter_in_flight", "Signed transactions of this process's submitter not yet mined.");
        metrics::describe_counter!("emledger_submitter_pass_errors_total", "Submitter passes that failed and were retried.");
    });
}

/// Prometheus text exposition of this process's metrics.
pub async fn metrics(State(ctx): State<ApiContext>) -> Result<Response> {
    emledger_ledger::metrics::install();
    describe();
    let stats = emledger_operations::pipeline::stats(ctx.pool()).await?;
    emledger_operations::pipeline::publish(&stats);
    Ok(([("content-type", "text/plain; version=0.0.4")], emledger_ledger::metrics::render()).into_response())
}

/// Records the request's count and latency under its route template (never the
/// raw path, whose ids would make a series per resource).
pub async fn record(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("emledger_api_requests_total", &labels).increment(1);
    metrics::histogram!("emledger_api_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    res
}
