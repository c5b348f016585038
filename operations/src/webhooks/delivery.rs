//! The webhook delivery worker.
//!
//! Every tick it claims due PENDING deliveries (`FOR UPDATE SKIP LOCKED`, then a
//! claim that expires, so replicas share the work and a killed worker's claims
//! are taken over), skipping any whose object has an earlier delivery to the same
//! endpoint still PENDING: each object's events arrive in the order they
//! happened. It POSTs them concurrently, records each attempt, and then marks the
//! delivery SUCCEEDED (a 2xx answer) or schedules the next try after an
//! exponential backoff (`retry_base` · 2^(attempts−1), at most `retry_max`, ±10%
//! jitter); once `retry_period` has passed since the round began it is FAILED
//! (`redeliver` starts a new round). After `failing_after` failures in a row the
//! endpoint is FAILING until its next success.
//!
//! A delivery whose POST succeeded but whose result was not recorded (the
//! process died in between) is sent again: delivery is at least once, and
//! receivers dedupe on the event id (`Emledger-Event-Id`, also the body's `id`).

use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::Rng;
use sqlx::PgPool;
use uuid::Uuid;

/// The worker's settings (`emledger api --webhook-*`).
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// How often to look for due deliveries when there were none.
    pub interval: Duration,
    /// Per request (connect, send, answer).
    pub timeout: Duration,
    /// The first retry's delay.
    pub retry_base: Duration,
    /// The longest delay between two tries.
    pub retry_max: Duration,
    /// How long a delivery is retried before it is FAILED.
    pub retry_period: Duration,
    /// Failures in a row after which an endpoint is FAILING.
    pub failing_after: i32,
    /// Deliveries sent at once.
    pub concurrency: usize,
    /// Extra CA certificates (PEM) trusted for receivers' https.
    pub ca_file: Option<std::path::PathBuf>,
    /// Events older than this whose deliveries are all finished are deleted
    /// with their deliveries and attempts (`None`: kept forever).
    pub retention: Option<Duration>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            retry_period: Duration::from_secs(72 * 3600),
            failing_after: 5,
            concurrency: 16,
            ca_file: None,
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
        }
    }
}

/// One delivery as claimed, with what sending it takes.
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    endpoint_id: Uuid,
    attempts: i32,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    event_id: Uuid,
    event_type: String,
    body: String,
}

/// What one try gave.
#[derive(Debug)]
struct Outcome {
    status_code: Option<u16>,
    error: Option<String>,
    duration: Duration,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// Runs until `stop` turns true, reporting each pass to `health`.
pub async fn run(
    pool: PgPool,
    config: DeliveryConfig,
    health: std::sync::Arc<crate::workers::WorkerHealth>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let client = match Clients::new(&config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "webhook delivery cannot start");
            return;
        }
    };
    tracing::info!(retry_base = ?config.retry_base, retry_period = ?config.retry_period, "webhook delivery started");
    let mut pruned_at: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        if let Some(retention) = config.retention {
            if pruned_at.is_none_or(|t| t.elapsed() > Duration::from_secs(600)) {
                pruned_at = Some(Instant::now());
                match prune(&pool, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(events = n, "old webhook events pruned"),
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "pruning webhook events failed"),
                }
            }
        }
        let busy = match pass(&pool, &client, &config).await {
            Ok(n) => {
                health.ok("webhook delivery");
                n > 0
            }
            Err(e) => {
                health.failed("webhook delivery", &e);
                metrics::counter!("emledger_webhook_pass_errors_total").increment(1);
                tracing::warn!(error = %format!("{e:#}"), "webhook delivery pass failed; retrying");
                false
            }
        };
        if busy {
            continue;
        }
        if let Err(e) = publish_backlog(&pool).await {
            tracing::debug!(error = %e, "webhook backlog metrics");
        }
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            r = stop.changed() => if r.is_err() { break },
        }
    }
}

/// The delivery clients: one for https URLs, whose resolver connects to public
/// addresses only, and one for plain http URLs (loopback hosts only, the
/// development case), whose resolver also keeps loopback answers.
pub struct Clients {
    https: alloy::transports::http::reqwest::Client,
    http: alloy::transports::http::reqwest::Client,
}

impl Clients {
    pub fn new(config: &DeliveryConfig) -> anyhow::Result<Self> {
        let client = |keep_loopback| {
            emledger_ledger::rpc::outbound_client(
                config.timeout,
                config.ca_file.as_deref(),
                Some(std::sync::Arc::new(super::target::PublicOnlyResolver { keep_loopback })),
            )
        };
        Ok(Self { https: client(false)?, http: client(true)? })
    }

