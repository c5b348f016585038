//! Scheduled and recurring operations (issue 7): the injectable [`Clock`] and the
//! [`Worker`] that runs due occurrences through the operation pipeline.
//!
//! **Exactly once per occurrence.** [`Worker::run_due`] takes one due schedule at
//! a time with `SELECT ... FOR UPDATE SKIP LOCKED` (so concurrent workers — other
//! replicas, or a restarted process — never work on one schedule together) and, in
//! ONE transaction: claims the occurrence in `scheduled_executions` (unique on
//! (schedule id, occurrence instant): the idempotency key), stores the money
//! operation through the same commands as the public endpoints ([`Transfer`] for a
//! wallet receiver, [`CashOut`] for a bank account), tags its movements with
//! `scheduled_operation_id`, and advances the schedule to its next occurrence (or
//! COMPLETED). A crash before the commit leaves nothing; after it, the occurrence
//! is done. A worker working from a stale view trips the unique key and pays
//! nothing.
//!
//! **Failures.** A refusal of the money request (4xx: `insufficient_funds`,
//! `wallet_not_ready`, `favourite_deleted`, ...) is rolled back to a savepoint and
//! the occurrence recorded FAILED with its code and reason; the schedule carries on
//! with the next occurrence. Infrastructure errors (the chain facts or platform key
//! missing, the database) abort the round without consuming the occurrence: it is
//! retried on the next tick.
//!
//! **Downtime.** Occurrences missed while no worker ran are all due: each runs
//! once, oldest first (a schedule is advanced one occurrence per transaction).
//!
//! Execution statuses TRIGGERED → EXECUTED / FAILED follow the produced movement
//! (SUCCESS / ERROR); [`Worker::sync`] persists them (the API also derives them at
//! read time) and tags the RELEASE movement of a failed scheduled cash-out.

pub mod calendar;

use std::{
    sync::{Arc, Mutex},
    time::Duration as StdDuration,
};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::Connection;
use uuid::Uuid;

use crate::{
    cashout::{CashOut, Payee},
    money,
    transfer::Transfer,
    Command, Error, Platform,
};
use calendar::{Duration, Frequency, Schedule};

/// Where "now" comes from: the system clock in production, a [`ManualClock`] in tests.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(now: DateTime<Utc>) -> Arc<Self> {
        Arc::new(ManualClock(Mutex::new(now)))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *g += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A stored schedule, as the worker and the API read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub wallet_id: Uuid,
    pub alias: String,
    pub concept: String,
    /// minor units, as text
    pub amount: String,
    pub receiver_type: String,
    pub receiver_account: String,
    pub start_date: DateTime<Utc>,
    pub time_zone: String,
    pub frequency: String,
    pub duration_type: String,
    pub end_date: Option<NaiveDate>,
    pub repetitions: Option<i32>,
    pub status: String,
    pub next_index: i32,
    pub next_date: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`ScheduleRow`].
pub const SCHEDULE_COLUMNS: &str = "id, client_id, wallet_id, alias, concept, amount::text AS amount, receiver_type, receiver_account, \
     start_date, time_zone, frequency, duration_type, end_date, repetitions, status, next_index, next_date, created_at, updated_at";

impl ScheduleRow {
    /// The calendar of this row.
    pub fn schedule(&self) -> anyhow::Result<Schedule> {
        let frequency = Frequency::parse(&self.frequency).with_context(|| format!("bad frequency {}", self.frequency))?;
        let duration = match self.duration_type.as_str() {
            "ENDLESS" => Duration::Endless,
            "NUMBER_OF_REPETITIONS" => Duration::Repetitions(self.repetitions.context("no repetitions")?.max(0) as u32),
            "END_DATE" => Duration::EndDate(self.end_date.context("no end date")?),
            other => anyhow::bail!("bad duration type {other}"),
        };
        Schedule::new(self.start_date, &self.time_zone, frequency, duration).with_context(|| format!("bad time zone {}", self.time_zone))
    }
}

/// What one [`Worker::run_due`] call did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    /// Occurrences whose operation was stored (TRIGGERED).
    pub triggered: usize,
    /// Occurrences refused (FAILED).
    pub failed: usize,
    /// Occurrences already claimed by another worker (nothing paid).
    pub skipped: usize,
}

impl RunReport {
    pub fn total(&self) -> usize {
        self.triggered + self.failed + self.skipped
    }
}

enum Outcome {
    Triggered,
    Failed,
    Skipped,
}

