//! Webhooks: endpoints a tenant registers, the events recorded for them, their
//! deliveries and attempts, and redelivery. The rules live in
//! [`emledger_operations::webhooks`]; this module parses, calls and renders.
//!
//! Receivers verify `Emledger-Signature: t=<unix seconds>,v1=<hex>`: the hex
//! HMAC-SHA256 of `"<t>.<raw body>"` under the endpoint's secret (any `v1` may
//! match: during a rotation both secrets sign), and refuse a `t` more than a few
//! minutes old. Each event has a unique `id` (also in `Emledger-Event-Id`):
//! delivery is at least once, so receivers dedupe on it.

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use emledger_operations::webhooks::{self as domain, Endpoint, ENDPOINT_COLUMNS};

use super::{
    auth::{Admin, Auth, Read, Write},
    extract::{self, path_uuid, Path, Query, RawBody},
    paging::{PageLinks, PageMeta, PageRequest, SortField},
    ApiContext, Error, Result,
};

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/api/v1/public/webhook-endpoints", post(create_endpoint).get(list_endpoints))
        .route(
            "/api/v1/public/webhook-endpoints/{endpointId}",
            get(get_endpoint).patch(update_endpoint).delete(delete_endpoint),
        )
        .route("/api/v1/public/webhook-endpoints/{endpointId}/rotate-secret", post(rotate_secret))
        .route("/api/v1/public/webhook-endpoints/{endpointId}/deliveries", get(list_deliveries))
        .route("/api/v1/public/webhook-events", get(list_events))
        .route("/api/v1/public/webhook-events/{eventId}", get(get_event))
        .route("/api/v1/public/webhook-deliveries/{deliveryId}", get(get_delivery))
        .route("/api/v1/public/webhook-deliveries/{deliveryId}/redeliver", post(redeliver))
}

/// Register a webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEndpoint {
    /// Where events are POSTed: an absolute https URL (plain http only to localhost).
    #[schema(value_type = super::docs::WebhookUrl)]
    pub url: String,
    /// Event types to receive: `*`, `<object>.*` or `<object>.<status>` (lower case),
    /// objects `movement`, `hold`, `operation`, `scheduled_execution`, `wallet`
    /// (e.g. `movement.success`, `hold.*`, `wallet.created`).
    #[schema(value_type = Vec<super::docs::WebhookEventType>, min_items = 1, max_items = 64, example = json!(["movement.*", "operation.failed"]))]
    pub event_types: Vec<String>,
    /// At most 256 characters, no control characters (blank: none).
    #[schema(max_length = 256, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
}

/// Change an endpoint (absent fields are kept).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateEndpoint {
    #[schema(value_type = Option<super::docs::WebhookUrl>)]
    pub url: Option<String>,
    #[schema(value_type = Option<Vec<super::docs::WebhookEventType>>, min_items = 1, max_items = 64)]
    pub event_types: Option<Vec<String>>,
    /// At most 256 characters, no control characters (blank: none).
    #[schema(max_length = 256, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
}

/// Rotate an endpoint's secret.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotateSecret {
    /// How long the previous secret keeps signing too (0..=604800 s; default 86400).
    #[serde(default, deserialize_with = "extract::optional_integer")]
    #[schema(minimum = 0, maximum = 604800)]
    pub expires_in_seconds: Option<i64>,
}

/// A webhook endpoint. `secret` only in the answers of create and rotate-secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    /// `ACTIVE`, or `FAILING` after repeated failed deliveries (they go on; a success makes it ACTIVE).
    pub status: String,
    pub consecutive_failures: i32,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    /// Until when the previous secret (before the last rotation) still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signing secret: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        EndpointView {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            status: e.status,
            consecutive_failures: e.consecutive_failures,
            last_success_at: e.last_success_at,
            last_failure_at: e.last_failure_at,
            previous_secret_expires_at: e.previous_secret_expires_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: None,
        }
    }
}

/// An event: what changed, and the object as it was then.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// Unique: receivers dedupe on it.
    pub id: Uuid,
    /// e.g. `movement.success`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub object_type: String,
    pub object_id: Uuid,
    /// Increases with every event; an object's events are delivered in this order.
    pub sequence: i64,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// One delivery of an event to an endpoint.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub endpoint_id: Uuid,
    /// `PENDING`, `SUCCEEDED` or `FAILED` (retry period over, or endpoint deleted).
    pub status: String,
    pub attempts: i32,
    /// When the next try is due (PENDING).
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptView>>,
}

