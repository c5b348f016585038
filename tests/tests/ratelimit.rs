//! Per-tenant rate limits (issue "Credentials that die when revoked …", item 5):
//! a tenant loading the API past its limit gets 429 with `Retry-After` and the
//! IETF RateLimit headers, a refused write leaves nothing behind, and another
//! tenant's requests keep being served at their normal latency.
//! Real parts: anvil with EmToken, Postgres, the indexer binary, the API.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

mod api_stack;
use api_stack::{ApiOptions, MoneyStack};

fn p(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// `n` GETs of the wallet list by `key`, one at a time at `per_sec`: their latencies, sorted, and any non-200.
async fn paced_reads(st: &MoneyStack, key: &str, n: usize, per_sec: u64) -> (Vec<Duration>, Vec<u16>) {
    let mut lat = Vec::new();
    let mut bad = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / per_sec));
    for _ in 0..n {
        tick.tick().await;
        let t = Instant::now();
        let r = st.http.get(format!("{}/api/v1/public/wallets?size=5", st.base)).header("X-API-Key", key).send().await.unwrap();
        let status = r.status().as_u16();
        let _ = r.bytes().await;
        lat.push(t.elapsed());
        if status != 200 {
            bad.push(status);
        }
    }
    lat.sort();
    (lat, bad)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_past_its_limit_gets_429_while_another_keeps_its_latency() -> anyhow::Result<()> {
    let limits = emledger_api::RateLimitConfig { rate_limit_reads: 20, rate_limit_writes: 10 };
    let st = MoneyStack::start("ratelimit", ApiOptions { rate_limits: Some(limits), ..Default::default() }).await?;
    let (other, other_key) = emledger_api::create_tenant(&st.pool, "quiet tenant", "anvil-local").await?;

    // every answer to an authenticated request says where the tenant stands
    let r = st.http.get(format!("{}/api/v1/public/wallets", st.base)).header("X-API-Key", &other_key).send().await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["ratelimit-policy"], "\"reads\";q=40;w=2");
    assert_eq!(r.headers()["ratelimit"], "\"reads\";r=39;t=1");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // the quiet tenant's latency alone, at 10 reads/s (half its limit)
    let (alone, bad) = paced_reads(&st, &other_key, 30, 10).await;
    assert!(bad.is_empty(), "{bad:?}");

    // the loud tenant floods reads (32 in flight) for as long as the quiet one goes on at the same pace
    let deadline = Instant::now() + Duration::from_millis(3200);
    let flood = futures::stream::iter(0..)
        .take_while(|_| std::future::ready(Instant::now() < deadline))
        .map(|_| async {
            let r = st.http.get(format!("{}/api/v1/public/wallets?size=5", st.base)).header("X-API-Key", &st.key).send().await.unwrap();
            let status = r.status().as_u16();
            let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            let state = r.headers().get("ratelimit").map(|v| v.to_str().unwrap().to_owned());
            let body: serde_json::Value = r.json().await.unwrap();
            (status, retry, state, body)
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>();
    let (answers, (during, bad)) = tokio::join!(flood, paced_reads(&st, &other_key, 30, 10));
    assert!(bad.is_empty(), "the quiet tenant was refused: {bad:?}");

    let ok = answers.iter().filter(|a| a.0 == 200).count();
    let limited: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert_eq!(ok + limited.len(), answers.len(), "only 200 or 429");
    assert!(limited.len() > ok, "a flood against 20/s is mostly refused: {ok} served, {} refused", limited.len());
    assert!(ok >= 40, "the burst is served: {ok}");
    for (_, retry, state, body) in &limited {
        let secs: u64 = retry.as_deref().expect("Retry-After").parse()?;
        assert!((1..=2).contains(&secs), "{secs}");
        assert_eq!(state.as_deref(), Some(format!("\"reads\";r=0;t={secs}").as_str()));
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        assert_eq!(body["error"]["details"]["class"], "reads");
    }

    let (a50, a95, d50, d95) = (p(&alone, 0.5), p(&alone, 0.95), p(&during, 0.5), p(&during, 0.95));
    println!("quiet tenant alone: p50 {a50:?} p95 {a95:?}; while the other is refused {}×: p50 {d50:?} p95 {d95:?}", limited.len());
    // "normal latency": the same order of magnitude (a generous bound: this is a 2-core machine under a flood)
    assert!(d50 < a50 * 5 + Duration::from_millis(50), "p50 {a50:?} → {d50:?}");

    // writes have their own allowance; a refused write leaves nothing behind
    let (before,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE client_id = $1").bind(st.client_id).fetch_one(&st.pool).await?;
    let st_ref = &st;
    let writes: Vec<u16> = futures::stream::iter(0..60)
        .map(|i| async move {
            let body = json!({"name": format!("Burst {i}"), "phoneNumber": format!("+3461234{i:04}"), "country": "ES"});
            st_ref.post("/api/v1/public/users", body).await.status.as_u16()
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let created = writes.iter().filter(|s| **s == 201).count() as i64;
    assert!(writes.iter().all(|s| *s == 201 || *s == 429), "{writes:?}");
    assert!(writes.contains(&429), "{writes:?}");
    let (after,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE client_id = $1").bind(st.client_id).fetch_one(&st.pool).await?;
    assert_eq!(after - before, created, "a 429 stored nothing");

    // token requests count as writes of the verified tenant only: a stranger naming
    // the quiet tenant's client id cannot spend its allowance
    for _ in 0..100 {
        let r = st
            .http
            .post(format!("{}/oauth/token", st.base))
            .form(&[("grant_type", "client_credentials"), ("client_id", &other.to_string()), ("client_secret", "eml_000000000000_0000")])
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 401);
    }
    let r = st
        .http
        .post(format!("{}/oauth/token", st.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", &other.to_string()), ("client_secret", &other_key)])
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await?);
    Ok(())
}
