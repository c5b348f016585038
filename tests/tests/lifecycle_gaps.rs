//! Issue 12's acceptance points that `lifecycles.rs` leaves open, over the real
//! stack (anvil with EmToken, Postgres, the indexer and the API binaries; build
//! first: `cargo build --bin emledger`):
//! - closing cascades: an UNSUBSCRIBED user's wallets receive nothing (transfer,
//!   card cash-in) and their schedules end; unsubscribing a wallet deletes the
//!   schedules paying from or into it and no schedule can target it afterwards;
//! - compliance: refused transitions (`closed` is final, `new` only first) and a
//!   money-blocking status refusing holds, cash-outs and card cash-ins;
//! - clearing by hand: with the agent off, the operator rejects a dApp's order
//!   with a reason; the hold goes back to the payer (LOCK then RELEASE);
//! - holds: `--release-foreign-expired-holds=false` leaves a foreign-notary dApp
//!   hold open after expiry while a platform-notary one is released; renewing an
//!   expired API hold is 409 `hold_expired`.

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use emledger_contracts::EmToken;
use emledger_tests::stack::Chain;
use reqwest::Method;
use serde_json::{json, Value};

mod api_stack;
use api_stack::{clearable, dapp_wallet, minor, movements, wait_until, ApiOptions, MoneyStack, OPERATOR_TOKEN};

const PAYOUT_IBAN: &str = "ES9121000418450200051332";

async fn holds(st: &MoneyStack, wallet: &str) -> Vec<Value> {
    st.get(&format!("/api/v1/public/wallets/{wallet}/holds?size=200")).await.ok(200)["_embedded"]["holds"].as_array().cloned().unwrap_or_default()
}

async fn hold_by_operation(st: &MoneyStack, wallet: &str, operation_id: &str) -> Option<Value> {
    holds(st, wallet).await.into_iter().find(|h| h["operationId"] == operation_id)
}

fn sched_path(w: &str) -> String {
    format!("/api/v1/public/wallets/{w}/scheduled-operations")
}

fn schedule_body(alias: &str, receiver: &str) -> Value {
    json!({"alias": alias, "amount": "1", "receiver": {"type": "IOCASH_WALLET", "account": receiver},
           "schedule": {"startDate": "2030-02-01T00:00:00Z", "frequency": "MONTHLY", "duration": {"type": "ENDLESS"}}})
}

async fn schedule_status(st: &MoneyStack, wallet: &str, id: &str) -> String {
    st.get(&format!("{}/{id}", sched_path(wallet))).await.ok(200)["status"].as_str().unwrap().to_owned()
}

fn card_cash_in_body(amount: &str) -> Value {
    json!({"amount": amount, "successUrl": "https://client.example/ok", "rejectUrl": "https://client.example/ko"})
}

