//! `emledger reconcile`: the read model against the chain, at the cursor block.
//!
//! **Balances.** For every indexed address, gross/held/available must equal
//! `netBalanceOf`/`balanceOnHold`/`balanceOf`; the sums must equal
//! `totalSupply`/`totalSupplyOnHold`.
//!
//! **Operations.** Every transaction the platform recorded as mined (MINED or
//! REVERTED, at or below the cursor) has a receipt on the canonical chain with
//! that status and block; every nonce of a platform signer that the chain has
//! used, from its first recorded one, maps to exactly one recorded transaction,
//! and none recorded as mined sits at or above the chain's nonce; every SUCCESS
//! operation belongs to a MINED transaction, has its events in the read model,
//! and all its movements are SUCCESS (but a cash-out's, which follows the bank).

use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
};
use anyhow::Context;
use emledger_contracts::{
    reads::{self, Balances},
    EmToken,
};
use futures::{stream, StreamExt, TryStreamExt};
use sqlx::{PgPool, Row};

use crate::store::{self, Target};

/// One disagreement between the read model and the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub subject: String,
    pub field: &'static str,
    /// What the read model says.
    pub indexed: String,
    /// What the chain says.
    pub chain: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: indexed {} != chain {}", self.subject, self.field, self.indexed, self.chain)
    }
}

/// The outcome of a reconciliation.
#[derive(Debug, Clone)]
pub struct Report {
    pub block: u64,
    pub addresses: usize,
    /// Platform transactions checked against their receipts.
    pub transactions: usize,
    pub mismatches: Vec<Mismatch>,
}

fn u256(s: String) -> anyhow::Result<U256> {
    U256::from_str_radix(&s, 10).context("bad numeric in balances")
}

/// Compares every indexed address (and the totals) with the chain at the cursor block.
pub async fn reconcile(pool: &PgPool, provider: &DynProvider, target: &Target) -> anyhow::Result<Report> {
    let mut conn = pool.acquire().await?;
    let cursor = store::load_cursor(&mut conn, target).await?.context("no deployment recorded; nothing to reconcile")?;
    let rows = sqlx::query(
        "SELECT address, gross::text, held::text, available::text FROM balances
         WHERE chain_id = $1 AND contract = $2 ORDER BY address",
    )
    .bind(target.chain_id as i64)
    .bind(target.contract_hex())
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let block = BlockId::number(cursor.block_number);
    let token = EmToken::new(target.contract, provider.clone());

    let mut indexed = Vec::with_capacity(rows.len());
    let (mut sum_gross, mut sum_held) = (U256::ZERO, U256::ZERO);
    for r in rows {
        let address: Address = r.get::<String, _>(0).parse()?;
        let ours = Balances { gross: u256(r.get(1))?, held: u256(r.get(2))?, available: u256(r.get(3))? };
        sum_gross += ours.gross;
        sum_held += ours.held;
        indexed.push(((), address, ours));
    }
    let addresses = indexed.len();
    let mut mismatches: Vec<Mismatch> = reads::compare_balances(&token, block, indexed, 16)
        .await?
        .into_iter()
        .map(|d| mismatch(format!("{:#x}", d.address), d.field, d.indexed, d.chain))
        .collect();
    for (field, indexed, chain) in reads::compare_totals(&token, block, sum_gross, sum_held).await? {
        mismatches.push(mismatch("token".into(), field, indexed, chain));
    }
    let (transactions, mut ops) = operations(pool, provider, target, cursor.block_number).await?;
    mismatches.append(&mut ops);
    mismatches.sort_by(|a, b| (&a.subject, a.field).cmp(&(&b.subject, b.field)));
    Ok(Report { block: cursor.block_number, addresses, transactions, mismatches })
}

fn mismatch(subject: String, field: &'static str, indexed: impl ToString, chain: impl ToString) -> Mismatch {
    Mismatch { subject, field, indexed: indexed.to_string(), chain: chain.to_string() }
}

