//! Spawns anvil from the pinned npm package, deploys EmToken through the
//! generated bindings, runs a hold lifecycle (hold → executeHoldAndKeepOpen →
//! releaseHold) and reads the events back.

use alloy::{
    network::EthereumWallet,
    node_bindings::Anvil,
    primitives::U256,
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use emledger_contracts::{deploy_em_token, toolchain, EmToken, TokenParams};

#[tokio::test]
async fn hold_lifecycle_through_the_bindings() -> anyhow::Result<()> {
    // alloy's reqwest client needs a rustls provider in this workspace.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let anvil = Anvil::at(toolchain::anvil()).args(["--prune-history", "64"]).spawn();
    let platform: PrivateKeySigner = anvil.keys()[0].clone().into();
    let payer: PrivateKeySigner = anvil.keys()[1].clone().into();
    let payee = anvil.addresses()[2];

    let platform_provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(platform.clone()))
        .connect_http(anvil.endpoint_url());
    let payer_provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(payer.clone())).connect_http(anvil.endpoint_url());

    let deployment = deploy_em_token(&platform_provider, &TokenParams::eur(platform.address())).await?;
    assert_eq!(deployment.chain_id, 31337);
    let token = EmToken::new(deployment.address, &platform_provider);
    assert_eq!(token.decimals().call().await?, 2);
    assert_eq!(token.currency().call().await?, "EUR");

    // Fund the payer (mint carries the platform's operation id).
    let mint = token.mint("op-mint-1".into(), payer.address(), U256::from(10_000)).send().await?.get_receipt().await?;
    assert!(mint.status());
    let minted: Vec<_> = mint.decoded_log::<EmToken::Minted>().into_iter().collect();
    assert_eq!(minted.len(), 1);
    assert_eq!(minted[0].operationId, "op-mint-1");

    // The payer holds 40.00 towards the payee with the platform as notary.
    let as_payer = EmToken::new(deployment.address, &payer_provider);
    let r = as_payer
        .hold("h-1".into(), payee, platform.address(), U256::from(4_000), U256::ZERO)
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status());
    let created = r.decoded_log::<EmToken::HoldCreated>().expect("HoldCreated");
    assert_eq!(created.operationId, "h-1");
    assert_eq!(created.from, payer.address());
    assert_eq!(created.to, payee);
    assert_eq!(created.notary, platform.address());
    assert_eq!(created.value, U256::from(4_000));
    assert_eq!(token.balanceOnHold(payer.address()).call().await?, U256::from(4_000));
    assert_eq!(token.balanceOf(payer.address()).call().await?, U256::from(6_000));
    assert_eq!(token.netBalanceOf(payer.address()).call().await?, U256::from(10_000));

    // The notary executes 15.00 and keeps the rest on hold.
    let r = token.executeHoldAndKeepOpen("h-1".into(), U256::from(1_500)).send().await?.get_receipt().await?;
    assert!(r.status());
    let kept = r.decoded_log::<EmToken::HoldExecutedAndKeptOpen>().expect("HoldExecutedAndKeptOpen");
    assert_eq!(kept.heldValue, U256::from(2_500), "as in the reference: the value still held");
    assert_eq!(kept.transferredValue, U256::from(1_500));
    let transfer = r.decoded_log::<EmToken::Transfer>().expect("Transfer");
    assert_eq!((transfer.from, transfer.to, transfer.value), (payer.address(), payee, U256::from(1_500)));
    let data = token.retrieveHoldData("h-1".into()).call().await?;
    assert_eq!(data.from, payer.address());
    assert_eq!(data.to, payee);
    assert_eq!(data.notary, platform.address());
    assert_eq!(data.value, U256::from(2_500));
    assert_eq!(data.expiration, U256::ZERO);
    assert_eq!(data.status, 3, "ExecutedAndKeptOpen");

    // The notary releases the remainder.
    let r = token.releaseHold("h-1".into()).send().await?.get_receipt().await?;
    assert!(r.status());
    let released = r.decoded_log::<EmToken::HoldReleased>().expect("HoldReleased");
    assert_eq!(released.operationId, "h-1");
    assert_eq!(released.status, 4, "ReleasedByNotary");
    assert_eq!(token.balanceOnHold(payer.address()).call().await?, U256::ZERO);
    assert_eq!(token.totalSupplyOnHold().call().await?, U256::ZERO);
    assert_eq!(token.balanceOf(payer.address()).call().await?, U256::from(8_500));
    assert_eq!(token.balanceOf(payee).call().await?, U256::from(1_500));

    // The whole story is in the logs, in order.
    let filter = alloy::rpc::types::Filter::new().address(deployment.address).from_block(deployment.block_number);
    let logs = platform_provider.get_logs(&filter).await?;
    let names: Vec<&str> = logs
        .iter()
        .filter_map(|l| match l.topic0() {
            Some(t) if *t == <EmToken::HoldCreated as alloy::sol_types::SolEvent>::SIGNATURE_HASH => Some("HoldCreated"),
            Some(t) if *t == <EmToken::HoldExecutedAndKeptOpen as alloy::sol_types::SolEvent>::SIGNATURE_HASH => {
                Some("HoldExecutedAndKeptOpen")
            }
            Some(t) if *t == <EmToken::HoldReleased as alloy::sol_types::SolEvent>::SIGNATURE_HASH => Some("HoldReleased"),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["HoldCreated", "HoldExecutedAndKeptOpen", "HoldReleased"]);
    Ok(())
}

