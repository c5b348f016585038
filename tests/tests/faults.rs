//! The platform survives the faults of its own parts (issue "Survive the faults
//! of its own parts"): wallets paying each other at once, a Postgres outage,
//! chain rewinds. Real parts: anvil with EmToken, Postgres, the indexer and API
//! binaries. Build the binary first: `cargo build --bin emledger`.

use std::time::{Duration, Instant};

use emledger_tests::stack::{reconcile, wait_for_cursor};
use futures::StreamExt;
use serde_json::json;

mod api_stack;
use api_stack::{ApiOptions, MoneyStack};

async fn assert_reconciled(st: &MoneyStack) {
    let block = st.chain.block_number().await.unwrap();
    wait_for_cursor(&st.pool, block, Duration::from_secs(60)).await.unwrap();
    let (ok, out) = reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address).unwrap();
    assert!(ok && out.contains(": 0 mismatches"), "reconcile:\n{out}");
}

/// 200 alternating A→B / B→A transfers, 16 in flight: the money path takes its
/// locks in an order that cannot cycle, and a deadlock or serialization failure
/// would run the request again inside the API: not one 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opposing_transfers_never_answer_500() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("faults_opposing", ApiOptions::default()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "100").await;
    st.fund(&b, "100").await;

    let answers: Vec<(usize, api_stack::Res)> = futures::stream::iter((0..200).map(|i| {
        let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let path = format!("/api/v1/public/wallets/{from}/transfer");
        let body = json!({"amount": "0.25", "targetWalletId": to, "concept": format!("opposing {i}")});
        let key = format!("opposing-{i}");
        let st = &st;
        async move { (i, st.post_key(&path, body, &key).await) }
    }))
    .buffer_unordered(16)
    .collect()
    .await;

    let failures: Vec<String> = answers.iter().filter(|(_, r)| r.status != 202).map(|(i, r)| format!("#{i}: {} {}", r.status, r.body)).collect();
    assert!(failures.is_empty(), "{} of 200 not accepted:\n{}", failures.len(), failures.join("\n"));

    // every one settles; money is conserved on both sides
    let start = Instant::now();
    for (_, r) in &answers {
        let id = r.body["apiOperationId"].as_str().expect("apiOperationId").to_owned();
        let op = st.wait_operation(&id).await;
        assert_eq!(op["status"], "SUCCESS", "{op}");
    }
    assert!(start.elapsed() < Duration::from_secs(120));
    st.wait_balances(&a, ("100.00", "100.00", "0.00")).await;
    st.wait_balances(&b, ("100.00", "100.00", "0.00")).await;
    assert_reconciled(&st).await;
    Ok(())
}

