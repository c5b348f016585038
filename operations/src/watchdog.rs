//! Watches the platform's dependencies — Postgres and the chain node — from a
//! task of its own, so that `/health` and the request path know within a
//! second that one is gone instead of finding out by waiting on it.
//!
//! * **Database**: a dedicated connection (not one of the pool's: a pool
//!   saturated by load is not an outage) runs `SELECT 1` every 250 ms with a 750 ms
//!   timeout; on failure it is dropped and reopened on the next tick.
//! * **Chain**: `eth_blockNumber` every 500 ms with a 2 s timeout (DOWN from
//!   the first failed probe); the head, when
//!   it last changed and the last error are kept.
//!
//! Both are also published as metrics (`emledger_database_up`,
//! `emledger_chain_up`, `emledger_chain_head`, `emledger_chain_head_age_seconds`).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use alloy::providers::{DynProvider, Provider};
use sqlx::{postgres::PgConnectOptions, Connection, PgConnection, PgPool};
use tokio::sync::watch;

/// The database is DOWN when `SELECT 1` takes longer.
const DATABASE_TIMEOUT: Duration = Duration::from_millis(750);

/// A dependency is DOWN after this long without a good answer.
const DOWN_AFTER: Duration = Duration::from_secs(2);

/// What the watchdog last saw.
#[derive(Debug, Default)]
pub struct Dependencies {
    database_up: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone)]
struct State {
    database_error: Option<String>,
    database_down_since: Option<Instant>,
    chain_watched: bool,
    chain_ok_at: Option<Instant>,
    chain_error: Option<String>,
    head: Option<u64>,
    head_changed_at: Option<Instant>,
}

/// A dependency's state for `/health`.
#[derive(Debug, Clone)]
pub struct DependencyReport {
    pub database_up: bool,
    pub database_error: Option<String>,
    /// `None` when this process does not watch a chain.
    pub chain_up: Option<bool>,
    pub chain_error: Option<String>,
    pub chain_head: Option<u64>,
    /// Seconds since the head last changed.
    pub chain_head_age_secs: Option<f64>,
}

impl Dependencies {
    /// Starts optimistic: the database answered when the pool was opened.
    pub fn new() -> Self {
        let d = Self::default();
        d.database_up.store(true, Ordering::Relaxed);
        d
    }

    /// Cheap check for the request path.
    pub fn database_up(&self) -> bool {
        self.database_up.load(Ordering::Relaxed)
    }

    fn with(&self, f: impl FnOnce(&mut State)) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
    }

    fn database(&self, result: Result<(), String>) {
        let up = result.is_ok();
        self.with(|s| match result {
            Ok(()) => {
                s.database_error = None;
                s.database_down_since = None;
            }
            Err(e) => {
                s.database_error = Some(e);
                s.database_down_since.get_or_insert_with(Instant::now);
            }
        });
        if self.database_up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("the database is reachable again");
            } else {
                tracing::warn!("the database is unreachable");
            }
        }
        metrics::gauge!("emledger_database_up").set(if up { 1.0 } else { 0.0 });
    }

    pub fn report(&self) -> DependencyReport {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // DOWN from the first failed probe (a node that refuses connections fails
        // at once), or when probes stop answering
        let chain_up = s.chain_watched.then(|| s.chain_error.is_none() && s.chain_ok_at.is_some_and(|t| t.elapsed() < DOWN_AFTER + Duration::from_secs(1)));
        DependencyReport {
            database_up: self.database_up(),
            database_error: s.database_error,
            chain_up,
            chain_error: s.chain_error,
            chain_head: s.head,
            chain_head_age_secs: s.head_changed_at.map(|t| t.elapsed().as_secs_f64()),
        }
    }
}

/// Runs the checks until `stop` turns true.
pub async fn run(pool: PgPool, rpc_url: Option<String>, deps: Arc<Dependencies>, stop: watch::Receiver<bool>) {
    let chain: Option<DynProvider> = rpc_url.and_then(|u| emledger_ledger::rpc::http_provider(&u).ok());
    // two loops side by side: a slow node never delays noticing a dead database, nor the reverse
    tokio::join!(watch_database(pool, deps.clone(), stop.clone()), async {
        if let Some(provider) = chain {
            watch_chain(provider, deps.clone(), stop.clone()).await;
        }
    });
}

/// Sleeps `pause`; false when it is time to stop.
async fn pause(stop: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(pause) => !*stop.borrow(),
        r = stop.changed() => r.is_ok() && !*stop.borrow(),
    }
}

async fn watch_database(pool: PgPool, deps: Arc<Dependencies>, mut stop: watch::Receiver<bool>) {
    let options: PgConnectOptions = pool.connect_options().as_ref().clone();
    let mut conn: Option<PgConnection> = None;
    loop {
        let result = async {
            if conn.is_none() {
                conn = Some(PgConnection::connect_with(&options).await.map_err(|e| e.to_string())?);
            }
            let c = conn.as_mut().expect("connected");
            sqlx::query("SELECT 1").execute(&mut *c).await.map(|_| ()).map_err(|e| e.to_string())
        };
        let result = match tokio::time::timeout(DATABASE_TIMEOUT, result).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} ms", DATABASE_TIMEOUT.as_millis())),
        };
        if result.is_err() {
            conn = None;
        }
        deps.database(result.map_err(|e| crate::revert::sanitize(&e)));
        if !pause(&mut stop, Duration::from_millis(250)).await {
            return;
        }
    }
}

async fn watch_chain(provider: DynProvider, deps: Arc<Dependencies>, mut stop: watch::Receiver<bool>) {
    deps.with(|s| {
        s.chain_watched = true;
        s.chain_ok_at = Some(Instant::now());
    });
    loop {
        let r = tokio::time::timeout(DOWN_AFTER, provider.get_block_number()).await;
        deps.with(|s| match r {
            Ok(Ok(head)) => {
                if s.head != Some(head) {
                    s.head = Some(head);
                    s.head_changed_at = Some(Instant::now());
                }
                s.chain_ok_at = Some(Instant::now());
                s.chain_error = None;
            }
            Ok(Err(e)) => s.chain_error = Some(crate::revert::sanitize(&e.to_string())),
            Err(_) => s.chain_error = Some(format!("no answer within {} s", DOWN_AFTER.as_secs())),
        });
        let r = deps.report();
        metrics::gauge!("emledger_chain_up").set(if r.chain_up == Some(true) { 1.0 } else { 0.0 });
        if let Some(h) = r.chain_head {
            metrics::gauge!("emledger_chain_head").set(h as f64);
        }
        metrics::gauge!("emledger_chain_head_age_seconds").set(r.chain_head_age_secs.unwrap_or(0.0));
        if !pause(&mut stop, Duration::from_millis(500)).await {
            return;
        }
    }
}
