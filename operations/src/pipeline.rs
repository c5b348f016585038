//! The operation pipeline at a glance: operations by status and the age of the
//! oldest one not yet settled (what `/metrics` and `/health` report).

use sqlx::PgPool;

use crate::Result;

/// Operations by status, and the oldest unsettled ones.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// (status, count), every status present.
    pub by_status: Vec<(String, i64)>,
    /// Seconds since the oldest PENDING operation was stored.
    pub oldest_pending_secs: Option<f64>,
    /// Seconds since the oldest PENDING, SIGNED or SENT operation was last updated.
    pub oldest_unsettled_secs: Option<f64>,
}

/// Reads the pipeline's state (two index-backed queries).
pub async fn stats(pool: &PgPool) -> Result<Stats> {
    let by_status: Vec<(String, i64)> = sqlx::query_as("SELECT status, count(*) FROM operations GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await?;
    let (oldest_pending_secs, oldest_unsettled_secs): (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE status = 'PENDING'))::float8,
                EXTRACT(EPOCH FROM now() - min(updated_at))::float8
         FROM operations WHERE status IN ('PENDING', 'SIGNED', 'SENT')",
    )
    .fetch_one(pool)
    .await?;
    Ok(Stats { by_status, oldest_pending_secs, oldest_unsettled_secs })
}

/// Publishes [`Stats`] to the process's metrics recorder.
pub fn publish(s: &Stats) {
    for status in ["PENDING", "SIGNED", "SENT", "MINED", "SUCCESS", "FAILED"] {
        let n = s.by_status.iter().find(|(k, _)| k == status).map(|(_, n)| *n).unwrap_or(0);
        metrics::gauge!("emledger_operations", "status" => status).set(n as f64);
    }
    metrics::gauge!("emledger_operations_oldest_pending_seconds").set(s.oldest_pending_secs.unwrap_or(0.0));
    metrics::gauge!("emledger_operations_oldest_unsettled_seconds").set(s.oldest_unsettled_secs.unwrap_or(0.0));
}
