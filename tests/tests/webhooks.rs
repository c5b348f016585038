//! Webhooks (issue 14): a receiver on 127.0.0.1 gets exactly one signed event
//! per movement status change — across a kill -9 of the API and of the indexer
//! (duplicates of an event id allowed, none missing, none invented), each
//! object's events in order, signatures verified here with an HMAC of our own
//! (not the platform's code) — and a receiver that fails 3 times then recovers
//! gets everything. Plus the endpoint API: bad input refused, secret rotation
//! signs with both secrets, redeliver, delete.
//!
//! Real parts: anvil with EmToken, Postgres, the indexer and API binaries.
//! Build the binary first: `cargo build --bin emledger`.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post, Router};
use emledger_tests::stack::IndexerProcess;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

mod api_stack;
use api_stack::{ApiOptions, MoneyStack};

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    event_id: String,
    event_type: String,
    object_id: String,
    sequence: i64,
    signature: String,
    body: Bytes,
    answered: u16,
}

#[derive(Default)]
struct Receiver {
    log: Mutex<Vec<Received>>,
    /// Answer 500 to this many requests first.
    fail_first: AtomicUsize,
    /// Answer this late (so a kill -9 finds deliveries in flight).
    delay: Duration,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let failing = r.fail_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let answered = if failing { 500 } else { 200 };
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(h("emledger-event-id"), v["id"].as_str().unwrap_or("?"), "the header names the body's event");
    r.log.lock().unwrap().push(Received {
        event_id: h("emledger-event-id"),
        event_type: h("emledger-event-type"),
        object_id: v["objectId"].as_str().unwrap_or("").to_owned(),
        sequence: v["sequence"].as_i64().unwrap_or(-1),
        signature: h("emledger-signature"),
        body,
        answered,
    });
    // processed, then answered late: a sender killed meanwhile never learns it, and sends again
    tokio::time::sleep(r.delay).await;
    StatusCode::from_u16(answered).unwrap()
}

async fn start_receiver(fail_first: usize, delay: Duration) -> (String, Arc<Receiver>) {
    let r = Arc::new(Receiver { fail_first: AtomicUsize::new(fail_first), delay, ..Default::default() });
    let app = Router::new().route("/hook", post(receive)).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, r)
}

