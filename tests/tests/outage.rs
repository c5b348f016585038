//! A Postgres outage and a dead chain node, seen from the API (issue "Survive
//! the faults of its own parts"): kill -9 of the postmaster mid-load → `/health`
//! DOWN (503) within 2 s, requests answered 503 `database_unavailable` at once;
//! Postgres back → everything resumes with no human action and nothing is lost;
//! kill -9 of anvil → the chain DOWN within 5 s. Nothing here restarts what
//! died (that is `up`'s job, tested in walkthrough.rs): this binary owns its
//! cluster, so no other test shares the outage.
//!
//! Build the binary first: `cargo build --bin emledger`.

use std::time::{Duration, Instant};

use emledger_tests::stack::{cluster, reconcile, wait_for_cursor};
use serde_json::{json, Value};

mod api_stack;
use api_stack::{ApiOptions, MoneyStack};

async fn health(st: &MoneyStack) -> (u16, Value) {
    match st.http.get(format!("{}/health", st.base)).timeout(Duration::from_secs(3)).send().await {
        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
        Err(e) => (0, json!({ "transport": e.to_string() })),
    }
}

async fn wait_health(st: &MoneyStack, within: Duration, what: &str, pred: impl Fn(u16, &Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let (code, body) = health(st).await;
        if pred(code, &body) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what}: /health is {code} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_at_once_and_everything_resumes() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("outage_pg", ApiOptions::default()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "50").await;
    wait_health(&st, Duration::from_secs(15), "UP at start", |c, b| c == 200 && b["status"] == "UP").await;

    // 20 transfers accepted, then the postmaster killed while they are in flight
    let mut accepted = Vec::new();
    for i in 0..20 {
        let r = st
            .post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1", "targetWalletId": b, "concept": format!("before {i}")}), &format!("before-{i}"))
            .await;
        accepted.push(r.ok(202)["apiOperationId"].as_str().unwrap().to_owned());
    }
    let c = cluster().expect("this binary's cluster");
    let pid = std::fs::read_to_string(c.data_dir().join("postmaster.pid"))?.lines().next().unwrap().trim().to_owned();
    assert!(std::process::Command::new("kill").args(["-9", &pid]).status()?.success());
    let killed = Instant::now();

    let down = wait_health(&st, Duration::from_secs(10), "DOWN", |c, b| c == 503 && b["status"] == "DOWN" && b["database"] == "DOWN").await;
    assert!(killed.elapsed() < Duration::from_millis(2500), "DOWN only after {down:?}");
    // requests: 503 at once, with Retry-After, in the one envelope; nothing stored
    for i in 0..5 {
        let asked = Instant::now();
        let r = st
            .http
            .post(format!("{}/api/v1/public/wallets/{a}/transfer", st.base))
            .header("X-API-Key", &st.key)
            .header("Idempotency-Key", format!("during-{i}"))
            .json(&json!({"amount": "1", "targetWalletId": b, "concept": "during"}))
            .send()
            .await?;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        let took = asked.elapsed();
        let body: Value = r.json().await?;
        assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
        assert!(took < Duration::from_millis(500), "503 took {took:?}");
    }

    // Postgres back (what `up` does for its private cluster): no human action after this
    let c2 = c.clone_handle();
    tokio::task::spawn_blocking(move || c2.restart()).await??;
    wait_health(&st, Duration::from_secs(30), "UP after Postgres came back", |c, b| c == 200 && b["status"] == "UP").await;
    for id in &accepted {
        let op = st.wait_operation(id).await;
        assert_eq!(op["status"], "SUCCESS", "{op}");
    }
    // the requests refused during the outage left nothing behind; retried now, they go through
    for i in 0..5 {
        let r = st
            .post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1", "targetWalletId": b, "concept": "during"}), &format!("during-{i}"))
            .await;
        assert!(!r.replayed(), "a 503 was remembered for its key");
        let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
        assert_eq!(st.wait_operation(&id).await["status"], "SUCCESS");
    }
    st.wait_balances(&a, ("25.00", "25.00", "0.00")).await;
    st.wait_balances(&b, ("25.00", "25.00", "0.00")).await;
    let block = st.chain.block_number().await?;
    wait_for_cursor(&st.pool, block, Duration::from_secs(60)).await?;
    let (ok, out) = reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address)?;
    assert!(ok && out.contains(": 0 mismatches"), "reconcile:\n{out}");

    // ---- kill -9 of the chain node: the chain DOWN within 5 s
    st.chain.anvil.child_mut().kill()?;
    let killed = Instant::now();
    wait_health(&st, Duration::from_secs(10), "chain DOWN", |c, b| c == 503 && b["chain"] == "DOWN" && b["status"] == "DOWN").await;
    assert!(killed.elapsed() < Duration::from_secs(5));
    Ok(())
}
