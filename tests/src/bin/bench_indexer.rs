//! Indexer benchmark (issue 3): cold backfill of two workloads on a fresh anvil,
//! live latency, and the same events indexed by Ponder for comparison.
//!
//! A = 50,000 events in 100 blocks; B = 50,000 events over 5,000 blocks. The
//! events come from the deployed EmToken itself (transfers, holds, executes,
//! releases), driven by the bench-only `EmTokenLoadGenerator`.
//!
//! Run: `scripts/bench-indexer` (builds, then runs this). Env: `BENCH_EVENTS`
//! (default 50000), `BENCH_SKIP_PONDER=1`, `BENCH_LIVE_TXS` (default 1000).

use std::{
    process::Command,
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use anyhow::{bail, Context};
use emledger_contracts::{deploy_em_token, toolchain, EmToken, EmTokenLoadGenerator, TokenParams};
use emledger_tests::stack::{emledger_bin, fresh_database, Chain, IndexerProcess};
use sqlx::PgPool;

struct Workload {
    name: &'static str,
    events: u64,
    blocks: u64,
}

struct Setup {
    anvil: AnvilInstance,
    provider: DynProvider,
    token: Address,
    generator: Address,
    accounts: Vec<Address>,
    deploy_block: u64,
}

async fn setup() -> anyhow::Result<Setup> {
    let anvil = Anvil::at(toolchain::anvil())
        .args(["--gas-limit", "1000000000", "--prune-history", "512"])
        .spawn();
    let platform = anvil.keys()[0].clone().into();
    let provider = Chain::signer_provider(&anvil, &platform);
    let d = deploy_em_token(&provider, &TokenParams::eur(alloy::signers::local::PrivateKeySigner::from(anvil.keys()[0].clone()).address())).await?;
    let generator = EmTokenLoadGenerator::deploy(provider.clone(), d.address).await?;
    let token = EmToken::new(d.address, provider.clone());
    for role in [token.OPERATOR_ROLE().call().await?, token.MINTER_ROLE().call().await?] {
        token.grantRole(role, *generator.address()).send().await?.get_receipt().await?;
    }
    let accounts: Vec<Address> = (1..=8).map(|i| Address::with_last_byte(0x10 + i)).collect();
    generator.fund(accounts.clone(), U256::from(1_000_000_000_000u64)).send().await?.get_receipt().await?;
    Ok(Setup { anvil, provider, token: d.address, generator: *generator.address(), accounts, deploy_block: d.block_number })
}

/// Emits `events` EmToken events spread evenly over `blocks` blocks (one tx
/// each). Nonce, fees and gas are set here so the provider adds no round
/// trips; at most 16 transactions are in flight (anvil stalls and grows when
/// thousands are pushed without back-pressure).
async fn generate(s: &Setup, events: u64, blocks: u64) -> anyhow::Result<u64> {
    let from = s.provider.get_accounts().await?[0];
    let mut nonce = s.provider.get_transaction_count(from).await?;
    let fees = s.provider.estimate_eip1559_fees().await?;
    let window: usize = std::env::var("BENCH_WINDOW").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    let mut in_flight = std::collections::VecDeque::new();
    let mut emitted = 0u64;
    let mut b = 0;
    while b < blocks || !in_flight.is_empty() {
        if b < blocks && in_flight.len() < window {
            let n = events * (b + 1) / blocks - events * b / blocks;
            let call = EmTokenLoadGenerator::generateCall { accounts: s.accounts.clone(), events: U256::from(n) };
            let tx = TransactionRequest::default()
                .with_from(from)
                .with_to(s.generator)
                .with_input(call.abi_encode())
                .with_nonce(nonce)
                .with_chain_id(31337)
                .with_gas_limit(300_000 + n * 120_000)
                .with_max_fee_per_gas(fees.max_fee_per_gas * 4)
                .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
            nonce += 1;
            b += 1;
            in_flight.push_back(*s.provider.send_transaction(tx).await?.tx_hash());
            continue;
        }
        let hash = in_flight.pop_front().expect("in flight");
        let receipt = loop {
            if let Some(r) = s.provider.get_transaction_receipt(hash).await? {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        if !receipt.status() {
            bail!("benchmark transaction {hash} reverted");
        }
        emitted += receipt.inner.logs().iter().filter(|l| l.address() == s.token).count() as u64;
    }
    Ok(emitted)
}

fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn cursor(pool: &PgPool) -> anyhow::Result<u64> {
    let (c,): (i64,) = sqlx::query_as("SELECT block_number FROM chain_cursor").fetch_one(pool).await?;
    Ok(c.max(0) as u64)
}

async fn record(pool: &PgPool, s: &Setup) -> anyhow::Result<()> {
    let parent = s.provider.get_block_by_number((s.deploy_block - 1).into()).await?.context("parent")?.header.hash;
    sqlx::query(
        "INSERT INTO chain_cursor (chain_id, contract, deploy_block, block_number, block_hash, decimals)
         VALUES (31337, $1, $2, $3, $4, 2)",
    )
    .bind(format!("{:#x}", s.token))
    .bind(s.deploy_block as i64)
    .bind(s.deploy_block as i64 - 1)
    .bind(format!("{parent:#x}"))
    .execute(pool)
    .await?;
    Ok(())
}

struct Backfill {
    seconds: f64,
    rss_mb: f64,
}

/// Cold backfill: from process start until the cursor (committed with the movement rows) reaches the head.
async fn backfill(s: &Setup, db_name: &str) -> anyhow::Result<(Backfill, IndexerProcess, PgPool)> {
    let (pool, url) = fresh_database(db_name).await?;
    record(&pool, s).await?;
    let head = s.provider.get_block_number().await?;
    let start = Instant::now();
    let indexer = IndexerProcess::spawn(&s.anvil.endpoint(), &url, s.token, &["--ws-url", &s.anvil.ws_endpoint()])?;
    let pid = indexer.child.id();
    let mut rss = 0.0f64;
    loop {
        rss = rss.max(peak_rss_mb(pid).unwrap_or(0.0));
        if cursor(&pool).await? >= head {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            bail!("backfill did not finish in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    rss = rss.max(peak_rss_mb(pid).unwrap_or(0.0));
    Ok((Backfill { seconds, rss_mb: rss }, indexer, pool))
}

/// Ponder on the same chain and Postgres server; None when skipped or unavailable.
fn ponder(s: &Setup, events: u64, end_block: u64, database_url: &str) -> anyhow::Result<Option<serde_json::Value>> {
    if std::env::var("BENCH_SKIP_PONDER").is_ok() {
        return Ok(None);
    }
    let root = toolchain::project_root();
    let runner = root.join("bench/ponder/run.mjs");
    if !runner.exists() {
        eprintln!("(no bench/ponder/run.mjs: skipping Ponder)");
        return Ok(None);
    }
    let out = Command::new("node")
        .arg(&runner)
        .current_dir(root.join("bench/ponder"))
        .env("PONDER_RPC_URL", s.anvil.endpoint())
        .env("PONDER_CHAIN_ID", "31337")
        .env("EMTOKEN_ADDRESS", format!("{:#x}", s.token))
        .env("EMTOKEN_START_BLOCK", s.deploy_block.to_string())
        .env("EMTOKEN_END_BLOCK", end_block.to_string())
        .env("EXPECTED_EVENTS", events.to_string())
        .env("DATABASE_URL", database_url)
        .env("DATABASE_SCHEMA", "ponder_bench")
        .env("PONDER_TELEMETRY_DISABLED", "true")
        .output()
        .context("running node bench/ponder/run.mjs")?;
    if !out.status.success() {
        eprintln!("Ponder run failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        return Ok(None);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).context("no JSON from the Ponder runner")?;
    Ok(Some(serde_json::from_str(line)?))
}

async fn live_latency(s: &Setup, pool: &PgPool, n: usize) -> anyhow::Result<(f64, f64)> {
    let from = s.provider.get_accounts().await?[0];
    let mut nonce = s.provider.get_transaction_count(from).await?;
    let fees = s.provider.estimate_eip1559_fees().await?;
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let call = EmToken::mintCall {
            operationId: format!("live-{i}"),
            to: s.accounts[i % s.accounts.len()],
            value: U256::from(1),
        };
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_to(s.token)
            .with_input(call.abi_encode())
            .with_nonce(nonce)
            .with_chain_id(31337)
            .with_gas_limit(500_000)
            .with_max_fee_per_gas(fees.max_fee_per_gas * 4)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        nonce += 1;
        let hash = *s.provider.send_transaction(tx).await?.tx_hash();
        loop {
            if s.provider.get_transaction_receipt(hash).await?.is_some() {
                break;
            }
        }
        let mined = Instant::now();
        let tx = format!("{hash:#x}");
        loop {
            let found: Option<(i64,)> =
                sqlx::query_as("SELECT 1::bigint FROM movements WHERE tx_hash = $1 LIMIT 1").bind(&tx).fetch_optional(pool).await?;
            if found.is_some() {
                break;
            }
            if mined.elapsed() > Duration::from_secs(10) {
                bail!("movement of {tx} not visible after 10 s");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        latencies.push(mined.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    Ok((p(0.5), p(0.99)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: u64 = std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let live_txs: usize = std::env::var("BENCH_LIVE_TXS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let _ = emledger_bin();
    let b_blocks: u64 = std::env::var("BENCH_B_BLOCKS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let workloads = [
        Workload { name: "A", events, blocks: 100 },
        Workload { name: "B", events, blocks: b_blocks },
    ];
    let mut summary = Vec::new();
    for w in &workloads {
        println!("== workload {}: {} events in {} blocks ==", w.name, w.events, w.blocks);
        let s = setup().await?;
        let t = Instant::now();
        let emitted = generate(&s, w.events, w.blocks).await?;
        let head = s.provider.get_block_number().await?;
        // all EmToken logs from the deployment on (the funding mints included)
        let total: u64 = s
            .provider
            .get_logs(&alloy::rpc::types::Filter::new().address(s.token).from_block(s.deploy_block).to_block(head))
            .await?
            .len() as u64;
        println!("generated {emitted} events ({total} in all) in {:.1} s", t.elapsed().as_secs_f64());

        let (ours, indexer, pool) = backfill(&s, &format!("bench_{}", w.name.to_lowercase())).await?;
        let ours_eps = total as f64 / ours.seconds;
        println!(
            "emledger: cold backfill {total} events in {:.2} s = {:.0} events/s, peak RSS {:.0} MiB",
            ours.seconds, ours_eps, ours.rss_mb
        );
        let (movements,): (i64,) = sqlx::query_as("SELECT count(*) FROM movements").fetch_one(&pool).await?;
        println!("emledger: {movements} movement rows");

        if w.name == "A" && live_txs > 0 {
            let (p50, p99) = live_latency(&s, &pool, live_txs).await?;
            println!("emledger: live latency tx mined -> movement row visible over {live_txs} txs: p50 {p50:.1} ms, p99 {p99:.1} ms");
        }
        drop(indexer);

        let (_pp, ponder_url) = fresh_database(&format!("bench_ponder_{}", w.name.to_lowercase())).await?;
        let ponder_result = ponder(&s, total, head, &ponder_url)?;
        match &ponder_result {
            Some(p) => {
                let p_eps = p["eventsPerSecond"].as_f64().unwrap_or(0.0);
                println!(
                    "ponder:   {} events in {:.2} s = {:.0} events/s, peak RSS {:.0} MiB",
                    p["events"], p["seconds"].as_f64().unwrap_or(0.0), p_eps, p["peakRssMb"].as_f64().unwrap_or(0.0)
                );
                println!("ratio:    emledger / ponder = {:.1}x", ours_eps / p_eps.max(1e-9));
                summary.push(format!("{}: emledger {:.0} ev/s, ponder {:.0} ev/s, ratio {:.1}x, RSS {:.0} MiB", w.name, ours_eps, p_eps, ours_eps / p_eps.max(1e-9), ours.rss_mb));
            }
            None => summary.push(format!("{}: emledger {:.0} ev/s, RSS {:.0} MiB (Ponder skipped)", w.name, ours_eps, ours.rss_mb)),
        }
    }
    println!("\n== summary ==");
    for l in summary {
        println!("{l}");
    }
    Ok(())
}
