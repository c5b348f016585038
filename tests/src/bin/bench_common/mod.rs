//! What the benchmark binaries share: run the benchmark so that nothing it
//! started is left running when it exits — normally, on an error, on a panic,
//! on Ctrl-C (SIGINT), SIGTERM or SIGHUP.
//!
//! Everything a benchmark starts is owned by a value whose `Drop` stops it
//! (anvil: `AnvilInstance`; `emledger` subprocesses; Ponder's runner, see
//! `bench_indexer`). On a signal the benchmark's future is dropped, which runs
//! those `Drop`s; then the private Postgres cluster (started detached by
//! `pg_ctl`, so neither Ctrl-C nor the end of this process reaches it) is stopped.

use std::{future::Future, process::ExitCode, time::Duration};

use tokio::signal::unix::{signal, SignalKind};

struct StopCluster;

impl Drop for StopCluster {
    fn drop(&mut self) {
        if let Err(e) = emledger_tests::stack::stop_cluster() {
            eprintln!("stopping the benchmark's Postgres cluster: {e:#}");
        }
    }
}

/// Runs `bench` on a fresh runtime; exit code 0, 1 on an error, 128 + signal
/// number when interrupted.
pub fn run<F: Future<Output = anyhow::Result<()>>>(bench: F) -> ExitCode {
    let _stop_cluster = StopCluster; // dropped last, also when a panic unwinds
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let code = rt.block_on(async {
        // handlers in place before the benchmark does anything
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
        let (name, code) = tokio::select! {
            r = bench => match r {
                Ok(()) => return 0u8,
                Err(e) => {
                    // a Ctrl-C reaches the whole process group: a child may die of it
                    // (and fail the benchmark) a moment before our own handler runs
                    let interrupted = tokio::select! {
                        _ = int.recv() => Some(("SIGINT", 130)),
                        _ = term.recv() => Some(("SIGTERM", 143)),
                        _ = hup.recv() => Some(("SIGHUP", 129)),
                        _ = tokio::time::sleep(Duration::from_millis(300)) => None,
                    };
                    match interrupted {
                        Some(signal) => {
                            eprintln!("benchmark stopped by {} ({e:#})", signal.0);
                            signal
                        }
                        None => {
                            eprintln!("benchmark failed: {e:#}");
                            return 1;
                        }
                    }
                }
            },
            _ = int.recv() => ("SIGINT", 130),
            _ = term.recv() => ("SIGTERM", 143),
            _ = hup.recv() => ("SIGHUP", 129),
        };
        eprintln!("{name}: the benchmark's processes are stopped; stopping its Postgres cluster");
        code
    });
    // the benchmark's future (and with it every process it owned) is gone by now
    rt.shutdown_timeout(Duration::from_secs(5));
    ExitCode::from(code)
}

/// `kill(pid, sig)`; false when there is no such process (group).
pub fn kill(pid: i32, sig: i32) -> bool {
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Median and spread ((max - min) / median) of `xs`.
pub fn median_spread(xs: &[f64]) -> (f64, f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    let (min, max) = (v[0], v[n - 1]);
    (median, min, max, if median > 0.0 { (max - min) / median } else { 0.0 })
}
