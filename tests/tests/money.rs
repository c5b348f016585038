//! Moving money end to end (issue 5): anvil with EmToken, Postgres, the real
//! indexer binary and the API with its submitter; only HTTP to talk to the API
//! (plus SQL to count chain events and operations).
//!
//! Build the binary first: `cargo build --bin emledger && cargo test -p emledger-tests --test money`.

use std::time::Duration;

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use emledger_contracts::EmToken;
use emledger_tests::stack::{reconcile, wait_for_cursor, Chain, IndexerProcess};

mod api_stack;
use api_stack::{ApiOptions, MoneyStack, Res};
use serde_json::{json, Value};

const REJECTED_IBAN: &str = "ES7921000813610123456789";
const PAYOUT_IBAN: &str = "ES9121000418450200051332";

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no string {k} in {v}")).to_owned()
}

async fn assert_reconciled(st: &MoneyStack) {
    let block = st.chain.block_number().await.unwrap();
    wait_for_cursor(&st.pool, block, Duration::from_secs(60)).await.unwrap();
    let (ok, out) = reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address).unwrap();
    assert!(ok && out.contains(": 0 mismatches"), "reconcile:\n{out}");
}

async fn transfer(st: &MoneyStack, from: &str, to: &str, amount: &str) -> Res {
    st.post(&format!("/api/v1/public/wallets/{from}/transfer"), json!({"amount": amount, "targetWalletId": to, "concept": "test"})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_cash_ins_and_idempotency() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("money_transfers", ApiOptions::default()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    let (c, _) = st.wallet().await;

    // card cash-in: PENDING → SUCCESS through the PSP simulator (tests/card_psp.rs covers the protocol)
    let started = st.start_card_cash_in(&a, "100").await;
    assert_eq!((started["status"].as_str(), started["amount"].as_str()), (Some("PENDING"), Some("100.00")));
    let m = st.get(&format!("/api/v1/public/wallets/{a}/movements/{}", s(&started, "movementId"))).await.ok(200).clone();
    assert_eq!((m["type"].as_str(), m["status"].as_str()), (Some("CARD_CASHIN"), Some("PENDING")));
    let (_, back) = st.psp_page(&s(&started, "paymentUrl"), "pay").await;
    let r = st.http.get(&back).send().await?;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str()?), (303, "https://client.example/ok"));
    st.wait_movement(&a, &s(&started, "movementId"), "SUCCESS").await;
    // declined on the PSP's page: movement ERROR, nothing minted
    let rejected = st
        .post(
            &format!("/api/v1/public/wallets/{a}/cards/cashIns"),
            json!({"amount": "7", "succcessUrl": "https://client.example/ok", "rejectUrl": "https://client.example/ko"}),
        )
        .await
        .ok(202)
        .clone();
    let (_, back) = st.psp_page(&s(&rejected, "paymentUrl"), "decline").await;
    let r = st.http.get(&back).send().await?;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str()?), (303, "https://client.example/ko"));
    st.wait_movement(&a, &s(&rejected, "movementId"), "ERROR").await;
    st.post(&format!("/api/v1/public/wallets/{a}/cards/cashIns"), json!({"amount": "1", "successUrl": "ftp://x", "rejectUrl": "https://k"}))
        .await
        .err(400, "invalid_request");
    st.wait_balances(&a, ("100.00", "100.00", "0.00")).await;

    // transfer: TRANSFER_OUT / TRANSFER_IN, PENDING → SUCCESS
    let t = transfer(&st, &a, &b, "30.50").await.ok(202).clone();
    assert_eq!(t["status"], "PENDING");
    let out = st.wait_movement(&a, &s(&t, "movementId"), "SUCCESS").await;
    assert_eq!((out["type"].as_str(), out["amount"].as_str()), (Some("TRANSFER_OUT"), Some("30.50")));
    assert!(out["txHash"].is_string());
    let inn = st.wait_movement(&b, &s(&t, "targetMovementId"), "SUCCESS").await;
    assert_eq!(inn["type"], "TRANSFER_IN");
    assert_eq!(inn["originWalletId"].as_str(), Some(a.as_str()));
    let op = st.wait_operation(&s(&t, "apiOperationId")).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    st.wait_balances(&a, ("69.50", "69.50", "0.00")).await;
    st.wait_balances(&b, ("30.50", "30.50", "0.00")).await;

    // refusals
    transfer(&st, &a, &b, "0").await.err(400, "invalid_request");
    transfer(&st, &a, &b, "1.001").await.err(400, "invalid_request");
    transfer(&st, &a, &b, "-1").await.err(400, "invalid_request");
    transfer(&st, &a, &a, "1").await.err(400, "invalid_request");
    transfer(&st, &a, &b, "69.51").await.err(409, "insufficient_funds");
    transfer(&st, &a, &uuid::Uuid::now_v7().to_string(), "1").await.err(404, "not_found");
    transfer(&st, &uuid::Uuid::now_v7().to_string(), &b, "1").await.err(404, "not_found");
    st.post(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1"})).await.err(400, "invalid_request");
    // another tenant's wallet is invisible
    let (other_client, _) = emledger_api::create_tenant(&st.pool, "other", "anvil-local").await?;
    let (_, other_key) = emledger_api::create_api_key(&st.pool, other_client, "k", &[emledger_api::Scope::Read, emledger_api::Scope::Write]).await?;
    let r = st
        .http
        .post(format!("{}/api/v1/public/wallets/{a}/transfer", st.base))
        .header("X-API-Key", &other_key)
        .json(&json!({"amount": "1", "targetWalletId": b}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 404);
    // read-only keys cannot move money
    let (_, reader) = emledger_api::create_api_key(&st.pool, st.client_id, "r", &[emledger_api::Scope::Read]).await?;
    let r = st.http.post(format!("{}/api/v1/public/wallets/{a}/transfer", st.base)).header("X-API-Key", &reader).json(&json!({"amount": "1", "targetWalletId": b})).send().await?;
    assert_eq!(r.status().as_u16(), 403);
    // target not READY
    st.send(reqwest::Method::DELETE, &format!("/api/v1/public/wallets/{c}"), None, &[]).await.ok(200);
    transfer(&st, &a, &c, "1").await.err(409, "wallet_not_ready");

    // SEPA cash-in: no tenant request can mint (the old bank route is gone); the
    // bank's camt.054 dropped in the inbox does (tests/sepa.rs covers the rules)
    let w = st.post(&format!("/api/v1/public/wallets/{b}/create-iban"), json!({})).await;
    let w = if w.status == 415 { st.send(reqwest::Method::POST, &format!("/api/v1/public/wallets/{b}/create-iban"), None, &[]).await } else { w };
    let iban = s(w.ok(200), "iban");
    let sepa = json!({"iban": iban, "amount": "25", "reference": "BANKREF-1", "debtorName": "Ada"});
    st.post("/api/v1/bank/incoming-transfers", sepa.clone()).await.err(404, "not_found");
    st.drop_in_inbox("camt054-money.xml", &api_stack::camt054(&[api_stack::Credit::new("BANKREF-1", &iban, "25.00")]));
    let m = st.wait_movement_of_type(&b, "BANK_ACCOUNT_CASHIN", "SUCCESS").await;
    assert_eq!(m["amount"].as_str(), Some("25.00"));
    st.wait_balances(&b, ("55.50", "55.50", "0.00")).await;

    // idempotency of money requests
    let body = json!({"amount": "1.25", "targetWalletId": b});
    let path = format!("/api/v1/public/wallets/{a}/transfer");
    let first = st.post_key(&path, body.clone(), "key-1").await.ok(202).clone();
    let replay = st.post_key(&path, body.clone(), "key-1").await;
    assert!(replay.replayed(), "{replay:?}");
    assert_eq!(replay.ok(202), &first);
    st.post_key(&path, json!({"amount": "1.26", "targetWalletId": b}), "key-1").await.err(422, "idempotency_key_reused");
    // a replay or a refusal ends its transaction (and the key's lock) before it
    // answers: back-to-back retries of the key never find it in flight
    for _ in 0..25 {
        let r = st.post_key(&path, body.clone(), "key-1").await;
        assert!(r.replayed(), "{r:?}");
        st.post_key(&path, json!({"amount": "1.26", "targetWalletId": b}), "key-1").await.err(422, "idempotency_key_reused");
    }
    // an answered key is read, not locked: ten retries at once all replay
    let answers = st.concurrent_posts(&path, (0..10).map(|_| (body.clone(), Some("key-1".to_owned()))).collect()).await;
    assert!(answers.iter().all(|r| r.status == 202 && r.replayed()), "{answers:?}");
    // a refusal is remembered for its key
    st.post_key(&path, json!({"amount": "1000", "targetWalletId": b}), "key-2").await.err(409, "insufficient_funds");
    let again = st.post_key(&path, json!({"amount": "1000", "targetWalletId": b}), "key-2").await;
    assert!(again.replayed(), "{again:?}");
    again.err(409, "insufficient_funds");
    // 10 concurrent requests with one key → one operation
    let body = json!({"amount": "2", "targetWalletId": b, "concept": "concurrent"});
    let answers = st.concurrent_posts(&path, (0..10).map(|_| (body.clone(), Some("key-3".to_owned()))).collect()).await;
    // each answer is the operation (first or replayed) or 409 while the first is still in flight
    let ids: Vec<String> = answers.iter().filter(|r| r.status == 202).map(|r| s(&r.body, "apiOperationId")).collect();
    for r in answers.iter().filter(|r| r.status != 202) {
        r.err(409, "idempotency_in_flight");
    }
    assert!(!ids.is_empty() && ids.iter().all(|i| i == &ids[0]), "{ids:?}");
    let after = st.post_key(&path, body.clone(), "key-3").await;
    assert!(after.replayed(), "{after:?}");
    assert_eq!(s(after.ok(202), "apiOperationId"), ids[0]);
    let (ops,): (i64,) = sqlx::query_as("SELECT count(*) FROM movements WHERE concept = 'concurrent' AND type = 'TRANSFER_OUT'").fetch_one(&st.pool).await?;
    assert_eq!(ops, 1);
    st.wait_operation(&ids[0]).await;
    st.wait_operation(&s(&first, "apiOperationId")).await;
    st.wait_balances(&a, ("66.25", "66.25", "0.00")).await;
    assert_reconciled(&st).await;
    Ok(())
}

async fn hold_req(st: &MoneyStack, payer: &str, payee: &str, amount: &str, exp: Option<String>) -> Res {
    let body = match exp {
        Some(e) => json!({"amount": amount, "targetWalletId": payee, "concept": "h", "expiration": e}),
        None => json!({"amount": amount, "targetWalletId": payee, "concept": "h"}),
    };
    st.post(&format!("/api/v1/public/wallets/{payer}/hold"), body).await
}

async fn act_req(st: &MoneyStack, payer: &str, hold: &str, action: &str, body: Value) -> Res {
    st.post(&format!("/api/v1/public/wallets/{payer}/hold/{hold}/{action}"), body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_lifecycle_races_and_expiry() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("money_holds", ApiOptions::default()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "100").await;
    // create → CREATED, funds held
    let h1 = hold_req(&st, &a, &b, "40", None).await.ok(202).clone();
    assert_eq!(h1["status"], "CREATION_REQUESTED");
    assert!(h1["expiration"].is_null());
    let h1id = s(&h1, "id");
    let created = st.wait_hold(&a, &h1id, "CREATED").await;
    assert_eq!(created["notaryDltAddress"].as_str().unwrap(), format!("{:#x}", st.chain.platform.address()));
    st.wait_movement(&a, h1["movementIds"][0].as_str().unwrap(), "SUCCESS").await;
    st.wait_balances(&a, ("100.00", "60.00", "40.00")).await;
    hold_req(&st, &a, &b, "60.01", None).await.err(409, "insufficient_funds");
    hold_req(&st, &a, &b, "1", Some("2001-01-01T00:00:00+02".into())).await.err(400, "invalid_request");

    // execute and keep open 10 → EXECUTED_AND_KEPT_OPEN
    let k = act_req(&st, &a, &h1id, "executeHoldAndKeepOpen", json!({"amount": "10", "concept": "part"})).await.ok(202).clone();
    assert_eq!(k["status"], "EXECUTION_AND_KEEP_OPEN_REQUESTED");
    act_req(&st, &a, &h1id, "releaseHold", json!({})).await.err(409, "hold_operation_in_progress");
    st.wait_hold(&a, &h1id, "EXECUTED_AND_KEPT_OPEN").await;
    st.wait_operation(&s(&k, "apiOperationId")).await;
    st.wait_balances(&b, ("10.00", "10.00", "0.00")).await;
    // renew with a date, then perpetual
    let exp = (chrono::Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%dT%H:%M:%S+02:00").to_string();
    let r = act_req(&st, &a, &h1id, "renewHold", json!({"expiration": exp})).await.ok(202).clone();
    st.wait_operation(&s(&r, "apiOperationId")).await;
    let renewed = st.wait_hold(&a, &h1id, "RENEWED").await;
    assert!(renewed["expiration"].is_string());
    let r = act_req(&st, &a, &h1id, "renewHold", json!({})).await.ok(202).clone();
    st.wait_operation(&s(&r, "apiOperationId")).await;
    let renewed = st.wait_hold(&a, &h1id, "RENEWED").await;
    assert!(renewed["expiration"].is_null(), "{renewed}");
    // partial execute (20 of 30) closes the hold and releases the rest
    act_req(&st, &a, &h1id, "executeHold", json!({"amount": "30.01"})).await.err(409, "amount_exceeds_held_value");
    let e = act_req(&st, &a, &h1id, "executeHold", json!({"amount": "20", "concept": "close"})).await.ok(202).clone();
    assert_eq!(e["movementIds"].as_array().unwrap().len(), 3);
    st.wait_hold(&a, &h1id, "EXECUTED").await;
    for m in e["movementIds"].as_array().unwrap().iter().take(1).chain(e["movementIds"].as_array().unwrap().iter().skip(2)) {
        st.wait_movement(&a, m.as_str().unwrap(), "SUCCESS").await;
    }
    st.wait_balances(&a, ("70.00", "70.00", "0.00")).await;
    st.wait_balances(&b, ("30.00", "30.00", "0.00")).await;
    st.wait_operation(&s(&e, "apiOperationId")).await;
    act_req(&st, &a, &h1id, "executeHold", json!({"amount": "1"})).await.err(409, "hold_not_open");
    act_req(&st, &a, &uuid::Uuid::now_v7().to_string(), "releaseHold", json!({})).await.err(404, "not_found");

    // release → RELEASED_BY_NOTARY, funds back
    let h2 = hold_req(&st, &a, &b, "15", None).await.ok(202).clone();
    let h2id = s(&h2, "id");
    st.wait_hold(&a, &h2id, "CREATED").await;
    let rel = act_req(&st, &a, &h2id, "releaseHold", json!({"concept": "bye"})).await.ok(202).clone();
    assert_eq!(rel["status"], "RELEASE_REQUESTED");
    st.wait_hold(&a, &h2id, "RELEASED_BY_NOTARY").await;
    st.wait_movement(&a, rel["movementIds"][0].as_str().unwrap(), "SUCCESS").await;
    st.wait_operation(&s(&rel, "apiOperationId")).await;
    st.wait_balances(&a, ("70.00", "70.00", "0.00")).await;

    // race: execute vs release on one hold → exactly one wins
    let h3 = hold_req(&st, &a, &b, "20", None).await.ok(202).clone();
    let h3id = s(&h3, "id");
    st.wait_hold(&a, &h3id, "CREATED").await;
    st.wait_operation(&s(&h3, "apiOperationId")).await;
    let (x, y) = tokio::join!(
        act_req(&st, &a, &h3id, "executeHold", json!({"amount": "20"})),
        act_req(&st, &a, &h3id, "releaseHold", json!({}))
    );
    let won: Vec<&Res> = [&x, &y].into_iter().filter(|r| r.status == 202).collect();
    assert_eq!(won.len(), 1, "{x:?} {y:?}");
    let lost = if x.status == 202 { &y } else { &x };
    lost.err(409, "hold_operation_in_progress");
    let op = st.wait_operation(&s(&won[0].body, "apiOperationId")).await;
    assert_eq!(op["status"], "SUCCESS");
    let final_status = if x.status == 202 { "EXECUTED" } else { "RELEASED_BY_NOTARY" };
    st.wait_hold(&a, &h3id, final_status).await;

    // a dApp's hold (notary not the platform) cannot be settled through the API
    let user = st.get(&format!("/api/v1/public/wallets/{a}")).await.ok(200)["userId"].as_str().unwrap().to_owned();
    let dapp_signer = st.chain.account(3);
    let dw = st.post("/api/v1/public/wallets", json!({"userId": user, "dltAddress": format!("{:#x}", dapp_signer.address())})).await.ok(201).clone();
    let dwid = s(&dw, "id");
    st.fund(&dwid, "10").await;
    let b_addr: Address = st.get(&format!("/api/v1/public/wallets/{b}")).await.ok(200)["dltAddress"].as_str().unwrap().parse()?;
    let token = EmToken::new(st.chain.deployment.address, Chain::signer_provider(&st.chain.anvil, &dapp_signer));
    token.hold("dapp-hold-1".into(), b_addr, st.chain.account(4).address(), U256::from(500), U256::ZERO).send().await?.get_receipt().await?;
    let dapp_hold = loop {
        let list = st.get(&format!("/api/v1/public/wallets/{dwid}/holds")).await.ok(200).clone();
        if let Some(h) = list["_embedded"]["holds"].as_array().and_then(|l| l.first().cloned()) {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    st.post(&format!("/api/v1/public/wallets/{dwid}/hold/{}/executeHold", s(&dapp_hold, "id")), json!({"amount": "1"}))
        .await
        .err(409, "hold_not_notarized_by_platform");

    // expiry boundary (block timestamps set with evm_setNextBlockTimestamp)
    let latest = st.chain.provider.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await?.unwrap().header.timestamp;
    let base = latest.max(chrono::Utc::now().timestamp() as u64) + 300;
    let iso = |t: u64| chrono::DateTime::from_timestamp(t as i64, 0).unwrap().to_rfc3339();
    let before = hold_req(&st, &a, &b, "5", Some(iso(base))).await.ok(202).clone();
    let at = hold_req(&st, &a, &b, "6", Some(iso(base + 100))).await.ok(202).clone();
    st.wait_hold(&a, &s(&before, "id"), "CREATED").await;
    st.wait_hold(&a, &s(&at, "id"), "CREATED").await;
    st.wait_operation(&s(&before, "apiOperationId")).await;
    st.wait_operation(&s(&at, "apiOperationId")).await;
    // one second before expiry: executes
    st.chain.provider.raw_request::<_, Value>("evm_setNextBlockTimestamp".into(), (base - 1,)).await?;
    let e1 = act_req(&st, &a, &s(&before, "id"), "executeHold", json!({"amount": "5"})).await.ok(202).clone();
    let op = st.wait_operation(&s(&e1, "apiOperationId")).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    st.wait_hold(&a, &s(&before, "id"), "EXECUTED").await;
    // exactly at expiry: the contract refuses; the hold can then be released on expiration
    st.chain.provider.raw_request::<_, Value>("evm_setNextBlockTimestamp".into(), (base + 100,)).await?;
    let e2 = act_req(&st, &a, &s(&at, "id"), "executeHold", json!({"amount": "6"})).await.ok(202).clone();
    let op = st.wait_operation(&s(&e2, "apiOperationId")).await;
    assert_eq!(op["status"], "FAILED", "{op}");
    assert!(op["error"].as_str().unwrap_or("").contains("expired"), "{op}");
    let failed = st.wait_hold(&a, &s(&at, "id"), "EXECUTION_FAILED").await;
    assert!(failed["remainingValue"] == "6.00", "{failed}");
    st.wait_movement(&a, e2["movementIds"][0].as_str().unwrap(), "ERROR").await;
    st.wait_movement(&b, e2["movementIds"][1].as_str().unwrap(), "ERROR").await;
    // make sure the chain is past the expiry for the release
    st.chain.provider.raw_request::<_, Value>("evm_setNextBlockTimestamp".into(), (base + 101,)).await.ok();
    let rel = act_req(&st, &a, &s(&at, "id"), "releaseHold", json!({})).await.ok(202).clone();
    st.wait_operation(&s(&rel, "apiOperationId")).await;
    st.wait_hold(&a, &s(&at, "id"), "RELEASED_ON_EXPIRATION").await;
    assert_reconciled(&st).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cash_outs_reserve_then_burn_or_release() -> anyhow::Result<()> {
    let options = ApiOptions { bank_reject_ibans: vec![REJECTED_IBAN.into()], ..Default::default() };
    let mut st = MoneyStack::start("money_cashouts", options).await?;
    let (a, _) = st.wallet().await;
    st.fund(&a, "50").await;

    let c = st
        .post(&format!("/api/v1/public/wallets/{a}/cashOuts"), json!({"iban": {"accountNumber": PAYOUT_IBAN}, "amount": "10", "concept": "rent"}))
        .await
        .ok(202)
        .clone();
    assert_eq!((c["status"].as_str(), c["amount"].as_str()), (Some("PENDING"), Some("10.00")));
    let m = st.wait_movement(&a, &s(&c, "movementId"), "SUCCESS").await;
    assert_eq!(m["type"], "BANK_ACCOUNT_CASHOUT");
    st.wait_hold(&a, &s(&c, "holdId"), "EXECUTED").await;
    st.wait_balances(&a, ("40.00", "40.00", "0.00")).await;
    assert_eq!(st.chain_events(&s(&c, "holdId"), "Burned").await, 1);

    // to a favourite external account
    let fav = st
        .post(&format!("/api/v1/public/wallets/{a}/favourite-external-accounts"), json!({"alias": "My bank", "externalIban": {"accountNumber": PAYOUT_IBAN}}))
        .await
        .ok(201)
        .clone();
    let fid = s(&fav, "id");
    let f = st
        .post(&format!("/api/v1/public/wallets/{a}/cashout-to-favourite-external-account"), json!({"favouriteExternalAccountId": fid, "amount": "5"}))
        .await
        .ok(202)
        .clone();
    for k in ["movementId", "status", "amount", "favouriteExternalAccountIban", "favouriteExternalAccountId", "alias"] {
        assert!(f.get(k).is_some(), "{k} missing in {f}");
    }
    assert_eq!((f["alias"].as_str(), f["favouriteExternalAccountId"].as_str()), (Some("My bank"), Some(fid.as_str())));
    assert!(f["_links"]["self"]["href"].as_str().unwrap().ends_with(&s(&f, "movementId")));
    st.wait_movement(&a, &s(&f, "movementId"), "SUCCESS").await;
    st.wait_balances(&a, ("35.00", "35.00", "0.00")).await;

    // the bank refuses the payout: the reservation is released, the money is back
    let r = st
        .post(&format!("/api/v1/public/wallets/{a}/cashOuts"), json!({"iban": {"accountNumber": REJECTED_IBAN}, "amount": "7"}))
        .await
        .ok(202)
        .clone();
    st.wait_movement(&a, &s(&r, "movementId"), "ERROR").await;
    st.wait_hold(&a, &s(&r, "holdId"), "RELEASED_BY_NOTARY").await;
    st.wait_balances(&a, ("35.00", "35.00", "0.00")).await;
    assert_eq!(st.chain_events(&s(&r, "holdId"), "Burned").await, 0);
    let start = std::time::Instant::now();
    loop {
        let (status,): (String,) = sqlx::query_as("SELECT status FROM payouts WHERE hold_id = $1::uuid").bind(s(&r, "holdId")).fetch_one(&st.pool).await?;
        if status == "RELEASED" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "payout stuck in {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paid: Vec<(String,)> = sqlx::query_as("SELECT status FROM payouts WHERE hold_id <> $1::uuid ORDER BY created_at").bind(s(&r, "holdId")).fetch_all(&st.pool).await?;
    assert!(paid.iter().all(|p| p.0 == "PAID" || p.0 == "PAYING"), "{paid:?}");
    // the reservation hold cannot be touched through the hold endpoints
    st.post(&format!("/api/v1/public/wallets/{a}/hold/{}/releaseHold", s(&c, "holdId")), json!({})).await.err(409, "hold_reserved_for_cash_out");

    // refusals
    st.post(&format!("/api/v1/public/wallets/{a}/cashOuts"), json!({"iban": {"accountNumber": PAYOUT_IBAN}, "amount": "35.01"}))
        .await
        .err(409, "insufficient_funds");
    st.post(&format!("/api/v1/public/wallets/{a}/cashOuts"), json!({"iban": {"accountNumber": "ES00 nonsense"}, "amount": "1"}))
        .await
        .err(400, "invalid_request");
    st.post(&format!("/api/v1/public/wallets/{a}/cashout-to-favourite-external-account"), json!({"favouriteExternalAccountId": uuid::Uuid::now_v7(), "amount": "1"}))
        .await
        .err(404, "not_found");
    st.send(reqwest::Method::DELETE, &format!("/api/v1/public/wallets/{a}/favourite-external-accounts/{fid}"), None, &[]).await.ok(200);
    st.post(&format!("/api/v1/public/wallets/{a}/cashout-to-favourite-external-account"), json!({"favouriteExternalAccountId": fid, "amount": "1"}))
        .await
        .err(409, "favourite_deleted");
    assert_reconciled(&st).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debit_storm_never_overdraws_and_leaves_no_nonce_gap() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("money_storm", ApiOptions::default()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "100").await;

    let body = json!({"amount": "1", "targetWalletId": b, "concept": "storm"});
    let answers = st.concurrent_posts(&format!("/api/v1/public/wallets/{a}/transfer"), (0..200).map(|_| (body.clone(), None)).collect()).await;
    let accepted: Vec<String> = answers.iter().filter(|r| r.status == 202).map(|r| s(&r.body, "apiOperationId")).collect();
    for r in answers.iter().filter(|r| r.status != 202) {
        r.err(409, "insufficient_funds");
    }
    assert_eq!(accepted.len(), 100, "exactly the funded transfers are accepted");
    let mut success = 0;
    for id in &accepted {
        if st.wait_operation(id).await["status"] == "SUCCESS" {
            success += 1;
        }
    }
    assert_eq!(success, 100);
    st.wait_balances(&a, ("0.00", "0.00", "0.00")).await;
    st.wait_balances(&b, ("100.00", "100.00", "0.00")).await;
    let (pending,): (i64,) = sqlx::query_as("SELECT count(*) FROM movements WHERE status = 'PENDING'").fetch_one(&st.pool).await?;
    assert_eq!(pending, 0);
    assert_reconciled(&st).await;

    // the submitter keeps going: no nonce gap
    st.fund(&a, "1").await;
    let t = transfer(&st, &a, &b, "1").await.ok(202).clone();
    assert_eq!(st.wait_operation(&s(&t, "apiOperationId")).await["status"], "SUCCESS");
    let (gaps,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT nonce, lag(nonce) OVER (ORDER BY nonce) AS prev FROM chain_transactions) x WHERE prev IS NOT NULL AND nonce <> prev + 1",
    )
    .fetch_one(&st.pool)
    .await?;
    assert_eq!(gaps, 0);
    Ok(())
}

/// Kill -9 (or abort through the `EMLEDGER_FAULT` hook) at each step; after a
/// restart every operation has exactly one on-chain effect and its final status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_safety_at_every_step() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("money_crash", ApiOptions { subprocess: true, ..Default::default() }).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "100").await;
    let path = format!("/api/v1/public/wallets/{a}/transfer");

    let mut expected_b = 0;
    for (i, fault) in ["after_store", "after_sign", "after_send"].into_iter().enumerate() {
        st.restart_api(ApiOptions { subprocess: true, fault: Some(fault.into()), ..Default::default() }).await?;
        let key = format!("crash-{fault}");
        let body = json!({"amount": "3", "targetWalletId": b, "concept": fault});
        let first = st.post_key(&path, body.clone(), &key).await;
        st.wait_api_exit(Duration::from_secs(30)).await?;
        st.restart_api(ApiOptions { subprocess: true, ..Default::default() }).await?;
        // the stored answer (for after_store the client never got one)
        let replay = st.post_key(&path, body, &key).await;
        assert!(replay.replayed(), "{fault}: {replay:?}");
        let op_id = s(replay.ok(202), "apiOperationId");
        if first.status == 202 {
            assert_eq!(s(&first.body, "apiOperationId"), op_id);
        } else {
            assert_eq!(i, 0, "{fault}: only after_store loses the answer: {first:?}");
        }
        let op = st.wait_operation(&op_id).await;
        assert_eq!(op["status"], "SUCCESS", "{fault}: {op}");
        assert_eq!(st.chain_events(&op_id, "OperatorTransfer").await, 1, "{fault}: exactly one on-chain effect");
        st.wait_movement(&a, &s(replay.ok(202), "movementId"), "SUCCESS").await;
        expected_b += 3;
    }

    // kill -9 after the transaction is mined, before the indexer settles it
    st.indexer.kill9();
    let t = transfer(&st, &a, &b, "4").await.ok(202).clone();
    let op_id = s(&t, "apiOperationId");
    let start = std::time::Instant::now();
    loop {
        let (status,): (String,) = sqlx::query_as("SELECT status FROM operations WHERE id = $1::uuid").bind(&op_id).fetch_one(&st.pool).await?;
        if status == "MINED" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never mined: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    st.restart_api(ApiOptions { subprocess: true, ..Default::default() }).await?;
    st.indexer = IndexerProcess::spawn(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address, &[])?;
    assert_eq!(st.wait_operation(&op_id).await["status"], "SUCCESS");
    assert_eq!(st.chain_events(&op_id, "OperatorTransfer").await, 1);
    st.wait_movement(&a, &s(&t, "movementId"), "SUCCESS").await;
    expected_b += 4;
    st.wait_balances(&b, (&format!("{expected_b}.00"), &format!("{expected_b}.00"), "0.00")).await;
    assert_reconciled(&st).await;
    Ok(())
}