/// The operations half (see the module docs): (transactions checked, mismatches).
async fn operations(pool: &PgPool, provider: &DynProvider, target: &Target, block: u64) -> anyhow::Result<(usize, Vec<Mismatch>)> {
    let chain_id = target.chain_id as i64;
    let mut out = Vec::new();

    // recorded as mined: a canonical receipt with that status and block
    let mined: Vec<(String, i64, String, String, i64)> = sqlx::query_as(
        "SELECT signer, nonce, status, tx_hash, block_number FROM chain_transactions
         WHERE chain_id = $1 AND status IN ('MINED', 'REVERTED') AND block_number <= $2 ORDER BY signer, nonce",
    )
    .bind(chain_id)
    .bind(block as i64)
    .fetch_all(pool)
    .await?;
    let receipts = stream::iter(mined.iter().cloned())
        .map(|(signer, nonce, status, hash, at)| async move {
            let subject = format!("transaction {signer} nonce {nonce} {hash}");
            let receipt = provider.get_transaction_receipt(hash.parse().context("stored tx hash")?).await?;
            anyhow::Ok(match receipt {
                None => Some(mismatch(subject, "receipt", format!("{status} in block {at}"), "none")),
                Some(r) => {
                    let on_chain = if r.status() { "MINED" } else { "REVERTED" };
                    let in_block = r.block_number.unwrap_or_default() as i64;
                    // a receipt of an orphaned block (some nodes keep serving them) is none
                    let canonical = provider.get_block_by_number((in_block as u64).into()).await?.map(|b| b.header.hash);
                    if canonical.is_none() || canonical != r.block_hash {
                        Some(mismatch(subject, "receipt", format!("{status} in block {at}"), format!("only in orphaned block {in_block}")))
                    } else if on_chain != status || in_block != at {
                        Some(mismatch(subject, "receipt", format!("{status} in block {at}"), format!("{on_chain} in block {in_block}")))
                    } else {
                        None
                    }
                }
            })
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;
    out.extend(receipts.into_iter().flatten());

    // every nonce the chain used, from the first recorded one: exactly one transaction
    let signers: Vec<(String, i64)> =
        sqlx::query_as("SELECT signer, min(nonce) FROM chain_transactions WHERE chain_id = $1 GROUP BY signer").bind(chain_id).fetch_all(pool).await?;
    for (signer, first) in signers {
        let address: Address = signer.parse().context("stored signer")?;
        let used = provider.get_transaction_count(address).block_id(BlockId::number(block)).await? as i64;
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT nonce, status FROM chain_transactions WHERE chain_id = $1 AND signer = $2 AND nonce >= $3 AND (nonce < $4 OR status IN ('MINED', 'REVERTED'))
               AND status <> 'REPLACED'
             ORDER BY nonce",
        )
        .bind(chain_id)
        .bind(&signer)
        .bind(first)
        .bind(used)
        .fetch_all(pool)
        .await?;
        let mut expected = first;
        for (nonce, status) in rows {
            if nonce >= used {
                out.push(mismatch(format!("signer {signer} nonce {nonce}"), "nonce", format!("{status}"), format!("not used (chain nonce {used})")));
                continue;
            }
            for gap in expected..nonce {
                out.push(mismatch(format!("signer {signer} nonce {gap}"), "nonce", "no transaction recorded", "used"));
            }
            if status == "DROPPED" {
                out.push(mismatch(format!("signer {signer} nonce {nonce}"), "nonce", "DROPPED", "used by another transaction"));
            }
            expected = nonce + 1;
        }
        for gap in expected..used {
            out.push(mismatch(format!("signer {signer} nonce {gap}"), "nonce", "no transaction recorded", "used"));
        }
    }

    // replaced attempts (stuck transactions signed again, same nonce): none of
    // them mined, or its nonce would have two
    let replaced: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT signer, nonce, tx_hash FROM chain_transactions WHERE chain_id = $1 AND status = 'REPLACED' ORDER BY signer, nonce, id",
    )
    .bind(chain_id)
    .fetch_all(pool)
    .await?;
    for (signer, nonce, hash) in replaced {
        if let Some(r) = provider.get_transaction_receipt(hash.parse().context("stored tx hash")?).await? {
            let in_block = r.block_number.unwrap_or_default();
            if in_block <= block {
                out.push(mismatch(format!("transaction {signer} nonce {nonce} {hash}"), "receipt", "REPLACED", format!("mined in block {in_block}")));
            }
        }
    }

    // SUCCESS operations: a MINED transaction, their events, settled movements
    let bad: Vec<(uuid::Uuid, String, String)> = sqlx::query_as(
        "SELECT o.id, 'transaction', COALESCE(t.status, 'none') FROM operations o LEFT JOIN chain_transactions t ON t.id = o.transaction_id
         WHERE o.chain_id = $1 AND o.status = 'SUCCESS' AND o.block_number <= $2 AND o.transaction_id IS NOT NULL AND t.status IS DISTINCT FROM 'MINED'
         UNION ALL
         SELECT o.id, 'events', 'none' FROM operations o
         WHERE o.chain_id = $1 AND o.status = 'SUCCESS' AND o.block_number <= $2
           -- calls of another contract (a CrossLedgerLink step) need not carry token events
           AND o.target = $3
           AND NOT EXISTS (SELECT 1 FROM chain_events e WHERE e.chain_id = o.chain_id AND e.tx_hash = o.tx_hash
                           AND (o.batch_index IS NULL OR e.operation_id = o.chain_operation_id))
         UNION ALL
         SELECT o.id, 'movement ' || m.type, m.status FROM operations o JOIN movements m ON m.operation_id = o.id
         WHERE o.chain_id = $1 AND o.status = 'SUCCESS' AND o.block_number <= $2 AND m.status <> 'SUCCESS'
           -- a cash-out's movement follows the bank after its reserve settled
           AND m.type <> 'BANK_ACCOUNT_CASHOUT'
         LIMIT 1000",
    )
    .bind(chain_id)
    .bind(block as i64)
    .bind(target.contract_hex())
    .fetch_all(pool)
    .await?;
    for (id, what, status) in bad {
        out.push(mismatch(format!("operation {id} SUCCESS"), "operation", format!("{what}: {status}"), "SUCCESS"));
    }
    Ok((mined.len(), out))
}
