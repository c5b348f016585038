//! The indexer end to end: a real anvil, a real Postgres, the real binary.

use std::{collections::BTreeMap, time::Duration};

use emledger_tests::{
    stack::{fresh_database, reconcile, seed, wait_for_cursor, Chain, IndexerProcess},
    workload::Workload,
};
use alloy::providers::Provider;
use rand::{rngs::StdRng, Rng, SeedableRng};
use sqlx::PgPool;

const CATCH_UP: Duration = Duration::from_secs(60);

async fn movements(pool: &PgPool) -> anyhow::Result<Vec<(String, String, String)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT type, owner_address, amount::text FROM movements ORDER BY block_number, log_index, type, owner_address",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

fn multiset(v: &[(String, String, String)]) -> BTreeMap<(String, String, String), usize> {
    let mut m = BTreeMap::new();
    for x in v {
        *m.entry(x.clone()).or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_dapp_operations_are_mirrored_exactly_once() -> anyhow::Result<()> {
    let chain = Chain::start().await?;
    let (pool, url) = fresh_database("indexer_random").await?;
    chain.record(&pool).await?;
    let seed = seed("random_dapp_operations_are_mirrored_exactly_once");
    let mut workload = Workload::new(&chain, seed);

    // the indexer runs while the workload does: live tail all the way
    let _indexer = IndexerProcess::spawn(&chain.rpc_url(), &url, chain.deployment.address, &[])?;
    workload.run(2_000).await?;
    eprintln!("operations: {:?}", workload.counts);
    wait_for_cursor(&pool, chain.block_number().await?, CATCH_UP).await?;

    let (ok, out) = reconcile(&chain.rpc_url(), &url, chain.deployment.address)?;
    assert!(ok, "reconcile found mismatches (seed {seed}):\n{out}");
    assert!(out.contains(": 0 mismatches"), "{out}");

    let indexed = multiset(&movements(&pool).await?);
    let expected = multiset(&workload.expected);
    assert_eq!(indexed, expected, "movements differ from the seed's rules (seed {seed})");

    // every chain movement sits at a unique chain position, and balances match the model
    let dupes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT tx_hash, log_index FROM movements GROUP BY tx_hash, log_index, type, owner_address HAVING count(*) > 1",
    )
    .fetch_all(&pool)
    .await?;
    assert!(dupes.is_empty(), "duplicated movements: {dupes:?}");
    for (address, gross, held) in workload.model_balances() {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT gross::text, held::text FROM balances WHERE address = $1")
                .bind(&address)
                .fetch_optional(&pool)
                .await?;
        let (g, h) = row.unwrap_or_else(|| ("0".into(), "0".into()));
        assert_eq!((g, h), (gross.to_string(), held.to_string()), "balance of {address} (seed {seed})");
    }
    Ok(())
}

/// Everything the indexer derives, id-free and in a stable order, for comparing two runs.
async fn read_model_snapshot(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    let queries = [
        "SELECT concat_ws('|', block_number, block_hash, tx_hash, log_index, name, operation_id, data::text) FROM chain_events ORDER BY block_number, log_index",
        "SELECT concat_ws('|', type, status, amount, owner_address, origin_dlt_address, target_dlt_address, chain_operation_id, hold_operation_id, tx_hash, log_index, block_number, created_at) FROM movements ORDER BY block_number, log_index, type, owner_address",
        "SELECT concat_ws('|', operation_id, issuer_dlt_address, payer_dlt_address, payee_dlt_address, notary_dlt_address, held_value, executed_value, remaining_value, status, chain_status, clearable, expiration, created_block) FROM holds ORDER BY operation_id",
        "SELECT concat_ws('|', operation_id, orderer, from_address, to_address, value, status, reason, created_block, updated_block) FROM clearable_transfers ORDER BY operation_id",
        "SELECT concat_ws('|', address, gross, held, available) FROM balances ORDER BY address",
        "SELECT concat_ws('|', kind, operator, account, authorized, block_number) FROM operator_authorizations ORDER BY kind, operator, account",
        "SELECT concat_ws('|', block_number, block_hash) FROM chain_cursor",
    ];
    let mut out = Vec::new();
    for q in queries {
        let rows: Vec<(String,)> = sqlx::query_as(q).fetch_all(pool).await?;
        out.push(format!("-- {q}"));
        out.extend(rows.into_iter().map(|(r,)| r));
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_backfill_and_live_tail_changes_nothing() -> anyhow::Result<()> {
    let chain = Chain::start().await?;
    let seed = seed("kill_9_during_backfill_and_live_tail_changes_nothing");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut workload = Workload::new(&chain, seed);
    workload.run(600).await?; // history to backfill

    let (pool_killed, url_killed) = fresh_database("indexer_killed").await?;
    chain.record(&pool_killed).await?;
    // small ranges make the backfill long enough to be interrupted many times
    let small = ["--log-range", "4", "--max-log-range", "4"];
    let mut kills = 0;
    // backfill, killed at random points
    for _ in 0..6 {
        let mut p = IndexerProcess::spawn(&chain.rpc_url(), &url_killed, chain.deployment.address, &small)?;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(150..900))).await;
        p.kill9();
        kills += 1;
    }
    // live tail, killed at random points while new operations arrive
    for _ in 0..6 {
        let mut p = IndexerProcess::spawn(&chain.rpc_url(), &url_killed, chain.deployment.address, &small)?;
        workload.run(rng.gen_range(20..60)).await?;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..300))).await;
        p.kill9();
        kills += 1;
    }
    assert!(kills >= 10);
    let head = chain.block_number().await?;
    let _final_run = IndexerProcess::spawn(&chain.rpc_url(), &url_killed, chain.deployment.address, &[])?;
    wait_for_cursor(&pool_killed, head, CATCH_UP).await?;

    // the same chain indexed once, without interruption
    let (pool_clean, url_clean) = fresh_database("indexer_clean").await?;
    chain.record(&pool_clean).await?;
    let _clean = IndexerProcess::spawn(&chain.rpc_url(), &url_clean, chain.deployment.address, &[])?;
    wait_for_cursor(&pool_clean, head, CATCH_UP).await?;

    let a = read_model_snapshot(&pool_killed).await?;
    let b = read_model_snapshot(&pool_clean).await?;
    assert_eq!(a.len(), b.len(), "row counts differ (seed {seed})");
    for (x, y) in a.iter().zip(b.iter()) {
        assert_eq!(x, y, "read models differ (seed {seed})");
    }
    let (ok, out) = reconcile(&chain.rpc_url(), &url_killed, chain.deployment.address)?;
    assert!(ok, "{out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorgs_of_depth_1_3_and_10_leave_no_orphan() -> anyhow::Result<()> {
    let chain = Chain::start().await?;
    let (pool, url) = fresh_database("indexer_reorg").await?;
    chain.record(&pool).await?;
    let seed = seed("reorgs_of_depth_1_3_and_10_leave_no_orphan");
    let mut workload = Workload::new(&chain, seed);
    workload.run(50).await?;
    let _indexer = IndexerProcess::spawn(&chain.rpc_url(), &url, chain.deployment.address, &[])?;
    wait_for_cursor(&pool, chain.block_number().await?, CATCH_UP).await?;

    for depth in [1u64, 3, 10] {
        // a fork point, `depth` blocks of history the indexer sees, then the other branch
        let snapshot: String = chain.provider.raw_request("evm_snapshot".into(), ()).await?;
        let fork_block = chain.block_number().await?;
        let mut orphan_side = Workload::new(&chain, seed ^ depth);
        orphan_side.mint_once().await?;
        while chain.block_number().await? < fork_block + depth {
            orphan_side.run(1).await?;
        }
        wait_for_cursor(&pool, fork_block + depth, CATCH_UP).await?;
        let orphaned_before: (i64,) =
            sqlx::query_as("SELECT count(*) FROM movements WHERE block_number > $1").bind(fork_block as i64).fetch_one(&pool).await?;
        assert!(orphaned_before.0 > 0, "the orphan branch produced movements");
        let reverted: bool = chain.provider.raw_request("evm_revert".into(), (snapshot,)).await?;
        assert!(reverted);
        // the canonical branch: a different history, one block longer
        let mut canonical = Workload::new(&chain, seed.wrapping_add(depth * 7919));
        while chain.block_number().await? < fork_block + depth + 1 {
            canonical.run(1).await?;
        }
        let head = chain.block_number().await?;
        wait_for_cursor(&pool, head, CATCH_UP).await?;
        // give the indexer its chance to notice and roll back
        let mut settled = false;
        for _ in 0..200 {
            let (ok, _) = reconcile(&chain.rpc_url(), &url, chain.deployment.address)?;
            let cursor: (String,) = sqlx::query_as("SELECT block_hash FROM chain_cursor").fetch_one(&pool).await?;
            let canon = chain.provider.get_block_by_number(head.into()).await?.unwrap().header.hash;
            if ok && cursor.0 == format!("{canon:#x}") {
                settled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(settled, "after a reorg of depth {depth} the read model does not equal the chain (seed {seed})");
        // no movement may point at a transaction that is not on the canonical chain
        let positions: Vec<(String, i64)> =
            sqlx::query_as("SELECT DISTINCT tx_hash, block_number FROM movements WHERE tx_hash IS NOT NULL")
                .fetch_all(&pool)
                .await?;
        for (tx, block) in positions {
            let hash: alloy::primitives::B256 = tx.parse()?;
            let receipt = alloy::providers::Provider::get_transaction_receipt(&chain.provider, hash).await?;
            let receipt = receipt.unwrap_or_else(|| panic!("orphaned movement of tx {tx} after depth {depth} (seed {seed})"));
            assert_eq!(receipt.block_number, Some(block as u64), "movement of {tx} in a stale block");
        }
        let events: (i64,) = sqlx::query_as("SELECT count(*) FROM chain_events").fetch_one(&pool).await?;
        assert!(events.0 > 0);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_indexer_waits_and_takes_over_when_the_first_dies() -> anyhow::Result<()> {
    let chain = Chain::start().await?;
    let (pool, url) = fresh_database("indexer_takeover").await?;
    chain.record(&pool).await?;
    let seed = seed("a_second_indexer_waits_and_takes_over_when_the_first_dies");
    let mut workload = Workload::new(&chain, seed);
    workload.run(30).await?;

    let mut first = IndexerProcess::spawn(&chain.rpc_url(), &url, chain.deployment.address, &[])?;
    wait_for_cursor(&pool, chain.block_number().await?, CATCH_UP).await?;
    let mut second = IndexerProcess::spawn(&chain.rpc_url(), &url, chain.deployment.address, &[])?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // exactly one session holds the writer lock, and the standby is still alive, waiting
    let holders: (i64,) = sqlx::query_as("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        .fetch_one(&pool)
        .await?;
    let waiters: (i64,) = sqlx::query_as("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        .fetch_one(&pool)
        .await?;
    assert_eq!((holders.0, waiters.0), (1, 1), "one writer, one standby");
    assert!(second.child.try_wait()?.is_none(), "the standby must wait, not exit");

    first.kill9();
    workload.run(30).await?;
    wait_for_cursor(&pool, chain.block_number().await?, CATCH_UP).await?;
    let (ok, out) = reconcile(&chain.rpc_url(), &url, chain.deployment.address)?;
    assert!(ok, "after the takeover: {out}");
    let indexed = multiset(&movements(&pool).await?);
    assert_eq!(indexed, multiset(&workload.expected), "movements after the takeover (seed {seed})");
    second.kill9();
    Ok(())
}
