//! Scheduled operations of a wallet (seed 003, issue 7):
//! `POST/GET /api/v1/public/wallets/{walletId}/scheduled-operations`,
//! `GET/DELETE .../scheduled-operations/{scheduledOperationId}` and
//! `GET .../scheduled-operations/{scheduledOperationId}/executions`.
//!
//! A schedule pays `amount` from the wallet to its receiver — another wallet of the
//! tenant (`IOCASH_WALLET`: a transfer), a favourite external account or an IBAN (a
//! cash-out) — on the calendar of [`crate::scheduler::calendar`] (rules documented
//! there). The [worker](crate::scheduler) runs each occurrence once through the
//! operation pipeline; every movement it produces carries `scheduledOperationId`.
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

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::get,
    Json, Router,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::{Auth, Read, Write},
    cashouts,
    error::unique_violation,
    extract::{self, path_uuid, Path, Query},
    idempotency::{self, Begin},
    money,
    paging::{PageLinks, PageMeta, PageRequest, SortField},
    wallets::{text, wallet_facts},
    ApiContext, Error, Link, Result,
};
use crate::{
    scheduler::{
        self,
        calendar::{Duration, Frequency, Schedule},
        ScheduleRow, SCHEDULE_COLUMNS,
    },
    validate,
};

/// Most future executions shown by the executions endpoint.
pub const SCHEDULED_EXECUTIONS: usize = 10;

const RECEIVER_TYPES: [&str; 3] = ["IOCASH_WALLET", "FAVOURITE_EXTERNAL_BANK_ACCOUNT", "EXTERNAL_BANK_ACCOUNT"];

/// Who receives the money.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// `IOCASH_WALLET` (a wallet id), `FAVOURITE_EXTERNAL_BANK_ACCOUNT` (a favourite
    /// external account id of this wallet) or `EXTERNAL_BANK_ACCOUNT` (an IBAN).
    #[serde(rename = "type")]
    pub receiver_type: String,
    pub account: String,
}

/// A schedule's duration in a request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DurationIn {
    /// `ENDLESS`, `NUMBER_OF_REPETITIONS` or `END_DATE`.
    #[serde(rename = "type")]
    pub duration_type: String,
    /// Repetitions (positive integer) or the inclusive end date (`yyyy-MM-dd`).
    #[schema(value_type = Option<String>, example = "2")]
    pub value: Option<Value>,
}

/// A schedule in a request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleIn {
    /// RFC 3339 with an offset, e.g. `2030-04-23T00:00:00.000+02`.
    pub start_date: String,
    /// `ONCE`, `DAILY`, `WEEKLY`, `MONTHLY` or `YEARLY`.
    pub frequency: String,
    pub duration: Option<DurationIn>,
    /// IANA time zone the calendar is computed in (default `UTC`).
    pub time_zone: Option<String>,
}

/// A new scheduled operation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateScheduled {
    pub alias: String,
    /// Default: `Scheduled operation <alias>`.
    pub concept: Option<String>,
    #[schema(value_type = String, example = "100.50")]
    pub amount: Value,
    pub receiver: Receiver,
    pub schedule: ScheduleIn,
    pub idempotency_key: Option<String>,
}

/// A schedule's duration in a response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DurationView {
    #[serde(rename = "type")]
    pub duration_type: String,
    /// The local date of the last occurrence (END_DATE: the given end date).
    pub end_date: Option<NaiveDate>,
    /// How many occurrences the schedule has in all.
    pub number_of_repetitions: Option<u32>,
}

/// A schedule in a response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub start_date: DateTime<Utc>,
    /// The next occurrence (null once COMPLETED or DELETED).
    pub next_date: Option<DateTime<Utc>>,
    pub frequency: String,
    /// Null for ONCE.
    pub duration: Option<DurationView>,
    pub time_zone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub wallet: Link,
    pub executions: Link,
}

