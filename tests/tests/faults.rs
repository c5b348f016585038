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
