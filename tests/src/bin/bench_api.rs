//! API benchmark: settled operations/s end to end through the REST API (request
//! accepted → movement SUCCESS: stored, signed, sent, mined, settled by the
//! indexer), unbatched (`--batch-size 1`) and batched (the default), p50/p99 of
//! that latency under a paced load at half the batched peak, the API process's
//! memory, and — on the same anvil, in the same run — the raw rate of one signer
//! sending EmToken transfers with a tight client: a window of transactions in
//! flight, no receipt polled per transaction, done when the chain's mined nonce
//! reaches the last one. Prints the ratios.
//!
//! Also, in every run (issue 21):
//! - gas per settled operation, from the receipts of the transactions the API
//!   sent (`chain_transactions`: hash and operations per transaction), batched
//!   and unbatched, against the receipt of one raw `operatorTransfer` sent by
//!   the platform key after the API stopped;
//! - the accept path: accepted transfers/s (request → operation and movements
//!   stored, durable commit, 202) against a raw sqlx client issuing the same
//!   statements one accepted transfer makes (idempotency claim, wallet rows,
//!   balance pre-check, operation, two movements, idempotency answer) in one
//!   transaction each, from as many connections as the API's pool, on the same
//!   cluster with `synchronous_commit` on.
//!
//! `--chain alastria` (or `BENCH_CHAIN=alastria`) runs everything on an
//! Alastria-shaped anvil: 3 s blocks, block gas limit 10,485,760, gas price 0,
//! pre-London (`berlin`, no base fee), the API with `--gas-mode legacy
//! --gas-price-wei 0`; it also prints the chain's gas ceiling in operations/s
//! (gas limit / 3 s ÷ gas per batched operation) and the settled rate as a
//! fraction of it.
//!
//! Run: `scripts/bench-api [--chain alastria] [--quick]` (release build). Env:
//! `BENCH_OPS` (default 3000; 300 with `--quick`), `BENCH_BATCHED_OPS` (the
//! batched run's; `BENCH_OPS`, three times that on alastria), `BENCH_CONCURRENCY` (64),
//! `BENCH_WALLETS` (128 source wallets; 64), `BENCH_TARGETS` (as many target
//! wallets), `BENCH_PACED_OPS` (1000; 100),
//! `BENCH_BATCH_SIZE` (the API's default, 64), `BENCH_PG_CONNECTIONS` (16, the
//! API's pool), `BENCH_CHAIN` (`anvil` or `alastria`), `BENCH_QUICK=1`.
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
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, U256},
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
use sqlx::{Connection, Row};
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

/// The Alastria network of seed 003: Besu, 3 s blocks, this block gas limit, gas price 0.
const ALASTRIA_BLOCK_SECS: f64 = 3.0;
const ALASTRIA_GAS_LIMIT: u64 = 10_485_760;

/// How the chain is run: `anvil` (automine, EIP-1559) or `alastria`.
#[derive(Clone, Copy, PartialEq)]
enum ChainMode {
    Anvil,
    Alastria,
}

/// `--chain <anvil|alastria>` / `--chain=…` / `BENCH_CHAIN`, and `--quick` / `BENCH_QUICK=1`.
fn parse_args() -> anyhow::Result<(ChainMode, bool)> {
    let mut chain = std::env::var("BENCH_CHAIN").unwrap_or_else(|_| "anvil".into());
    let mut quick = std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--chain" => chain = args.next().context("--chain needs a value: anvil or alastria")?,
            "--quick" => quick = true,
            _ if a.starts_with("--chain=") => chain = a["--chain=".len()..].to_owned(),
            "-h" | "--help" => {
                println!("bench_api [--chain anvil|alastria] [--quick]   (env: BENCH_CHAIN, BENCH_QUICK, BENCH_OPS, BENCH_BATCHED_OPS, BENCH_CONCURRENCY, BENCH_WALLETS, BENCH_TARGETS, BENCH_PACED_OPS, BENCH_BATCH_SIZE, BENCH_PG_CONNECTIONS)");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (bench_api [--chain anvil|alastria] [--quick])"),
        }
    }
    let mode = match chain.as_str() {
        "anvil" => ChainMode::Anvil,
        "alastria" => ChainMode::Alastria,
        other => bail!("unknown chain {other:?}: anvil or alastria"),
    };
    Ok((mode, quick))
}