async fn set_compliance(st: &MoneyStack, wallet: &str, status: &str) -> api_stack::Res {
    st.send(Method::PUT, &format!("/api/v1/public/wallets/{wallet}/compliance-status"), Some(json!({"status": status})), &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_cascades_stop_money_and_schedules() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("gaps_closing", ApiOptions::default()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    let (c, _) = st.wallet().await;
    let (d, _) = st.wallet().await;
    st.fund(&a, "30").await;
    st.fund(&b, "5").await;
    let user_b = st.get(&format!("/api/v1/public/wallets/{b}")).await.ok(200)["userId"].as_str().unwrap().to_owned();

    // (a) the user of b unsubscribes: its wallet receives nothing any more
    let into_b = st.post(&sched_path(&a), schedule_body("to b", &b)).await.ok(201)["id"].as_str().unwrap().to_owned();
    let r = st.send(Method::PATCH, &format!("/api/v1/public/users/{user_b}"), Some(json!({"status": "UNSUBSCRIBED"})), &[]).await;
    assert_eq!(r.ok(200)["status"], "UNSUBSCRIBED");
    assert_eq!(schedule_status(&st, &a, &into_b).await, "DELETED", "a schedule paying into the unsubscribed user's wallet ends");
    let before_b = movements(&st, &b).await.len();
    let before_a = movements(&st, &a).await.len();
    let r = st.post(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1", "targetWalletId": b})).await;
    r.err(409, "wallet_not_ready");
    assert!(r.body.to_string().contains("UNSUBSCRIBED"), "{}", r.body);
    let r = st.post(&format!("/api/v1/public/wallets/{b}/cards/cashIns"), card_cash_in_body("10")).await;
    r.err(409, "wallet_not_ready");
    let r = st.post(&format!("/api/v1/public/wallets/{a}/hold"), json!({"targetWalletId": b, "amount": "2"})).await;
    r.err(409, "wallet_not_ready");
    st.post(&sched_path(&a), schedule_body("to b again", &b)).await.err(409, "wallet_not_ready");
    // nothing moved: same balances, no new movement on either side
    assert_eq!(st.balances(&a).await, ("30.00".into(), "30.00".into(), "0.00".into()));
    assert_eq!(st.balances(&b).await, ("5.00".into(), "5.00".into(), "0.00".into()));
    assert_eq!(movements(&st, &b).await.len(), before_b);
    assert_eq!(movements(&st, &a).await.len(), before_a);
    // and the user's status is final
    let r = st.send(Method::PATCH, &format!("/api/v1/public/users/{user_b}"), Some(json!({"status": "ACTIVATED"})), &[]).await;
    r.err(409, "user_unsubscribed");

    // (b) unsubscribing wallet c deletes the schedules paying into and from it, and no other
    let into_c = st.post(&sched_path(&a), schedule_body("to c", &c)).await.ok(201)["id"].as_str().unwrap().to_owned();
    let from_c = st.post(&sched_path(&c), schedule_body("from c", &a)).await.ok(201)["id"].as_str().unwrap().to_owned();
    let into_d = st.post(&sched_path(&a), schedule_body("to d", &d)).await.ok(201)["id"].as_str().unwrap().to_owned();
    for (w, id) in [(&a, &into_c), (&c, &from_c), (&a, &into_d)] {
        assert_eq!(schedule_status(&st, w, id).await, "ACTIVE");
    }
    let r = st.send(Method::DELETE, &format!("/api/v1/public/wallets/{c}"), None, &[]).await;
    assert_eq!(r.ok(200)["status"], "UNSUBSCRIBED");
    assert_eq!(schedule_status(&st, &a, &into_c).await, "DELETED");
    assert_eq!(schedule_status(&st, &c, &from_c).await, "DELETED");
    assert_eq!(schedule_status(&st, &a, &into_d).await, "ACTIVE", "a schedule not touching c is left alone");
    // a schedule can no longer target it, nor pay from it
    let r = st.post(&sched_path(&a), schedule_body("to c again", &c)).await;
    r.err(409, "wallet_not_ready");
    assert!(r.body.to_string().contains("UNSUBSCRIBED"), "{}", r.body);
    st.post(&sched_path(&c), schedule_body("from c again", &a)).await.err(409, "wallet_not_ready");
    // nor does money reach it
    st.post(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1", "targetWalletId": c})).await.err(409, "wallet_not_ready");
    st.post(&format!("/api/v1/public/wallets/{c}/cards/cashIns"), card_cash_in_body("10")).await.err(409, "wallet_not_ready");
    assert_eq!(st.balances(&a).await, ("30.00".into(), "30.00".into(), "0.00".into()));
    assert_eq!(st.balances(&c).await.0, "0.00");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_transitions_and_money_blocking_status() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("gaps_compliance", ApiOptions::default()).await?;
    let (x, _) = st.wallet().await;
    let (y, _) = st.wallet().await;
    let (z, _) = st.wallet().await;
    st.fund(&x, "20").await;
    st.fund(&y, "10").await;

    // transitions: `new` only as the first status, `closed` is final
    assert_eq!(st.get(&format!("/api/v1/public/wallets/{z}")).await.ok(200)["complianceStatus"], "available");
    let r = set_compliance(&st, &z, "new").await;
    r.err(409, "invalid_status_transition");
    assert!(r.body.to_string().contains("new"), "{}", r.body);
    assert_eq!(st.get(&format!("/api/v1/public/wallets/{z}")).await.ok(200)["complianceStatus"], "available", "a refused change changes nothing");
    let r = set_compliance(&st, &z, "closed").await;
    let closed = r.ok(200).clone();
    assert_eq!((closed["previousStatus"].as_str(), closed["complianceStatus"].as_str()), (Some("available"), Some("closed")));
    assert!(closed["operationId"].is_null(), "closed does not freeze: {closed}");
    for to in ["available", "new", "on_hold", "dispute_resolved"] {
        let r = set_compliance(&st, &z, to).await;
        r.err(409, "invalid_status_transition");
        assert!(r.body.to_string().contains("closed"), "{}", r.body);
    }
    assert_eq!(st.get(&format!("/api/v1/public/wallets/{z}")).await.ok(200)["complianceStatus"], "closed");
    // a closed wallet moves no money either
    st.post(&format!("/api/v1/public/wallets/{y}/transfer"), json!({"amount": "1", "targetWalletId": z})).await.err(409, "wallet_compliance_status");

    // on_hold: every money request touching x is refused naming the status, not only /transfer
    let r = set_compliance(&st, &x, "on_hold").await;
    let op = st.wait_operation(r.ok(200)["operationId"].as_str().unwrap()).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    let before = movements(&st, &x).await.len();
    let refusals = [
        ("hold from it", st.post(&format!("/api/v1/public/wallets/{x}/hold"), json!({"targetWalletId": y, "amount": "5"})).await),
        ("hold to it", st.post(&format!("/api/v1/public/wallets/{y}/hold"), json!({"targetWalletId": x, "amount": "5"})).await),
        ("cash-out", st.post(&format!("/api/v1/public/wallets/{x}/cashOuts"), json!({"iban": {"accountNumber": PAYOUT_IBAN}, "amount": "5"})).await),
        ("card cash-in", st.post(&format!("/api/v1/public/wallets/{x}/cards/cashIns"), card_cash_in_body("5")).await),
    ];
    for (what, r) in &refusals {
        assert_eq!(r.status.as_u16(), 409, "{what}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "wallet_compliance_status", "{what}: {}", r.body);
        assert!(r.body.to_string().contains("on_hold"), "{what}: {}", r.body);
    }
    assert_eq!(st.balances(&x).await, ("20.00".into(), "20.00".into(), "0.00".into()));
    assert_eq!(st.balances(&y).await, ("10.00".into(), "10.00".into(), "0.00".into()));
    assert_eq!(movements(&st, &x).await.len(), before, "no movement was recorded");
    assert!(holds(&st, &x).await.is_empty());

    // lifting it: the same hold is accepted (the refusal was the status's)
    let r = set_compliance(&st, &x, "available").await;
    assert_eq!(st.wait_operation(r.ok(200)["operationId"].as_str().unwrap()).await["status"], "SUCCESS");
    let r = st.post(&format!("/api/v1/public/wallets/{x}/hold"), json!({"targetWalletId": y, "amount": "5"})).await;
    let hold = r.ok(202)["id"].as_str().unwrap().to_owned();
    st.wait_hold(&x, &hold, "CREATED").await;
    st.wait_balances(&x, ("20.00", "15.00", "5.00")).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_rejects_an_order_by_hand() -> anyhow::Result<()> {
    let manual = ApiOptions { subprocess: true, env: vec![("EMLEDGER_CLEARING_AUTO".into(), "false".into())], ..Default::default() };
    let mut st = MoneyStack::start("gaps_clearing", manual).await?;
    let (payer, payer_key) = dapp_wallet(&mut st, 2).await;
    let (payee, payee_key) = dapp_wallet(&mut st, 3).await;
    st.fund(&payer, "20").await;
    let dapp = Chain::signer_provider(&st.chain.anvil, &payer_key);
    let token = EmToken::new(st.chain.deployment.address, &dapp);

    token.orderTransfer("order-r".into(), payee_key.address(), minor("7")).send().await?.get_receipt().await?;
    let c = wait_until("order-r listed", Duration::from_secs(15), || async { clearable(&st, "order-r").await }).await;
    assert_eq!(c["status"], "ORDERED", "{c}");
    st.wait_balances(&payer, ("20.00", "13.00", "7.00")).await;
    let r = st.http.get(format!("{}/api/v1/operator/clearable-transfers", st.base)).bearer_auth(OPERATOR_TOKEN).send().await?;
    let pending: Vec<Value> = r.json().await?;
    assert!(pending.iter().any(|c| c["operationId"] == "order-r"), "listed as pending: {pending:?}");

    let reason = "manual review: beneficiary not verified";
    let r = st
        .http
        .post(format!("{}/api/v1/operator/clearable-transfers/order-r/reject", st.base))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"reason": reason}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 202);
    let accepted: Value = r.json().await?;
    assert_eq!(accepted["operationId"], "order-r", "{accepted}");
    let op = st.wait_operation(accepted["apiOperationId"].as_str().unwrap()).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    let c = wait_until("order-r REJECTED", Duration::from_secs(15), || async { clearable(&st, "order-r").await.filter(|c| c["status"] == "REJECTED") }).await;
    assert_eq!(c["decision"], "REJECT", "{c}");
    assert_eq!(c["decidedBy"], "operator", "{c}");
    assert_eq!(c["decisionReason"], reason, "{c}");
    assert_eq!(c["reason"], reason, "the reason recorded on chain: {c}");

    // the hold went back to the payer; nothing reached the payee
    st.wait_balances(&payer, ("20.00", "20.00", "0.00")).await;
    assert_eq!(st.balances(&payee).await.0, "0.00");
    assert_eq!(token.balanceOf(payee_key.address()).call().await?, U256::ZERO);
    assert_eq!(token.balanceOf(payer_key.address()).call().await?, minor("20"));
    let ms = wait_until("LOCK and RELEASE of order-r", Duration::from_secs(15), || async {
        let ms = movements(&st, &payer).await;
        let lock = ms.iter().any(|m| m["type"] == "LOCK" && m["status"] == "SUCCESS" && m["amount"] == "7.00");
        let release = ms.iter().any(|m| m["type"] == "RELEASE" && m["status"] == "SUCCESS" && m["amount"] == "7.00");
        (lock && release).then(|| json!(ms))
    })
    .await;
    let ms = ms.as_array().unwrap();
    assert!(!ms.iter().any(|m| m["type"] == "TRANSFER_OUT"), "nothing transferred: {ms:?}");
    let payee_ms = movements(&st, &payee).await;
    assert!(!payee_ms.iter().any(|m| m["type"] == "TRANSFER_IN"), "{payee_ms:?}");
    let h = hold_by_operation(&st, &payer, "order-r").await.expect("the order's hold");
    assert_eq!(h["remainingValue"], "0.00", "{h}");
    // the contract (the order's notary) released it
    assert_eq!(h["status"], "RELEASED_BY_NOTARY", "{h}");
    assert_eq!(h["executedValue"], "0.00", "{h}");

    // decided: a second decision is refused
    let r = st.http.post(format!("{}/api/v1/operator/clearable-transfers/order-r/execute", st.base)).bearer_auth(OPERATOR_TOKEN).send().await?;
    assert_eq!(r.status().as_u16(), 409);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_expired_holds_left_open_when_configured() -> anyhow::Result<()> {
    // quiet sweeper (it runs once at start, then not for 10 minutes), foreign holds left to their notary
    let quiet = ApiOptions {
        subprocess: true,
        env: vec![
            ("EMLEDGER_HOLD_EXPIRY_INTERVAL_MS".into(), "600000".into()),
            ("EMLEDGER_RELEASE_FOREIGN_EXPIRED_HOLDS".into(), "false".into()),
        ],
        ..Default::default()
    };
    let mut st = MoneyStack::start("gaps_holds", quiet).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    let (payer, payer_key) = dapp_wallet(&mut st, 2).await;
    let payee = st.chain.account(3).address();
    st.fund(&a, "20").await;
    st.fund(&payer, "10").await;
    let dapp = Chain::signer_provider(&st.chain.anvil, &payer_key);
    let token = EmToken::new(st.chain.deployment.address, &dapp);
    let platform = st.chain.platform.address();
    let foreign_notary = st.chain.account(4).address();

    // an API hold and two dApp holds, all expiring within seconds; the foreign one first
    let expires = chrono::Utc::now() + chrono::Duration::seconds(3);
    let r = st.post(&format!("/api/v1/public/wallets/{a}/hold"), json!({"targetWalletId": b, "amount": "5", "expiration": expires.to_rfc3339()})).await;
    let api_hold = r.ok(202)["id"].as_str().unwrap().to_owned();
    token.hold("foreign-1".into(), payee, foreign_notary, minor("4"), U256::from(2u64)).send().await?.get_receipt().await?;
    token.hold("platform-1".into(), payee, platform, minor("3"), U256::from(3u64)).send().await?.get_receipt().await?;
    st.wait_hold(&a, &api_hold, "CREATED").await;
    st.wait_balances(&payer, ("10.00", "3.00", "7.00")).await;
    let foreign = wait_until("foreign-1 indexed", Duration::from_secs(15), || async { hold_by_operation(&st, &payer, "foreign-1").await }).await;
    assert_eq!(foreign["notaryDltAddress"], format!("{foreign_notary:#x}"), "{foreign}");
    let foreign_id = foreign["id"].as_str().unwrap().to_owned();

    // renewing the expired API hold is refused up front
    tokio::time::sleep_until((Instant::now() + Duration::from_secs(4)).into()).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let r = st.post(&format!("/api/v1/public/wallets/{a}/hold/{api_hold}/renewHold"), json!({"expiration": later})).await;
    r.err(409, "hold_expired");
    assert!(r.body.to_string().contains("renewed"), "{}", r.body);
    let h = st.wait_hold(&a, &api_hold, "CREATED").await;
    assert_eq!(h["expiration"].as_str().map(|e| chrono::DateTime::parse_from_rfc3339(e).unwrap().timestamp()), Some(expires.timestamp()), "{h}");
    st.wait_balances(&a, ("20.00", "15.00", "5.00")).await;

    // the sweeper every 200 ms, foreign holds still left to their notary
    let sweeping = ApiOptions {
        subprocess: true,
        env: vec![
            ("EMLEDGER_HOLD_EXPIRY_INTERVAL_MS".into(), "200".into()),
            ("EMLEDGER_RELEASE_FOREIGN_EXPIRED_HOLDS".into(), "false".into()),
        ],
        ..Default::default()
    };
    st.restart_api(sweeping).await?;
    // the platform-notary dApp hold and the API hold are released on expiry, with no call
    let p = wait_until("platform-1 RELEASED_ON_EXPIRATION", Duration::from_secs(15), || async {
        hold_by_operation(&st, &payer, "platform-1").await.filter(|h| h["status"] == "RELEASED_ON_EXPIRATION")
    })
    .await;
    assert_eq!(p["notaryDltAddress"], format!("{platform:#x}"), "{p}");
    st.wait_hold(&a, &api_hold, "RELEASED_ON_EXPIRATION").await;
    st.wait_balances(&a, ("20.00", "20.00", "0.00")).await;
    assert_eq!(token.retrieveHoldData("platform-1".into()).call().await?.status, 6, "ReleasedOnExpiration on chain");
    // the foreign one, expired before either, stays open through many more sweeps,
    // counted as held (not available as well)
    st.wait_balances(&payer, ("10.00", "6.00", "4.00")).await;
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(2) {
        let h = st.get(&format!("/api/v1/public/wallets/{payer}/holds/{foreign_id}")).await.ok(200).clone();
        assert_eq!(h["status"], "CREATED", "{h}");
        assert_eq!(h["remainingValue"], "4.00", "{h}");
        assert_eq!(st.balances(&payer).await, ("10.00".into(), "6.00".into(), "4.00".into()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let on_chain = token.retrieveHoldData("foreign-1".into()).call().await?;
    assert_eq!(on_chain.status, 1, "still Ordered on chain");
    assert_eq!(token.balanceOnHold(payer_key.address()).call().await?, minor("4"));
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM operations o JOIN holds h ON h.id = o.hold_id WHERE h.operation_id = 'foreign-1'")
        .fetch_one(&st.pool)
        .await?;
    assert_eq!(n, 0, "no release was ever stored for the foreign hold");

    // with the setting back on (the default), the same hold is released: it was the setting
    st.restart_api(ApiOptions { subprocess: true, ..Default::default() }).await?;
    st.wait_hold(&payer, &foreign_id, "RELEASED_ON_EXPIRATION").await;
    st.wait_balances(&payer, ("10.00", "10.00", "0.00")).await;
    Ok(())
}

/// Seed/issue 12: "an UNSUBSCRIBED user's wallets stop receiving". A card cash-in
/// started before the user is unsubscribed and paid after it is not minted: the
/// paid order is UNAPPLIED (for a refund at the PSP), the movement ERROR with the
/// reason, and the customer is sent to the reject URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_paid_after_the_user_unsubscribed_does_not_reach_the_wallet() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("gaps_card_late", ApiOptions::default()).await?;
    let (v, _) = st.wallet().await;
    let user_v = st.get(&format!("/api/v1/public/wallets/{v}")).await.ok(200)["userId"].as_str().unwrap().to_owned();
    let started = st.start_card_cash_in(&v, "6").await;
    let movement = started["movementId"].as_str().unwrap().to_owned();
    st.send(Method::PATCH, &format!("/api/v1/public/users/{user_v}"), Some(json!({"status": "UNSUBSCRIBED"})), &[]).await.ok(200);
    // the customer pays on the PSP's page after the unsubscribe
    let (_, back) = st.psp_page(started["paymentUrl"].as_str().unwrap(), "pay").await;
    st.http.get(&back).send().await?;
    let m = wait_until("the card cash-in settled", Duration::from_secs(20), || async {
        let m = st.get(&format!("/api/v1/public/wallets/{v}/movements/{movement}")).await.body;
        (m["status"] != "PENDING").then_some(m)
    })
    .await;
    assert_eq!(m["status"], "ERROR", "money reached an UNSUBSCRIBED user's wallet: {m}");
    assert_eq!(st.balances(&v).await.0, "0.00");
    // the customer goes back to the shop's reject URL; the order waits for a refund
    let back = st.http.get(&back).send().await?;
    assert_eq!(back.headers()["location"], "https://client.example/ko");
    let (status, error): (String, Option<String>) = sqlx::query_as("SELECT status, psp_error FROM card_payments WHERE movement_id = $1")
        .bind(uuid::Uuid::parse_str(&movement)?)
        .fetch_one(&st.pool)
        .await?;
    assert_eq!(status, "UNAPPLIED");
    assert!(error.is_some_and(|e| e.contains("UNSUBSCRIBED")));
    let (minted,): (i64,) = sqlx::query_as("SELECT count(*) FROM operations WHERE wallet_id = $1 AND kind = 'CARD_CASHIN'")
        .bind(uuid::Uuid::parse_str(&v)?)
        .fetch_one(&st.pool)
        .await?;
    assert_eq!(minted, 0, "nothing minted");
    Ok(())
}
