//! API benchmark: settled operations/s end to end through the REST API (request
//! accepted → movement SUCCESS: stored, signed, sent, mined, settled by the
//! indexer), unbatched (`--batch-size 1`) and batched (the default), p50/p99 of
//! that latency under a paced load at half the batched peak, the API process's
//! memory, and — on the same anvil, in the same run — the raw rate of one signer
//! sending EmToken transfers with a tight client: a window of transactions in
//! flight, no receipt polled per transaction, done when the chain's mined nonce
//! reaches the last one. Prints the ratios.
//!
//! Run: `scripts/bench-api` (release build). Env: `BENCH_OPS` (default 3000),
//! `BENCH_CONCURRENCY` (64), `BENCH_WALLETS` (16 source wallets),
//! `BENCH_PACED_OPS` (1000), `BENCH_BATCH_SIZE` (the API's default, 64).
//! Nothing it starts outlives it, also on an error or Ctrl-C (see `bench_common`).

#[path = "bench_common/mod.rs"]
#[allow(dead_code)]
mod bench_common;

#[path = "../../tests/api_stack/mod.rs"]
#[allow(dead_code, unused_imports)]
mod api_stack;

use std::{
    collections::HashMap,
    process::ExitCode,
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use anyhow::{bail, Context};
use api_stack::{ApiOptions, MoneyStack};
use chrono::{DateTime, Utc};
use emledger_contracts::EmToken;
use emledger_tests::stack::Chain;
use futures::StreamExt;
use serde_json::json;
use uuid::Uuid;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .unwrap_or(0.0)
        / 1024.0
}