/// One try of a delivery.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The receiver's HTTP status; absent when none came (refused, timeout, TLS).
    pub status_code: Option<i16>,
    pub error: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    #[serde(rename = "_links")]
    pub links: PageLinks,
    #[serde(rename = "_embedded")]
    pub embedded: EventsEmbedded,
    pub page: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsEmbedded {
    pub webhook_events: Vec<EventView>,
}

/// A page of deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    #[serde(rename = "_links")]
    pub links: PageLinks,
    #[serde(rename = "_embedded")]
    pub embedded: DeliveriesEmbedded,
    pub page: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveriesEmbedded {
    pub webhook_deliveries: Vec<DeliveryView>,
}

async fn endpoint_of(ctx: &ApiContext, client_id: Uuid, id: Uuid) -> Result<Endpoint> {
    let row: Option<Endpoint> =
        sqlx::query_as(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL"))
            .bind(id)
            .bind(client_id)
            .fetch_optional(ctx.pool())
            .await?;
    row.ok_or(Error::NotFound("webhook endpoint"))
}

/// Register a webhook endpoint (admin scope). The answer holds its signing secret, shown once.
#[utoipa::path(post, path = "/api/v1/public/webhook-endpoints", tag = "webhooks", request_body = CreateEndpoint,
    responses((status = 201, body = EndpointView), (status = 400, body = super::error::ErrorEnvelope),
        (status = 409, description = "`too_many_endpoints`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn create_endpoint(
    auth: Auth<Admin>,
    State(ctx): State<ApiContext>,
    body: extract::Json<CreateEndpoint>,
) -> Result<(StatusCode, Json<EndpointView>)> {
    let b = body.value;
    let mut conn = ctx.pool().acquire().await?;
    let new = domain::NewEndpoint { url: b.url, event_types: b.event_types, description: b.description };
    let (endpoint, secret) = domain::create_endpoint(&mut conn, &auth.actor(), auth.client_id, new).await?;
    let mut view = EndpointView::from(endpoint);
    view.secret = Some(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// List the tenant's webhook endpoints (secrets never shown).
#[utoipa::path(get, path = "/api/v1/public/webhook-endpoints", tag = "webhooks",
    responses((status = 200, body = Vec<EndpointView>)), security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_endpoints(auth: Auth<Read>, State(ctx): State<ApiContext>) -> Result<Json<Vec<EndpointView>>> {
    let rows: Vec<Endpoint> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE client_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    ))
    .bind(auth.client_id)
    .fetch_all(ctx.pool())
    .await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// Get a webhook endpoint.
#[utoipa::path(get, path = "/api/v1/public/webhook-endpoints/{endpointId}", tag = "webhooks",
    params(("endpointId" = Uuid, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_endpoint(auth: Auth<Read>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<Json<EndpointView>> {
    let id = path_uuid("endpointId", &id)?;
    Ok(Json(endpoint_of(&ctx, auth.client_id, id).await?.into()))
}

/// Change a webhook endpoint's URL, event types or description (admin scope).
#[utoipa::path(patch, path = "/api/v1/public/webhook-endpoints/{endpointId}", tag = "webhooks",
    params(("endpointId" = Uuid, Path)), request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn update_endpoint(
    auth: Auth<Admin>,
    State(ctx): State<ApiContext>,
    Path(id): Path<String>,
    body: extract::Json<UpdateEndpoint>,
) -> Result<Json<EndpointView>> {
    let id = path_uuid("endpointId", &id)?;
    let b = body.value;
    let mut conn = ctx.pool().acquire().await?;
    let change = domain::EndpointChange { url: b.url, event_types: b.event_types, description: b.description };
    let endpoint = domain::update_endpoint(&mut conn, &auth.actor(), auth.client_id, id, change).await?;
    Ok(Json(endpoint.into()))
}

/// Delete a webhook endpoint (admin scope): nothing more is sent to it; its
/// pending deliveries become FAILED. Its events and deliveries stay listable.
#[utoipa::path(delete, path = "/api/v1/public/webhook-endpoints/{endpointId}", tag = "webhooks",
    params(("endpointId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn delete_endpoint(auth: Auth<Admin>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<StatusCode> {
    let id = path_uuid("endpointId", &id)?;
    let mut conn = ctx.pool().acquire().await?;
    domain::delete_endpoint(&mut conn, &auth.actor(), auth.client_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a webhook endpoint a new secret (admin scope), shown once; the previous
/// one keeps signing too for `expiresInSeconds` (default a day), so a receiver
/// can switch without refusing a delivery.
#[utoipa::path(post, path = "/api/v1/public/webhook-endpoints/{endpointId}/rotate-secret", tag = "webhooks",
    params(("endpointId" = Uuid, Path)), request_body(content = Option<RotateSecret>),
    responses((status = 200, body = EndpointView), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn rotate_secret(
    auth: Auth<Admin>,
    State(ctx): State<ApiContext>,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<EndpointView>> {
    let id = path_uuid("endpointId", &id)?;
    // no body, or JSON null: the defaults
    let text = std::str::from_utf8(&body).map(str::trim).unwrap_or("?");
    let request: RotateSecret = if text.is_empty() || text == "null" { RotateSecret::default() } else { extract::parse_json(&body)? };
    let mut conn = ctx.pool().acquire().await?;
    let grace = request.expires_in_seconds.unwrap_or(86_400);
    let (endpoint, secret) = domain::rotate_secret(&mut conn, &auth.actor(), auth.client_id, id, grace).await?;
    let mut view = EndpointView::from(endpoint);
    view.secret = Some(secret);
    Ok(Json(view))
}

pub const EVENT_SORT: &[SortField] = &[("sequence", "seq"), ("createdAt", "created_at")];

/// The tenant's events, newest first by default; filters `type` (exact) and `objectId`.
#[utoipa::path(get, path = "/api/v1/public/webhook-events", tag = "webhooks",
    params(("type" = Option<super::docs::WebhookEventTypeFilter>, Query, description = "exact event type, e.g. movement.success"),
        ("objectId" = Option<Uuid>, Query), ("page" = Option<u32>, Query), ("size" = Option<u32>, Query),
        ("sort" = Option<Vec<String>>, Query, description = "sequence|createdAt[,asc|desc]")),
    responses((status = 200, body = EventPage), (status = 400, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_events(auth: Auth<Read>, State(ctx): State<ApiContext>, q: Query) -> Result<Json<EventPage>> {
    let page = PageRequest::from_query(&q, EVENT_SORT, ("sequence", false))?;
    // an empty filter is no filter
    let event_type = q.one("type")?.filter(|t| !t.is_empty()).map(str::to_owned);
    if let Some(t) = &event_type {
        if t.len() > 128 || !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.') {
            return Err(Error::invalid_query("type", "an event type such as movement.success"));
        }
    }
    let object_id = q.uuid("objectId")?;
    let client_id = auth.client_id;
    let filters = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" WHERE client_id = ").push_bind(client_id);
        if let Some(t) = event_type.clone() {
            qb.push(" AND type = ").push_bind(t);
        }
        if let Some(o) = object_id {
            qb.push(" AND object_id = ").push_bind(o);
        }
    };
    let mut conn = ctx.pool().acquire().await?;
    let mut count = QueryBuilder::new("SELECT count(*) FROM webhook_events");
    filters(&mut count);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await?;
    let mut qb = QueryBuilder::new("SELECT id, type AS event_type, object_type, object_id, seq AS sequence, created_at, data FROM webhook_events");
    filters(&mut qb);
    qb.push(page.order_by("id"));
    qb.push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
    let rows: Vec<EventView> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut kept: Vec<(&str, String)> = Vec::new();
    if let Some(t) = &event_type {
        kept.push(("type", t.clone()));
    }
    if let Some(o) = object_id {
        kept.push(("objectId", o.to_string()));
    }
    let (links, meta) = page.envelope(&ctx, "/api/v1/public/webhook-events", &kept, total);
    Ok(Json(EventPage { links, embedded: EventsEmbedded { webhook_events: rows }, page: meta }))
}

/// Get an event.
#[utoipa::path(get, path = "/api/v1/public/webhook-events/{eventId}", tag = "webhooks",
    params(("eventId" = Uuid, Path)),
    responses((status = 200, body = EventView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_event(auth: Auth<Read>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<Json<EventView>> {
    let id = path_uuid("eventId", &id)?;
    let row: Option<EventView> = sqlx::query_as(
        "SELECT id, type AS event_type, object_type, object_id, seq AS sequence, created_at, data FROM webhook_events
         WHERE id = $1 AND client_id = $2",
    )
    .bind(id)
    .bind(auth.client_id)
    .fetch_optional(ctx.pool())
    .await?;
    row.map(Json).ok_or(Error::NotFound("webhook event"))
}

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, e.type AS event_type, d.endpoint_id, d.status, d.attempts, d.next_attempt_at, \
     d.last_status_code, d.last_error, d.created_at, d.delivered_at";
pub const DELIVERY_SORT: &[SortField] = &[("createdAt", "d.created_at"), ("sequence", "d.event_seq")];

/// An endpoint's deliveries, newest first by default; filter `status`.
#[utoipa::path(get, path = "/api/v1/public/webhook-endpoints/{endpointId}/deliveries", tag = "webhooks",
    params(("endpointId" = Uuid, Path), ("status" = Option<super::docs::WebhookDeliveryStatus>, Query, description = "PENDING, SUCCEEDED or FAILED"),
        ("page" = Option<u32>, Query), ("size" = Option<u32>, Query),
        ("sort" = Option<Vec<String>>, Query, description = "createdAt|sequence[,asc|desc]")),
    responses((status = 200, body = DeliveryPage), (status = 400, body = super::error::ErrorEnvelope),
        (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn list_deliveries(auth: Auth<Read>, State(ctx): State<ApiContext>, Path(id): Path<String>, q: Query) -> Result<Json<DeliveryPage>> {
    let endpoint_id = path_uuid("endpointId", &id)?;
    let page = PageRequest::from_query(&q, DELIVERY_SORT, ("createdAt", false))?;
    let status = q.one("status")?.map(str::to_owned);
    if let Some(s) = &status {
        if !["PENDING", "SUCCEEDED", "FAILED"].contains(&s.as_str()) {
            return Err(Error::invalid_query("status", "must be PENDING, SUCCEEDED or FAILED"));
        }
    }
    let mut conn = ctx.pool().acquire().await?;
    // the endpoint must be the tenant's (deleted ones keep their history)
    let known: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM webhook_endpoints WHERE id = $1 AND client_id = $2")
        .bind(endpoint_id)
        .bind(auth.client_id)
        .fetch_optional(&mut *conn)
        .await?;
    known.ok_or(Error::NotFound("webhook endpoint"))?;
    let filters = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" WHERE d.endpoint_id = ").push_bind(endpoint_id);
        if let Some(s) = status.clone() {
            qb.push(" AND d.status = ").push_bind(s);
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*) FROM webhook_deliveries d");
    filters(&mut count);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await?;
    let mut qb = QueryBuilder::new(format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"));
    filters(&mut qb);
    qb.push(page.order_by("d.id"));
    qb.push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
    let rows: Vec<DeliveryView> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let kept: Vec<(&str, String)> = status.iter().map(|s| ("status", s.clone())).collect();
    let (links, meta) = page.envelope(&ctx, &format!("/api/v1/public/webhook-endpoints/{endpoint_id}/deliveries"), &kept, total);
    Ok(Json(DeliveryPage { links, embedded: DeliveriesEmbedded { webhook_deliveries: rows }, page: meta }))
}

/// Get a delivery with every attempt.
#[utoipa::path(get, path = "/api/v1/public/webhook-deliveries/{deliveryId}", tag = "webhooks",
    params(("deliveryId" = Uuid, Path)),
    responses((status = 200, body = DeliveryView), (status = 404, body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn get_delivery(auth: Auth<Read>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<Json<DeliveryView>> {
    let id = path_uuid("deliveryId", &id)?;
    let mut conn = ctx.pool().acquire().await?;
    let row: Option<DeliveryView> = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
         WHERE d.id = $1 AND d.client_id = $2"
    ))
    .bind(id)
    .bind(auth.client_id)
    .fetch_optional(&mut *conn)
    .await?;
    let mut view = row.ok_or(Error::NotFound("webhook delivery"))?;
    let attempts: Vec<AttemptView> = sqlx::query_as(
        "SELECT attempted_at, duration_ms, status_code, error FROM webhook_delivery_attempts WHERE delivery_id = $1 ORDER BY id LIMIT 1000",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    view.attempt_log = Some(attempts);
    Ok(Json(view))
}

/// Send a delivery again now (write scope), whatever its status, with a fresh retry period.
#[utoipa::path(post, path = "/api/v1/public/webhook-deliveries/{deliveryId}/redeliver", tag = "webhooks",
    params(("deliveryId" = Uuid, Path)),
    responses((status = 202, body = DeliveryView), (status = 404, body = super::error::ErrorEnvelope),
        (status = 409, description = "`endpoint_deleted`", body = super::error::ErrorEnvelope)),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn redeliver(auth: Auth<Write>, State(ctx): State<ApiContext>, Path(id): Path<String>) -> Result<(StatusCode, Json<DeliveryView>)> {
    let id = path_uuid("deliveryId", &id)?;
    let mut conn = ctx.pool().acquire().await?;
    domain::redeliver(&mut conn, auth.client_id, id).await?;
    let view: DeliveryView = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}
