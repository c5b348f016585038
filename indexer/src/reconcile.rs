//! `emledger reconcile`: the read model against the chain, at the cursor block.
//! For every indexed address, gross/held/available must equal
//! `netBalanceOf`/`balanceOnHold`/`balanceOf`; the sums must equal
//! `totalSupply`/`totalSupplyOnHold`.

use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    providers::DynProvider,
};
use anyhow::Context;
use emledger_contracts::EmToken;
use futures::{stream, StreamExt, TryStreamExt};
use sqlx::{PgPool, Row};

use crate::store::{self, Target};

/// One disagreement between the read model and the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub subject: String,
    pub field: &'static str,
    pub indexed: U256,
    pub chain: U256,
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
    for r in rows {
        let address: Address = r.get::<String, _>(0).parse()?;
        indexed.push((address, u256(r.get(1))?, u256(r.get(2))?, u256(r.get(3))?));
    }
    let (mut sum_gross, mut sum_held) = (U256::ZERO, U256::ZERO);
    for (_, g, h, _) in &indexed {
        sum_gross += *g;
        sum_held += *h;
    }

    let checks = stream::iter(indexed.iter().cloned())
        .map(|(address, gross, held, available)| {
            let token = token.clone();
            async move {
                let chain_gross = token.netBalanceOf(address).block(block).call().await?;
                let chain_held = token.balanceOnHold(address).block(block).call().await?;
                let chain_available = token.balanceOf(address).block(block).call().await?;
                let subject = format!("{address:#x}");
                let mut out = Vec::new();
                for (field, a, b) in [
                    ("gross", gross, chain_gross),
                    ("held", held, chain_held),
                    ("available", available, chain_available),
                ] {
                    if a != b {
                        out.push(Mismatch { subject: subject.clone(), field, indexed: a, chain: b });
                    }
                }
                anyhow::Ok(out)
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;
    let mut mismatches: Vec<Mismatch> = checks.into_iter().flatten().collect();
    let supply = token.totalSupply().block(block).call().await?;
    let on_hold = token.totalSupplyOnHold().block(block).call().await?;
    if supply != sum_gross {
        mismatches.push(Mismatch { subject: "token".into(), field: "totalSupply", indexed: sum_gross, chain: supply });
    }
    if on_hold != sum_held {
        mismatches.push(Mismatch { subject: "token".into(), field: "totalSupplyOnHold", indexed: sum_held, chain: on_hold });
    }
    mismatches.sort_by(|a, b| (&a.subject, a.field).cmp(&(&b.subject, b.field)));
    Ok(Report { block: cursor.block_number, addresses: indexed.len(), mismatches })
}