/// A scheduled operation (seed 003).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledView {
    #[serde(rename = "_links")]
    pub links: ScheduledLinks,
    pub id: Uuid,
    pub wallet_id: Uuid,
    pub alias: String,
    pub concept: String,
    #[schema(value_type = String, example = "100.50")]
    pub amount: String,
    /// `ACTIVE`, `COMPLETED` or `DELETED`.
    pub status: String,
    pub schedule: ScheduleView,
    pub receiver: Receiver,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of scheduled operations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledPage {
    #[serde(rename = "_links")]
    pub links: PageLinks,
    #[serde(rename = "_embedded")]
    pub embedded: ScheduledEmbedded,
    pub page: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledEmbedded {
    pub scheduled_operations: Vec<ScheduledView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionLinks {
    /// The execution's movement (TRANSFER_OUT or BANK_ACCOUNT_CASHOUT), when one was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub movement: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Link>,
}

/// An occurrence that ran.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionView {
    #[serde(rename = "_links")]
    pub links: ExecutionLinks,
    pub id: Uuid,
    /// `TRIGGERED`, `EXECUTED` or `FAILED`.
    pub status: String,
    /// The occurrence's scheduled instant.
    pub date: DateTime<Utc>,
    /// 0-based index of the occurrence in the calendar.
    pub occurrence: i32,
    /// When the worker ran it.
    pub triggered_at: DateTime<Utc>,
    pub movement_id: Option<Uuid>,
    pub api_operation_id: Option<Uuid>,
    /// FAILED: the refusal's error code (`insufficient_funds`, `wallet_not_ready`, ...) or `movement_failed`.
    pub error_code: Option<String>,
    pub reason: Option<String>,
}

/// A future occurrence.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledExecutionView {
    /// `SCHEDULED`.
    pub status: String,
    pub date: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionsEmbedded {
    pub executions: Vec<ExecutionView>,
    /// At most 10 future occurrences (none unless ACTIVE); not paged.
    pub scheduled_executions: Vec<ScheduledExecutionView>,
}

/// Executions of a scheduled operation (paged) and its next occurrences.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionsPage {
    #[serde(rename = "_links")]
    pub links: PageLinks,
    #[serde(rename = "_embedded")]
    pub embedded: ExecutionsEmbedded,
    pub page: PageMeta,
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/wallets/{walletId}/scheduled-operations", get(list_scheduled).post(create_scheduled))
        .route(
            "/api/v1/public/wallets/{walletId}/scheduled-operations/{scheduledOperationId}",
            get(get_scheduled).delete(delete_scheduled),
        )
        .route("/api/v1/public/wallets/{walletId}/scheduled-operations/{scheduledOperationId}/executions", get(list_executions))
}

