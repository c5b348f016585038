//! Liveness of this process's background workers — the hold expiry sweeper, the
//! clearing agent, the scheduler, the bank inbox and payment-file writer, the
//! webhook delivery — for `/health` and metrics. Each reports every round: a
//! worker whose rounds keep failing for longer than the threshold makes
//! `/health` DEGRADED with its name and last error (the submitter has its own
//! report, [`crate::pipeline`]).

use std::{
    collections::BTreeMap,
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Debug, Clone)]
struct State {
    consecutive_errors: u32,
    last_error: Option<String>,
    /// When the current run of failed rounds began.
    failing_since: Option<Instant>,
}

/// The registry, shared through the [`crate::Platform`].
#[derive(Debug, Default)]
pub struct WorkerHealth(Mutex<BTreeMap<&'static str, State>>);

/// One worker failing for too long, for `/health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    pub worker: &'static str,
    pub consecutive_errors: u32,
    pub failing_secs: u64,
    pub last_error: String,
}

impl WorkerHealth {
    fn with(&self, worker: &'static str, f: impl FnOnce(&mut State)) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.entry(worker).or_insert(State { consecutive_errors: 0, last_error: None, failing_since: None });
        f(s);
        metrics::gauge!("emledger_worker_consecutive_errors", "worker" => worker).set(s.consecutive_errors as f64);
    }

    /// A round of `worker` went through.
    pub fn ok(&self, worker: &'static str) {
        self.with(worker, |s| {
            s.consecutive_errors = 0;
            s.failing_since = None;
        });
    }

    /// A round of `worker` failed with `error`.
    pub fn failed(&self, worker: &'static str, error: &dyn std::fmt::Display) {
        metrics::counter!("emledger_worker_errors_total", "worker" => worker).increment(1);
        let text: String = format!("{error:#}").chars().filter(|c| !c.is_control()).take(300).collect();
        self.with(worker, |s| {
            s.consecutive_errors += 1;
            s.last_error = Some(text);
            s.failing_since.get_or_insert_with(Instant::now);
        });
    }

    /// The workers whose rounds have all failed for at least `after`.
    pub fn failing(&self, after: Duration) -> Vec<Failing> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter_map(|(worker, s)| {
                let since = s.failing_since?;
                (since.elapsed() >= after).then(|| Failing {
                    worker,
                    consecutive_errors: s.consecutive_errors,
                    failing_secs: since.elapsed().as_secs(),
                    last_error: s.last_error.clone().unwrap_or_default(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_only_after_the_threshold_and_until_a_good_round() {
        let h = WorkerHealth::default();
        h.ok("expiry");
        h.failed("clearing", &anyhow::anyhow!("relation \"clearing_decisions\" does not exist"));
        assert!(h.failing(Duration::from_secs(60)).is_empty());
        let now = h.failing(Duration::ZERO);
        assert_eq!(now.len(), 1);
        assert_eq!((now[0].worker, now[0].consecutive_errors), ("clearing", 1));
        assert!(now[0].last_error.contains("clearing_decisions"));
        h.ok("clearing");
        assert!(h.failing(Duration::ZERO).is_empty());
    }
}