/// Raw EmToken transfers from `sender` (one signer), nonces and fees set here:
/// at most `window` unmined at once, judged by the chain's mined nonce (one
/// `eth_getTransactionCount` per loop, never a receipt per transaction).
async fn raw_transfers(chain: &Chain, sender: &PrivateKeySigner, to: Address, n: usize, window: usize) -> anyhow::Result<f64> {
    let provider = Chain::signer_provider(&chain.anvil, sender);
    let token = chain.deployment.address;
    let first = provider.get_transaction_count(sender.address()).await?;
    let end = first + n as u64;
    let fees = provider.estimate_eip1559_fees().await?;
    let start = Instant::now();
    let mut next = first;
    let mut mined = first;
    while mined < end {
        let mut batch = Vec::new();
        while next < end && next < mined + window as u64 {
            let call = EmToken::transferCall { to, value: U256::from(1) };
            let tx = TransactionRequest::default()
                .with_from(sender.address())
                .with_to(token)
                .with_input(call.abi_encode())
                .with_nonce(next)
                .with_chain_id(chain.deployment.chain_id)
                .with_gas_limit(100_000)
                .with_max_fee_per_gas(fees.max_fee_per_gas * 4)
                .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
            batch.push(tx);
            next += 1;
        }
        // send the window's new transactions concurrently (the node orders them by nonce)
        let sent: Vec<_> = futures::stream::iter(batch.into_iter().map(|tx| {
            let provider = provider.clone();
            async move { provider.send_transaction(tx).await.map(|p| *p.tx_hash()) }
        }))
        .buffer_unordered(window)
        .collect()
        .await;
        for r in sent {
            r.context("sending a raw transfer")?;
        }
        mined = provider.get_transaction_count(sender.address()).latest().await?;
        if next >= end && mined < end {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    // all of them succeeded: the payee received exactly n
    let token = EmToken::new(token, &provider);
    let received = token.balanceOf(to).call().await?;
    if received < U256::from(n) {
        bail!("raw transfers: the payee received {received}, expected {n}");
    }
    Ok(rate)
}

/// Transfers through the API from `sources` (round robin) to `target`, `concurrency`
/// requests at once, each optionally paced at `rate`/s; returns the accept times.
async fn api_transfers(
    stack: &MoneyStack,
    sources: &[String],
    target: &str,
    n: usize,
    concurrency: usize,
    rate: Option<f64>,
    label: &str,
) -> Vec<(Uuid, DateTime<Utc>)> {
    let start = tokio::time::Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let from = sources[i % sources.len()].clone();
            async move {
                if let Some(rate) = rate {
                    tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
                }
                let r = stack
                    .post(
                        &format!("/api/v1/public/wallets/{from}/transfer"),
                        json!({"amount": "0.01", "concept": format!("{label} {i}"), "targetWalletId": target}),
                    )
                    .await;
                let at = Utc::now();
                (r.ok(202)["movementId"].as_str().unwrap().parse::<Uuid>().unwrap(), at)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// Waits until every movement is final; returns (settle times, how many not SUCCESS).
async fn settled(stack: &MoneyStack, ids: &[Uuid]) -> anyhow::Result<(HashMap<Uuid, DateTime<Utc>>, usize)> {
    let start = Instant::now();
    loop {
        let (done,): (i64,) = sqlx::query_as("SELECT count(*) FROM movements WHERE id = ANY($1) AND status <> 'PENDING'")
            .bind(ids)
            .fetch_one(&stack.pool)
            .await?;
        if done as usize == ids.len() {
            break;
        }
        if start.elapsed() > Duration::from_secs(900) {
            bail!("only {done} of {} transfers settled in 15 minutes", ids.len());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rows: Vec<(Uuid, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT id, status, updated_at FROM movements WHERE id = ANY($1)").bind(ids).fetch_all(&stack.pool).await?;
    let failed = rows.iter().filter(|(_, s, _)| s != "SUCCESS").count();
    Ok((rows.into_iter().map(|(id, _, t)| (id, t)).collect(), failed))
}

/// One closed-loop run: settled operations/s.
async fn saturate(stack: &MoneyStack, sources: &[String], target: &str, n: usize, concurrency: usize, label: &str) -> anyhow::Result<f64> {
    let start = Instant::now();
    let accepted = api_transfers(stack, sources, target, n, concurrency, None, label).await;
    let accepted_in = start.elapsed().as_secs_f64();
    let ids: Vec<Uuid> = accepted.iter().map(|(id, _)| *id).collect();
    let (_, failed) = settled(stack, &ids).await?;
    let total = start.elapsed().as_secs_f64();
    let rate = n as f64 / total;
    println!("{label}: accepted {n} in {accepted_in:.2} s, all settled in {total:.2} s ({failed} not SUCCESS): {rate:.0} settled ops/s");
    Ok(rate)
}

fn api_pid(stack: &MoneyStack) -> anyhow::Result<u32> {
    match &stack.api {
        api_stack::ApiRunner::Process { child } => Ok(child.id()),
        _ => bail!("the API must run as a subprocess"),
    }
}

fn main() -> ExitCode {
    bench_common::run(bench())
}

async fn bench() -> anyhow::Result<()> {
    let n = env_or("BENCH_OPS", 3000);
    let concurrency = env_or("BENCH_CONCURRENCY", 64);
    let sources_n = env_or("BENCH_WALLETS", 16).max(1);
    let paced_n = env_or("BENCH_PACED_OPS", 1000);
    let batch_size = env_or("BENCH_BATCH_SIZE", 64);
    let unbatched = ApiOptions { subprocess: true, batch_size: Some(1), max_in_flight: Some(32), ..Default::default() };
    let batched = ApiOptions { subprocess: true, batch_size: Some(batch_size), max_in_flight: Some(32), ..Default::default() };
    let mut stack = MoneyStack::start("bench_api", unbatched.clone()).await?;

    // source wallets funded through the API (card cash-in), one target
    let mut sources = Vec::new();
    for _ in 0..sources_n {
        let (w, _) = stack.wallet().await;
        stack.fund(&w, &format!("{}.00", (2 * n + paced_n) / sources_n / 100 + 10)).await;
        sources.push(w);
    }
    let (target, _) = stack.wallet().await;

    // an anvil account as a dApp user for the raw rate, funded through the API too
    let raw_sender = stack.chain.account(5);
    let user = stack
        .post("/api/v1/public/users", json!({"name": "Raw Sender", "phoneNumber": "+34611111111", "country": "ES"}))
        .await
        .ok(201)
        .clone();
    let w = stack
        .post("/api/v1/public/wallets", json!({"userId": user["id"], "dltAddress": format!("{:#x}", raw_sender.address())}))
        .await
        .ok(201)
        .clone();
    let raw_wallet = w["walletId"].as_str().or(w["id"].as_str()).context("wallet id")?.to_owned();
    stack.fund(&raw_wallet, &format!("{}.00", n / 100 + 10)).await;

    println!("== one chain, one platform signer; {n} transfers per run, {concurrency} requests in flight, {sources_n} source wallets ==");
    println!("== raw EmToken transfers straight to anvil, one signer, 32 in flight, no per-receipt polling ==");
    let raw_rate = raw_transfers(&stack.chain, &raw_sender, stack.chain.account(6).address(), n, 32).await?;
    println!("raw: {raw_rate:.0} mined tx/s");

    println!("== API, unbatched (--batch-size 1) ==");
    let unbatched_rate = saturate(&stack, &sources, &target, n, concurrency, "unbatched").await?;

    println!("== API, batched (--batch-size {batch_size}) ==");
    stack.restart_api(batched.clone()).await?;
    let pid = api_pid(&stack)?;
    let rss_before = rss_mb(pid, "VmRSS:");
    let batched_rate = saturate(&stack, &sources, &target, n, concurrency, "batched").await?;
    let rss_after = rss_mb(pid, "VmRSS:");

    let paced_rate = (batched_rate / 2.0).max(1.0);
    println!("== API latency at a paced {paced_rate:.0} transfers/s (50% of the batched peak), {paced_n} requests ==");
    let paced = api_transfers(&stack, &sources, &target, paced_n, 1024, Some(paced_rate), "paced").await;
    let ids: Vec<Uuid> = paced.iter().map(|(id, _)| *id).collect();
    let (settled_at, failed) = settled(&stack, &ids).await?;
    let mut lat: Vec<f64> = paced
        .iter()
        .filter_map(|(id, at)| settled_at.get(id).map(|t| (*t - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0))
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize].max(0.0);
    println!("accepted -> SUCCESS: p50 {:.1} ms, p99 {:.1} ms ({failed} not SUCCESS)", q(0.5), q(0.99));
    println!(
        "API process RSS: {rss_before:.0} MiB before the batched run, {rss_after:.0} MiB after, {:.0} MiB now (peak {:.0} MiB)",
        rss_mb(pid, "VmRSS:"),
        rss_mb(pid, "VmHWM:")
    );
    println!("== summary ==");
    println!("raw one-signer: {raw_rate:.0} tx/s; API unbatched: {unbatched_rate:.0} ops/s; API batched: {batched_rate:.0} ops/s");
    println!("ratio unbatched / raw = {:.2}", unbatched_rate / raw_rate);
    println!("ratio batched / raw = {:.2} (target >= 3)", batched_rate / raw_rate);
    stack.kill_api().await;
    Ok(())
}
