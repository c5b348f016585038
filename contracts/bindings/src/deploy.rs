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

/// Where a CrossLedgerLink was deployed (the relayer looks for orders from `block_number`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkDeployment {
    pub address: Address,
    pub block_number: u64,
}

/// Deploys a CrossLedgerLink next to `token` from the provider's default signer,
/// `platform` (its admin and cross-ledger operator), grants it the token roles it needs
/// (OPERATOR_ROLE to hold, BURNER_ROLE and MINTER_ROLE to execute) — the signer
/// must be the token's admin — and activates `currency` towards every chain of
/// `others`.
pub async fn deploy_cross_ledger_link<P, N>(
    provider: &P,
    token: Address,
    platform: Address,
    others: &[u64],
    currency: &str,
) -> anyhow::Result<LinkDeployment>
where
    P: Provider<N>,
    N: Network,
{
    use alloy::{network::ReceiptResponse, primitives::U256};
    let chain_id = provider.get_chain_id().await.context("eth_chainId")?;
    let receipt = crate::CrossLedgerLink::deploy_builder(provider, token, U256::from(chain_id), platform, platform)
        .send()
        .await
        .context("sending the CrossLedgerLink deployment")?
        .get_receipt()
        .await
        .context("waiting for the CrossLedgerLink deployment receipt")?;
    if !receipt.status() {
        return Err(anyhow!("CrossLedgerLink deployment reverted in tx {}", receipt.transaction_hash()));
    }
    let address = receipt.contract_address().context("deployment receipt has no contract address")?;
    let block_number = receipt.block_number().context("receipt without block number")?;
    let t = EmToken::new(token, provider);
    for role in [t.OPERATOR_ROLE().call().await?, t.BURNER_ROLE().call().await?, t.MINTER_ROLE().call().await?] {
        let r = t.grantRole(role, address).send().await?.get_receipt().await?;
        anyhow::ensure!(r.status(), "granting the link a token role reverted");
    }
    let link = crate::CrossLedgerLink::new(address, provider);
    for other in others {
        let r = link.activateChain(U256::from(*other)).send().await?.get_receipt().await?;
        anyhow::ensure!(r.status(), "activating chain {other} reverted");
        let r = link.activateCurrency(currency.to_owned(), U256::from(*other)).send().await?.get_receipt().await?;
        anyhow::ensure!(r.status(), "activating {currency} for chain {other} reverted");
    }
    Ok(LinkDeployment { address, block_number })
}
