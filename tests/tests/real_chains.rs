//! Running on chains other than a default anvil (issue "Run on real chains"):
//! legacy and zero-price gas. Real parts: anvil (here with a pre-London
//! hardfork and a zero gas price, as Besu/Quorum consortium chains run),
//! Postgres, the indexer binary, the API.

use alloy::{network::TransactionResponse as _, providers::Provider};
use serde_json::json;

mod api_stack;
use api_stack::{ApiOptions, MoneyStack};

/// A chain without a base fee and with gas price 0: `auto` picks legacy
/// pricing, transactions are type 0 with gasPrice 0, and money settles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_price_legacy_chain_gets_type_0_transactions_at_price_0() -> anyhow::Result<()> {
    let options = ApiOptions {
        anvil_args: ["--hardfork", "berlin", "--gas-price", "0", "--base-fee", "0"].map(String::from).to_vec(),
        gas_price_wei: Some(0),
        subprocess: true,
        ..Default::default()
    };
    let mut st = MoneyStack::start("real_chains_legacy", options).await?;
    let latest = st.chain.provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await?.unwrap();
    assert_eq!(latest.header.base_fee_per_gas, None, "a pre-London chain has no base fee");

    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "10").await;
    let r = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "2.50", "targetWalletId": b}), "legacy-1").await;
    let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    let op = st.wait_operation(&id).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    st.wait_balances(&b, ("2.50", "2.50", "0.00")).await;

    let hash: alloy::primitives::B256 = op["txHash"].as_str().unwrap().parse()?;
    let tx = st.chain.provider.get_transaction_by_hash(hash).await?.expect("the transaction");
    assert_eq!(tx.inner.tx_type() as u8, 0, "a legacy transaction");
    assert_eq!(alloy::consensus::Transaction::gas_price(tx.inner.inner()), Some(0), "at gas price 0");
    assert_eq!(tx.from(), st.chain.platform.address());
    let log = std::fs::read_to_string(emledger_tests::stack::target_dir().join("test-state/api.log"))?;
    assert!(log.contains("transaction pricing") && log.contains("Legacy"), "the choice is logged");
    Ok(())
}