/// A 3-block reorg in the middle of 600 transfers among 16 wallets (24 in
/// flight): the indexer rolls back, the operations of the orphaned transactions
/// go back to SENT, the submitter re-sends their stored bytes in nonce order,
/// and all 600 end SUCCESS with a canonical receipt, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_in_the_middle_of_600_transfers_loses_and_doubles_nothing() -> anyhow::Result<()> {
    use alloy::providers::Provider;
    let mut st = MoneyStack::start("faults_reorg", ApiOptions { subprocess: true, ..Default::default() }).await?;
    let mut wallets = Vec::new();
    for _ in 0..16 {
        let (w, _) = st.wallet().await;
        st.fund(&w, "100").await;
        wallets.push(w);
    }
    // the funding deeper than the reorg: it must take transfers only (a reorg that
    // took a wallet's funding would rightly refuse its later transfers)
    for _ in 0..5 {
        let _: serde_json::Value = st.chain.provider.raw_request("evm_mine".into(), ()).await?;
    }
    let total = 600;
    let reorg_at = 300;
    let st_ref = &st;
    let wallets_ref = &wallets;
    let mut accepted: Vec<String> = Vec::new();
    let mut requests = futures::stream::iter((0..total).map(|i| async move {
        let from = &wallets_ref[i % 16];
        let to = &wallets_ref[(i * 7 + 3) % 16];
        let to = if to == from { &wallets_ref[(i + 1) % 16] } else { to };
        let r = st_ref
            .post_key(&format!("/api/v1/public/wallets/{from}/transfer"), json!({"amount": "0.10", "targetWalletId": to, "concept": format!("reorg {i}")}), &format!("reorg-{i}"))
            .await;
        (i, r)
    }))
    .buffer_unordered(24);
    let mut reorged = false;
    while let Some((i, r)) = requests.next().await {
        assert_eq!(r.status, 202, "#{i}: {}", r.body);
        accepted.push(r.body["apiOperationId"].as_str().unwrap().to_owned());
        if !reorged && accepted.len() >= reorg_at {
            // a 3-block reorg while transfers keep coming
            let head = st.chain.block_number().await?;
            let _: serde_json::Value = st.chain.provider.raw_request("anvil_reorg".into(), (3u64, Vec::<()>::new())).await?;
            eprintln!("reorg: 3 blocks at head {head}");
            reorged = true;
        }
    }
    drop(requests);
    assert!(reorged);

    let start = Instant::now();
    loop {
        let (unsettled,): (i64,) = sqlx::query_as("SELECT count(*) FROM operations WHERE status NOT IN ('SUCCESS', 'FAILED')").fetch_one(&st.pool).await?;
        if unsettled == 0 {
            break;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let detail: Vec<(String, Option<i64>, Option<String>, Option<i64>, i64)> = sqlx::query_as(
                "SELECT o.status, o.nonce, t.status, t.block_number, count(*) FROM operations o LEFT JOIN chain_transactions t ON t.id = o.transaction_id
                 WHERE o.status NOT IN ('SUCCESS', 'FAILED') GROUP BY 1, 2, 3, 4 ORDER BY 2",
            )
            .fetch_all(&st.pool)
            .await?;
            let chain_nonce = st.chain.provider.get_transaction_count(st.chain.platform.address()).await?;
            let diagnostics = st.diagnostics().await;
            panic!("{unsettled} operations unsettled 90 s after the reorg (chain nonce {chain_nonce}): {detail:?}\n{diagnostics}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for id in &accepted {
        let op = st.get(&format!("/api/v1/public/operations/{id}")).await;
        assert_eq!(op.body["status"], "SUCCESS", "{}", op.body);
        // a canonical receipt
        let hash: alloy::primitives::B256 = op.body["txHash"].as_str().unwrap().parse()?;
        let receipt = st.chain.provider.get_transaction_receipt(hash).await?.expect("a canonical receipt");
        assert!(receipt.status());
    }
    // each exactly once on chain and in the read model
    let (dup_events,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT operation_id FROM chain_events WHERE name = 'Transfer' AND operation_id IS NOT NULL
         GROUP BY operation_id HAVING count(*) > 1) d",
    )
    .fetch_one(&st.pool)
    .await?;
    assert_eq!(dup_events, 0, "an operation executed twice");
    let (movements,): (i64,) = sqlx::query_as("SELECT count(*) FROM movements WHERE concept LIKE 'reorg %' AND status = 'SUCCESS'").fetch_one(&st.pool).await?;
    assert_eq!(movements, 2 * total as i64, "TRANSFER_OUT + TRANSFER_IN per transfer");
    assert_reconciled(&st).await;
    Ok(())
}

/// A background worker whose rounds keep failing shows on `/health`: here the
/// clearing agent's table is renamed away (a broken migration, a dropped grant)
/// → DEGRADED within the stuck threshold + 5 s, naming the worker and its error;
/// the table back → UP again, with no restart. Money keeps moving meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_background_worker_shows_on_health_until_it_recovers() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("faults_worker", ApiOptions { stuck_after_secs: Some(2), ..Default::default() }).await?;
    let health = |st: &MoneyStack| {
        let (http, url) = (st.http.clone(), format!("{}/health", st.base));
        async move { http.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "10").await;
    let start = Instant::now();
    while health(&st).await["status"] != "UP" {
        assert!(start.elapsed() < Duration::from_secs(20), "not UP at start: {}", health(&st).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sqlx::query("ALTER TABLE clearing_decisions RENAME TO clearing_decisions_away").execute(&st.pool).await?;
    let broke = Instant::now();
    let h = loop {
        let h = health(&st).await;
        if h["status"] == "DEGRADED" && h["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("clearing agent")) {
            break h;
        }
        assert!(broke.elapsed() < Duration::from_secs(7), "the failing clearing agent never showed: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reason = h["reasons"].as_array().unwrap().iter().find(|r| r.as_str().unwrap().contains("clearing agent")).unwrap().as_str().unwrap().to_owned();
    assert!(reason.contains("clearing_decisions"), "the reason carries the error: {reason}");
    let metrics = st.http.get(format!("{}/metrics", st.base)).send().await?.text().await?;
    assert!(metrics.lines().any(|l| l.starts_with("emledger_worker_consecutive_errors{worker=\"clearing agent\"}") && !l.ends_with(" 0")), "metric");
    // money keeps moving while the clearing agent fails
    let r = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1", "targetWalletId": b}), "worker-1").await;
    let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    assert_eq!(st.wait_operation(&id).await["status"], "SUCCESS");
    sqlx::query("ALTER TABLE clearing_decisions_away RENAME TO clearing_decisions").execute(&st.pool).await?;
    let fixed = Instant::now();
    loop {
        let h = health(&st).await;
        if h["status"] == "UP" {
            break;
        }
        assert!(fixed.elapsed() < Duration::from_secs(10), "not UP again after the fix: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
