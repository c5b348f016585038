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
                EXTRACT(EPOCH FROM now() - min(created_at))::float8
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

/// What this process's submitter last did, for `/health` and `/metrics`.
#[derive(Debug, Default)]
pub struct SubmitterHealth(std::sync::Mutex<SubmitterState>);

/// A snapshot of [`SubmitterHealth`].
#[derive(Debug, Clone, Default)]
pub struct SubmitterState {
    /// A submitter was started in this process.
    pub running: bool,
    /// It holds the signer's lock (another replica submits otherwise).
    pub holds_lock: bool,
    /// Passes failed in a row (0 after a good one).
    pub consecutive_errors: u32,
    pub last_error: Option<String>,
    /// When the last pass (good or failed) ended.
    pub last_pass: Option<std::time::Instant>,
}

/// `emledger_submitter_last_pass_timestamp_seconds`: alert on `time() - it`.
fn pass_ended() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    metrics::gauge!("emledger_submitter_last_pass_timestamp_seconds").set(now.as_secs_f64());
}

impl SubmitterHealth {
    fn with(&self, f: impl FnOnce(&mut SubmitterState)) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        s.running = true;
        f(&mut s);
    }

    pub fn pass_ok(&self) {
        self.with(|s| {
            s.consecutive_errors = 0;
            s.last_error = None;
            s.last_pass = Some(std::time::Instant::now());
        });
        metrics::gauge!("emledger_submitter_consecutive_errors").set(0.0);
        pass_ended();
    }

    pub fn pass_failed(&self, error: &str) {
        let mut n = 0;
        self.with(|s| {
            s.consecutive_errors += 1;
            s.last_error = Some(error.to_owned());
            s.last_pass = Some(std::time::Instant::now());
            n = s.consecutive_errors;
        });
        metrics::gauge!("emledger_submitter_consecutive_errors").set(n as f64);
        pass_ended();
    }

    pub fn set_lock(&self, held: bool) {
        self.with(|s| s.holds_lock = held);
    }

    pub fn snapshot(&self) -> SubmitterState {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// UP, or DEGRADED with the reasons.
#[derive(Debug, Clone)]
pub struct PipelineHealth {
    pub status: &'static str,
    pub reasons: Vec<String>,
    /// Seconds since the oldest PENDING, SIGNED or SENT operation was accepted.
    pub oldest_unsettled_secs: Option<f64>,
}

/// How long the submitter may go without finishing a pass before the pipeline
/// is DEGRADED (a pass is abandoned after 60 s; waiting for the signer lock
/// counts as a pass).
pub const SILENT_PASS_DEGRADED: std::time::Duration = std::time::Duration::from_secs(30);

/// Failed passes in a row that make the pipeline DEGRADED.
pub const FAILED_PASSES_DEGRADED: u32 = 3;

/// The operation pipeline's health: DEGRADED when an operation has not moved
/// for `stuck_after`, when this process's submitter keeps failing, or when this
/// process has no submitter (no platform key or RPC URL). Reads only the unsettled
/// operations (partial indexes).
pub async fn health(pool: &PgPool, submitter: &SubmitterState, stuck_after: std::time::Duration) -> Result<PipelineHealth> {
    let (oldest, status): (Option<f64>, Option<String>) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM now() - min(created_at))::float8, (array_agg(status ORDER BY created_at))[1]
         FROM operations WHERE status IN ('PENDING', 'SIGNED', 'SENT')",
    )
    .fetch_optional(pool)
    .await?
    .unwrap_or((None, None));
    let mut reasons = Vec::new();
    if !submitter.running {
        reasons.push("no operation submitter in this process (no --platform-key or --rpc-url): operations are stored, not sent".into());
    }
    reasons.extend(submitter_problems(submitter));
    if let (Some(age), Some(status)) = (oldest, status.as_deref()) {
        if age > stuck_after.as_secs_f64() {
            reasons.push(format!("an operation has been {status} for {age:.0} s since it was accepted (threshold {} s)", stuck_after.as_secs()));
        }
    }
    // cross-ledger transfers not finished long after they were ordered (a network
    // or the relayer not moving them)
    reasons.extend(open_cross_ledger(pool).await?.stuck(stuck_after));
    metrics::gauge!("emledger_pipeline_degraded").set(if reasons.is_empty() { 0.0 } else { 1.0 });
    Ok(PipelineHealth { status: if reasons.is_empty() { "UP" } else { "DEGRADED" }, reasons, oldest_unsettled_secs: oldest })
}

