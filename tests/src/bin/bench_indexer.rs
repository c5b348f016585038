//! Indexer benchmark (issue 3, timed as issue 21 asks): cold backfill of two
//! workloads on a fresh anvil by emledger's indexer and by Ponder, both timed
//! the same way, against the node's own `eth_getLogs` rate for the same logs;
//! then live latency.
//!
//! A = 50,000 events in 100 blocks; B = 50,000 events over 5,000 blocks. The
//! events come from the deployed EmToken itself (transfers, holds, executes,
//! releases), driven by the bench-only `EmTokenLoadGenerator`. After the
//! workload 32 empty blocks are mined, so that the whole range is final for
//! both indexers (Ponder treats the newest 30 blocks of chain 31337 as
//! unfinalized).
//!
//! Each side's window runs from the start of its start-up to the last event
//! durably committed:
//! - emledger: from spawning `emledger migrate` on its empty database — then the
//!   start cursor as `emledger deploy` records it, the `emledger indexer` process — to
//!   the first poll that sees the cursor at the last event's block (the cursor is
//!   committed with the rows, `synchronous_commit` on: visible = on disk).
//!   Start-up: until the process logs that it holds the writer lock.
//! - Ponder: from spawning `ponder start` to the first poll that sees its
//!   checkpoint at that block, and then the server's WAL flushed past it (Ponder
//!   sets `synchronous_commit = off` on its sessions). Start-up: until its tables
//!   exist. See `bench/ponder/run.mjs`.
//!
//! Each workload runs `BENCH_RUNS` times (3), emledger and Ponder alternately,
//! each run on a fresh database; medians and spreads are printed.
//!
//! Run: `scripts/bench-indexer` (release build). Env: `BENCH_EVENTS` (50000),
//! `BENCH_B_BLOCKS` (5000), `BENCH_RUNS` (3), `BENCH_LIVE_TXS` (1000),
//! `BENCH_SKIP_PONDER=1`, `BENCH_WORKLOADS` (`A,B`). Nothing it starts outlives it (see `bench_common`).

#[path = "bench_common/mod.rs"]
mod bench_common;

use std::{
    io::{BufRead, Write},
    process::{ExitCode, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, TransactionRequest},
    sol_types::SolCall,
};
use anyhow::{bail, Context};
use bench_common::{kill, median_spread};
use emledger_contracts::{deploy_em_token, toolchain, EmToken, EmTokenLoadGenerator, TokenParams};
use emledger_ledger::db;
use emledger_tests::stack::{cluster, cluster_state_dir, emledger_bin, fresh_database, Chain};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

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
    let anvil = Anvil::at(toolchain::anvil()).args(["--gas-limit", "1000000000", "--prune-history", "512"]).spawn();
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
    let c: Option<(i64,)> = sqlx::query_as("SELECT block_number FROM chain_cursor").fetch_optional(pool).await?;
    Ok(c.map(|(c,)| c.max(0) as u64).unwrap_or(0))
}