#[test]
fn abi_has_the_reference_signatures() {
    use alloy::sol_types::SolCall;
    let sigs = [
        EmToken::holdCall::SIGNATURE,
        EmToken::holdFromCall::SIGNATURE,
        EmToken::holdWithExpirationDateCall::SIGNATURE,
        EmToken::holdFromWithExpirationDateCall::SIGNATURE,
        EmToken::executeHoldCall::SIGNATURE,
        EmToken::executeHoldAndKeepOpenCall::SIGNATURE,
        EmToken::releaseHoldCall::SIGNATURE,
        EmToken::renewHoldCall::SIGNATURE,
        EmToken::renewHoldWithExpirationDateCall::SIGNATURE,
        EmToken::retrieveHoldDataCall::SIGNATURE,
        EmToken::balanceOnHoldCall::SIGNATURE,
        EmToken::netBalanceOfCall::SIGNATURE,
        EmToken::totalSupplyOnHoldCall::SIGNATURE,
        EmToken::authorizeHoldOperatorCall::SIGNATURE,
        EmToken::revokeHoldOperatorCall::SIGNATURE,
        EmToken::isHoldOperatorForCall::SIGNATURE,
        EmToken::orderTransferCall::SIGNATURE,
        EmToken::orderTransferFromCall::SIGNATURE,
        EmToken::cancelTransferCall::SIGNATURE,
        EmToken::processClearableTransferCall::SIGNATURE,
        EmToken::executeClearableTransferCall::SIGNATURE,
        EmToken::rejectClearableTransferCall::SIGNATURE,
        EmToken::retrieveClearableTransferDataCall::SIGNATURE,
        EmToken::authorizeClearableTransferOperatorCall::SIGNATURE,
        EmToken::revokeClearableTransferOperatorCall::SIGNATURE,
        EmToken::isClearableTransferOperatorForCall::SIGNATURE,
    ];
    assert_eq!(
        sigs,
        [
            "hold(string,address,address,uint256,uint256)",
            "holdFrom(string,address,address,address,uint256,uint256)",
            "holdWithExpirationDate(string,address,address,uint256,uint256)",
            "holdFromWithExpirationDate(string,address,address,address,uint256,uint256)",
            "executeHold(string,uint256)",
            "executeHoldAndKeepOpen(string,uint256)",
            "releaseHold(string)",
            "renewHold(string,uint256)",
            "renewHoldWithExpirationDate(string,uint256)",
            "retrieveHoldData(string)",
            "balanceOnHold(address)",
            "netBalanceOf(address)",
            "totalSupplyOnHold()",
            "authorizeHoldOperator(address)",
            "revokeHoldOperator(address)",
            "isHoldOperatorFor(address,address)",
            "orderTransfer(string,address,uint256)",
            "orderTransferFrom(string,address,address,uint256)",
            "cancelTransfer(string)",
            "processClearableTransfer(string)",
            "executeClearableTransfer(string)",
            "rejectClearableTransfer(string,string)",
            "retrieveClearableTransferData(string)",
            "authorizeClearableTransferOperator(address)",
            "revokeClearableTransferOperator(address)",
            "isClearableTransferOperatorFor(address,address)",
        ]
    );
    use alloy::sol_types::SolEvent;
    let events = [
        EmToken::HoldCreated::SIGNATURE,
        EmToken::HoldExecuted::SIGNATURE,
        EmToken::HoldExecutedAndKeptOpen::SIGNATURE,
        EmToken::HoldReleased::SIGNATURE,
        EmToken::HoldRenewed::SIGNATURE,
        EmToken::HoldOperatorAuthorized::SIGNATURE,
        EmToken::RevokedHoldOperator::SIGNATURE,
        EmToken::ClearableTransferOrdered::SIGNATURE,
        EmToken::ClearableTransferInProcess::SIGNATURE,
        EmToken::ClearableTransferExecuted::SIGNATURE,
        EmToken::ClearableTransferRejected::SIGNATURE,
        EmToken::ClearableTransferCancelled::SIGNATURE,
        EmToken::AuthorizedClearableTransferOperator::SIGNATURE,
        EmToken::RevokedClearableTransferOperator::SIGNATURE,
    ];
    assert_eq!(
        events,
        [
            "HoldCreated(address,string,address,address,address,uint256,uint256)",
            "HoldExecuted(address,string,address,uint256,uint256)",
            "HoldExecutedAndKeptOpen(address,string,address,uint256,uint256)",
            "HoldReleased(address,string,uint8)",
            "HoldRenewed(address,string,uint256,uint256)",
            "HoldOperatorAuthorized(address,address)",
            "RevokedHoldOperator(address,address)",
            "ClearableTransferOrdered(address,string,address,address,uint256)",
            "ClearableTransferInProcess(address,string)",
            "ClearableTransferExecuted(address,string)",
            "ClearableTransferRejected(address,string,string)",
            "ClearableTransferCancelled(address,string)",
            "AuthorizedClearableTransferOperator(address,address)",
            "RevokedClearableTransferOperator(address,address)",
        ]
    );
}
