//! API benchmark (issue 5): sustained transfers/s end to end through the REST
//! API (request accepted → movement SUCCESS, i.e. stored, signed, sent, mined
//! and settled by the indexer), p50/p99 of that latency, the API process's
//! memory, and — on the same anvil — raw ERC-20 transfers/s sent straight to
//! anvil by a tight alloy client with one signer. Prints the ratio.
//!
//! Run: `scripts/bench-api`. Env: `BENCH_OPS` (default 2000), `BENCH_CONCURRENCY` (32).

#[path = "../../tests/api_stack/mod.rs"]
#[allow(dead_code, unused_imports)]
mod api_stack;

use std::{
    collections::{HashMap, VecDeque},
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

/// Raw ERC-20 transfers from `sender` (one signer), nonces and fees set here,
/// at most `window` in flight, each awaited by its receipt.
async fn raw_transfers(chain: &Chain, sender: &PrivateKeySigner, to: Address, n: usize, window: usize) -> anyhow::Result<f64> {
    let provider = Chain::signer_provider(&chain.anvil, sender);
    let token = chain.deployment.address;
    let mut nonce = provider.get_transaction_count(sender.address()).await?;
    let fees = provider.estimate_eip1559_fees().await?;
    let mut in_flight = VecDeque::new();
    let start = Instant::now();
    let mut sent = 0;
    while sent < n || !in_flight.is_empty() {
        if sent < n && in_flight.len() < window {
            let call = EmToken::transferCall { to, value: U256::from(1) };
            let tx = TransactionRequest::default()
                .with_from(sender.address())
                .with_to(token)
                .with_input(call.abi_encode())
                .with_nonce(nonce)
                .with_chain_id(chain.deployment.chain_id)
                .with_gas_limit(100_000)
                .with_max_fee_per_gas(fees.max_fee_per_gas * 4)
                .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
            nonce += 1;
            sent += 1;
            in_flight.push_back(*provider.send_transaction(tx).await?.tx_hash());
            continue;
        }
        let hash = in_flight.pop_front().expect("in flight");
        loop {
            if let Some(r) = provider.get_transaction_receipt(hash).await? {
                if !r.status() {
                    bail!("raw transfer {hash} reverted");
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env_or("BENCH_OPS", 2000);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let mut stack = MoneyStack::start("bench_api", ApiOptions { subprocess: true, ..Default::default() }).await?;
    let api_pid = match &stack.api {
        api_stack::ApiRunner::Process { child } => child.id(),
        _ => bail!("the API must run as a subprocess"),
    };

    // Wallets: A pays B. A is funded through the API (card cash-in).
    let (wallet_a, _) = stack.wallet().await;
    let (wallet_b, _) = stack.wallet().await;
    let paced_n = env_or("BENCH_PACED_OPS", 500);
    let paced_rate = env_or("BENCH_PACED_RATE", 100);
    stack.fund(&wallet_a, &format!("{}.00", n + paced_n + 10)).await;

    // An anvil account as a dApp user for the raw rate, funded through the API too.
    let raw_sender = stack.chain.account(5);
    let user = stack
        .post("/api/v1/public/users", json!({"name": "Raw Sender", "phoneNumber": "+34611111111", "country": "ES"}))
        .await
        .ok(201)
        .clone();
    let w = stack
        .post(
            "/api/v1/public/wallets",
            json!({"userId": user["id"], "dltAddress": format!("{:#x}", raw_sender.address())}),
        )
        .await
        .ok(201)
        .clone();
    let raw_wallet = w["walletId"].as_str().or(w["id"].as_str()).context("wallet id")?.to_owned();
    stack.fund(&raw_wallet, &format!("{}.00", n + 10)).await;

    let rss_before = rss_mb(api_pid, "VmRSS:");
    println!("== API transfers: {n} requests, {concurrency} concurrent ==");
    let start = Instant::now();
    let accepted: Vec<(Uuid, DateTime<Utc>)> = futures::stream::iter(0..n)
        .map(|i| {
            let stack = &stack;
            let wallet_a = wallet_a.clone();
            let wallet_b = wallet_b.clone();
            async move {
                let r = stack
                    .post(
                        &format!("/api/v1/public/wallets/{wallet_a}/transfer"),
                        json!({"amount": "1.00", "concept": format!("bench {i}"), "targetWalletId": wallet_b}),
                    )
                    .await;
                let at = Utc::now();
                let body = r.ok(202);
                (body["movementId"].as_str().unwrap().parse::<Uuid>().unwrap(), at)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let accepted_in = start.elapsed().as_secs_f64();
    let rss_mid = rss_mb(api_pid, "VmRSS:");
    let ids: Vec<Uuid> = accepted.iter().map(|(id, _)| *id).collect();
    loop {
        let (done,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM movements WHERE id = ANY($1) AND status <> 'PENDING'")
                .bind(&ids)
                .fetch_one(&stack.pool)
                .await?;
        if done as usize == n {
            break;
        }
        if start.elapsed() > Duration::from_secs(900) {
            bail!("only {done} of {n} transfers settled in 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total = start.elapsed().as_secs_f64();
    let rows: Vec<(Uuid, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT id, status, updated_at FROM movements WHERE id = ANY($1)").bind(&ids).fetch_all(&stack.pool).await?;
    let settled: HashMap<Uuid, (String, DateTime<Utc>)> = rows.into_iter().map(|(id, s, t)| (id, (s, t))).collect();
    let failed = settled.values().filter(|(s, _)| s != "SUCCESS").count();
    let mut latencies: Vec<f64> = accepted
        .iter()
        .filter_map(|(id, at)| settled.get(id).map(|(_, t)| (*t - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0))
        .collect();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize].max(0.0);
    let api_rate = n as f64 / total;
    println!("accepted {n} in {accepted_in:.2} s; all settled in {total:.2} s; {failed} not SUCCESS");
    println!(
        "API end to end (accepted -> SUCCESS): {api_rate:.0} transfers/s sustained; latency at saturation p50 {:.1} ms, p99 {:.1} ms",
        p(0.5),
        p(0.99)
    );
    println!(
        "API process RSS: {rss_before:.0} MiB before, {rss_mid:.0} MiB after accepting, {:.0} MiB at the end (peak {:.0} MiB)",
        rss_mb(api_pid, "VmRSS:"),
        rss_mb(api_pid, "VmHWM:")
    );

    // Latency below saturation: an open-loop, paced load.
    println!("== API latency at a paced {paced_rate} transfers/s ({paced_n} requests) ==");
    let paced_start = tokio::time::Instant::now();
    let paced: Vec<(Uuid, DateTime<Utc>)> = futures::stream::iter(0..paced_n)
        .map(|i| {
            let stack = &stack;
            let wallet_a = wallet_a.clone();
            let wallet_b = wallet_b.clone();
            async move {
                tokio::time::sleep_until(paced_start + Duration::from_secs_f64(i as f64 / paced_rate as f64)).await;
                let r = stack
                    .post(
                        &format!("/api/v1/public/wallets/{wallet_a}/transfer"),
                        json!({"amount": "1.00", "concept": format!("paced {i}"), "targetWalletId": wallet_b}),
                    )
                    .await;
                let at = Utc::now();
                (r.ok(202)["movementId"].as_str().unwrap().parse::<Uuid>().unwrap(), at)
            }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let paced_ids: Vec<Uuid> = paced.iter().map(|(id, _)| *id).collect();
    loop {
        let (done,): (i64,) = sqlx::query_as("SELECT count(*) FROM movements WHERE id = ANY($1) AND status <> 'PENDING'")
            .bind(&paced_ids)
            .fetch_one(&stack.pool)
            .await?;
        if done as usize == paced_n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rows: Vec<(Uuid, DateTime<Utc>)> =
        sqlx::query_as("SELECT id, updated_at FROM movements WHERE id = ANY($1)").bind(&paced_ids).fetch_all(&stack.pool).await?;
    let settled_at: HashMap<Uuid, DateTime<Utc>> = rows.into_iter().collect();
    let mut paced_lat: Vec<f64> = paced
        .iter()
        .filter_map(|(id, at)| settled_at.get(id).map(|t| (*t - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0))
        .collect();
    paced_lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |v: &Vec<f64>, q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize].max(0.0);
    println!("API accepted -> SUCCESS at {paced_rate}/s: p50 {:.1} ms, p99 {:.1} ms", q(&paced_lat, 0.5), q(&paced_lat, 0.99));

    println!("== raw ERC-20 transfers straight to anvil, one signer ==");
    let raw_rate = raw_transfers(&stack.chain, &raw_sender, stack.chain.account(6).address(), n, 32).await?;
    println!("raw: {raw_rate:.0} transfers/s");
    println!("ratio API / raw = {:.2}", api_rate / raw_rate);
    stack.kill_api().await;
    Ok(())
}