/// The start cursor, as `emledger deploy` records it.
async fn record(pool: &PgPool, s: &Setup, parent: alloy::primitives::B256) -> anyhow::Result<()> {
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

// ---- the node's own rate

/// All the token's logs in `from..=to`, fetched as `ranges` block ranges in parallel; (logs, seconds).
async fn get_logs_once(provider: &DynProvider, token: Address, from: u64, to: u64, ranges: u64) -> anyhow::Result<(u64, f64)> {
    let blocks = to - from + 1;
    let t = Instant::now();
    let parts = futures::future::try_join_all((0..ranges).map(|i| {
        let (a, b) = (from + blocks * i / ranges, from + blocks * (i + 1) / ranges);
        let filter = Filter::new().address(token).from_block(a).to_block(b - 1);
        async move { provider.get_logs(&filter).await }
    }))
    .await?;
    Ok((parts.iter().map(|p| p.len() as u64).sum(), t.elapsed().as_secs_f64()))
}

/// The node's `eth_getLogs` rate for the same logs: one range and 2..16 ranges in
/// parallel, each three times; the fastest median wins. (logs/s, ranges, one-range logs/s)
async fn node_rate(rpc_url: &str, token: Address, from: u64, to: u64, expected: u64) -> anyhow::Result<(f64, u64, f64)> {
    let provider = ProviderBuilder::new().connect_http(rpc_url.parse()?).erased();
    let mut best = (0.0f64, 1u64);
    let mut single = 0.0;
    for ranges in [1u64, 2, 4, 8, 16] {
        if ranges > to - from + 1 {
            break;
        }
        let mut secs = Vec::new();
        for _ in 0..3 {
            let (n, s) = get_logs_once(&provider, token, from, to, ranges).await?;
            if n != expected {
                bail!("eth_getLogs returned {n} logs in {ranges} ranges, expected {expected}");
            }
            secs.push(s);
        }
        let rate = expected as f64 / median_spread(&secs).0;
        if ranges == 1 {
            single = rate;
        }
        if rate > best.0 {
            best = (rate, ranges);
        }
    }
    Ok((best.0, best.1, single))
}

// ---- emledger

/// An `emledger indexer` subprocess whose log is read here (start-up is over
/// when it logs that it holds the writer lock) and appended to
/// `target/test-state/bench_indexer/indexer.log`. Killed on drop.
struct Indexer {
    child: std::process::Child,
    ready_at: Arc<Mutex<Option<Instant>>>,
}

impl Indexer {
    fn spawn(rpc_url: &str, ws_url: &str, database_url: &str, token: Address) -> anyhow::Result<Self> {
        let mut child = std::process::Command::new(emledger_bin())
            .arg("--database-url")
            .arg(database_url)
            .arg("indexer")
            .arg("--rpc-url")
            .arg(rpc_url)
            .arg("--ws-url")
            .arg(ws_url)
            .arg("--contract")
            .arg(format!("{token:#x}"))
            .env("RUST_LOG", std::env::var("BENCH_INDEXER_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning emledger indexer")?;
        let ready_at = Arc::new(Mutex::new(None));
        let stderr = child.stderr.take().expect("piped stderr");
        let ready = ready_at.clone();
        let log_path = cluster_state_dir().join("indexer.log");
        std::thread::spawn(move || {
            let mut log = std::fs::OpenOptions::new().create(true).append(true).open(log_path).ok();
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("writer lock held") {
                    ready.lock().unwrap().get_or_insert_with(Instant::now);
                }
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
            }
        });
        Ok(Self { child, ready_at })
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Run {
    seconds: f64,
    startup: f64,
    rss_mb: f64,
}

/// One cold run of emledger (see the module comment for the window).
async fn emledger_run(s: &Setup, db_name: &str, end_block: u64) -> anyhow::Result<(Run, Indexer, PgPool, String)> {
    let url = cluster().context("the private cluster")?.create_database(db_name)?;
    let parent = s.provider.get_block_by_number((s.deploy_block - 1).into()).await?.context("parent")?.header.hash;
    let start = Instant::now();
    // the migrations of the binary under test, by the binary under test
    let out = tokio::process::Command::new(emledger_bin())
        .arg("--database-url")
        .arg(&url)
        .arg("migrate")
        .stdin(Stdio::null())
        .output()
        .await
        .context("emledger migrate")?;
    if !out.status.success() {
        bail!("emledger migrate failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let pool = db::connect(&url, 4).await?;
    record(&pool, s, parent).await?;
    let indexer = Indexer::spawn(&s.anvil.endpoint(), &s.anvil.ws_endpoint(), &url, s.token)?;
    let pid = indexer.child.id();
    let mut rss = 0.0f64;
    loop {
        rss = rss.max(peak_rss_mb(pid).unwrap_or(0.0));
        if cursor(&pool).await? >= end_block {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            bail!("backfill did not finish in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    rss = rss.max(peak_rss_mb(pid).unwrap_or(0.0));
    let ready = indexer.ready_at.lock().unwrap().context("the indexer never logged that it holds the writer lock")?;
    Ok((Run { seconds, startup: (ready - start).as_secs_f64(), rss_mb: rss }, indexer, pool, url))
}

// ---- Ponder

/// `node bench/ponder/run.mjs` in a process group of its own. On drop (the run
/// ended, failed or was interrupted): SIGTERM to the runner, which stops Ponder's
/// process group and exits; SIGKILL to both groups if it does not within 10 s.
struct PonderRunner {
    child: tokio::process::Child,
    /// Ponder's own process group (the runner starts it detached), as it reports it.
    ponder_group: Arc<Mutex<Option<i32>>>,
}

impl Drop for PonderRunner {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let pid = pid as i32;
            kill(pid, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                kill(-pid, libc::SIGKILL);
                let _ = self.child.start_kill();
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        if let Some(group) = *self.ponder_group.lock().unwrap() {
            // normally gone already: the runner stops Ponder before it exits
            if kill(-group, 0) {
                kill(-group, libc::SIGKILL);
            }
        }
    }
}

/// Ponder on the same chain and Postgres server; None when skipped.
async fn ponder(s: &Setup, events: u64, end_block: u64, database_url: &str) -> anyhow::Result<Option<serde_json::Value>> {
    if std::env::var("BENCH_SKIP_PONDER").is_ok_and(|v| !v.is_empty() && v != "0") {
        return Ok(None);
    }
    let root = toolchain::project_root();
    let runner = root.join("bench/ponder/run.mjs");
    if !runner.exists() {
        eprintln!("(no bench/ponder/run.mjs: skipping Ponder)");
        return Ok(None);
    }
    let child = tokio::process::Command::new("node")
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
        // poll as often as the emledger side does
        .env("PONDER_BENCH_POLL_MS", "5")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running node bench/ponder/run.mjs")?;
    let mut runner = PonderRunner { child, ponder_group: Arc::new(Mutex::new(None)) };
    // the runner's stderr (its notes, Ponder's log on failure) is shown, not thrown away
    let stderr = runner.child.stderr.take().expect("piped stderr");
    let group = runner.ponder_group.clone();
    let stderr_task = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(pid) = line.strip_prefix("ponder bench: ponder pid ").and_then(|r| r.split_whitespace().next()) {
                *group.lock().unwrap() = pid.parse().ok();
                continue;
            }
            eprintln!("  | {line}");
        }
    });
    let mut stdout = String::new();
    runner.child.stdout.take().expect("piped stdout").read_to_string(&mut stdout).await?;
    let status = runner.child.wait().await?;
    let _ = stderr_task.await;
    if !status.success() {
        bail!("the Ponder runner failed ({status}); its log is above");
    }
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).context("no JSON from the Ponder runner")?;
    Ok(Some(serde_json::from_str(line)?))
}

// ---- Postgres alone

/// The tables emledger's indexer fills while backfilling.
const READ_MODEL_TABLES: [&str; 6] = ["chain_events", "movements", "balances", "holds", "clearable_transfers", "chain_blocks"];

/// Postgres' own ceiling for writing this read model: the rows the indexer
/// wrote, inserted server-side (`INSERT … SELECT`: no client, no network, no
/// parsing, no decoding) into empty copies of the same tables with the same
/// indexes, in one durable transaction. No indexer that writes these rows can
/// beat it on this cluster. Returns (seconds, rows).
async fn postgres_ceiling(pool: &PgPool) -> anyhow::Result<(f64, i64)> {
    let mut conn = pool.acquire().await?;
    for t in READ_MODEL_TABLES {
        sqlx::query(&format!("DROP TABLE IF EXISTS bench_copy_{t}")).execute(&mut *conn).await?;
        sqlx::query(&format!("CREATE TABLE bench_copy_{t} (LIKE {t} INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING CONSTRAINTS)"))
            .execute(&mut *conn)
            .await?;
    }
    let (sync_commit,): (String,) = sqlx::query_as("SELECT current_setting('synchronous_commit')").fetch_one(&mut *conn).await?;
    anyhow::ensure!(sync_commit == "on", "synchronous_commit is {sync_commit}: the ceiling would not be durable");
    let started = Instant::now();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let mut rows = 0;
    for t in READ_MODEL_TABLES {
        rows += sqlx::query(&format!("INSERT INTO bench_copy_{t} SELECT * FROM {t}")).execute(&mut *tx).await?.rows_affected() as i64;
    }
    tx.commit().await?;
    let secs = started.elapsed().as_secs_f64();
    for t in READ_MODEL_TABLES {
        sqlx::query(&format!("DROP TABLE bench_copy_{t}")).execute(&mut *conn).await?;
    }
    Ok((secs, rows))
}

// ---- live

async fn live_latency(s: &Setup, pool: &PgPool, n: usize) -> anyhow::Result<(f64, f64)> {
    let from = s.provider.get_accounts().await?[0];
    let mut nonce = s.provider.get_transaction_count(from).await?;
    let fees = s.provider.estimate_eip1559_fees().await?;
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let call = EmToken::mintCall { operationId: format!("live-{i}"), to: s.accounts[i % s.accounts.len()], value: U256::from(1) };
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
                // by the (chain_id, tx_hash, …) index: a poll that scanned the table
                // (57k rows after workload A) would add its own duration to every figure
                sqlx::query_as("SELECT 1::bigint FROM movements WHERE chain_id = 31337 AND tx_hash = $1 LIMIT 1")
                    .bind(&tx)
                    .fetch_optional(pool)
                    .await?;
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

// ---- main

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn fmt_stats(label: &str, xs: &[f64], unit: &str) -> String {
    let (median, min, max, spread) = median_spread(xs);
    let digits = if median >= 100.0 { 0 } else { 2 };
    format!("{label} median {median:.digits$} {unit} (min {min:.digits$}, max {max:.digits$}, spread {:.0}%)", spread * 100.0)
}

async fn bench() -> anyhow::Result<()> {
    let events = env_u64("BENCH_EVENTS", 50_000);
    let live_txs = env_u64("BENCH_LIVE_TXS", 1_000) as usize;
    let b_blocks = env_u64("BENCH_B_BLOCKS", 5_000);
    let runs = env_u64("BENCH_RUNS", 3).max(1);
    emledger_ledger::rpc::install_tls_provider();
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("({profile} build; {runs} runs per workload; emledger {})", emledger_bin().display());
    // the private cluster (durable: fsync and synchronous_commit on)
    fresh_database("bench_setup").await?;
    let only = std::env::var("BENCH_WORKLOADS").unwrap_or_else(|_| "A,B".into());
    let workloads: Vec<Workload> = [Workload { name: "A", events, blocks: 100.min(events.max(1)) }, Workload { name: "B", events, blocks: b_blocks }]
        .into_iter()
        .filter(|w| only.split(',').any(|n| n.trim().eq_ignore_ascii_case(w.name)))
        .collect();
    let mut summary = Vec::new();
    for w in &workloads {
        println!("== workload {}: {} events in {} blocks ==", w.name, w.events, w.blocks);
        let s = setup().await?;
        let t = Instant::now();
        let emitted = generate(&s, w.events, w.blocks).await?;
        let end_block = s.provider.get_block_number().await?;
        // make the whole range final for both indexers
        s.provider.raw_request::<_, serde_json::Value>("anvil_mine".into(), ("0x20",)).await?;
        // all EmToken logs from the deployment on (the funding mints included)
        let total: u64 = s
            .provider
            .get_logs(&Filter::new().address(s.token).from_block(s.deploy_block).to_block(end_block))
            .await?
            .len() as u64;
        println!("generated {emitted} events ({total} in all, blocks {}..={end_block}) in {:.1} s", s.deploy_block, t.elapsed().as_secs_f64());

        let (mut node, mut ours, mut ours_startup, mut ours_rss) = (vec![], vec![], vec![], vec![]);
        let (mut theirs, mut theirs_startup, mut theirs_rss) = (vec![], vec![], vec![]);
        let (mut ours_after, mut theirs_after) = (vec![], vec![]);
        let mut pg = vec![];
        let mut last_pool = None;
        for r in 1..=runs {
            let (rate, ranges, single) = node_rate(&s.anvil.endpoint(), s.token, s.deploy_block, end_block, total).await?;
            println!("run {r}/{runs} node:     eth_getLogs of the same {total} logs: {rate:.0} logs/s ({ranges} ranges in parallel; one range: {single:.0} logs/s)");
            node.push(rate);

            let (run, indexer, pool, url) = emledger_run(&s, &format!("bench_{}", w.name.to_lowercase()), end_block).await?;
            drop(indexer);
            println!(
                "run {r}/{runs} emledger: {total} events in {:.2} s = {:.0} events/s; start-up {:.2} s (then {:.0} events/s); peak RSS {:.0} MiB",
                run.seconds,
                total as f64 / run.seconds,
                run.startup,
                total as f64 / (run.seconds - run.startup),
                run.rss_mb
            );
            ours_after.push(total as f64 / (run.seconds - run.startup));
            ours.push(total as f64 / run.seconds);
            ours_startup.push(run.startup);
            ours_rss.push(run.rss_mb);
            let (pg_secs, pg_rows) = postgres_ceiling(&pool).await?;
            println!(
                "run {r}/{runs} postgres: the same {pg_rows} read-model rows inserted server-side into empty copies of its tables (indexes included), \
                 one durable transaction: {pg_secs:.2} s = {:.0} events/s, {:.2} of the node's rate",
                total as f64 / pg_secs,
                total as f64 / pg_secs / rate
            );
            pg.push(total as f64 / pg_secs);
            let (movements,): (i64,) = sqlx::query_as("SELECT count(*) FROM movements").fetch_one(&pool).await?;
            if r == runs {
                println!("emledger: {movements} movement rows");
            }
            last_pool = Some((pool, url));

            let ponder_url = cluster().context("cluster")?.create_database(&format!("bench_ponder_{}", w.name.to_lowercase()))?;
            if let Some(p) = ponder(&s, total, end_block, &ponder_url).await? {
                let secs = p["seconds"].as_f64().unwrap_or(f64::NAN);
                let startup = p["startupSeconds"].as_f64().unwrap_or(f64::NAN);
                println!(
                    "run {r}/{runs} ponder:   {total} events in {secs:.2} s = {:.0} events/s; start-up {startup:.2} s (then {:.0} events/s); \
                     durable {:.3} s after visible; peak RSS {:.0} MiB",
                    total as f64 / secs,
                    total as f64 / (secs - startup),
                    p["flushWaitSeconds"].as_f64().unwrap_or(f64::NAN),
                    p["peakRssMb"].as_f64().unwrap_or(0.0)
                );
                theirs.push(total as f64 / secs);
                theirs_after.push(total as f64 / (secs - startup));
                theirs_startup.push(startup);
                theirs_rss.push(p["peakRssMb"].as_f64().unwrap_or(0.0));
            }
        }

        if w.name == "A" && live_txs > 0 {
            // a fresh indexer on the last run's database (already at the head)
            let (pool, url) = last_pool.take().context("no run")?;
            let _indexer = Indexer::spawn(&s.anvil.endpoint(), &s.anvil.ws_endpoint(), &url, s.token)?;
            let (p50, p99) = live_latency(&s, &pool, live_txs).await?;
            println!("emledger: live latency tx mined -> movement row visible over {live_txs} txs: p50 {p50:.1} ms, p99 {p99:.1} ms");
        }

        let w_name = w.name;
        let node_med = median_spread(&node).0;
        let ours_med = median_spread(&ours).0;
        summary.push(format!("{w_name}: {total} events in {} blocks, {runs} runs", w.blocks));
        summary.push(format!("{w_name}: {}", fmt_stats("node eth_getLogs     ", &node, "logs/s")));
        summary.push(format!("{w_name}: {}", fmt_stats("emledger             ", &ours, "events/s")));
        summary.push(format!("{w_name}: {}", fmt_stats("emledger start-up    ", &ours_startup, "s")));
        summary.push(format!("{w_name}: {}", fmt_stats("emledger w/o start-up", &ours_after, "events/s")));
        summary.push(format!("{w_name}: {}", fmt_stats("emledger peak RSS    ", &ours_rss, "MiB")));
        summary.push(format!("{w_name}: emledger / node = {:.3} (fraction of the node's eth_getLogs rate; target >= 0.5)", ours_med / node_med));
        let pg_med = median_spread(&pg).0;
        summary.push(format!("{w_name}: {}", fmt_stats("postgres alone       ", &pg, "events/s")));
        summary.push(format!(
            "{w_name}: postgres alone / node = {:.3} (the most any indexer writing this read model could reach here); emledger / postgres alone = {:.2}",
            pg_med / node_med,
            ours_med / pg_med
        ));
        if !theirs.is_empty() {
            let theirs_med = median_spread(&theirs).0;
            summary.push(format!("{w_name}: {}", fmt_stats("ponder               ", &theirs, "events/s")));
            summary.push(format!("{w_name}: {}", fmt_stats("ponder start-up      ", &theirs_startup, "s")));
            summary.push(format!("{w_name}: {}", fmt_stats("ponder w/o start-up  ", &theirs_after, "events/s")));
            summary.push(format!("{w_name}: {}", fmt_stats("ponder peak RSS      ", &theirs_rss, "MiB")));
            summary.push(format!("{w_name}: ponder / node = {:.3} (fraction of the node's eth_getLogs rate)", theirs_med / node_med));
            summary.push(format!("{w_name}: emledger / ponder = {:.1}x (median events/s, same window; > 1: emledger faster)", ours_med / theirs_med));
            summary.push(format!(
                "{w_name}: emledger / ponder without start-up = {:.1}x",
                median_spread(&ours_after).0 / median_spread(&theirs_after).0
            ));
        } else {
            summary.push(format!("{w_name}: Ponder skipped"));
        }
    }
    println!("\n== summary (window: start-up begins -> last event durably committed) ==");
    for l in summary {
        println!("{l}");
    }
    Ok(())
}

fn main() -> ExitCode {
    bench_common::run(bench())
}