/// Runs due occurrences. Cheap to clone; any number may run at once.
#[derive(Clone)]
pub struct Worker {
    platform: Platform,
    clock: Arc<dyn Clock>,
}

impl Worker {
    /// A worker with the platform's clock.
    pub fn new(platform: Platform) -> Self {
        let clock = platform.clock();
        Worker { platform, clock }
    }

    pub fn with_clock(platform: Platform, clock: Arc<dyn Clock>) -> Self {
        Worker { platform, clock }
    }

    /// Ticks every `interval` until `stop` turns true: runs what is due at the
    /// clock's now, then syncs execution statuses.
    pub async fn run(self, interval: StdDuration, mut stop: tokio::sync::watch::Receiver<bool>) {
        tracing::info!(?interval, "scheduled-operations worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let now = self.clock.now();
            let round = match self.run_due(now).await {
                Ok(r) => {
                    if r.total() > 0 {
                        tracing::info!(?r, "scheduled occurrences run");
                    }
                    self.sync().await
                }
                Err(e) => Err(e),
            };
            match round {
                Ok(()) => self.platform.workers().ok("scheduler"),
                Err(e) => {
                    self.platform.workers().failed("scheduler", &e);
                    tracing::warn!(error = ?e, "scheduled-operations round failed; retrying");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                r = stop.changed() => if r.is_err() { break },
            }
        }
        tracing::info!("scheduled-operations worker stopped");
    }

    /// Runs every occurrence due at `now` (missed ones included, oldest first).
    pub async fn run_due(&self, now: DateTime<Utc>) -> anyhow::Result<RunReport> {
        self.run_due_at_most(now, usize::MAX).await
    }

    /// Like [`Self::run_due`], stopping after `max` occurrences (tests use it to
    /// stop a worker mid-run).
    pub async fn run_due_at_most(&self, now: DateTime<Utc>, max: usize) -> anyhow::Result<RunReport> {
        let mut report = RunReport::default();
        while report.total() < max {
            match self.run_one(now).await? {
                None => break,
                Some(Outcome::Triggered) => report.triggered += 1,
                Some(Outcome::Failed) => report.failed += 1,
                Some(Outcome::Skipped) => report.skipped += 1,
            }
        }
        if report.triggered > 0 {
            self.platform.wake_submitter();
        }
        Ok(report)
    }

    /// One due occurrence of one schedule, in one transaction.
    async fn run_one(&self, now: DateTime<Utc>) -> anyhow::Result<Option<Outcome>> {
        let mut tx = self.platform.pool().begin().await?;
        let row: Option<ScheduleRow> = sqlx::query_as(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM scheduled_operations
             WHERE status = 'ACTIVE' AND next_date <= $1 ORDER BY next_date, id LIMIT 1 FOR UPDATE SKIP LOCKED"
        ))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let schedule = row.schedule()?;
        let index = row.next_index.max(0) as u32;
        let at = row.next_date.context("an ACTIVE schedule without next_date")?;
        let exec_id = Uuid::now_v7();
        let claimed = sqlx::query(
            "INSERT INTO scheduled_executions (id, scheduled_operation_id, client_id, wallet_id, occurrence_index, occurrence_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, 'TRIGGERED') ON CONFLICT (scheduled_operation_id, occurrence_at) DO NOTHING",
        )
        .bind(exec_id)
        .bind(row.id)
        .bind(row.client_id)
        .bind(row.wallet_id)
        .bind(index as i32)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let outcome = if !claimed {
            Outcome::Skipped
        } else {
            let mut sp = Connection::begin(&mut *tx).await?;
            match self.pay(&mut sp, &row).await {
                Ok(paid) => {
                    sqlx::query("UPDATE movements SET scheduled_operation_id = $1 WHERE operation_id = $2")
                        .bind(row.id)
                        .bind(paid.operation_id)
                        .execute(&mut *sp)
                        .await?;
                    sp.commit().await?;
                    sqlx::query(
                        "UPDATE scheduled_executions SET operation_id = $2, movement_id = $3, hold_id = $4, updated_at = now() WHERE id = $1",
                    )
                    .bind(exec_id)
                    .bind(paid.operation_id)
                    .bind(paid.movement_id)
                    .bind(paid.hold_id)
                    .execute(&mut *tx)
                    .await?;
                    Outcome::Triggered
                }
                Err(e) if e.is_refusal() => {
                    sp.rollback().await?;
                    tracing::info!(schedule = %row.id, occurrence = %at, code = e.code(), "scheduled occurrence refused");
                    sqlx::query(
                        "UPDATE scheduled_executions SET status = 'FAILED', error_code = $2, reason = $3, updated_at = now() WHERE id = $1",
                    )
                    .bind(exec_id)
                    .bind(e.code())
                    .bind(e.to_string())
                    .execute(&mut *tx)
                    .await?;
                    Outcome::Failed
                }
                Err(e) => {
                    // not the request's fault: leave the occurrence due, retry later
                    let cause = match e {
                        Error::Internal(inner) => format!("{inner:#}"),
                        other => other.to_string(),
                    };
                    return Err(anyhow::anyhow!("scheduled operation {} occurrence {at}: {cause}", row.id));
                }
            }
        };
        let next = schedule.occurrence(index + 1);
        sqlx::query(
            "UPDATE scheduled_operations SET next_index = $2, next_date = $3,
                    status = CASE WHEN $3::timestamptz IS NULL THEN 'COMPLETED' ELSE status END, updated_at = now()
             WHERE id = $1",
        )
        .bind(row.id)
        .bind(index as i32 + 1)
        .bind(next)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if matches!(outcome, Outcome::Triggered) {
            money::fault_point("after_schedule_store");
        }
        Ok(Some(outcome))
    }