    fn for_url(&self, url: &str) -> &alloy::transports::http::reqwest::Client {
        if url::Url::parse(url).is_ok_and(|u| u.scheme() == "http") {
            &self.http
        } else {
            &self.https
        }
    }
}

/// Claims, sends and records one batch; returns how many were sent.
pub async fn pass(pool: &PgPool, clients: &Clients, config: &DeliveryConfig) -> anyhow::Result<usize> {
    let claim_for = config.timeout + Duration::from_secs(5);
    let claimed: Vec<Claimed> = sqlx::query_as(
        "WITH due AS (
            SELECT d.id FROM webhook_deliveries d
            WHERE d.status = 'PENDING' AND d.next_attempt_at <= now()
              AND (d.claimed_until IS NULL OR d.claimed_until < now())
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                              WHERE p.endpoint_id = d.endpoint_id AND p.object_id = d.object_id
                                AND p.status = 'PENDING' AND p.event_seq < d.event_seq)
            ORDER BY d.next_attempt_at, d.event_seq
            LIMIT $1
            FOR UPDATE OF d SKIP LOCKED
         ), claimed AS (
            UPDATE webhook_deliveries d SET claimed_until = now() + make_interval(secs => $2)
            FROM due WHERE d.id = due.id
            RETURNING d.id, d.endpoint_id, d.attempts, d.event_id
         )
         SELECT c.id, c.endpoint_id, c.attempts, w.url, w.secret,
                CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret,
                e.id AS event_id, e.type AS event_type,
                jsonb_build_object('id', e.id, 'type', e.type, 'objectType', e.object_type, 'objectId', e.object_id,
                                   'sequence', e.seq, 'createdAt', e.created_at, 'data', e.data)::text AS body
         FROM claimed c JOIN webhook_endpoints w ON w.id = c.endpoint_id JOIN webhook_events e ON e.id = c.event_id
         ORDER BY e.seq",
    )
    .bind((config.concurrency * 4) as i64)
    .bind(claim_for.as_secs_f64())
    .fetch_all(pool)
    .await?;
    let n = claimed.len();
    if n == 0 {
        return Ok(0);
    }
    let results: Vec<(Claimed, Outcome)> = futures::stream::iter(claimed)
        .map(|d| async move {
            let outcome = send(clients.for_url(&d.url), &d).await;
            (d, outcome)
        })
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;
    for (d, outcome) in results {
        // a result that cannot be recorded leaves the claim to expire: the delivery is tried again
        if let Err(e) = record(pool, config, &d, &outcome).await {
            tracing::warn!(delivery = %d.id, error = %format!("{e:#}"), "could not record a webhook attempt");
        }
    }
    Ok(n)
}

async fn send(client: &alloy::transports::http::reqwest::Client, d: &Claimed) -> Outcome {
    let started = Instant::now();
    let timestamp = chrono::Utc::now().timestamp();
    // secrets sealed at rest are opened for this try only; one that cannot be
    // opened fails this endpoint's delivery (said in its attempt), not the others
    let keys = super::sealed::keys();
    let opened: Result<Vec<String>, String> = std::iter::once(d.secret.as_str())
        .chain(d.previous_secret.as_deref())
        .map(|s| super::sealed::open(keys.as_deref(), d.endpoint_id, s))
        .collect();
    let secrets = match opened {
        Ok(s) => s,
        Err(why) => return Outcome { status_code: None, error: Some(why), duration: started.elapsed() },
    };
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = super::signature_header(&secrets, timestamp, d.body.as_bytes());
    // public targets only: the host is resolved and checked before every try
    if let Err(why) = super::target::check_resolved(&d.url).await {
        return Outcome { status_code: None, error: Some(why), duration: started.elapsed() };
    }
    let result = client
        .post(&d.url)
        .header("content-type", "application/json")
        .header("emledger-event-id", d.event_id.to_string())
        .header("emledger-event-type", &d.event_type)
        .header("emledger-delivery-id", d.id.to_string())
        .header("emledger-signature", signature)
        .body(d.body.clone())
        .send()
        .await;
    let duration = started.elapsed();
    match result {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let error = (!resp.status().is_success()).then(|| format!("HTTP {code}"));
            Outcome { status_code: Some(code), error, duration }
        }
        Err(e) => Outcome { status_code: None, error: Some(describe(&e)), duration },
    }
}

/// The error and its causes, one line, at most 500 characters.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        source = s.source();
    }
    parts.join(": ").chars().filter(|c| !c.is_control()).take(500).collect()
}

