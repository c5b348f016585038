//! Two anvils with different chain ids play two networks: an EmToken and a CrossLedgerLink on
//! each, deployed and driven through the generated bindings. 25.00 move from A to B through the
//! whole protocol (order, accept, acknowledge, execute out, execute in); the events and
//! `getTransferData` agree on both chains, and the supply only moved.

use alloy::{
    network::EthereumWallet,
    node_bindings::Anvil,
    primitives::{keccak256, Address, B256, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use emledger_contracts::{deploy_em_token, toolchain, CrossLedgerLink, EmToken, TokenParams};

const CHAIN_A: u64 = 31_401;
const CHAIN_B: u64 = 31_402;

/// Deploys a EUR token and its link on the provider's chain, grants the link its token roles and
/// activates EUR towards `other_chain`; the platform is admin and operator of both.
async fn network<P: Provider>(provider: &P, platform: Address, other_chain: u64) -> anyhow::Result<(Address, Address)> {
    let chain_id = provider.get_chain_id().await?;
    let token = deploy_em_token(provider, &TokenParams::eur(platform)).await?.address;
    let link = CrossLedgerLink::deploy(provider, token, U256::from(chain_id), platform, platform).await?;
    assert_eq!(link.chainId().call().await?, U256::from(chain_id));
    let t = EmToken::new(token, provider);
    for role in [t.OPERATOR_ROLE().call().await?, t.BURNER_ROLE().call().await?, t.MINTER_ROLE().call().await?] {
        assert!(t.grantRole(role, *link.address()).send().await?.get_receipt().await?.status());
    }
    assert!(link.activateChain(U256::from(other_chain)).send().await?.get_receipt().await?.status());
    assert!(link.activateCurrency("EUR".into(), U256::from(other_chain)).send().await?.get_receipt().await?.status());
    Ok((token, *link.address()))
}

#[tokio::test]
async fn a_transfer_between_two_anvils() -> anyhow::Result<()> {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let anvil_a = Anvil::at(toolchain::anvil()).chain_id(CHAIN_A).spawn();
    let anvil_b = Anvil::at(toolchain::anvil()).chain_id(CHAIN_B).spawn();
    // The same keys on both networks: the platform and alice (the payer on A).
    let platform: PrivateKeySigner = anvil_a.keys()[0].clone().into();
    let alice: PrivateKeySigner = anvil_a.keys()[1].clone().into();
    let bob = anvil_b.addresses()[2];
    let a = ProviderBuilder::new().wallet(EthereumWallet::from(platform.clone())).connect_http(anvil_a.endpoint_url());
    let b = ProviderBuilder::new().wallet(EthereumWallet::from(platform.clone())).connect_http(anvil_b.endpoint_url());
    let a_as_alice =
        ProviderBuilder::new().wallet(EthereumWallet::from(alice.clone())).connect_http(anvil_a.endpoint_url());

    let (token_a, link_a) = network(&a, platform.address(), CHAIN_B).await?;
    let (token_b, link_b) = network(&b, platform.address(), CHAIN_A).await?;
    let (token_a, token_b) = (EmToken::new(token_a, &a), EmToken::new(token_b, &b));
    let (link_a, link_b) = (CrossLedgerLink::new(link_a, &a), CrossLedgerLink::new(link_b, &b));
    assert!(token_a
        .mint("cash-in-1".into(), alice.address(), U256::from(10_000))
        .send()
        .await?
        .get_receipt()
        .await?
        .status());

    // 1. Alice orders 25.00 for bob on B: held on A.
    let id = "xfer-1".to_string();
    let r = CrossLedgerLink::new(*link_a.address(), &a_as_alice)
        .orderTransfer(id.clone(), U256::from(2_500), bob, "EUR".into(), U256::from(CHAIN_B))
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status());
    let ordered = r.decoded_log::<CrossLedgerLink::CrossLedgerTransferOrdered>().expect("Ordered");
    assert_eq!(ordered.operationId, id);
    assert_eq!((ordered.from, ordered.to, ordered.value), (alice.address(), bob, U256::from(2_500)));
    assert_eq!((ordered.originChainId, ordered.destinationChainId), (U256::from(CHAIN_A), U256::from(CHAIN_B)));
    let held = r.decoded_log::<EmToken::HoldCreated>().expect("HoldCreated");
    assert_eq!((held.operationId.as_str(), held.notary), (id.as_str(), *link_a.address()));
    assert_eq!(token_a.balanceOnHold(alice.address()).call().await?, U256::from(2_500));

    // 2. The relayer accepts on B with the order's fields and a hash lock.
    let secret = B256::from(keccak256("relayer secret"));
    let lock = keccak256(secret);
    let r = link_b
        .acceptTransfer(
            id.clone(),
            ordered.from,
            ordered.value,
            ordered.to,
            ordered.currency.clone(),
            ordered.originChainId,
            lock,
        )
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status());
    let accepted = r.decoded_log::<CrossLedgerLink::CrossLedgerTransferAccepted>().expect("Accepted");
    assert_eq!(accepted.parentMessageHash, ordered.messageHash, "B answered A's order");

    // 3. It acknowledges on A; 4. burns on A with the secret; 5. mints on B with it.
    let r = link_a.acknowledgeTransfer(id.clone(), accepted.messageHash, lock).send().await?.get_receipt().await?;
    assert!(r.status());
    let r = link_a.executeTransferOut(id.clone(), secret).send().await?.get_receipt().await?;
    assert!(r.status());
    let out = r.decoded_log::<CrossLedgerLink::CrossLedgerTransferOutExecuted>().expect("OutExecuted");
    assert_eq!(out.unlockSecret, secret);
    assert_eq!(r.decoded_log::<EmToken::Burned>().expect("Burned").operationId, id);
    let r = link_b.executeTransferIn(id.clone(), out.unlockSecret).send().await?.get_receipt().await?;
    assert!(r.status());
    assert_eq!(r.decoded_log::<EmToken::Minted>().expect("Minted").operationId, id);

    assert_eq!(token_a.balanceOf(alice.address()).call().await?, U256::from(7_500));
    assert_eq!(token_a.balanceOnHold(alice.address()).call().await?, U256::ZERO);
    assert_eq!(token_b.balanceOf(bob).call().await?, U256::from(2_500));
    assert_eq!(
        token_a.totalSupply().call().await? + token_b.totalSupply().call().await?,
        U256::from(10_000),
        "the supply only moved"
    );

    let on_a = link_a.getTransferData(id.clone()).call().await?;
    let on_b = link_b.getTransferData(id.clone()).call().await?;
    assert_eq!((on_a.transferType, on_a.status), (1, 6), "TransferOut, TransferOutExecuted");
    assert_eq!((on_b.transferType, on_b.status), (0, 5), "TransferIn, TransferInExecuted");
    assert_eq!(on_a.orderMessageHash, on_b.orderMessageHash);
    assert_eq!(on_a.answerMessageHash, on_b.answerMessageHash);
    assert_eq!((on_a.hashLock, on_a.secret), (on_b.hashLock, on_b.secret));
    assert_eq!(on_b.currency, "EUR");
    Ok(())
}

#[test]
fn abi_has_the_reference_signatures() {
    assert_eq!(CrossLedgerLink::orderTransferCall::SIGNATURE, "orderTransfer(string,uint256,address,string,uint256)");
    assert_eq!(CrossLedgerLink::isChainActiveCall::SIGNATURE, "isChainActive(uint256)");
    assert_eq!(CrossLedgerLink::isCurrencyActiveForChainCall::SIGNATURE, "isCurrencyActiveForChain(string,uint256)");
    assert_eq!(CrossLedgerLink::isCrossLedgerOperatorCall::SIGNATURE, "isCrossLedgerOperator(address)");
}
