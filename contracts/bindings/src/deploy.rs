//! Deploying EmToken and granting the platform its roles.

use alloy::{
    network::Network,
    primitives::{Address, B256},
    providers::Provider,
};
use anyhow::{anyhow, Context};
use serde::{Deserialize, Serialize};

use crate::EmToken;

/// Constructor parameters of EmToken.
#[derive(Clone, Debug)]
pub struct TokenParams {
    pub name: String,
    pub symbol: String,
    /// Minor units; 2 for EUR-style e-money.
    pub decimals: u8,
    /// ISO 4217 code.
    pub currency: String,
    /// Gets DEFAULT_ADMIN_ROLE, PAUSER_ROLE and COMPLIANCE_ROLE.
    pub admin: Address,
    /// The platform signer: minter, burner, default operator, clearing agent.
    pub platform: Address,
}

impl TokenParams {
    /// A EUR e-money token with 2 decimals administered and operated by `platform`.
    pub fn eur(platform: Address) -> Self {
        Self {
            name: "emledger EUR".into(),
            symbol: "EEUR".into(),
            decimals: 2,
            currency: "EUR".into(),
            admin: platform,
            platform,
        }
    }
}

/// Where a token was deployed: the indexer backfills from `block_number`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Deployment {
    pub chain_id: u64,
    pub address: Address,
    pub block_number: u64,
    pub block_hash: B256,
    pub tx_hash: B256,
    pub decimals: u8,
}

/// Deploys EmToken with `params` from the provider's default signer and waits
/// for the receipt.
pub async fn deploy_em_token<P, N>(provider: &P, params: &TokenParams) -> anyhow::Result<Deployment>
where
    P: Provider<N>,
    N: Network,
{
    use alloy::network::ReceiptResponse;
    let chain_id = provider.get_chain_id().await.context("eth_chainId")?;
    let receipt = EmToken::deploy_builder(
        provider,
        params.name.clone(),
        params.symbol.clone(),
        params.decimals,
        params.currency.clone(),
        params.admin,
        params.platform,
    )
    .send()
    .await
    .context("sending the EmToken deployment")?
    .get_receipt()
    .await
    .context("waiting for the EmToken deployment receipt")?;
    if !receipt.status() {
        return Err(anyhow!("EmToken deployment reverted in tx {}", receipt.transaction_hash()));
    }
    Ok(Deployment {
        chain_id,
        address: receipt.contract_address().context("deployment receipt has no contract address")?,
        block_number: receipt.block_number().context("receipt without block number")?,
        block_hash: receipt.block_hash().context("receipt without block hash")?,
        tx_hash: receipt.transaction_hash(),
        decimals: params.decimals,
    })
}
