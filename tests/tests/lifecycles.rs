//! Lifecycles that finish without anyone calling the API: expired holds are
//! released (API holds and dApp holds with a foreign notary), clearable
//! transfers ordered by a dApp are cleared (executed, or rejected with the
//! policy's reason), and wallet compliance statuses freeze and unfreeze the
//! wallet on chain. Real parts: anvil with EmToken, Postgres, the indexer and
//! the API binaries (build first: `cargo build --bin emledger`).

use std::time::{Duration, Instant};

use alloy::{primitives::U256, providers::Provider};
use emledger_contracts::EmToken;
use emledger_tests::stack::Chain;
use serde_json::{json, Value};

mod api_stack;
use api_stack::{clearable, dapp_wallet, minor, movements, wait_until, ApiOptions, MoneyStack, OPERATOR_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_holds_are_released_without_a_call() -> anyhow::Result<()> {
    // the sweeper runs once at start, then not for 10 minutes: the hold can expire unreleased
    let quiet = ApiOptions {
        subprocess: true,
        env: vec![("EMLEDGER_HOLD_EXPIRY_INTERVAL_MS".into(), "600000".into())],
        ..Default::default()
    };
    let mut st = MoneyStack::start("life_expiry", quiet.clone()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "20").await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(3);
    let r = st.post(&format!("/api/v1/public/wallets/{a}/hold"), json!({"targetWalletId": b, "amount": "5", "expiration": expires.to_rfc3339()})).await;
    let hold = r.ok(202)["id"].as_str().unwrap().to_owned();
    st.wait_hold(&a, &hold, "CREATED").await;
    st.wait_balances(&a, ("20.00", "15.00", "5.00")).await;
    tokio::time::sleep_until((Instant::now() + Duration::from_secs(4)).into()).await;
    // expired and not yet released: executing it is refused up front
    let r = st.post(&format!("/api/v1/public/wallets/{a}/hold/{hold}/executeHold"), json!({"amount": "5"})).await;
    let details = r.err(409, "hold_expired").clone();
    assert!(r.body.to_string().contains("expired at"), "{details}");

    // the sweeper at its default pace: RELEASED_ON_EXPIRATION and the money available, with no call
    st.restart_api(ApiOptions { subprocess: true, ..Default::default() }).await?;
    let released_at = Instant::now();
    let h = st.wait_hold(&a, &hold, "RELEASED_ON_EXPIRATION").await;
    st.wait_balances(&a, ("20.00", "20.00", "0.00")).await;
    assert!(released_at.elapsed() < Duration::from_secs(15), "released after {:?}", released_at.elapsed());
    assert_eq!(h["heldValue"], "5.00", "{h}");
    let ms = movements(&st, &a).await;
    assert!(ms.iter().any(|m| m["type"] == "RELEASE" && m["status"] == "SUCCESS" && m["amount"] == "5.00"), "{ms:?}");

    // a fresh API hold with a 5 s expiry: released within 15 s of being made
    let expires = chrono::Utc::now() + chrono::Duration::seconds(5);
    let made = Instant::now();
    let r = st.post(&format!("/api/v1/public/wallets/{a}/hold"), json!({"targetWalletId": b, "amount": "2.50", "expiration": expires.to_rfc3339()})).await;
    let hold = r.ok(202)["id"].as_str().unwrap().to_owned();
    st.wait_hold(&a, &hold, "RELEASED_ON_EXPIRATION").await;
    st.wait_balances(&a, ("20.00", "20.00", "0.00")).await;
    assert!(made.elapsed() < Duration::from_secs(15), "{:?}", made.elapsed());

    // a dApp hold whose notary is not the platform: released on expiry too
    let (payer, payer_key) = dapp_wallet(&mut st, 2).await;
    let (payee, payee_key) = dapp_wallet(&mut st, 3).await;
    st.fund(&payer, "10").await;
    let dapp = Chain::signer_provider(&st.chain.anvil, &payer_key);
    let token = EmToken::new(st.chain.deployment.address, &dapp);
    let foreign_notary = st.chain.account(4).address();
    token
        .hold("dapp-hold-1".into(), payee_key.address(), foreign_notary, minor("4"), U256::from(3u64))
        .send()
        .await?
        .get_receipt()
        .await?;
    st.wait_balances(&payer, ("10.00", "6.00", "4.00")).await;
    let start = Instant::now();
    st.wait_balances(&payer, ("10.00", "10.00", "0.00")).await;
    assert!(start.elapsed() < Duration::from_secs(15));
    let holds = st.get(&format!("/api/v1/public/wallets/{payer}/holds")).await.ok(200).clone();
    assert!(holds.to_string().contains("RELEASED_ON_EXPIRATION"), "{holds}");
    let _ = payee;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_transfers_are_cleared_and_compliance_freezes_on_chain() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("life_clearing", ApiOptions { subprocess: true, ..Default::default() }).await?;
    let (payer, payer_key) = dapp_wallet(&mut st, 2).await;
    let (payee, payee_key) = dapp_wallet(&mut st, 3).await;
    st.fund(&payer, "50").await;
    let dapp = Chain::signer_provider(&st.chain.anvil, &payer_key);
    let token = EmToken::new(st.chain.deployment.address, &dapp);

    // 1. a dApp orders a transfer; nobody calls the API; it is processed and executed
    token.orderTransfer("order-1".into(), payee_key.address(), minor("12.5")).send().await?.get_receipt().await?;
    let c = wait_until("order-1 EXECUTED", Duration::from_secs(30), || async {
        clearable(&st, "order-1").await.filter(|c| c["status"] == "EXECUTED")
    })
    .await;
    assert_eq!(c["decision"], "EXECUTE", "{c}");
    assert_eq!(c["decidedBy"], "policy", "{c}");
    st.wait_balances(&payee, ("12.50", "12.50", "0.00")).await;
    st.wait_balances(&payer, ("37.50", "37.50", "0.00")).await;
    let out = wait_until("TRANSFER_OUT SUCCESS", Duration::from_secs(15), || async {
        movements(&st, &payer).await.into_iter().find(|m| m["type"] == "TRANSFER_OUT" && m["status"] == "SUCCESS")
    })
    .await;
    assert_eq!(out["amount"], "12.50", "{out}");
    let inn = wait_until("TRANSFER_IN SUCCESS", Duration::from_secs(15), || async {
        movements(&st, &payee).await.into_iter().find(|m| m["type"] == "TRANSFER_IN" && m["status"] == "SUCCESS")
    })
    .await;
    assert_eq!(inn["amount"], "12.50", "{inn}");

    // 2. compliance: sanctioned freezes the payee on chain and the API refuses its money
    let r = st.send(reqwest::Method::PUT, &format!("/api/v1/public/wallets/{payee}/compliance-status"), Some(json!({"status": "sanctioned", "reason": "list match"})), &[]).await;
    let changed = r.ok(200).clone();
    assert_eq!(changed["previousStatus"], "available");
    let op = st.wait_operation(changed["operationId"].as_str().unwrap()).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    assert!(token.isFrozen(payee_key.address()).call().await?, "frozen on chain");
    let w = st.get(&format!("/api/v1/public/wallets/{payee}")).await.ok(200).clone();
    assert_eq!(w["complianceStatus"], "sanctioned");
    // a direct dApp transfer into it reverts
    // (through a provider of its own: a refused send costs the caching one a nonce)
    let throwaway = Chain::signer_provider(&st.chain.anvil, &payer_key);
    let direct = EmToken::new(st.chain.deployment.address, &throwaway).transfer(payee_key.address(), minor("1")).send().await;
    let reverted = match direct {
        Err(e) => e.to_string().contains("frozen"),
        Ok(p) => !p.get_receipt().await?.status(),
    };
    assert!(reverted, "a transfer into a frozen account must revert");
    // the API refuses money to and from it, naming the status
    let r = st.post(&format!("/api/v1/public/wallets/{payer}/transfer"), json!({"amount": "1", "targetWalletId": payee})).await;
    r.err(409, "wallet_compliance_status");
    assert!(r.body.to_string().contains("sanctioned"), "{}", r.body);
    let r = st.post(&format!("/api/v1/public/wallets/{payee}/transfer"), json!({"amount": "1", "targetWalletId": payer})).await;
    r.err(409, "wallet_compliance_status");
    // an unknown status is a 400 naming the field
    let r = st.send(reqwest::Method::PUT, &format!("/api/v1/public/wallets/{payee}/compliance-status"), Some(json!({"status": "naughty"})), &[]).await;
    r.err(400, "invalid_request");
    assert!(r.body.to_string().contains("status"));

    // 3. lifting it restores both
    let r = st.send(reqwest::Method::PUT, &format!("/api/v1/public/wallets/{payee}/compliance-status"), Some(json!({"status": "available"})), &[]).await;
    let op = st.wait_operation(r.ok(200)["operationId"].as_str().unwrap()).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    assert!(!token.isFrozen(payee_key.address()).call().await?);
    assert!(token.transfer(payee_key.address(), minor("1")).send().await?.get_receipt().await?.status());
    let r = st.post(&format!("/api/v1/public/wallets/{payer}/transfer"), json!({"amount": "1", "targetWalletId": payee})).await;
    let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    assert_eq!(st.wait_operation(&id).await["status"], "SUCCESS");
    st.wait_balances(&payee, ("14.50", "14.50", "0.00")).await;

    // 4. an order from a wallet sanctioned before the agent looked at it is rejected with its reason
    let manual = ApiOptions { subprocess: true, env: vec![("EMLEDGER_CLEARING_AUTO".into(), "false".into())], ..Default::default() };
    st.restart_api(manual).await?;
    token.orderTransfer("order-2".into(), payee_key.address(), minor("3")).send().await?.get_receipt().await?;
    wait_until("order-2 listed as pending", Duration::from_secs(15), || async { clearable(&st, "order-2").await.filter(|c| c["status"] == "ORDERED") }).await;
    st.wait_balances(&payer, ("35.50", "32.50", "3.00")).await;
    let r = st.send(reqwest::Method::PUT, &format!("/api/v1/public/wallets/{payer}/compliance-status"), Some(json!({"status": "sanctioned"})), &[]).await;
    st.wait_operation(r.ok(200)["operationId"].as_str().unwrap()).await;
    st.restart_api(ApiOptions { subprocess: true, ..Default::default() }).await?;
    let c = wait_until("order-2 REJECTED", Duration::from_secs(30), || async { clearable(&st, "order-2").await.filter(|c| c["status"] == "REJECTED") }).await;
    assert!(c["reason"].as_str().unwrap_or("").contains("sanctioned"), "{c}");
    assert_eq!(c["decision"], "REJECT");
    st.wait_balances(&payer, ("35.50", "35.50", "0.00")).await;

    // 5. the operator's hand: with the agent off, process then execute by hand
    st.send(reqwest::Method::PUT, &format!("/api/v1/public/wallets/{payer}/compliance-status"), Some(json!({"status": "available"})), &[]).await.ok(200);
    let manual = ApiOptions { subprocess: true, env: vec![("EMLEDGER_CLEARING_AUTO".into(), "false".into())], ..Default::default() };
    st.restart_api(manual).await?;
    wait_until("payer unfrozen", Duration::from_secs(30), || async { (!token.isFrozen(payer_key.address()).call().await.unwrap()).then(|| json!(true)) }).await;
    token.orderTransfer("order-3".into(), payee_key.address(), minor("2")).send().await?.get_receipt().await?;
    wait_until("order-3 pending", Duration::from_secs(15), || async { clearable(&st, "order-3").await.filter(|c| c["status"] == "ORDERED") }).await;
    let by_hand = |action: &'static str, body: Value| {
        let (http, base) = (st.http.clone(), st.base.clone());
        async move {
            let r = http.post(format!("{base}/api/v1/operator/clearable-transfers/order-3/{action}")).bearer_auth(OPERATOR_TOKEN).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // no operator token: 401
    let r = st.http.post(format!("{}/api/v1/operator/clearable-transfers/order-3/process", st.base)).header("X-API-Key", &st.key).send().await?;
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(by_hand("process", json!({})).await.0, 202);
    wait_until("order-3 IN_PROCESS", Duration::from_secs(15), || async { clearable(&st, "order-3").await.filter(|c| c["status"] == "IN_PROCESS") }).await;
    let (status, body) = by_hand("reject", json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{body}");
    assert_eq!(by_hand("execute", json!({})).await.0, 202);
    let c = wait_until("order-3 EXECUTED", Duration::from_secs(15), || async { clearable(&st, "order-3").await.filter(|c| c["status"] == "EXECUTED") }).await;
    assert_eq!(c["decidedBy"], "operator");
    let (status, body) = by_hand("execute", json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("clearable_transfer_not_pending")), "{body}");
    st.wait_balances(&payee, ("16.50", "16.50", "0.00")).await;

    // 6. the payer cancels an order before it is cleared: the transfer and its hold read CANCELLED
    token.orderTransfer("order-4".into(), payee_key.address(), minor("1")).send().await?.get_receipt().await?;
    wait_until("order-4 pending", Duration::from_secs(15), || async { clearable(&st, "order-4").await.filter(|c| c["status"] == "ORDERED") }).await;
    token.cancelTransfer("order-4".into()).send().await?.get_receipt().await?;
    wait_until("order-4 CANCELLED", Duration::from_secs(15), || async { clearable(&st, "order-4").await.filter(|c| c["status"] == "CANCELLED") }).await;
    let (hold_status,): (String,) = sqlx::query_as("SELECT status FROM holds WHERE operation_id = 'order-4'").fetch_one(&st.pool).await?;
    assert_eq!(hold_status, "CANCELLED");
    st.wait_balances(&payer, ("33.50", "33.50", "0.00")).await;
    let _ = st.chain.provider.get_block_number().await?;
    Ok(())
}