/// The delay before try `attempts + 1`, given `attempts` failed tries.
pub fn backoff(config: &DeliveryConfig, attempts: i32) -> Duration {
    let exp = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let base = config.retry_base.saturating_mul(1u32 << exp.min(20)).min(config.retry_max);
    let jitter = rand::thread_rng().gen_range(0.9..1.1);
    base.mul_f64(jitter)
}

async fn record(pool: &PgPool, config: &DeliveryConfig, d: &Claimed, o: &Outcome) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO webhook_delivery_attempts (delivery_id, duration_ms, status_code, error) VALUES ($1, $2, $3, $4)")
        .bind(d.id)
        .bind(o.duration.as_millis().min(i32::MAX as u128) as i32)
        .bind(o.status_code.map(|c| c as i16))
        .bind(&o.error)
        .execute(&mut *tx)
        .await?;
    if o.ok() {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'SUCCEEDED', attempts = attempts + 1, last_status_code = $2, last_error = NULL,
                    claimed_until = NULL, delivered_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'PENDING'",
        )
        .bind(d.id)
        .bind(o.status_code.map(|c| c as i16))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET consecutive_failures = 0, status = 'ACTIVE', last_success_at = now()
             WHERE id = $1 AND (consecutive_failures <> 0 OR status <> 'ACTIVE' OR last_success_at IS NULL OR last_success_at < now() - interval '1 second')",
        )
        .bind(d.endpoint_id)
        .execute(&mut *tx)
        .await?;
        metrics::counter!("emledger_webhook_deliveries_total", "result" => "succeeded").increment(1);
    } else {
        let delay = backoff(config, d.attempts + 1);
        let failed = sqlx::query_scalar::<_, bool>(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = $2, last_error = $3, claimed_until = NULL,
                    status = CASE WHEN round_started_at + make_interval(secs => $4) <= now() THEN 'FAILED' ELSE 'PENDING' END,
                    next_attempt_at = now() + make_interval(secs => $5), updated_at = now()
             WHERE id = $1 AND status = 'PENDING'
             RETURNING status = 'FAILED'",
        )
        .bind(d.id)
        .bind(o.status_code.map(|c| c as i16))
        .bind(&o.error)
        .bind(config.retry_period.as_secs_f64())
        .bind(delay.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(false);
        sqlx::query(
            "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1, last_failure_at = now(),
                    status = CASE WHEN consecutive_failures + 1 >= $2 THEN 'FAILING' ELSE status END, updated_at = now()
             WHERE id = $1",
        )
        .bind(d.endpoint_id)
        .bind(config.failing_after.max(1))
        .execute(&mut *tx)
        .await?;
        metrics::counter!("emledger_webhook_deliveries_total", "result" => if failed { "failed" } else { "retry" }).increment(1);
        tracing::info!(delivery = %d.id, endpoint = %d.endpoint_id, error = o.error.as_deref().unwrap_or(""), gave_up = failed, retry_in = ?delay, "webhook delivery failed");
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes up to 10,000 events older than `retention` that have no PENDING
/// delivery, with their deliveries and attempts; returns how many events.
pub async fn prune(pool: &PgPool, retention: Duration) -> anyhow::Result<u64> {
    let mut tx = pool.begin().await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT e.id FROM webhook_events e
         WHERE e.created_at < now() - make_interval(secs => $1)
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'PENDING')
         ORDER BY e.seq LIMIT 10000
         FOR UPDATE SKIP LOCKED",
    )
    .bind(retention.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "DELETE FROM webhook_delivery_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE event_id = ANY($1))",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE event_id = ANY($1)").bind(&ids).execute(&mut *tx).await?;
    let n = sqlx::query("DELETE FROM webhook_events WHERE id = ANY($1)").bind(&ids).execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// `emledger_webhook_pending_deliveries` and the oldest one's age.
async fn publish_backlog(pool: &PgPool) -> anyhow::Result<()> {
    let (pending, oldest): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at))::float8 FROM webhook_deliveries WHERE status = 'PENDING'",
    )
    .fetch_one(pool)
    .await?;
    metrics::gauge!("emledger_webhook_pending_deliveries").set(pending as f64);
    metrics::gauge!("emledger_webhook_oldest_pending_seconds").set(oldest.unwrap_or(0.0));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let c = DeliveryConfig { retry_base: Duration::from_secs(5), retry_max: Duration::from_secs(60), ..Default::default() };
        let near = |d: Duration, s: f64| (d.as_secs_f64() - s).abs() <= s * 0.1 + 1e-9;
        assert!(near(backoff(&c, 1), 5.0));
        assert!(near(backoff(&c, 2), 10.0));
        assert!(near(backoff(&c, 3), 20.0));
        assert!(near(backoff(&c, 10), 60.0));
        assert!(near(backoff(&c, 1000), 60.0));
    }
}
