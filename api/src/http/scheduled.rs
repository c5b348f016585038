//! Scheduled operations of a wallet (seed 003, issue 7):
//! `POST/GET /api/v1/public/wallets/{walletId}/scheduled-operations`,
//! `GET/DELETE .../scheduled-operations/{scheduledOperationId}` and
//! `GET .../scheduled-operations/{scheduledOperationId}/executions`. Creating and
//! deleting run [`emledger_operations::schedule`] (rules and input formats are
//! documented there); the [worker](emledger_operations::scheduler) runs each
//! occurrence once; every movement it produces carries `scheduledOperationId`.

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

use emledger_operations::{
    schedule::{self, fetch, CreateSchedule, ScheduleStored},
    scheduler::{
        calendar::{Duration, Frequency},
        ScheduleRow, SCHEDULE_COLUMNS,
    },
    wallet::wallet_facts,
};

use super::{
    auth::{Auth, Read, Write},
    extract::{self, path_uuid, Path, Query},
    idempotency::{self, Render, Request, Run},
    money,
    paging::{PageLinks, PageMeta, PageRequest, SortField},
    ApiContext, Error, Link, Result,
};

/// Most future executions shown by the executions endpoint.
pub const SCHEDULED_EXECUTIONS: usize = 10;


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
    /// Unique per wallet among schedules not deleted (409 `duplicate_alias`); 1..=100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub alias: String,
    /// Default (also when blank): `Scheduled operation <alias>`; at most 500 characters.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub concept: Option<String>,
    #[schema(value_type = super::docs::Amount)]
    pub amount: Value,
    #[schema(value_type = super::docs::ReceiverRequest)]
    pub receiver: Receiver,
    #[schema(value_type = super::docs::ScheduleRequest)]
    pub schedule: ScheduleIn,
    #[schema(pattern = r"^[!-~]{1,255}$")]
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

/// Schedule a recurring (or one-off) payment from the wallet.
#[utoipa::path(post, path = "/api/v1/public/wallets/{walletId}/scheduled-operations", tag = "scheduled operations",
    request_body = CreateScheduled,
    params(("walletId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = ScheduledView), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, description = "wallet, or the receiver wallet / favourite, unknown", body = super::error::ErrorEnvelope),
        (status = 409, description = "`duplicate_alias`, `wallet_not_ready`, `favourite_deleted`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`chain_not_ready`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn create_scheduled(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path(wallet_id): Path<String>,
    headers: HeaderMap,
    body: extract::Json<CreateScheduled>,
) -> Result<Response> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let b = body.value;
    let req = Request {
        client_id: auth.client_id,
        key: idempotency::key(&headers, b.idempotency_key.as_deref())?,
        endpoint: format!("POST {}", base_path(wallet_id)),
        raw_body: &body.raw,
    };
    let command = CreateSchedule {
        wallet_id,
        alias: b.alias,
        concept: b.concept,
        amount: b.amount,
        receiver_type: b.receiver.receiver_type,
        receiver_account: b.receiver.account,
        start_date: b.schedule.start_date,
        frequency: b.schedule.frequency,
        duration: b.schedule.duration.map(|d| (d.duration_type, d.value.map(extract::integral_number))),
        time_zone: b.schedule.time_zone,
    };
    idempotency::run(&ctx, req, Run(command)).await
}

impl Render for ScheduleStored {
    async fn render(self, ctx: &ApiContext, _: &mut PgConnection) -> Result<(StatusCode, Value)> {
        Ok((StatusCode::CREATED, money::to_value(&view(ctx, self.row, self.decimals)?)?))
    }
}

async fn decimals(ctx: &ApiContext) -> u32 {
    ctx.chain().await.decimals
}

/// Get a scheduled operation of the wallet.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/scheduled-operations/{scheduledOperationId}", tag = "scheduled operations",
    params(("walletId" = Uuid, Path), ("scheduledOperationId" = Uuid, Path)),
    responses((status = 200, body = ScheduledView), (status = 404, body = super::error::ErrorEnvelope)),
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

pub const SORTS: &[SortField] = &[("createdAt", "created_at"), ("alias", "alias"), ("nextDate", "next_date"), ("startDate", "start_date")];

/// List the wallet's scheduled operations (paged; `status` filter).
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/scheduled-operations", tag = "scheduled operations",
    params(("walletId" = Uuid, Path), ("page" = Option<u32>, Query), ("size" = Option<u32>, Query),
        ("sort" = Option<String>, Query, description = "createdAt, alias, nextDate, startDate; ,asc|,desc"),
        ("status" = Option<String>, Query, pattern = r"^(ACTIVE|COMPLETED|DELETED)$", description = "ACTIVE, COMPLETED or DELETED")),
    responses((status = 200, body = ScheduledPage), (status = 400, body = super::error::ErrorEnvelope), (status = 404, body = super::error::ErrorEnvelope)),
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
    responses((status = 200, body = ScheduledView), (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`wallet_not_ready`, `scheduled_operation_not_active`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn delete_scheduled(
    auth: Auth<Write>,
    State(ctx): State<ApiContext>,
    Path((wallet_id, id)): Path<(String, String)>,
) -> Result<Json<ScheduledView>> {
    let wallet_id = path_uuid("walletId", &wallet_id)?;
    let id = path_uuid("scheduledOperationId", &id)?;
    let row = schedule::delete(ctx.platform(), auth.client_id, wallet_id, id).await?;
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

pub const EXECUTION_SORTS: &[SortField] = &[("date", "e.occurrence_at"), ("createdAt", "e.triggered_at"), ("triggeredAt", "e.triggered_at")];

/// Executions of a scheduled operation (paged) and its next ≤ 10 occurrences.
#[utoipa::path(get, path = "/api/v1/public/wallets/{walletId}/scheduled-operations/{scheduledOperationId}/executions",
    tag = "scheduled operations",
    params(("walletId" = Uuid, Path), ("scheduledOperationId" = Uuid, Path), ("page" = Option<u32>, Query), ("size" = Option<u32>, Query),
        ("sort" = Option<String>, Query, description = "date, createdAt; ,asc|,desc (default createdAt,desc)")),
    responses((status = 200, body = ExecutionsPage), (status = 400, body = super::error::ErrorEnvelope), (status = 404, body = super::error::ErrorEnvelope)),
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