/// Why a running submitter is not healthy: passes failing in a row, or none
/// finished lately (empty when it is).
pub fn submitter_problems(submitter: &SubmitterState) -> Vec<String> {
    pass_problems("the operation submitter", submitter.consecutive_errors, submitter.last_error.as_deref(), submitter.last_pass)
}

/// Why a worker that runs in passes (`who`) is not healthy: `errors` failed
/// passes in a row (reaching [`FAILED_PASSES_DEGRADED`]), or no pass finished for
/// [`SILENT_PASS_DEGRADED`] since `last_pass`.
pub fn pass_problems(who: &str, errors: u32, last_error: Option<&str>, last_pass: Option<std::time::Instant>) -> Vec<String> {
    let mut reasons = Vec::new();
    if errors >= FAILED_PASSES_DEGRADED {
        reasons.push(format!("{who} failed {errors} passes in a row: {}", last_error.unwrap_or("unknown error")));
    }
    if let Some(quiet) = last_pass.map(|t| t.elapsed()).filter(|q| *q > SILENT_PASS_DEGRADED) {
        reasons.push(format!("{who} has not finished a pass for {:.0} s", quiet.as_secs_f64()));
    }
    reasons
}

/// The cross-ledger transfers not finished yet.
#[derive(Debug, Clone, Default)]
pub struct OpenCrossLedger {
    pub count: i64,
    /// Seconds since the oldest open one was ordered, and its status.
    pub oldest_secs: Option<f64>,
    pub oldest_status: Option<String>,
}

impl OpenCrossLedger {
    /// The reason to report when the oldest has been open longer than `stuck_after`.
    pub fn stuck(&self, stuck_after: std::time::Duration) -> Option<String> {
        let (age, status) = (self.oldest_secs?, self.oldest_status.as_deref()?);
        (age > stuck_after.as_secs_f64()).then(|| {
            format!(
                "a cross-ledger transfer has been open ({status}) for {age:.0} s since it was ordered (threshold {} s): is the relayer running and are both networks up?",
                stuck_after.as_secs()
            )
        })
    }
}

/// Reads the open cross-ledger transfers (one index-backed query) and publishes
/// `emledger_cross_ledger_open_transfers` and `emledger_cross_ledger_oldest_open_seconds`.
pub async fn open_cross_ledger(pool: &PgPool) -> Result<OpenCrossLedger> {
    let (count, oldest_secs, oldest_status): (i64, Option<f64>, Option<String>) = sqlx::query_as(
        "SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at))::float8, (array_agg(status ORDER BY created_at))[1]
         FROM cross_ledger_transfers WHERE status NOT IN ('COMPLETED', 'REVOKED')",
    )
    .fetch_one(pool)
    .await?;
    metrics::gauge!("emledger_cross_ledger_open_transfers").set(count as f64);
    metrics::gauge!("emledger_cross_ledger_oldest_open_seconds").set(oldest_secs.unwrap_or(0.0));
    Ok(OpenCrossLedger { count, oldest_secs, oldest_status })
}

/// `DOWN` when a dependency is, else `UP` with no reasons and `DEGRADED` with some.
pub fn overall_status(down: bool, reasons: &[String]) -> &'static str {
    if down {
        "DOWN"
    } else if reasons.is_empty() {
        "UP"
    } else {
        "DEGRADED"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn pass_problems_name_failing_and_quiet_workers() {
        let now = Instant::now();
        assert!(pass_problems("the relayer", FAILED_PASSES_DEGRADED - 1, Some("boom"), Some(now)).is_empty());
        assert_eq!(
            pass_problems("the relayer", FAILED_PASSES_DEGRADED, Some("connection refused"), Some(now)),
            vec![format!("the relayer failed {FAILED_PASSES_DEGRADED} passes in a row: connection refused")]
        );
        assert_eq!(pass_problems("x", 5, None, None), vec!["x failed 5 passes in a row: unknown error".to_owned()]);
        let Some(long_ago) = now.checked_sub(SILENT_PASS_DEGRADED + Duration::from_secs(2)) else { return };
        let quiet = pass_problems("the operation submitter", 0, None, Some(long_ago));
        assert_eq!(quiet.len(), 1);
        assert!(quiet[0].starts_with("the operation submitter has not finished a pass for 3"), "{quiet:?}");
    }
}