/// Raw EmToken transfers from `sender` (one signer), nonces and fees set here:
/// at most `window` unmined at once, judged by the chain's mined nonce (one
/// `eth_getTransactionCount` per loop, never a receipt per transaction).
/// `legacy_price`: type-0 transactions at this gas price (a chain without a base fee).
async fn raw_transfers(
    chain: &Chain,
    sender: &PrivateKeySigner,
    to: Address,
    n: usize,
    window: usize,
    legacy_price: Option<u128>,
) -> anyhow::Result<f64> {
    let provider = Chain::signer_provider(&chain.anvil, sender);
    let token = chain.deployment.address;
    let first = provider.get_transaction_count(sender.address()).await?;
    let end = first + n as u64;
    let fees = match legacy_price {
        None => Some(provider.estimate_eip1559_fees().await?),
        Some(_) => None,
    };
    let start = Instant::now();
    let mut next = first;
    let mut mined = first;
    let mut hashes = Vec::with_capacity(n);
    while mined < end {
        let mut batch = Vec::new();
        while next < end && next < mined + window as u64 {
            let call = EmToken::transferCall { to, value: U256::from(1) };
            let mut tx = TransactionRequest::default()
                .with_from(sender.address())
                .with_to(token)
                .with_input(call.abi_encode())
                .with_nonce(next)
                .with_chain_id(chain.deployment.chain_id)
                .with_gas_limit(100_000);
            tx = match (&fees, legacy_price) {
                (Some(fees), _) => tx.with_max_fee_per_gas(fees.max_fee_per_gas * 4).with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas),
                (None, Some(price)) => tx.with_gas_price(price),
                (None, None) => unreachable!(),
            };
            batch.push(tx);
            next += 1;
        }
        // send the window's new transactions concurrently (the node orders them by nonce)
        let sent: Vec<_> = futures::stream::iter(batch.into_iter().map(|tx| {
            let provider = provider.clone();
            async move { provider.send_transaction(tx).await.map(|p| *p.tx_hash()) }
        }))
        .buffer_unordered(window.min(64))
        .collect()
        .await;
        for r in sent {
            hashes.push(r.context("sending a raw transfer")?);
        }
        mined = provider.get_transaction_count(sender.address()).latest().await?;
        if next >= end && mined < end {
            tokio::time::sleep(Duration::from_millis(if legacy_price.is_some() { 50 } else { 1 })).await;
        }
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    // all of them succeeded: the payee received exactly n
    let token = EmToken::new(token, &provider);
    let received = token.balanceOf(to).call().await?;
    if received < U256::from(n) {
        // say which ones failed and where, to tell a revert from a lost transaction
        let mut failed = Vec::new();
        for hash in &hashes {
            match provider.get_transaction_receipt(*hash).await? {
                Some(r) if r.status() => {}
                Some(r) => failed.push(format!("{hash} reverted in block {:?}", r.block_number)),
                None => failed.push(format!("{hash} has no receipt")),
            }
        }
        bail!("raw transfers: the payee received {received}, expected {n}; {} of {} failed: {}", failed.len(), hashes.len(), failed.join(", "));
    }
    Ok(rate)
}

