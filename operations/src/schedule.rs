//! Scheduled operations of a wallet (seed 003, issue 7): creating and deleting a
//! schedule. The [worker](crate::scheduler) runs each occurrence once through the
//! operation pipeline.
//!
//! A schedule pays `amount` from the wallet to its receiver — another wallet of the
//! tenant (`IOCASH_WALLET`: a transfer), a favourite external account or an IBAN (a
//! cash-out) — on the calendar of [`crate::scheduler::calendar`].
//!
//! Status: ACTIVE → COMPLETED (the duration is used up) or DELETED (by the caller;
//! the wallet must be READY and the schedule ACTIVE, else 409 `wallet_not_ready` /
//! `scheduled_operation_not_active`). Aliases are unique per wallet among schedules
//! not deleted (409 `duplicate_alias`).
//!
//! Input: `startDate` is RFC 3339 with an offset (also the seed's `+02` and
//! `+0000`), after now; `timeZone` an IANA name (default `UTC`); `duration.value` a
//! positive integer (string or number) for NUMBER_OF_REPETITIONS, a `yyyy-MM-dd`
//! date (a time part is ignored) not before the start's local date for END_DATE;
//! `duration` is ignored for ONCE and defaults to ENDLESS otherwise.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    cashout,
    error::unique_violation,
    money,
    scheduler::{
        calendar::{Duration, Frequency, Schedule},
        ScheduleRow, SCHEDULE_COLUMNS,
    },
    validate,
    wallet::{text, wallet_facts},
    Command, Error, Platform, Result,
};

/// The receiver types of seed 003.
pub const RECEIVER_TYPES: [&str; 3] = ["IOCASH_WALLET", "FAVOURITE_EXTERNAL_BANK_ACCOUNT", "EXTERNAL_BANK_ACCOUNT"];

/// Create a schedule on `wallet_id`.
#[derive(Debug, Clone)]
pub struct CreateSchedule {
    pub wallet_id: Uuid,
    pub alias: String,
    pub concept: Option<String>,
    /// As given: a decimal string or JSON number.
    pub amount: Value,
    /// `IOCASH_WALLET`, `FAVOURITE_EXTERNAL_BANK_ACCOUNT` or `EXTERNAL_BANK_ACCOUNT`.
    pub receiver_type: String,
    pub receiver_account: String,
    pub start_date: String,
    pub frequency: String,
    /// (`type`, `value`) of the duration, when given.
    pub duration: Option<(String, Option<Value>)>,
    pub time_zone: Option<String>,
}

/// A schedule as stored, with the token's decimals to show its amount.
#[derive(Debug, Clone)]
pub struct ScheduleStored {
    pub row: ScheduleRow,
    pub decimals: u32,
}

/// An instant: RFC 3339 with an offset, also `+02`, `+0200` and fractional seconds.
pub fn parse_instant(field: &str, text: &str) -> Result<DateTime<Utc>> {
    let t = text.trim();
    let bad = || Error::invalid(field, "must be a date-time with an offset, e.g. 2030-04-23T00:00:00.000+02:00");
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    // the seed's short offsets: "+02" → "+0200"
    let tail = t.len().saturating_sub(3);
    let fixed = match t.get(tail..) {
        Some(off) if (off.starts_with('+') || off.starts_with('-')) && off[1..].bytes().all(|b| b.is_ascii_digit()) => format!("{t}00"),
        _ => t.to_owned(),
    };
    DateTime::parse_from_str(&fixed, "%Y-%m-%dT%H:%M:%S%.f%z").map(|d| d.with_timezone(&Utc)).map_err(|_| bad())
}