fn base_path(wallet_id: Uuid) -> String {
    format!("/api/v1/public/wallets/{wallet_id}/scheduled-operations")
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

fn parse_duration(d: Option<DurationIn>, frequency: Frequency) -> Result<Duration> {
    let Some(d) = d else { return Ok(Duration::Endless) };
    if frequency == Frequency::Once {
        return Ok(Duration::Endless);
    }
    let value = match &d.value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(Error::invalid("schedule.duration.value", "must be a string or a number")),
    };
    match d.duration_type.as_str() {
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

/// The calendar of a request, validated against `now`.
fn parse_schedule(s: &ScheduleIn, now: DateTime<Utc>) -> Result<Schedule> {
    let frequency = Frequency::parse(s.frequency.trim())
        .ok_or_else(|| Error::invalid("schedule.frequency", "must be ONCE, DAILY, WEEKLY, MONTHLY or YEARLY"))?;
    let start = parse_instant("schedule.startDate", &s.start_date)?;
    if start <= now {
        return Err(Error::invalid("schedule.startDate", "must be in the future"));
    }
    let tz = s.time_zone.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("UTC");
    let duration = parse_duration(s.duration.as_ref().map(|d| DurationIn { duration_type: d.duration_type.clone(), value: d.value.clone() }), frequency)?;
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

fn view(ctx: &ApiContext, row: ScheduleRow, decimals: u32) -> Result<ScheduledView> {
    let schedule = row.schedule().map_err(Error::Internal)?;
    let minor: u128 = row.amount.parse().map_err(|_| Error::Internal(anyhow::anyhow!("bad stored amount")))?;
    let duration = (schedule.frequency != Frequency::Once).then(|| DurationView {
        duration_type: schedule.duration.type_str().into(),
        end_date: match schedule.duration {
            Duration::EndDate(d) => Some(d),
            _ => schedule.last_date(),
        },
        number_of_repetitions: schedule.count(),
    });
    let path = format!("{}/{}", base_path(row.wallet_id), row.id);
    Ok(ScheduledView {
        links: ScheduledLinks {
            self_: Link::new(ctx, &path),
            wallet: Link::new(ctx, format!("/api/v1/public/wallets/{}", row.wallet_id)),
            executions: Link::new(ctx, format!("{path}/executions")),
        },
        id: row.id,
        wallet_id: row.wallet_id,
        alias: row.alias,
        concept: row.concept,
        amount: money::wire(minor, decimals),
        status: row.status.clone(),
        schedule: ScheduleView {
            start_date: row.start_date,
            next_date: if row.status == "ACTIVE" { row.next_date } else { None },
            frequency: row.frequency,
            duration,
            time_zone: row.time_zone,
        },
        receiver: Receiver { receiver_type: row.receiver_type, account: row.receiver_account },
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn fetch(conn: &mut PgConnection, client_id: Uuid, wallet_id: Uuid, id: Uuid, lock: bool) -> Result<ScheduleRow> {
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

/// Schedule a recurring (or one-off) payment from the wallet.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/scheduled-operations", tag = "scheduled operations",
    request_body = CreateScheduled,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = ScheduledView), (status = 400, body = super::docs::ErrorEnvelope),
        (status = 404, description = "wallet, or the receiver wallet / favourite, unknown", body = super::docs::ErrorEnvelope),
        (status = 409, description = "`duplicate_alias`, `wallet_not_ready`, `favourite_deleted`", body = super::docs::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`", body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn create_scheduled(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CreateScheduled>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let key = idempotency::key(&headers, body.value.idempotency_key.as_deref())?;
    let endpoint = format!("POST {}", base_path(wallet_id));
    let mut tx = ctx.pool().begin().await?;
    let claim = match idempotency::begin(&mut tx, auth.client_id, key, &endpoint, &body.raw).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Proceed(c) => c,
    };
    let outcome = store(&mut tx, &ctx, auth.client_id, wallet_id, body.value).await;
    idempotency::finish(&ctx, auth.client_id, tx, claim, outcome).await
}

async fn store(conn: &mut PgConnection, ctx: &ApiContext, client_id: Uuid, wallet_id: Uuid, b: CreateScheduled) -> Result<(StatusCode, Value)> {
    let now = scheduler::clock(ctx).now();
    let alias = text("alias", Some(b.alias), 100)?.unwrap_or_default();
    let concept = money::concept(b.concept)?.unwrap_or_else(|| format!("Scheduled operation {alias}"));
    let token = money::token(ctx).await?;
    let amount = money::amount("amount", &b.amount, token.decimals)?;
    let schedule = parse_schedule(&b.schedule, now)?;
    let wallet = wallet_facts(conn, client_id, wallet_id, false).await?;
    money::require_ready(&wallet, "")?;
    let receiver_type = b.receiver.receiver_type.trim().to_owned();
    let account = b.receiver.account.trim();
    let account = match receiver_type.as_str() {
        "IOCASH_WALLET" => {
            let target = Uuid::parse_str(account).map_err(|_| Error::invalid("receiver.account", "must be a wallet id (UUID)"))?;
            if target == wallet_id {
                return Err(Error::invalid("receiver.account", "must differ from the paying wallet"));
            }
            wallet_facts(conn, client_id, target, false)
                .await
                .map_err(|_| Error::ReferenceNotFound { resource: "wallet", field: "receiver.account" })?;
            target.to_string()
        }
        "FAVOURITE_EXTERNAL_BANK_ACCOUNT" => {
            let fav = Uuid::parse_str(account)
                .map_err(|_| Error::invalid("receiver.account", "must be a favourite external account id (UUID)"))?;
            cashouts::favourite(conn, client_id, wallet_id, fav, "receiver.account").await?;
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
    Ok((StatusCode::CREATED, money::to_value(&view(ctx, row, token.decimals)?)?))
}

async fn decimals(ctx: &ApiContext) -> u32 {
    ctx.chain().await.decimals
}

/// Get a scheduled operation of the wallet.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/scheduled-operations/{scheduledOperationId}", tag = "scheduled operations",
    params(("walletId" = Uuid, Path), ("scheduledOperationId" = Uuid, Path)),
    responses((status = 200, body = ScheduledView), (status = 404, body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_scheduled(
    auth: Auth<Read>,
    State(ctx): State<ApiContext>,
    Path((wallet_id, id)): Path<(String, String)>,
) -> Result<Json<ScheduledView>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let id = path_uuid("scheduledOperationId", &id)?;
    let mut conn = ctx.pool().acquire().await?;
    let row = fetch(&mut conn, auth.client_id, wallet_id, id, false).await?;
    Ok(Json(view(&ctx, row, decimals(&ctx).await)?))
}

const SORTS: &[SortField] = &[("createdAt", "created_at"), ("alias", "alias"), ("nextDate", "next_date"), ("startDate", "start_date")];

/// List the wallet's scheduled operations (paged; `status` filter).
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/scheduled-operations", tag = "scheduled operations",
    params(("walletId" = Uuid, Path), ("page" = Option<u32>, Query), ("size" = Option<u32>, Query),
        ("sort" = Option<String>, Query, description = "createdAt, alias, nextDate, startDate; ,asc|,desc"),
        ("status" = Option<String>, Query, description = "ACTIVE, COMPLETED or DELETED")),
    responses((status = 200, body = ScheduledPage), (status = 400, body = super::docs::ErrorEnvelope), (status = 404, body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_scheduled(
    auth: Auth<Read>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    q: Query,
) -> Result<Json<ScheduledPage>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let page = PageRequest::from_query(&q, SORTS, ("createdAt", true))?;
    let status = q.one("status")?.map(str::to_owned);
    if let Some(s) = &status {
        if !["ACTIVE", "COMPLETED", "DELETED"].contains(&s.as_str()) {
            return Err(Error::invalid_query("status", "must be ACTIVE, COMPLETED or DELETED"));
        }
    }
    let mut conn = ctx.pool().acquire().await?;
    wallet_facts(&mut conn, auth.client_id, wallet_id, false).await?;
    let filter = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" WHERE client_id = ").push_bind(auth.client_id).push(" AND wallet_id = ").push_bind(wallet_id);
        if let Some(s) = &status {
            qb.push(" AND status = ").push_bind(s.clone());
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*) FROM scheduled_operations");
    filter(&mut count);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await?;
    let mut qb = QueryBuilder::new(format!("SELECT {SCHEDULE_COLUMNS} FROM scheduled_operations"));
    filter(&mut qb);
    qb.push(page.order_by("id")).push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
    let rows: Vec<ScheduleRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let d = decimals(&ctx).await;
    let items = rows.into_iter().map(|r| view(&ctx, r, d)).collect::<Result<Vec<_>>>()?;
    let filters: Vec<(&str, String)> = status.iter().map(|s| ("status", s.clone())).collect();
    let (links, meta) = page.envelope(&ctx, &base_path(wallet_id), &filters, total);
    Ok(Json(ScheduledPage { links, embedded: ScheduledEmbedded { scheduled_operations: items }, page: meta }))
}

/// Delete a scheduled operation: status DELETED, its future executions cancelled.
#[utoipa::path(delete, path = "/api/v1/public/wallets/{walletId}/scheduled-operations/{scheduledOperationId}", tag = "scheduled operations",
    params(("walletId" = Uuid, Path), ("scheduledOperationId" = Uuid, Path)),
    responses((status = 200, body = ScheduledView), (status = 404, body = super::docs::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `scheduled_operation_not_active`", body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn delete_scheduled(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path((wallet_id, id)): Path<(String, String)>,
) -> Result<Json<ScheduledView>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let id = path_uuid("scheduledOperationId", &id)?;
    let mut tx = ctx.pool().begin().await?;
    // the wallet is not locked: the worker locks schedule then wallet
    let wallet = wallet_facts(&mut tx, auth.client_id, wallet_id, false).await?;
    let row = fetch(&mut tx, auth.client_id, wallet_id, id, true).await?;
    money::require_ready(&wallet, "")?;
    if row.status != "ACTIVE" {
        return Err(Error::conflict("scheduled_operation_not_active", format!("the scheduled operation is {}; only ACTIVE ones can be deleted", row.status)));
    }
    sqlx::query("UPDATE scheduled_operations SET status = 'DELETED', next_date = NULL, deleted_at = now(), updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let row = fetch(&mut tx, auth.client_id, wallet_id, id, false).await?;
    tx.commit().await?;
    Ok(Json(view(&ctx, row, decimals(&ctx).await)?))
}

#[derive(sqlx::FromRow)]
struct ExecutionRow {
    id: Uuid,
    status: String,
    occurrence_at: DateTime<Utc>,
    occurrence_index: i32,
    triggered_at: DateTime<Utc>,
    movement_id: Option<Uuid>,
    operation_id: Option<Uuid>,
    error_code: Option<String>,
    reason: Option<String>,
}

const EXECUTION_SORTS: &[SortField] = &[("date", "e.occurrence_at"), ("createdAt", "e.triggered_at"), ("triggeredAt", "e.triggered_at")];

/// Executions of a scheduled operation (paged) and its next ≤ 10 occurrences.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/scheduled-operations/{scheduledOperationId}/executions",
    tag = "scheduled operations",
    params(("walletId" = Uuid, Path), ("scheduledOperationId" = Uuid, Path), ("page" = Option<u32>, Query), ("size" = Option<u32>, Query),
        ("sort" = Option<String>, Query, description = "date, createdAt; ,asc|,desc (default createdAt,desc)")),
    responses((status = 200, body = ExecutionsPage), (status = 400, body = super::docs::ErrorEnvelope), (status = 404, body = super::docs::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_executions(
    auth: Auth<Read>,
    State(ctx): State<ApiContext>,
    Path((wallet_id, id)): Path<(String, String)>,
    q: Query,
) -> Result<Json<ExecutionsPage>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let id = path_uuid("scheduledOperationId", &id)?;
    let page = PageRequest::from_query(&q, EXECUTION_SORTS, ("createdAt", false))?;
    let mut conn = ctx.pool().acquire().await?;
    let row = fetch(&mut conn, auth.client_id, wallet_id, id, false).await?;
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM scheduled_executions WHERE scheduled_operation_id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    // a TRIGGERED execution shows its movement's outcome even before the worker syncs it
    let mut qb = QueryBuilder::new(
        "SELECT e.id, CASE WHEN e.status = 'TRIGGERED' AND m.status = 'SUCCESS' THEN 'EXECUTED'
                           WHEN e.status = 'TRIGGERED' AND m.status = 'ERROR' THEN 'FAILED' ELSE e.status END AS status,
                e.occurrence_at, e.occurrence_index, e.triggered_at, e.movement_id, e.operation_id,
                CASE WHEN e.status = 'TRIGGERED' AND m.status = 'ERROR' THEN 'movement_failed' ELSE e.error_code END AS error_code,
                CASE WHEN e.status = 'TRIGGERED' AND m.status = 'ERROR' THEN COALESCE(m.error, 'the movement failed') ELSE e.reason END AS reason
         FROM scheduled_executions e LEFT JOIN movements m ON m.id = e.movement_id
         WHERE e.scheduled_operation_id = ",
    );
    qb.push_bind(id);
    qb.push(page.order_by("e.id")).push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
    let rows: Vec<ExecutionRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let executions = rows
        .into_iter()
        .map(|e| ExecutionView {
            links: ExecutionLinks {
                movement: e.movement_id.map(|m| Link::new(&ctx, format!("/api/v1/public/wallets/{wallet_id}/movements/{m}"))),
                operation: e.operation_id.map(|o| Link::new(&ctx, format!("/api/v1/public/operations/{o}"))),
            },
            id: e.id,
            status: e.status,
            date: e.occurrence_at,
            occurrence: e.occurrence_index,
            triggered_at: e.triggered_at,
            movement_id: e.movement_id,
            api_operation_id: e.operation_id,
            error_code: e.error_code,
            reason: e.reason,
        })
        .collect();
    let scheduled_executions = if row.status == "ACTIVE" {
        let schedule = row.schedule().map_err(Error::Internal)?;
        schedule
            .iter_from(row.next_index.max(0) as u32)
            .take(SCHEDULED_EXECUTIONS)
            .map(|(_, date)| ScheduledExecutionView { status: "SCHEDULED".into(), date })
            .collect()
    } else {
        Vec::new()
    };
    let (links, meta) = page.envelope(&ctx, &format!("{}/{id}/executions", base_path(wallet_id)), &[], total);
    Ok(Json(ExecutionsPage { links, embedded: ExecutionsEmbedded { executions, scheduled_executions }, page: meta }))
}
