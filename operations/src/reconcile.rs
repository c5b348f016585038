//! A tenant's wallets against the chain, at the indexer's cursor block (what
//! the operator console shows). The balance reads and comparisons are the ones
//! `emledger reconcile` uses (`emledger_contracts::reads`).

use alloy::{eips::BlockId, primitives::{Address, U256}, providers::DynProvider};
use anyhow::Context;
use emledger_contracts::{
    reads::{self, Balances},
    EmToken,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::money::Token;

/// What [`tenant`] compares, in one sentence (`{max}` wallets at the most).
pub fn checked(max_wallets: i64) -> String {
    format!(
        "each of the tenant's wallets (the {max_wallets} most recently changed) against the chain: gross balance = netBalanceOf, \
         held balance = balanceOnHold, available = balanceOf, all read at the indexer's cursor block; and the sums of all \
         indexed balances against totalSupply and totalSupplyOnHold at the same block"
    )
}

/// One field of one wallet on which the read model and the chain disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletDifference {
    pub wallet_id: Uuid,
    pub dlt_address: String,
    /// `gross`, `held` or `available`.
    pub field: &'static str,
    pub indexed: U256,
    pub chain: U256,
}

/// The outcome of [`tenant`].
#[derive(Debug, Clone)]
pub struct TenantReconcile {
    /// The block both sides were read at.
    pub block: u64,
    pub wallets_total: i64,
    pub wallets_checked: usize,
    /// Ordered by address, then field.
    pub mismatches: Vec<WalletDifference>,
    /// The sums of every indexed balance equal `totalSupply` and `totalSupplyOnHold`.
    pub totals_match: bool,
}

/// The tenant's `max_wallets` most recently changed wallets, and the token's
/// totals, against the chain at the indexer's cursor block. The cursor and the
/// balances are read in one snapshot, so both sides are at the same block.
pub async fn tenant(pool: &PgPool, token: &Token, provider: DynProvider, client: Uuid, max_wallets: i64) -> anyhow::Result<TenantReconcile> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
    let cursor: Option<(i64,)> = sqlx::query_as("SELECT block_number FROM chain_cursor WHERE chain_id = $1 AND lower(contract) = $2")
        .bind(token.chain_id)
        .bind(&token.contract)
        .fetch_optional(&mut *tx)
        .await?;
    let block = cursor.context("the indexer has not recorded a cursor yet")?.0.max(0) as u64;
    let (wallets_total,): (i64,) = sqlx::query_as("SELECT count(*) FROM wallets WHERE client_id = $1").bind(client).fetch_one(&mut *tx).await?;
    let wallets: Vec<(Uuid, String, String, String, String)> = sqlx::query_as(
        "SELECT w.id, w.dlt_address, COALESCE(b.gross, 0)::text, COALESCE(b.held, 0)::text, COALESCE(b.available, 0)::text
         FROM wallets w LEFT JOIN balances b ON b.address = w.dlt_address AND b.chain_id = $2 AND lower(b.contract) = $3
         WHERE w.client_id = $1 ORDER BY COALESCE(b.updated_block, 0) DESC, w.created_at DESC, w.id LIMIT $4",
    )
    .bind(client)
    .bind(token.chain_id)
    .bind(&token.contract)
    .bind(max_wallets)
    .fetch_all(&mut *tx)
    .await?;
    let (sum_gross, sum_held): (String, String) =
        sqlx::query_as("SELECT COALESCE(sum(gross), 0)::text, COALESCE(sum(held), 0)::text FROM balances WHERE chain_id = $1 AND lower(contract) = $2")
            .bind(token.chain_id)
            .bind(&token.contract)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;

    let u256 = |s: &str| U256::from_str_radix(s, 10).context("a balance that is not a number");
    let mut indexed = Vec::with_capacity(wallets.len());
    for (id, address, gross, held, available) in wallets {
        let a: Address = address.parse().map_err(|_| anyhow::anyhow!("wallet {id} has a bad DLT address"))?;
        indexed.push(((id, address), a, Balances { gross: u256(&gross)?, held: u256(&held)?, available: u256(&available)? }));
    }
    let wallets_checked = indexed.len();
    let contract = EmToken::new(token.address, provider);
    let at = BlockId::number(block);
    let mut mismatches: Vec<WalletDifference> = reads::compare_balances(&contract, at, indexed, 8)
        .await
        .context("the chain node")?
        .into_iter()
        .map(|d| WalletDifference { wallet_id: d.key.0, dlt_address: d.key.1, field: d.field, indexed: d.indexed, chain: d.chain })
        .collect();
    mismatches.sort_by(|a, b| (&a.dlt_address, a.field).cmp(&(&b.dlt_address, b.field)));
    let totals = reads::compare_totals(&contract, at, u256(&sum_gross)?, u256(&sum_held)?).await.context("the chain node")?;
    Ok(TenantReconcile { block, wallets_total, wallets_checked, mismatches, totals_match: totals.is_empty() })
}