fn parse_duration(d: Option<&(String, Option<Value>)>, frequency: Frequency) -> Result<Duration> {
    let Some((duration_type, value)) = d else { return Ok(Duration::Endless) };
    if frequency == Frequency::Once {
        return Ok(Duration::Endless);
    }
    let value = match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(Error::invalid("schedule.duration.value", "must be a string or a number")),
    };
    match duration_type.as_str() {
        "ENDLESS" => Ok(Duration::Endless),
        "NUMBER_OF_REPETITIONS" => {
            let v = value.ok_or_else(|| Error::invalid("schedule.duration.value", "the number of repetitions is required"))?;
            match v.parse::<u32>() {
                Ok(k) if (1..=100_000).contains(&k) => Ok(Duration::Repetitions(k)),
                _ => Err(Error::invalid("schedule.duration.value", "must be a positive integer (at most 100000)")),
            }
        }
        "END_DATE" => {
            let v = value.ok_or_else(|| Error::invalid("schedule.duration.value", "the end date (yyyy-MM-dd) is required"))?;
            let date = v.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            date.map(Duration::EndDate).ok_or_else(|| Error::invalid("schedule.duration.value", "must be a date yyyy-MM-dd"))
        }
        _ => Err(Error::invalid("schedule.duration.type", "must be ENDLESS, NUMBER_OF_REPETITIONS or END_DATE")),
    }
}

impl CreateSchedule {
    /// The calendar of the request, validated against `now`.
    fn calendar(&self, now: DateTime<Utc>) -> Result<Schedule> {
        let frequency = Frequency::parse(self.frequency.trim())
            .ok_or_else(|| Error::invalid("schedule.frequency", "must be ONCE, DAILY, WEEKLY, MONTHLY or YEARLY"))?;
        let start = parse_instant("schedule.startDate", &self.start_date)?;
        if start <= now {
            return Err(Error::invalid("schedule.startDate", "must be in the future"));
        }
        let tz = self.time_zone.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("UTC");
        let duration = parse_duration(self.duration.as_ref(), frequency)?;
        let schedule = Schedule::new(start, tz, frequency, duration)
            .ok_or_else(|| Error::invalid("schedule.timeZone", "must be an IANA time zone, e.g. Europe/Madrid"))?;
        if let Duration::EndDate(end) = schedule.duration {
            if end < schedule.local_start().date() {
                return Err(Error::invalid("schedule.duration.value", "the end date must not be before the start date"));
            }
            if end > schedule.local_start().date() + chrono::Duration::days(366 * 100) {
                return Err(Error::invalid("schedule.duration.value", "the end date must be within 100 years of the start date"));
            }
        }
        Ok(schedule)
    }
}

/// One schedule of the tenant's wallet, optionally locked.
pub async fn fetch(conn: &mut PgConnection, client_id: Uuid, wallet_id: Uuid, id: Uuid, lock: bool) -> Result<ScheduleRow> {
    sqlx::query_as(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM scheduled_operations WHERE id = $1 AND wallet_id = $2 AND client_id = $3{}",
        if lock { " FOR UPDATE" } else { "" }
    ))
    .bind(id)
    .bind(wallet_id)
    .bind(client_id)
    .fetch_optional(conn)
    .await?
    .ok_or(Error::NotFound("scheduled operation"))
}

impl Command for CreateSchedule {
    type Output = ScheduleStored;
    /// Occurrences store their operations when they are due.
    const STORES_OPERATIONS: bool = false;