    /// Stores the money operation of one occurrence through the public commands.
    async fn pay(&self, conn: &mut sqlx::PgConnection, row: &ScheduleRow) -> Result<Paid, Error> {
        let token = self.platform.token().await?;
        let minor: u128 = row.amount.parse().map_err(|_| Error::internal(format!("bad stored amount {}", row.amount)))?;
        let amount = Value::String(money::wire(minor, token.decimals));
        let concept = Some(row.concept.clone());
        let account = |what: &str| Uuid::parse_str(&row.receiver_account).map_err(|e| Error::internal(format!("bad {what} id: {e}")));
        let cash_out = |to| CashOut { wallet_id: row.wallet_id, to, amount: amount.clone(), concept: concept.clone() };
        Ok(match row.receiver_type.as_str() {
            "IOCASH_WALLET" => {
                let t = Transfer { wallet_id: row.wallet_id, target_wallet_id: account("wallet")?, amount: amount.clone(), concept: concept.clone() };
                let stored = t.execute(&self.platform, conn, row.client_id).await?;
                Paid { operation_id: stored.operation_id, movement_id: Some(stored.movement_id), hold_id: None }
            }
            "FAVOURITE_EXTERNAL_BANK_ACCOUNT" => {
                let to = Payee::Favourite { id: account("favourite")?, field: "receiver.account" };
                let stored = cash_out(to).execute(&self.platform, conn, row.client_id).await?;
                Paid { operation_id: stored.operation_id, movement_id: Some(stored.movement_id), hold_id: Some(stored.hold_id) }
            }
            "EXTERNAL_BANK_ACCOUNT" => {
                let stored = cash_out(Payee::StoredIban(row.receiver_account.clone())).execute(&self.platform, conn, row.client_id).await?;
                Paid { operation_id: stored.operation_id, movement_id: Some(stored.movement_id), hold_id: Some(stored.hold_id) }
            }
            other => return Err(Error::internal(format!("bad receiver type {other}"))),
        })
    }

    /// Persists TRIGGERED → EXECUTED / FAILED from the movements, and tags the
    /// movements of scheduled cash-outs' holds (e.g. the RELEASE of a failed payout).
    pub async fn sync(&self) -> anyhow::Result<()> {
        let mut tx = self.platform.pool().begin().await?;
        sqlx::query(
            "UPDATE movements m SET scheduled_operation_id = e.scheduled_operation_id
             FROM scheduled_executions e
             WHERE e.hold_id IS NOT NULL AND m.chain_operation_id = e.hold_id::text AND m.scheduled_operation_id IS NULL
               AND (e.status = 'TRIGGERED' OR m.status = 'PENDING')",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE scheduled_executions e
             SET status = CASE WHEN m.status = 'SUCCESS' THEN 'EXECUTED' ELSE 'FAILED' END,
                 reason = CASE WHEN m.status = 'ERROR' THEN COALESCE(m.error, 'the movement failed') END,
                 error_code = CASE WHEN m.status = 'ERROR' THEN 'movement_failed' END,
                 updated_at = now()
             FROM movements m
             WHERE e.status = 'TRIGGERED' AND m.id = e.movement_id AND m.status IN ('SUCCESS', 'ERROR')",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

struct Paid {
    operation_id: Uuid,
    movement_id: Option<Uuid>,
    hold_id: Option<Uuid>,
}
