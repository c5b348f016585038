//! Counters the indexer exports: Prometheus text at `/metrics`, lag at `/health`.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};

/// Live counters, updated by the follower.
#[derive(Debug, Default)]
pub struct Metrics {
    pub cursor: AtomicU64,
    pub head: AtomicU64,
    pub events: AtomicU64,
    pub movements: AtomicU64,
    pub batches: AtomicU64,
    pub reorgs: AtomicU64,
    pub last_block_time: AtomicU64,
    /// 1 while this process holds the single-writer lock.
    pub writer: AtomicU64,
}

impl Metrics {
    /// Blocks between the chain head and the read model.
    pub fn lag(&self) -> u64 {
        self.head.load(Ordering::Relaxed).saturating_sub(self.cursor.load(Ordering::Relaxed))
    }

    /// Publishes the counters to the process's metrics recorder (so they show
    /// on every `/metrics` of this process, the API's included).
    pub fn publish(&self) {
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        metrics::gauge!("emledger_indexer_cursor_block").set(g(&self.cursor) as f64);
        metrics::gauge!("emledger_indexer_head_block").set(g(&self.head) as f64);
        metrics::gauge!("emledger_indexer_lag_blocks").set(self.lag() as f64);
        metrics::gauge!("emledger_indexer_writer").set(g(&self.writer) as f64);
        metrics::counter!("emledger_indexer_events_total").absolute(g(&self.events));
        metrics::counter!("emledger_indexer_movements_total").absolute(g(&self.movements));
        metrics::counter!("emledger_indexer_batches_total").absolute(g(&self.batches));
        metrics::counter!("emledger_indexer_reorgs_total").absolute(g(&self.reorgs));
    }

    /// Prometheus text exposition format (through the `metrics` recorder).
    pub fn render(&self) -> String {
        emledger_ledger::metrics::install();
        describe();
        self.publish();
        emledger_ledger::metrics::render()
    }
}

fn describe() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_gauge!("emledger_indexer_cursor_block", "Last block reflected in the read model.");
        metrics::describe_gauge!("emledger_indexer_head_block", "Chain head seen by the indexer.");
        metrics::describe_gauge!("emledger_indexer_lag_blocks", "Head minus cursor.");
        metrics::describe_gauge!("emledger_indexer_writer", "1 while this process holds the single-writer lock.");
        metrics::describe_counter!("emledger_indexer_events_total", "EmToken events indexed.");
        metrics::describe_counter!("emledger_indexer_movements_total", "Movements written or settled.");
        metrics::describe_counter!("emledger_indexer_batches_total", "Batches committed.");
        metrics::describe_counter!("emledger_indexer_reorgs_total", "Reorgs rolled back.");
    });
}

async fn metrics(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    ([("content-type", "text/plain; version=0.0.4")], m.render())
}

async fn health(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    let body = serde_json::json!({
        "status": if m.writer.load(Ordering::Relaxed) == 1 { "UP" } else { "STANDBY" },
        "cursorBlock": m.cursor.load(Ordering::Relaxed),
        "headBlock": m.head.load(Ordering::Relaxed),
        "lagBlocks": m.lag(),
    });
    (StatusCode::OK, Json(body))
}

/// Routes for `/metrics` and `/health`, to mount on any server.
pub fn router(m: Arc<Metrics>) -> Router {
    Router::new().route("/metrics", get(metrics)).route("/health", get(health)).with_state(m)
}

/// Serves the routes on `addr` until the process ends.
pub async fn serve(addr: SocketAddr, m: Arc<Metrics>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, router(m)).await?;
    Ok(())
}