/// Transfers through the API from `sources` to `targets` (round robin: transfer
/// `i` from source `i mod S` to target `i mod T`), `concurrency`
/// requests at once, each with its own Idempotency-Key (so the idempotency claim
/// and answer are part of every accept), each optionally paced at `rate`/s;
/// returns the accept times.
async fn api_transfers(
    stack: &MoneyStack,
    sources: &[String],
    targets: &[String],
    n: usize,
    concurrency: usize,
    rate: Option<f64>,
    label: &str,
) -> Vec<(Uuid, DateTime<Utc>)> {
    let start = tokio::time::Instant::now();
    let run = Uuid::now_v7().simple().to_string();
    futures::stream::iter(0..n)
        .map(|i| {
            let from = sources[i % sources.len()].clone();
            let target = targets[i % targets.len()].clone();
            let key = format!("{label}-{run}-{i}");
            async move {
                if let Some(rate) = rate {
                    tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
                }
                let r = stack
                    .post_key(
                        &format!("/api/v1/public/wallets/{from}/transfer"),
                        json!({"amount": "0.01", "concept": format!("{label} {i}"), "targetWalletId": target}),
                        &key,
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
    // Only the movements still PENDING are asked again, every 10 ms: asking all of
    // them every few ms kept a Postgres core busy and slowed the settlement it
    // measures (the settle times come from `updated_at`, not from this loop).
    let mut pending: Vec<Uuid> = ids.to_vec();
    while !pending.is_empty() {
        let done: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM movements WHERE id = ANY($1) AND status <> 'PENDING'")
            .bind(&pending)
            .fetch_all(&stack.pool)
            .await?;
        if !done.is_empty() {
            let done: std::collections::HashSet<Uuid> = done.into_iter().collect();
            pending.retain(|id| !done.contains(id));
            continue;
        }
        if start.elapsed() > Duration::from_secs(900) {
            bail!("only {} of {} transfers settled in 15 minutes", ids.len() - pending.len(), ids.len());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rows: Vec<(Uuid, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT id, status, updated_at FROM movements WHERE id = ANY($1)").bind(ids).fetch_all(&stack.pool).await?;
    let failed = rows.iter().filter(|(_, s, _)| s != "SUCCESS").count();
    Ok((rows.into_iter().map(|(id, _, t)| (id, t)).collect(), failed))
}

/// One closed-loop run.
struct Saturated {
    /// settled operations/s (first request → last SUCCESS)
    settled_rate: f64,
    /// accepted operations/s (first request → last 202)
    accept_rate: f64,
    /// the TRANSFER_OUT movements
    ids: Vec<Uuid>,
}

async fn saturate(stack: &MoneyStack, sources: &[String], targets: &[String], n: usize, concurrency: usize, label: &str) -> anyhow::Result<Saturated> {
    let start = Instant::now();
    let accepted = api_transfers(stack, sources, targets, n, concurrency, None, label).await;
    let accepted_in = start.elapsed().as_secs_f64();
    let ids: Vec<Uuid> = accepted.iter().map(|(id, _)| *id).collect();
    let (_, failed) = settled(stack, &ids).await?;
    let total = start.elapsed().as_secs_f64();
    let rate = n as f64 / total;
    let accept_rate = n as f64 / accepted_in;
    println!(
        "{label}: accepted {n} in {accepted_in:.2} s ({accept_rate:.0} accepted ops/s), all settled in {total:.2} s ({failed} not SUCCESS): {rate:.0} settled ops/s"
    );
    if failed > 0 {
        bail!("{failed} {label} transfers did not reach SUCCESS");
    }
    Ok(Saturated { settled_rate: rate, accept_rate, ids })
}

/// Gas of the transactions that settled some operations.
struct Gas {
    txs: usize,
    ops: i64,
    gas: u128,
}

impl Gas {
    fn per_op(&self) -> f64 {
        self.gas as f64 / self.ops.max(1) as f64
    }
}

/// The mined transactions that carried the operations of these movements, with
/// their receipts' `gasUsed` (`chain_transactions.operations` operations each).
async fn gas_of(stack: &MoneyStack, movement_ids: &[Uuid]) -> anyhow::Result<Gas> {
    // the submitter records a transaction MINED when it reads its receipt, which
    // may come after the indexer settled the movements: wait for all of them
    let start = Instant::now();
    loop {
        let (recorded,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM movements m JOIN operations o ON o.id = m.operation_id
              WHERE m.id = ANY($1) AND EXISTS (SELECT 1 FROM chain_transactions t WHERE t.tx_hash = o.tx_hash AND t.status = 'MINED')",
        )
        .bind(movement_ids)
        .fetch_one(&stack.pool)
        .await?;
        if recorded as usize == movement_ids.len() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("only {recorded} of {} operations have a transaction recorded MINED after 60 s", movement_ids.len());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rows: Vec<(String, i32)> = sqlx::query_as(
        "SELECT DISTINCT ON (t.tx_hash) t.tx_hash, t.operations FROM chain_transactions t
          WHERE t.status = 'MINED' AND t.tx_hash IN (SELECT o.tx_hash FROM operations o JOIN movements m ON m.operation_id = o.id
                                                      WHERE m.id = ANY($1) AND o.tx_hash IS NOT NULL)",
    )
    .bind(movement_ids)
    .fetch_all(&stack.pool)
    .await?;
    if rows.is_empty() {
        bail!("no mined transaction found for these operations");
    }
    let provider = &stack.chain.provider;
    let used: Vec<anyhow::Result<u128>> = futures::stream::iter(rows.iter().map(|(hash, _)| async move {
        let hash: B256 = hash.parse()?;
        let r = provider.get_transaction_receipt(hash).await?.with_context(|| format!("no receipt for {hash}"))?;
        anyhow::ensure!(r.status(), "transaction {hash} reverted");
        Ok(r.gas_used as u128)
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    let mut gas = 0u128;
    for g in used {
        gas += g?;
    }
    Ok(Gas { txs: rows.len(), ops: rows.iter().map(|(_, n)| *n as i64).sum(), gas })
}

/// One raw `operatorTransfer` by the platform key (as the API's unbatched
/// submitter would send it), between two funded wallets: its receipt's gasUsed.
async fn lone_operator_transfer(stack: &MoneyStack, from: Address, to: Address, value: U256, legacy_price: Option<u128>) -> anyhow::Result<u64> {
    let call = EmToken::operatorTransferCall { operationId: Uuid::now_v7().to_string(), from, to, value };
    let platform = stack.chain.platform.address();
    // the nonce from the chain: the API's submitter used this key since the provider last counted
    let nonce = stack.chain.provider.get_transaction_count(platform).pending().await?;
    let mut tx = TransactionRequest::default()
        .with_from(platform)
        .with_to(stack.chain.deployment.address)
        .with_input(call.abi_encode())
        .with_nonce(nonce);
    if let Some(price) = legacy_price {
        tx = tx.with_gas_price(price);
    }
    let receipt = stack.chain.provider.send_transaction(tx).await?.get_receipt().await?;
    anyhow::ensure!(receipt.status(), "the raw operatorTransfer reverted");
    Ok(receipt.gas_used)
}

/// What the raw Postgres client needs to write what the API writes.
struct PgFacts {
    client_id: Uuid,
    chain_id: i64,
    contract: String,
    dlt_network: Option<String>,
    /// minor units of one transfer, as the API stored it
    minor: String,
}

/// Accepted transfers/s of a raw sqlx client: the statements one accepted
/// transfer runs in the API (operations/src/idempotency.rs `begin`/`complete`,
/// money.rs `debit_pair` → wallet.rs `wallet_facts`, `check_available`,
/// `insert_operation`, `insert_movement` ×2), one transaction per transfer,
/// `connections` connections at once. Returns (rate, refused by the pre-check).
async fn raw_accepts(db_url: &str, f: Arc<PgFacts>, sources: Arc<Vec<Uuid>>, targets: Arc<Vec<Uuid>>, n: usize, connections: usize) -> anyhow::Result<(f64, usize)> {
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(sqlx::PgConnection::connect(db_url).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let run = Uuid::now_v7().simple().to_string();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (f, sources, targets, next, refused, run) = (f.clone(), sources.clone(), targets.clone(), next.clone(), refused.clone(), run.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                if !raw_accept_one(&mut conn, &f, sources[i % sources.len()], targets[i % targets.len()], &format!("pg-{run}-{i}"), i).await? {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((n as f64 / start.elapsed().as_secs_f64(), refused.load(Ordering::Relaxed)))
}

/// One accepted transfer's transaction; false when the balance pre-check refused it.
async fn raw_accept_one(conn: &mut sqlx::PgConnection, f: &PgFacts, source_id: Uuid, target_id: Uuid, key: &str, i: usize) -> anyhow::Result<bool> {
    let endpoint = format!("POST /api/v1/public/wallets/{source_id}/transfer");
    let raw_body = serde_json::to_vec(&json!({"amount": "0.01", "concept": format!("pg {i}"), "targetWalletId": target_id}))?;
    let hash = emledger_operations::idempotency::request_hash(&endpoint, &raw_body);
    let mut tx = conn.begin().await?;
    // idempotency.rs begin
    type Claimed = (Option<bool>, bool, Option<Vec<u8>>, Option<i16>, Option<serde_json::Value>);
    let (free, claimed, ..): Claimed = sqlx::query_as(emledger_operations::idempotency::CLAIM_SQL)
    .bind(f.client_id)
    .bind(key)
    .bind(&endpoint)
    .bind(&hash)
    .fetch_one(&mut *tx)
    .await?;
    anyhow::ensure!(free == Some(true), "idempotency key {key} in flight or answered");
    anyhow::ensure!(claimed, "idempotency key {key} taken");
    // money.rs debit_pair: wallet.rs wallet_facts (source locked, then target), check_available
    let facts = |lock: bool| {
        format!(
            "SELECT w.id, w.user_id, w.dlt_address, w.status, w.iban, COALESCE(w.currency, 'EUR') AS currency, w.compliance_status,
                    u.status AS user_status
             FROM wallets w JOIN users u ON u.id = w.user_id WHERE w.id = $1 AND w.client_id = $2{}",
            if lock { " FOR NO KEY UPDATE OF w" } else { "" }
        )
    };
    let source = sqlx::query(&facts(true)).bind(source_id).bind(f.client_id).fetch_one(&mut *tx).await?;
    let target = sqlx::query(&facts(false)).bind(target_id).bind(f.client_id).fetch_one(&mut *tx).await?;
    let (src_addr, src_user): (String, Uuid) = (source.try_get("dlt_address")?, source.try_get("user_id")?);
    let (dst_addr, dst_user): (String, Uuid) = (target.try_get("dlt_address")?, target.try_get("user_id")?);
    let (enough, _spendable): (bool, String) = sqlx::query_as(
        "WITH a AS (
            SELECT COALESCE((SELECT available FROM balances WHERE chain_id = $1 AND contract = $2 AND address = $3), 0)
                 - COALESCE((SELECT sum(amount) FROM movements
                              WHERE owner_address = $3 AND status = 'PENDING' AND operation_id IS NOT NULL
                                AND (type = 'LOCK' OR (type = 'TRANSFER_OUT' AND hold_operation_id IS NULL))), 0) AS s)
         SELECT s >= $4::numeric, s::text FROM a",
    )
    .bind(f.chain_id)
    .bind(&f.contract)
    .bind(&src_addr)
    .bind(&f.minor)
    .fetch_one(&mut *tx)
    .await?;
    if !enough {
        tx.rollback().await?;
        return Ok(false);
    }
    // transfer.rs: the operation (with its calldata) and two PENDING movements
    let op_id = Uuid::now_v7();
    let chain_op = op_id.to_string();
    let calldata = EmToken::operatorTransferCall {
        operationId: chain_op.clone(),
        from: src_addr.parse()?,
        to: dst_addr.parse()?,
        value: f.minor.parse::<U256>()?,
    }
    .abi_encode();
    sqlx::query(
        "INSERT INTO operations (id, client_id, kind, chain_operation_id, chain_id, target, calldata, debit_address,
                                 debit_amount, wallet_id, hold_id, payout_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric, $10, $11, $12)",
    )
    .bind(op_id)
    .bind(f.client_id)
    .bind("TRANSFER")
    .bind(&chain_op)
    .bind(f.chain_id)
    .bind(&f.contract)
    .bind(&calldata)
    .bind(Some(&src_addr))
    .bind(&f.minor)
    .bind(Some(source_id))
    .bind(None::<Uuid>)
    .bind(None::<Uuid>)
    .execute(&mut *tx)
    .await?;
    let (out_id, in_id) = (Uuid::now_v7(), Uuid::now_v7());
    let concept = format!("pg {i}");
    // money.rs insert_movements: both in one statement
    sqlx::query(
        "INSERT INTO movements (id, client_id, type, status, amount, concept, owner_address, owner_wallet_id,
                                origin_wallet_id, target_wallet_id, origin_user_id, target_user_id, origin_dlt_address,
                                target_dlt_address, wallet_id, user_id, dlt_network, operation_id, chain_operation_id,
                                hold_operation_id, chain_id, payer_name)
         VALUES ($1, $3, 'TRANSFER_OUT', 'PENDING', $4::numeric, $5, $6, $8, $8, $9, $10, $11, $6, $7, $8, $10, $12, $13, $14, NULL, $15, NULL),
                ($2, $3, 'TRANSFER_IN', 'PENDING', $4::numeric, $5, $7, $9, $8, $9, $10, $11, $6, $7, $9, $11, $12, $13, $14, NULL, $15, NULL)",
    )
    .bind(out_id)
    .bind(in_id)
    .bind(f.client_id)
    .bind(&f.minor)
    .bind(Some(&concept))
    .bind(&src_addr)
    .bind(&dst_addr)
    .bind(source_id)
    .bind(target_id)
    .bind(src_user)
    .bind(dst_user)
    .bind(&f.dlt_network)
    .bind(op_id)
    .bind(&chain_op)
    .bind(f.chain_id)
    .execute(&mut *tx)
    .await?;
    // idempotency.rs complete: the answer the API would render
    let answer = json!({
        "_links": {"self": {"href": format!("/api/v1/public/wallets/{source_id}/movements/{out_id}")},
                   "operation": {"href": format!("/api/v1/public/operations/{op_id}")}},
        "apiOperationId": op_id, "movementId": out_id, "targetMovementId": in_id, "status": "PENDING",
        "amount": "0.01", "concept": concept, "walletId": source_id, "targetWalletId": target_id,
    });
    sqlx::query("UPDATE api_idempotency SET status_code = $3, response = $4 WHERE client_id = $1 AND key = $2")
        .bind(f.client_id)
        .bind(key)
        .bind(202i16)
        .bind(&answer)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
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
    let (mode, quick) = parse_args()?;
    let alastria = mode == ChainMode::Alastria;
    let n = env_or("BENCH_OPS", if quick { 300 } else { 3000 });
    let concurrency = env_or("BENCH_CONCURRENCY", 64);
    // Many distinct payers and payees, as on a real platform: a batch touching a
    // few accounts again and again pays warm storage and would understate gas.
    let sources_n = env_or("BENCH_WALLETS", if quick { 64 } else { 128 }).max(1);
    let targets_n = env_or("BENCH_TARGETS", sources_n).max(1);
    let paced_n = env_or("BENCH_PACED_OPS", if quick { 100 } else { 1000 });
    // On the gas-limited chain the batched run settles at the pace of blocks: the
    // wait for its first block and its last block's settlement are fixed costs,
    // so it runs long enough (~20 blocks) for them to weigh little.
    let batched_n = env_or("BENCH_BATCHED_OPS", if alastria && !quick { 3 * n } else { n });
    let batch_size = env_or("BENCH_BATCH_SIZE", 64);
    let pg_connections = env_or("BENCH_PG_CONNECTIONS", 16).max(1);
    // On the gas-limited chain a window of 32 lone transactions is ~10 per 3 s
    // block: enough of them in flight to fill blocks, so gas is what limits.
    let lone_window = if alastria { 512 } else { 32 };
    let legacy_price = alastria.then_some(0u128);
    let chain_options = |o: ApiOptions| -> ApiOptions {
        if !alastria {
            return o;
        }
        ApiOptions {
            anvil_args: [
                "--block-time",
                "3",
                "--gas-limit",
                &ALASTRIA_GAS_LIMIT.to_string(),
                "--gas-price",
                "0",
                "--base-fee",
                "0",
                "--hardfork",
                "berlin",
            ]
            .map(String::from)
            .to_vec(),
            gas_mode: Some("legacy".into()),
            gas_price_wei: Some(0),
            ..o
        }
    };
    let unbatched = chain_options(ApiOptions { subprocess: true, batch_size: Some(1), max_in_flight: Some(lone_window), ..Default::default() });
    let batched = chain_options(ApiOptions { subprocess: true, batch_size: Some(batch_size), max_in_flight: Some(32), ..Default::default() });
    let mut stack = MoneyStack::start("bench_api", unbatched.clone()).await?;
    let gas_limit = stack
        .chain
        .provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .context("latest block")?
        .header
        .gas_limit;
    if alastria {
        anyhow::ensure!(gas_limit == ALASTRIA_GAS_LIMIT, "the chain's block gas limit is {gas_limit}, not {ALASTRIA_GAS_LIMIT}");
    }

    // source wallets and one target, funded through the API (card cash-ins, at once)
    let mut sources = Vec::new();
    let mut source_addrs = Vec::new();
    for _ in 0..sources_n {
        let (w, a) = stack.wallet().await;
        sources.push(w);
        source_addrs.push(a);
    }
    let mut targets = Vec::new();
    let mut target_addrs = Vec::new();
    for _ in 0..targets_n {
        let (w, a) = stack.wallet().await;
        targets.push(w);
        target_addrs.push(a);
    }
    // the unbatched and raw Postgres runs take n each, the batched one batched_n, the paced one paced_n
    let each = format!("{}.00", (2 * n + batched_n + paced_n) / sources_n / 100 + 10);
    futures::future::join_all(sources.iter().map(|w| stack.fund(w, &each))).await;

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

    let chain_desc = if alastria {
        format!("Alastria-shaped anvil: {ALASTRIA_BLOCK_SECS} s blocks, block gas limit {gas_limit}, gas price 0, berlin (legacy transactions)")
    } else {
        format!("anvil, automine, EIP-1559, block gas limit {gas_limit}")
    };
    println!(
        "== {chain_desc}; one platform signer; {n} transfers per run ({batched_n} batched), {concurrency} requests in flight, {sources_n} source and {targets_n} target wallets =="
    );
    if sources_n.min(targets_n) < batch_size {
        println!(
            "note: fewer source or target wallets ({sources_n}, {targets_n}) than operations in a batch ({batch_size}): \
             batched operations touch the same accounts again (warm storage), so gas per batched operation is understated"
        );
    }
    println!("== raw EmToken transfers straight to anvil, one signer, {lone_window} in flight, no per-receipt polling ==");
    let raw_rate = raw_transfers(&stack.chain, &raw_sender, stack.chain.account(6).address(), n, lone_window, legacy_price).await?;
    println!("raw: {raw_rate:.0} mined tx/s");

    println!("== API, unbatched (--batch-size 1, --max-in-flight {lone_window}) ==");
    let unb = saturate(&stack, &sources, &targets, n, concurrency, "unbatched").await?;
    let unb_gas = gas_of(&stack, &unb.ids).await?;
    println!("unbatched gas: {} transactions, {} operations, {:.0} gas per operation", unb_gas.txs, unb_gas.ops, unb_gas.per_op());

    println!("== API, batched (--batch-size {batch_size}) ==");
    stack.restart_api(batched.clone()).await?;
    let pid = api_pid(&stack)?;
    let rss_before = rss_mb(pid, "VmRSS:");
    let statements = std::env::var("BENCH_PG_STATEMENTS").is_ok_and(|v| v == "1");
    if statements {
        // needs EMLEDGER_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements"
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute(&stack.pool).await?;
        sqlx::query("SELECT pg_stat_statements_reset()").execute(&stack.pool).await?;
    }
    let bat = saturate(&stack, &sources, &targets, batched_n, concurrency, "batched").await?;
    if statements {
        let rows: Vec<(f64, i64, f64, String)> = sqlx::query_as(
            "SELECT total_exec_time + total_plan_time, calls, (total_exec_time + total_plan_time) / greatest(calls, 1),
                    left(regexp_replace(query, '\\s+', ' ', 'g'), 150)
               FROM pg_stat_statements ORDER BY 1 DESC LIMIT 25",
        )
        .fetch_all(&stack.pool)
        .await?;
        println!("== batched run: statements by total time (ms, calls, ms per call) ==");
        for (total, calls, per, q) in rows {
            println!("{total:9.0} {calls:7} {per:7.3}  {q}");
        }
    }
    let rss_after = rss_mb(pid, "VmRSS:");
    let bat_gas = gas_of(&stack, &bat.ids).await?;
    println!(
        "batched gas: {} transactions, {} operations ({:.1} per transaction), {:.0} gas per operation",
        bat_gas.txs,
        bat_gas.ops,
        bat_gas.ops as f64 / bat_gas.txs.max(1) as f64,
        bat_gas.per_op()
    );

    let paced_rate = (bat.settled_rate / 2.0).max(1.0);
    println!("== API latency at a paced {paced_rate:.0} transfers/s (50% of the batched peak), {paced_n} requests ==");
    let paced = api_transfers(&stack, &sources, &targets, paced_n, 1024, Some(paced_rate), "paced").await;
    let ids: Vec<Uuid> = paced.iter().map(|(id, _)| *id).collect();
    let (settled_at, failed) = settled(&stack, &ids).await?;
    let mut lat: Vec<f64> = paced
        .iter()
        .filter_map(|(id, at)| settled_at.get(id).map(|t| (*t - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0))
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize].max(0.0);
    let (p50, p99) = (q(0.5), q(0.99));
    println!("accepted -> SUCCESS: p50 {p50:.1} ms, p99 {p99:.1} ms ({failed} not SUCCESS)");
    println!(
        "API process RSS: {rss_before:.0} MiB before the batched run, {rss_after:.0} MiB after, {:.0} MiB now (peak {:.0} MiB)",
        rss_mb(pid, "VmRSS:"),
        rss_mb(pid, "VmHWM:")
    );
    // the API stops here: nothing else signs with the platform key nor picks up operations
    stack.kill_api().await;

    println!("== one raw operatorTransfer by the platform key (a lone operation's transaction) ==");
    let minor: String = sqlx::query_scalar("SELECT amount::text FROM movements WHERE id = $1").bind(bat.ids[0]).fetch_one(&stack.pool).await?;
    let minor = minor.split('.').next().unwrap_or("0").to_owned();
    let lone_gas = lone_operator_transfer(
        &stack,
        source_addrs[0].parse()?,
        target_addrs[0].parse()?,
        minor.parse::<U256>()?,
        legacy_price,
    )
    .await?;
    println!("lone operatorTransfer: {lone_gas} gas");

    println!("== accept path: raw sqlx client, the statements of one accepted transfer per transaction, {pg_connections} connections ==");
    let (sync_commit, fsync): (String, String) =
        sqlx::query_as("SELECT current_setting('synchronous_commit'), current_setting('fsync')").fetch_one(&stack.pool).await?;
    let dlt_network: Option<String> =
        sqlx::query_scalar("SELECT dlt_network FROM movements WHERE id = $1").bind(bat.ids[0]).fetch_one(&stack.pool).await?;
    let facts = Arc::new(PgFacts {
        client_id: stack.client_id,
        chain_id: stack.chain.deployment.chain_id as i64,
        contract: format!("{:#x}", stack.chain.deployment.address),
        dlt_network,
        minor,
    });
    let source_ids: Vec<Uuid> = sources.iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    let target_ids: Vec<Uuid> = targets.iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    let (pg_rate, pg_refused) = raw_accepts(&stack.db_url, facts, Arc::new(source_ids), Arc::new(target_ids), n, pg_connections).await?;
    println!("raw Postgres: {n} transfers stored in {:.2} s: {pg_rate:.0} accepted ops/s ({pg_refused} refused by the balance pre-check; synchronous_commit={sync_commit}, fsync={fsync})", n as f64 / pg_rate);
    if pg_refused > 0 {
        bail!("the raw client's balance pre-check refused {pg_refused} transfers: fund the wallets more");
    }

    println!("== summary ({}) ==", if alastria { "alastria" } else { "anvil" });
    println!("raw one-signer: {raw_rate:.0} tx/s; API unbatched: {:.0} ops/s; API batched: {:.0} ops/s", unb.settled_rate, bat.settled_rate);
    println!("ratio unbatched / raw = {:.2}", unb.settled_rate / raw_rate);
    println!("ratio batched / raw = {:.2} (target >= 3)", bat.settled_rate / raw_rate);
    println!(
        "gas per settled operation: batched {:.0}, unbatched (API) {:.0}, lone raw operatorTransfer {lone_gas}",
        bat_gas.per_op(),
        unb_gas.per_op()
    );
    println!("ratio batched gas per operation / lone operatorTransfer = {:.2} (lower is better; target <= 0.5)", bat_gas.per_op() / lone_gas as f64);
    if alastria {
        let gas_per_s = gas_limit as f64 / ALASTRIA_BLOCK_SECS;
        let ceiling = gas_per_s / bat_gas.per_op();
        let lone_ceiling = gas_per_s / lone_gas as f64;
        println!(
            "gas ceiling: {gas_limit} gas / {ALASTRIA_BLOCK_SECS} s = {gas_per_s:.0} gas/s; {ceiling:.0} ops/s batched (÷ {:.0} gas/op), {lone_ceiling:.0} ops/s as lone transfers (÷ {lone_gas})",
            bat_gas.per_op()
        );
        println!("ratio batched settled / gas ceiling = {:.2} (higher is better; target >= 0.8)", bat.settled_rate / ceiling);
        println!("ratio unbatched settled / lone-transfer gas ceiling = {:.2}", unb.settled_rate / lone_ceiling);
    }
    println!("accepted -> SUCCESS at 50% of the batched peak ({paced_rate:.0}/s): p50 {p50:.1} ms, p99 {p99:.1} ms");
    println!(
        "accept path: API {:.0} accepted ops/s (batched run; unbatched run {:.0}), raw Postgres {pg_rate:.0} ops/s",
        bat.accept_rate, unb.accept_rate
    );
    println!("ratio API accepted / raw Postgres = {:.2} (higher is better; target >= 0.5)", bat.accept_rate / pg_rate);
    Ok(())
}
