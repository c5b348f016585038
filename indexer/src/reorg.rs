//! Rolling the read model back to a common ancestor after a reorg.
//!
//! The event log is the source of the read model: orphaned events are deleted,
//! movements they produced are deleted (or, for movements the API created,
//! put back to PENDING so the re-mined transaction settles them again), and
//! the aggregates they touched — holds, clearable transfers, balances, operator
//! authorizations — are recomputed from the events that remain.

use std::collections::HashMap;

use anyhow::Context;
use sqlx::{PgConnection, Row};

use crate::{
    apply::apply,
    decode::{from_stored, Position},
    store::{self, hex_b256, Cursor, Target},
};

/// Rolls everything after `ancestor` back, in the caller's transaction.
pub async fn rollback(conn: &mut PgConnection, target: &Target, ancestor: &Cursor) -> anyhow::Result<u64> {
    let chain_id = target.chain_id as i64;
    let contract = target.contract_hex();
    let above = ancestor.block_number as i64;

    // What the orphaned events touched.
    let touched = sqlx::query(
        "SELECT operation_id, data->>'from', data->>'to', data->>'account', data->>'operator'
         FROM chain_events WHERE chain_id = $1 AND contract = $2 AND block_number > $3",
    )
    .bind(chain_id)
    .bind(&contract)
    .bind(above)
    .fetch_all(&mut *conn)
    .await?;
    let orphaned = touched.len() as u64;
    let mut ops: Vec<String> = Vec::new();
    let mut addresses: Vec<String> = Vec::new();
    for r in &touched {
        if let Some(op) = r.get::<Option<String>, _>(0) {
            ops.push(op);
        }
        for i in 1..=2 {
            if let Some(a) = r.get::<Option<String>, _>(i) {
                addresses.push(a);
            }
        }
    }
    ops.sort();
    ops.dedup();
    // payers of touched holds (releases and executions name only the hold)
    let payers = sqlx::query(
        "SELECT DISTINCT payer_dlt_address FROM holds
         WHERE chain_id = $1 AND contract_address = $2 AND operation_id = ANY($3) AND payer_dlt_address IS NOT NULL",
    )
    .bind(chain_id)
    .bind(&contract)
    .bind(&ops)
    .fetch_all(&mut *conn)
    .await?;
    addresses.extend(payers.into_iter().map(|r| r.get::<String, _>(0)));
    addresses.retain(|a| a != "0x0000000000000000000000000000000000000000");
    addresses.sort();
    addresses.dedup();

    sqlx::query("DELETE FROM chain_events WHERE chain_id = $1 AND contract = $2 AND block_number > $3")
        .bind(chain_id)
        .bind(&contract)
        .bind(above)
        .execute(&mut *conn)
        .await?;

    // Movements: chain-originated ones go, API ones wait for their tx again.
    // (a cross-ledger transfer's movements are the relayer's: they lose their position only)
    sqlx::query(
        "DELETE FROM movements WHERE chain_id = $1 AND block_number > $2 AND operation_id IS NULL AND cross_ledger_transfer_id IS NULL",
    )
        .bind(chain_id)
        .bind(above)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE movements SET status = 'PENDING', tx_hash = NULL, log_index = NULL, block_number = NULL, updated_at = now()
         WHERE chain_id = $1 AND block_number > $2 AND operation_id IS NOT NULL",
    )
    .bind(chain_id)
    .bind(above)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE movements SET tx_hash = NULL, log_index = NULL, block_number = NULL, updated_at = now()
         WHERE chain_id = $1 AND block_number > $2 AND cross_ledger_transfer_id IS NOT NULL",
    )
    .bind(chain_id)
    .bind(above)
    .execute(&mut *conn)
    .await?;

    // Holds and clearable transfers: forget the chain's view, replay what remains.
    sqlx::query(
        "DELETE FROM holds WHERE chain_id = $1 AND contract_address = $2 AND operation_id = ANY($3) AND NOT api_created",
    )
    .bind(chain_id)
    .bind(&contract)
    .bind(&ops)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE holds SET chain_status = NULL, status = 'PENDING_DLT_CREATION', held_value = 0, executed_value = 0,
                remaining_value = 0, created_block = NULL, updated_at = now()
         WHERE chain_id = $1 AND contract_address = $2 AND operation_id = ANY($3) AND api_created",
    )
    .bind(chain_id)
    .bind(&contract)
    .bind(&ops)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM clearable_transfers WHERE chain_id = $1 AND contract_address = $2 AND operation_id = ANY($3)")
        .bind(chain_id)
        .bind(&contract)
        .bind(&ops)
        .execute(&mut *conn)
        .await?;
    let remaining = sqlx::query(
        "SELECT name, operation_id, data, block_number, block_hash, EXTRACT(EPOCH FROM block_time)::bigint, tx_hash, log_index
         FROM chain_events WHERE chain_id = $1 AND contract = $2 AND operation_id = ANY($3)
         ORDER BY block_number, log_index",
    )
    .bind(chain_id)
    .bind(&contract)
    .bind(&ops)
    .fetch_all(&mut *conn)
    .await?;
    let mut replay = Vec::with_capacity(remaining.len());
    for r in remaining {
        let name: String = r.get(0);
        let op: Option<String> = r.get(1);
        let data: serde_json::Value = r.get(2);
        if let Some(event) = from_stored(&name, op.as_deref(), &data) {
            let pos = Position {
                block_number: r.get::<i64, _>(3) as u64,
                block_hash: r.get::<String, _>(4).parse()?,
                block_time: r.get::<i64, _>(5) as u64,
                tx_hash: r.get::<String, _>(6).parse()?,
                log_index: r.get::<i64, _>(7) as u64,
            };
            replay.push((pos, event));
        }
    }
    let fx = apply(&replay, HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
    let holds_only = crate::apply::Effects {
        holds: fx.holds,
        changed_holds: fx.changed_holds,
        clearables: fx.clearables,
        changed_clearables: fx.changed_clearables,
        ..Default::default()
    };
    store::write_effects_without_events(conn, target, &holds_only, ancestor.block_number).await?;

    // Balances of every touched address, from what remains.
    sqlx::query(
        "WITH a AS (SELECT unnest($3::text[]) AS address),
         g AS (
            SELECT a.address,
                   COALESCE((SELECT SUM((e.data->>'value')::numeric) FROM chain_events e
                             WHERE e.chain_id = $1 AND e.contract = $2 AND e.name = 'Transfer' AND e.data->>'to' = a.address), 0)
                 - COALESCE((SELECT SUM((e.data->>'value')::numeric) FROM chain_events e
                             WHERE e.chain_id = $1 AND e.contract = $2 AND e.name = 'Transfer' AND e.data->>'from' = a.address), 0)
                   AS gross,
                   COALESCE((SELECT SUM(h.remaining_value) FROM holds h
                             WHERE h.chain_id = $1 AND h.contract_address = $2 AND h.payer_dlt_address = a.address
                               AND h.chain_status IN (1, 3)), 0) AS held
            FROM a)
         INSERT INTO balances (chain_id, contract, address, gross, held, updated_block)
         SELECT $1, $2, g.address, g.gross, g.held, $4 FROM g
         ON CONFLICT (chain_id, contract, address) DO UPDATE
           SET gross = EXCLUDED.gross, held = EXCLUDED.held, updated_block = EXCLUDED.updated_block",
    )
    .bind(chain_id)
    .bind(&contract)
    .bind(&addresses)
    .bind(above)
    .execute(&mut *conn)
    .await
    .context("recomputing balances after a reorg")?;

    // Operator authorizations changed after the ancestor: back to the last remaining event.
    // ('ClearableTransferOperatorAuthorized' is the name earlier builds stored for the
    // reference's AuthorizedClearableTransferOperator.)
    sqlx::query("DELETE FROM operator_authorizations WHERE chain_id = $1 AND contract = $2 AND block_number > $3")
        .bind(chain_id)
        .bind(&contract)
        .bind(above)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO operator_authorizations (chain_id, contract, kind, operator, account, authorized, block_number)
         SELECT DISTINCT ON (kind, operator, account) $1, $2, kind, operator, account, authorized, block_number FROM (
             SELECT CASE WHEN name IN ('HoldOperatorAuthorized', 'RevokedHoldOperator') THEN 'HOLD' ELSE 'CLEARABLE_TRANSFER' END AS kind,
                    data->>'operator' AS operator, data->>'account' AS account,
                    name IN ('HoldOperatorAuthorized', 'AuthorizedClearableTransferOperator', 'ClearableTransferOperatorAuthorized') AS authorized,
                    block_number, log_index
             FROM chain_events
             WHERE chain_id = $1 AND contract = $2
               AND name IN ('HoldOperatorAuthorized', 'RevokedHoldOperator', 'AuthorizedClearableTransferOperator', 'ClearableTransferOperatorAuthorized', 'RevokedClearableTransferOperator')
               AND data->>'account' = ANY($3)) s
         ORDER BY kind, operator, account, block_number DESC, log_index DESC
         ON CONFLICT (chain_id, contract, kind, operator, account) DO NOTHING",
    )
    .bind(chain_id)
    .bind(&contract)
    .bind(&addresses)
    .execute(&mut *conn)
    .await?;

    // The platform's own transactions mined in orphaned blocks: back to SENT with
    // their operations (SUCCESS, MINED, or FAILED by their receipt), whose
    // movements wait again. The submitter re-broadcasts the stored bytes; the
    // receipt of the canonical chain decides again.
    let orphaned_txs: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM chain_transactions WHERE chain_id = $1 AND block_number > $2 AND status IN ('MINED', 'REVERTED')")
            .bind(chain_id)
            .bind(above)
            .fetch_all(&mut *conn)
            .await?;
    let orphaned_txs: Vec<i64> = orphaned_txs.into_iter().map(|(id,)| id).collect();
    let reopened = emledger_ledger::rewind::reopen_transactions(conn, &orphaned_txs)
        .await
        .context("reopening the operations of orphaned transactions")?;
    if !orphaned_txs.is_empty() {
        tracing::warn!(transactions = orphaned_txs.len(), operations = reopened.len(), "reorg: the platform's orphaned transactions are SENT again");
    }

    sqlx::query("DELETE FROM chain_blocks WHERE chain_id = $1 AND number > $2")
        .bind(chain_id)
        .bind(above)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE chain_cursor SET block_number = $3, block_hash = $4, updated_at = now() WHERE chain_id = $1 AND contract = $2")
        .bind(chain_id)
        .bind(&contract)
        .bind(above)
        .bind(hex_b256(&ancestor.block_hash))
        .execute(&mut *conn)
        .await?;
    Ok(orphaned)
}

/// Stored recent blocks, newest first, for finding the common ancestor.
pub async fn recent_blocks(conn: &mut PgConnection, target: &Target) -> anyhow::Result<Vec<Cursor>> {
    let rows = sqlx::query("SELECT number, hash FROM chain_blocks WHERE chain_id = $1 ORDER BY number DESC")
        .bind(target.chain_id as i64)
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter()
        .map(|r| Ok(Cursor { block_number: r.get::<i64, _>(0) as u64, block_hash: r.get::<String, _>(1).parse()? }))
        .collect()
}
