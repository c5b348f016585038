//! The token's balances read at one block, compared with what a read model
//! holds: one implementation for `emledger reconcile` (every indexed address)
//! and the console (a tenant's wallets).

use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    providers::DynProvider,
};
use futures::{stream, StreamExt, TryStreamExt};

use crate::EmToken::EmTokenInstance;

/// An address's balances: gross (`netBalanceOf`), held (`balanceOnHold`) and
/// available (`balanceOf`, gross minus held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balances {
    pub gross: U256,
    pub held: U256,
    pub available: U256,
}

/// One field on which the read model and the chain disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference<K> {
    /// The caller's name for the row (an address, a wallet id).
    pub key: K,
    pub address: Address,
    /// `gross`, `held` or `available`.
    pub field: &'static str,
    pub indexed: U256,
    pub chain: U256,
}

/// `address`'s balances at block `at`.
pub async fn balances_at(token: &EmTokenInstance<DynProvider>, address: Address, at: BlockId) -> alloy::contract::Result<Balances> {
    Ok(Balances {
        gross: token.netBalanceOf(address).block(at).call().await?,
        held: token.balanceOnHold(address).block(at).call().await?,
        available: token.balanceOf(address).block(at).call().await?,
    })
}

/// Each row's indexed balances against the chain's at `at`, `concurrency`
/// addresses at a time: every field that differs (an error when the node does
/// not answer for one).
pub async fn compare_balances<K: Clone>(
    token: &EmTokenInstance<DynProvider>,
    at: BlockId,
    indexed: Vec<(K, Address, Balances)>,
    concurrency: usize,
) -> alloy::contract::Result<Vec<Difference<K>>> {
    let found: Vec<Vec<Difference<K>>> = stream::iter(indexed)
        .map(|(key, address, ours)| async move {
            let chain = balances_at(token, address, at).await?;
            Ok::<_, alloy::contract::Error>(
                [("gross", ours.gross, chain.gross), ("held", ours.held, chain.held), ("available", ours.available, chain.available)]
                    .into_iter()
                    .filter(|(_, a, b)| a != b)
                    .map(|(field, indexed, chain)| Difference { key: key.clone(), address, field, indexed, chain })
                    .collect(),
            )
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// The sums of all indexed balances against `totalSupply` and
/// `totalSupplyOnHold` at `at`: (field, indexed, chain) for each that differs.
pub async fn compare_totals(
    token: &EmTokenInstance<DynProvider>,
    at: BlockId,
    sum_gross: U256,
    sum_held: U256,
) -> alloy::contract::Result<Vec<(&'static str, U256, U256)>> {
    let supply = token.totalSupply().block(at).call().await?;
    let on_hold = token.totalSupplyOnHold().block(at).call().await?;
    Ok([("totalSupply", sum_gross, supply), ("totalSupplyOnHold", sum_held, on_hold)].into_iter().filter(|(_, a, b)| a != b).collect())
}