/// The receiver's check, written from the documentation: some `v1` is the hex
/// HMAC-SHA256 of "<t>.<body>" under `secret`, and `t` is recent.
fn signature_ok(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1.push(x.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let want = hex::encode(mac.finalize().into_bytes());
    v1.iter().any(|s| *s == want)
}

/// The API's `--secrets-key` in these tests.
const SECRETS_KEY: &str = "5ea1ed000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c";

/// The stored (secret, previous_secret) of an endpoint.
async fn stored_secrets(st: &MoneyStack, endpoint: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = $1::uuid").bind(endpoint).fetch_one(&st.pool).await.unwrap()
}

fn options() -> ApiOptions {
    ApiOptions {
        subprocess: true,
        env: vec![
            ("EMLEDGER_WEBHOOK_RETRY_BASE_MS".into(), "100".into()),
            ("EMLEDGER_WEBHOOK_RETRY_MAX_SECS".into(), "1".into()),
            ("EMLEDGER_WEBHOOK_TIMEOUT_MS".into(), "2000".into()),
            ("EMLEDGER_WEBHOOK_FAILING_AFTER".into(), "3".into()),
            ("EMLEDGER_SECRETS_KEY".into(), SECRETS_KEY.into()),
        ],
        ..Default::default()
    }
}

async fn register(st: &MoneyStack, url: &str, types: Value) -> (String, String) {
    let e = st.post("/api/v1/public/webhook-endpoints", json!({"url": url, "eventTypes": types, "description": "tests"})).await.ok(201).clone();
    let secret = e["secret"].as_str().expect("the secret, once").to_owned();
    assert!(secret.starts_with("whsec_"));
    (e["id"].as_str().unwrap().to_owned(), secret)
}

/// Waits until no delivery is PENDING.
async fn wait_delivered(st: &MoneyStack, within: Duration) {
    let start = Instant::now();
    loop {
        let (pending,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING'").fetch_one(&st.pool).await.unwrap();
        if pending == 0 {
            return;
        }
        assert!(start.elapsed() < within, "{pending} deliveries still PENDING");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn transfer(st: &MoneyStack, a: &str, b: &str, i: usize) -> String {
    st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1", "targetWalletId": b, "concept": format!("t{i}")}), &format!("wh-{i}"))
        .await
        .ok(202)["apiOperationId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_movement_status_change_arrives_once_signed_and_in_order_across_kill_9() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("webhooks_kill9", options()).await?;
    let (url, receiver) = start_receiver(3, Duration::from_millis(150)).await;
    let (endpoint, secret) = register(&st, &url, json!(["movement.*"])).await;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "100").await;
    // the receiver refuses the cash-in's events 3 times, then takes them
    wait_delivered(&st, Duration::from_secs(30)).await;

    let mut ops = Vec::new();
    for i in 0..8 {
        ops.push(transfer(&st, &a, &b, i).await);
    }
    // wait until deliveries are in flight (claimed, not answered yet), then kill
    let start = Instant::now();
    loop {
        let (claimed,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING' AND claimed_until > now()")
            .fetch_one(&st.pool)
            .await?;
        if claimed > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no delivery ever in flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // kill -9 of the API (deliveries and submissions in flight), then of the indexer
    st.restart_api(options()).await?;
    for i in 8..14 {
        ops.push(transfer(&st, &a, &b, i).await);
    }
    st.indexer.kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    st.indexer = IndexerProcess::spawn(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address, &[])?;
    for i in 14..20 {
        ops.push(transfer(&st, &a, &b, i).await);
    }
    for op in &ops {
        assert_eq!(st.wait_operation(op).await["status"], "SUCCESS");
    }
    st.wait_balances(&a, ("80.00", "80.00", "0.00")).await;
    wait_delivered(&st, Duration::from_secs(60)).await;

    let log = receiver.log.lock().unwrap().clone();
    // every POST is signed with the endpoint's secret
    for r in &log {
        assert!(signature_ok(&secret, &r.signature, &r.body), "bad signature on {} {}", r.event_type, r.event_id);
    }
    // the first three were refused by the receiver, and retried
    assert_eq!(log.iter().filter(|r| r.answered == 500).count(), 3);
    let delivered: Vec<&Received> = log.iter().filter(|r| r.answered == 200).collect();
    let mut first: BTreeMap<&str, &Received> = BTreeMap::new();
    for r in &delivered {
        first.entry(r.event_id.as_str()).or_insert(r);
    }
    // what must have been sent, from the movements themselves: every movement of
    // the tenant's wallets went PENDING → SUCCESS (API-created) or was SUCCESS from
    // the start (chain-originated), and never anything else in this run
    let movements: Vec<(uuid::Uuid, String, Option<uuid::Uuid>)> = sqlx::query_as(
        "SELECT m.id, m.status, m.operation_id FROM movements m JOIN wallets w ON w.dlt_address = m.owner_address WHERE w.client_id = $1",
    )
    .bind(st.client_id)
    .fetch_all(&st.pool)
    .await?;
    assert!(movements.len() >= 41, "1 cash-in + 20 transfers × 2 sides: {}", movements.len());
    let mut by_object: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for r in first.values() {
        by_object.entry(r.object_id.clone()).or_default().push(r);
    }
    for (id, status, operation) in &movements {
        assert_eq!(status, "SUCCESS");
        let got = by_object.remove(&id.to_string()).unwrap_or_default();
        let types: Vec<&str> = got.iter().map(|r| r.event_type.as_str()).collect();
        let want: Vec<&str> = if operation.is_some() { vec!["movement.pending", "movement.success"] } else { vec!["movement.success"] };
        let mut sorted = types.clone();
        sorted.sort();
        let mut want_sorted = want.clone();
        want_sorted.sort();
        assert_eq!(sorted, want_sorted, "movement {id}: one event per status change, none missing, none extra");
        // in order: the receiver got each object's events in sequence order
        let arrival: Vec<i64> = delivered.iter().filter(|r| r.object_id == id.to_string()).map(|r| r.sequence).collect();
        let mut seen = BTreeSet::new();
        let firsts: Vec<i64> = arrival.into_iter().filter(|s| seen.insert(*s)).collect();
        assert!(firsts.windows(2).all(|w| w[0] < w[1]), "movement {id}: events out of order {firsts:?}");
        let pending_first = got.iter().find(|r| r.event_type == "movement.pending").map(|r| r.sequence);
        let success = got.iter().find(|r| r.event_type == "movement.success").map(|r| r.sequence);
        if let (Some(p), Some(s)) = (pending_first, success) {
            assert!(p < s);
        }
    }
    assert!(by_object.is_empty(), "events about objects that are no movement of the tenant: {:?}", by_object.keys());
    let dups = delivered.len() - first.len();
    println!("{} events delivered ({} duplicates after kill -9), {} refused then retried", first.len(), dups, 3);

    // the endpoint recovered; the API shows its deliveries, attempts and events
    let e = st.get(&format!("/api/v1/public/webhook-endpoints/{endpoint}")).await.ok(200).clone();
    assert_eq!(e["status"], "ACTIVE", "{e}");
    assert!(e.get("secret").is_none(), "the secret is shown once");
    let page = st.get(&format!("/api/v1/public/webhook-endpoints/{endpoint}/deliveries?status=SUCCEEDED&size=2000")).await.ok(200).clone();
    let ds = page["_embedded"]["webhookDeliveries"].as_array().unwrap();
    assert_eq!(ds.len(), first.len());
    let retried = ds.iter().find(|d| d["attempts"].as_i64().unwrap() > 1).expect("a delivery that needed retries");
    let d = st.get(&format!("/api/v1/public/webhook-deliveries/{}", retried["id"].as_str().unwrap())).await.ok(200).clone();
    let attempts = d["attemptLog"].as_array().unwrap();
    assert!(attempts.len() >= 2 && attempts[0]["statusCode"] == 500 && attempts.last().unwrap()["statusCode"] == 200, "{d}");
    let events = st.get("/api/v1/public/webhook-events?type=movement.success&size=2000").await.ok(200).clone();
    assert_eq!(events["page"]["totalElements"].as_u64().unwrap() as usize, movements.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_validated_rotated_redelivered_and_deleted() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("webhooks_api", options()).await?;
    // bad input: the error envelope naming the field, nothing stored
    let r = st.post("/api/v1/public/webhook-endpoints", json!({"url": "http://example.com/hook", "eventTypes": ["movement.*"]})).await;
    assert_eq!(r.err(400, "invalid_request")["field"], "url", "{}", r.body);
    let r = st.post("/api/v1/public/webhook-endpoints", json!({"url": "https://example.com/hook", "eventTypes": ["payment.*"]})).await;
    assert_eq!(r.err(400, "invalid_request")["field"], "eventTypes[0]", "{}", r.body);
    let r = st.post("/api/v1/public/webhook-endpoints", json!({"url": "https://example.com/hook", "eventTypes": []})).await;
    r.err(400, "invalid_request");
    // targets inside the operator's network are refused (IP literals at once; names when resolved)
    for url in ["https://10.0.0.5/hook", "https://169.254.169.254/latest/meta-data", "https://[fd00::1]/hook", "https://127.0.0.1/hook"] {
        let r = st.post("/api/v1/public/webhook-endpoints", json!({"url": url, "eventTypes": ["wallet.*"]})).await;
        let e = r.err(400, "invalid_request");
        assert_eq!(e["field"], "url", "{url}: {}", r.body);
        assert!(r.body.to_string().contains("public"), "{url}: {}", r.body);
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_endpoints").fetch_one(&st.pool).await?;
    assert_eq!(n, 0);

    // only the subscribed types arrive: wallet.* and hold.*, not movements
    let (url, receiver) = start_receiver(0, Duration::ZERO).await;
    let (endpoint, secret) = register(&st, &url, json!(["wallet.*", "hold.*"])).await;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "10").await;
    let hold = st.post(&format!("/api/v1/public/wallets/{a}/hold"), json!({"amount": "2.00", "targetWalletId": b})).await.ok(202).clone();
    let hold_id = hold["id"].as_str().unwrap().to_owned();
    st.wait_hold(&a, &hold_id, "CREATED").await;
    wait_delivered(&st, Duration::from_secs(30)).await;
    let log = receiver.log.lock().unwrap().clone();
    let types: BTreeSet<&str> = log.iter().map(|r| r.event_type.as_str()).collect();
    assert!(types.contains("wallet.created") && types.contains("hold.created"), "{types:?}");
    assert!(types.iter().all(|t| t.starts_with("wallet.") || t.starts_with("hold.")), "{types:?}");
    assert!(log.iter().all(|r| signature_ok(&secret, &r.signature, &r.body)));
    // at rest the secret is sealed (--secrets-key): the database does not give it away
    let (at_rest, _) = stored_secrets(&st, &endpoint).await;
    assert!(at_rest.starts_with("sealed:v1:") && !at_rest.contains(secret.trim_start_matches("whsec_")), "{at_rest}");
    let hold_events: Vec<&Received> = log.iter().filter(|r| r.object_id == hold_id).collect();
    assert!(hold_events.windows(2).all(|w| w[0].sequence < w[1].sequence), "hold events in order");

    // rotation: the new secret is shown once; both secrets sign during the grace period
    let rotated = st.post(&format!("/api/v1/public/webhook-endpoints/{endpoint}/rotate-secret"), json!({"expiresInSeconds": 3600})).await.ok(200).clone();
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert!(rotated["previousSecretExpiresAt"].is_string());
    let (now_stored, previous_stored) = stored_secrets(&st, &endpoint).await;
    assert!(now_stored.starts_with("sealed:v1:") && !now_stored.contains(new_secret.trim_start_matches("whsec_")), "{now_stored}");
    assert_eq!(previous_stored.as_deref(), Some(at_rest.as_str()), "the previous secret keeps its sealed value");
    let before = receiver.log.lock().unwrap().len();
    let (c, _) = st.wallet().await;
    let start = Instant::now();
    while receiver.log.lock().unwrap().len() == before {
        assert!(start.elapsed() < Duration::from_secs(20), "no event after the rotation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = receiver.log.lock().unwrap()[before].clone();
    assert_eq!(after.object_id, c);
    assert!(signature_ok(&new_secret, &after.signature, &after.body) && signature_ok(&secret, &after.signature, &after.body));

    // redeliver: the same event again, same id
    let page = st.get(&format!("/api/v1/public/webhook-endpoints/{endpoint}/deliveries")).await.ok(200).clone();
    let delivery = page["_embedded"]["webhookDeliveries"][0].clone();
    let before = receiver.log.lock().unwrap().len();
    st.post(&format!("/api/v1/public/webhook-deliveries/{}/redeliver", delivery["id"].as_str().unwrap()), json!({})).await.ok(202);
    let start = Instant::now();
    while receiver.log.lock().unwrap().len() == before {
        assert!(start.elapsed() < Duration::from_secs(20), "the redelivery never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(receiver.log.lock().unwrap()[before].event_id, delivery["eventId"].as_str().unwrap());

    // delete: 204, then 404; nothing more is recorded for it
    let r = st.send(reqwest::Method::DELETE, &format!("/api/v1/public/webhook-endpoints/{endpoint}"), None, &[]).await;
    assert_eq!(r.status, 204);
    st.get(&format!("/api/v1/public/webhook-endpoints/{endpoint}")).await.err(404, "not_found");
    let (events_before,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_events").fetch_one(&st.pool).await?;
    st.wallet().await;
    let (events_after,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_events").fetch_one(&st.pool).await?;
    assert_eq!(events_before, events_after);

    // retention: finished events older than the retention go, with their deliveries and attempts
    sqlx::query("UPDATE webhook_events SET created_at = now() - interval '40 days' WHERE object_id::text = $1").bind(&hold_id).execute(&st.pool).await?;
    let pruned = emledger_operations::webhooks::delivery::prune(&st.pool, Duration::from_secs(30 * 24 * 3600)).await?;
    assert_eq!(pruned as usize, hold_events.len());
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_events WHERE object_id::text = $1").bind(&hold_id).fetch_one(&st.pool).await?;
    assert_eq!(left, 0);
    let (others,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_events").fetch_one(&st.pool).await?;
    assert_eq!(others, events_after - pruned as i64, "only the old ones");
    Ok(())
}

/// Secrets stored before the operator gave a `--secrets-key` are sealed when an
/// API process starts with one, and still sign; a secret sealed under another key
/// fails its own endpoint's deliveries (the reason in the attempt), no one else's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stored_before_the_key_are_sealed_and_a_foreign_seal_fails_only_its_endpoint() -> anyhow::Result<()> {
    use emledger_operations::webhooks::sealed;
    let mut st = MoneyStack::start("webhooks_sealed", options()).await?;
    let (url_old, old_receiver) = start_receiver(0, Duration::ZERO).await;
    let (url_foreign, foreign_receiver) = start_receiver(0, Duration::ZERO).await;
    // as an API without a key stored them: the secret itself
    let (old_endpoint, old_secret) = (uuid::Uuid::now_v7(), emledger_operations::webhooks::new_secret());
    let foreign_endpoint = uuid::Uuid::now_v7();
    let other_key = sealed::SealKey::from_hex(&"ab".repeat(32)).unwrap();
    let foreign_secret = sealed::seal(&other_key, foreign_endpoint, &emledger_operations::webhooks::new_secret());
    for (id, url, secret) in [(old_endpoint, &url_old, old_secret.clone()), (foreign_endpoint, &url_foreign, foreign_secret)] {
        sqlx::query("INSERT INTO webhook_endpoints (id, client_id, url, event_types, secret) VALUES ($1, $2, $3, ARRAY['wallet.*'], $4)")
            .bind(id)
            .bind(st.client_id)
            .bind(url)
            .bind(secret)
            .execute(&st.pool)
            .await?;
    }
    // what an API process does at start with --secrets-key
    sealed::set_key(Some(sealed::SealKey::from_hex(SECRETS_KEY).unwrap()));
    assert_eq!(sealed::seal_stored(&st.pool).await?, 1, "only the unsealed one");
    assert_eq!(sealed::seal_stored(&st.pool).await?, 0, "once");
    let (at_rest, _) = stored_secrets(&st, &old_endpoint.to_string()).await;
    assert!(at_rest.starts_with("sealed:v1:"), "{at_rest}");
    assert_eq!(sealed::open(sealed::keys().as_deref(), old_endpoint, &at_rest).unwrap(), old_secret);

    // a new wallet: the old endpoint gets its events signed with its old secret;
    // the foreign one's deliveries fail with the reason, and only them
    let (wallet, _) = st.wallet().await;
    let start = Instant::now();
    loop {
        let (failed,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM webhook_delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
             WHERE d.endpoint_id = $1 AND a.error LIKE '%does not open with this --secrets-key%'",
        )
        .bind(foreign_endpoint)
        .fetch_one(&st.pool)
        .await?;
        if failed > 0 && old_receiver.log.lock().unwrap().iter().any(|r| r.object_id == wallet) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "foreign failures {failed}, old receiver {:?}", old_receiver.log.lock().unwrap().len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(old_receiver.log.lock().unwrap().iter().all(|r| signature_ok(&old_secret, &r.signature, &r.body)));
    assert!(foreign_receiver.log.lock().unwrap().is_empty(), "nothing sent with a secret that did not open");
    Ok(())
}

/// `options()` with `key` as --secrets-key and `previous` as --secrets-key-previous.
fn options_with_keys(key: &str, previous: Option<&str>) -> ApiOptions {
    let mut o = options();
    o.env.retain(|(k, _)| !k.starts_with("EMLEDGER_SECRETS_KEY"));
    o.env.push(("EMLEDGER_SECRETS_KEY".into(), key.into()));
    if let Some(p) = previous {
        o.env.push(("EMLEDGER_SECRETS_KEY_PREVIOUS".into(), p.into()));
    }
    o
}

/// Waits until `receiver` got an event about `object_id` and returns it.
async fn received_about(receiver: &Receiver, object_id: &str) -> Received {
    let start = Instant::now();
    loop {
        if let Some(r) = receiver.log.lock().unwrap().iter().find(|r| r.object_id == object_id) {
            return r.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no event about {object_id} came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Rotating the secrets key: an API started with the new key and the old one as
/// --secrets-key-previous re-seals every stored secret under the new key before
/// it serves, and deliveries keep signing with the same secrets; once the
/// previous key is dropped the new key alone opens them and the old one no longer
/// does. A bad previous key, or one without a current key, stops the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secrets_key_reseals_at_start_and_deliveries_keep_their_secrets() -> anyhow::Result<()> {
    use emledger_operations::webhooks::sealed;
    const NEW_KEY: &str = "0dd1ce000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c";
    let keys = |k: &str| sealed::Keys { current: sealed::SealKey::from_hex(k).unwrap(), previous: None };
    let mut st = MoneyStack::start("webhooks_rotate", options()).await?;
    let (url, receiver) = start_receiver(0, Duration::ZERO).await;
    let (endpoint, secret) = register(&st, &url, json!(["wallet.*"])).await;
    let endpoint_id: uuid::Uuid = endpoint.parse()?;
    let (under_old, _) = stored_secrets(&st, &endpoint).await;
    assert_eq!(sealed::open(Some(&keys(SECRETS_KEY)), endpoint_id, &under_old).unwrap(), secret);

    // the new key, the old one as previous: re-sealed at start, the same secret signs
    st.restart_api(options_with_keys(NEW_KEY, Some(SECRETS_KEY))).await?;
    let (under_new, _) = stored_secrets(&st, &endpoint).await;
    assert!(under_new.starts_with("sealed:v1:") && under_new != under_old, "{under_new}");
    assert_eq!(sealed::open(Some(&keys(NEW_KEY)), endpoint_id, &under_new).unwrap(), secret);
    assert!(sealed::open(Some(&keys(SECRETS_KEY)), endpoint_id, &under_new).is_err(), "the old key no longer opens it");
    let (wallet, _) = st.wallet().await;
    let got = received_about(&receiver, &wallet).await;
    assert!(signature_ok(&secret, &got.signature, &got.body));

    // the previous key dropped: nothing left to re-seal, and the new key alone signs
    st.restart_api(options_with_keys(NEW_KEY, None)).await?;
    assert_eq!(stored_secrets(&st, &endpoint).await.0, under_new);
    let (wallet, _) = st.wallet().await;
    let got = received_about(&receiver, &wallet).await;
    assert!(signature_ok(&secret, &got.signature, &got.body));

    // refused at start, nothing changed: a previous key that is not a key, and one without a current key
    for (env, why) in [
        (options_with_keys(NEW_KEY, Some("abcd")), "--secrets-key-previous"),
        (
            {
                let mut o = options_with_keys(NEW_KEY, Some(SECRETS_KEY));
                o.env.retain(|(k, _)| k != "EMLEDGER_SECRETS_KEY");
                o
            },
            "--secrets-key",
        ),
    ] {
        let out = std::process::Command::new(emledger_tests::stack::emledger_bin())
            .args(["--database-url", &st.db_url, "api", "--listen", "127.0.0.1:0", "--jwt-secret", "money-tests-secret"])
            .env_remove("EMLEDGER_FAULT")
            .envs(env.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()?;
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{stderr}");
        assert!(!stderr.contains(SECRETS_KEY) && !stderr.contains(NEW_KEY), "keys are never printed: {stderr}");
    }
    assert_eq!(stored_secrets(&st, &endpoint).await.0, under_new);
    Ok(())
}

/// A receiver that never answers: after `--webhook-failing-after` failures in a
/// row the endpoint is FAILING; once the retry period is over the delivery is
/// FAILED with every attempt recorded, and nothing else waits behind it forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_receiver_makes_the_endpoint_failing_and_deliveries_give_up_after_the_retry_period() -> anyhow::Result<()> {
    let mut opts = options();
    opts.env.push(("EMLEDGER_WEBHOOK_RETRY_PERIOD_SECS".into(), "3".into()));
    let mut st = MoneyStack::start("webhooks_dead", opts).await?;
    // a port nobody listens on: connection refused at every try
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let (endpoint, _) = register(&st, &format!("http://127.0.0.1:{dead}/hook"), json!(["wallet.created"])).await;
    st.wallet().await;
    let start = Instant::now();
    let delivery = loop {
        let page = st.get(&format!("/api/v1/public/webhook-endpoints/{endpoint}/deliveries?status=FAILED")).await.ok(200).clone();
        if let Some(d) = page["_embedded"]["webhookDeliveries"].as_array().and_then(|a| a.first()).cloned() {
            break d;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the delivery never gave up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let d = st.get(&format!("/api/v1/public/webhook-deliveries/{}", delivery["id"].as_str().unwrap())).await.ok(200).clone();
    let attempts = d["attemptLog"].as_array().unwrap();
    assert!(attempts.len() >= 3, "retried with backoff before giving up: {d}");
    assert!(attempts.iter().all(|a| a["statusCode"].is_null() && a["error"].as_str().is_some_and(|e| !e.is_empty())), "{d}");
    assert_eq!(d["attempts"].as_u64().unwrap() as usize, attempts.len());
    let e = st.get(&format!("/api/v1/public/webhook-endpoints/{endpoint}")).await.ok(200).clone();
    assert_eq!(e["status"], "FAILING", "{e}");
    assert!(e["consecutiveFailures"].as_i64().unwrap() >= 3);
    Ok(())
}

/// A name that resolves inside the operator's network is refused at every
/// delivery try with the reason (nothing is POSTed there); an operator whose
/// receivers live on a private network lifts the guard with
/// `--webhook-allow-private-targets`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_never_go_to_a_private_or_loopback_address_unless_the_operator_allows_it() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("webhooks_private", options()).await?;
    // https to a name resolving to loopback: accepted at registration (a name), refused when resolved
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (endpoint, _) = register(&st, &format!("https://localhost:{port}/hook"), json!(["wallet.created"])).await;
    st.wallet().await;
    let start = Instant::now();
    let attempt = loop {
        let page = st.get(&format!("/api/v1/public/webhook-endpoints/{endpoint}/deliveries")).await.ok(200).clone();
        if let Some(id) = page["_embedded"]["webhookDeliveries"].as_array().and_then(|a| a.first()).and_then(|d| d["id"].as_str()) {
            let d = st.get(&format!("/api/v1/public/webhook-deliveries/{id}")).await.ok(200).clone();
            if let Some(a) = d["attemptLog"].as_array().and_then(|a| a.first()).cloned() {
                break a;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no delivery attempt recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let error = attempt["error"].as_str().unwrap_or_default();
    assert!(attempt["statusCode"].is_null() && error.contains("127.0.0.1") && error.contains("loopback"), "{attempt}");
    // nothing ever connected to the listener
    listener.set_nonblocking(true)?;
    assert!(listener.accept().is_err(), "the guard let a connection through");

    // the operator's switch: private targets allowed
    let mut allowed = options();
    allowed.env.push(("EMLEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS".into(), "true".into()));
    st.restart_api(allowed).await?;
    st.post("/api/v1/public/webhook-endpoints", json!({"url": "https://10.0.0.5/hook", "eventTypes": ["wallet.*"]})).await.ok(201);
    Ok(())
}