    async fn execute(self, platform: &Platform, conn: &mut PgConnection, client_id: Uuid) -> Result<ScheduleStored> {
        let now = platform.clock().now();
        let wallet_id = self.wallet_id;
        let alias = text("alias", Some(self.alias.clone()), 100)?.unwrap_or_default();
        let concept = money::concept(self.concept.clone())?.unwrap_or_else(|| format!("Scheduled operation {alias}"));
        let token = platform.token().await?;
        let amount = money::amount("amount", &self.amount, token.decimals)?;
        let schedule = self.calendar(now)?;
        let wallet = wallet_facts(conn, client_id, wallet_id, false).await?;
        money::require_ready(&wallet, "")?;
        let receiver_type = self.receiver_type.trim().to_owned();
        let account = self.receiver_account.trim();
        let account = match receiver_type.as_str() {
            "IOCASH_WALLET" => {
                let target = Uuid::parse_str(account).map_err(|_| Error::invalid("receiver.account", "must be a wallet id (UUID)"))?;
                if target == wallet_id {
                    return Err(Error::invalid("receiver.account", "must differ from the paying wallet"));
                }
                let receiver = wallet_facts(conn, client_id, target, false)
                    .await
                    .map_err(|_| Error::ReferenceNotFound { resource: "wallet", field: "receiver.account" })?;
                money::require_ready(&receiver, "receiver")?;
                target.to_string()
            }
            "FAVOURITE_EXTERNAL_BANK_ACCOUNT" => {
                let fav = Uuid::parse_str(account)
                    .map_err(|_| Error::invalid("receiver.account", "must be a favourite external account id (UUID)"))?;
                cashout::favourite(conn, client_id, wallet_id, fav, "receiver.account").await?;
                fav.to_string()
            }
            "EXTERNAL_BANK_ACCOUNT" => validate::iban(account).map_err(|r| Error::invalid("receiver.account", r))?,
            _ => return Err(Error::invalid("receiver.type", format!("must be one of {}", RECEIVER_TYPES.join(", ")))),
        };
        let (end_date, repetitions) = match schedule.duration {
            Duration::EndDate(d) => (Some(d), None),
            Duration::Repetitions(k) => (None, Some(k as i32)),
            Duration::Endless => (None, None),
        };
        let duration_type = if schedule.frequency == Frequency::Once { "ENDLESS" } else { schedule.duration.type_str() };
        let id = Uuid::now_v7();
        let inserted = sqlx::query(
            "INSERT INTO scheduled_operations (id, client_id, wallet_id, alias, concept, amount, receiver_type, receiver_account,
                                               start_date, time_zone, frequency, duration_type, end_date, repetitions, next_index, next_date)
             VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $8, $9, $10, $11, $12, $13, $14, 0, $9)",
        )
        .bind(id)
        .bind(client_id)
        .bind(wallet_id)
        .bind(&alias)
        .bind(&concept)
        .bind(amount.minor().to_string())
        .bind(&receiver_type)
        .bind(&account)
        .bind(schedule.start)
        .bind(schedule.tz.name())
        .bind(schedule.frequency.as_str())
        .bind(duration_type)
        .bind(end_date)
        .bind(repetitions)
        .execute(&mut *conn)
        .await;
        if let Err(e) = inserted {
            return Err(match unique_violation(&e) {
                Some(c) if c == "scheduled_operations_alias" => {
                    Error::conflict("duplicate_alias", "this wallet already has a scheduled operation with this alias")
                }
                _ => e.into(),
            });
        }
        let row = fetch(conn, client_id, wallet_id, id, false).await?;
        Ok(ScheduleStored { row, decimals: token.decimals })
    }
}

/// Deletes every ACTIVE schedule paid by or paying into `wallet_id` (the wallet
/// is being unsubscribed); returns how many.
pub async fn delete_all_of_wallet(conn: &mut sqlx::PgConnection, wallet_id: Uuid) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE scheduled_operations SET status = 'DELETED', next_date = NULL, deleted_at = now(), updated_at = now()
         WHERE status = 'ACTIVE' AND (wallet_id = $1 OR (receiver_type = 'IOCASH_WALLET' AND receiver_account = $1::text))",
    )
    .bind(wallet_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes an ACTIVE schedule of a READY wallet: status DELETED, no more occurrences.
pub async fn delete(platform: &Platform, client_id: Uuid, wallet_id: Uuid, id: Uuid) -> Result<ScheduleRow> {
    let mut tx = platform.pool().begin().await?;
    // the wallet is not locked: the worker locks schedule then wallet
    let wallet = wallet_facts(&mut tx, client_id, wallet_id, false).await?;
    let row = fetch(&mut tx, client_id, wallet_id, id, true).await?;
    money::require_ready(&wallet, "")?;
    if row.status != "ACTIVE" {
        return Err(Error::conflict(
            "scheduled_operation_not_active",
            format!("the scheduled operation is {}; only ACTIVE ones can be deleted", row.status),
        ));
    }
    sqlx::query("UPDATE scheduled_operations SET status = 'DELETED', next_date = NULL, deleted_at = now(), updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let row = fetch(&mut tx, client_id, wallet_id, id, false).await?;
    tx.commit().await?;
    Ok(row)
}
