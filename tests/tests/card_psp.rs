//! Card cash-in through a PSP (issue "Real payment rails"): the API signs the
//! order for the PSP's hosted page (SHA-IN), and mints only on a feedback that
//! verifies with SHA-OUT and matches the order — once per order, whatever is
//! replayed, duplicated or tampered with. Real anvil, Postgres, indexer binary
//! and API; the PSP is the local simulator speaking the Ogone e-Commerce protocol.
//!
//! Build the binary first: `cargo build --bin emledger && cargo test -p emledger-tests --test card_psp`.

use std::time::Duration;

use emledger_operations::psp::{ogone, HashAlgorithm};
use emledger_tests::stack::{reconcile, wait_for_cursor};
use serde_json::{json, Value};

mod api_stack;
use api_stack::{ApiOptions, MoneyStack, PSP_SHA_IN, PSP_SHA_OUT};

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no string {k} in {v}")).to_owned()
}

/// Re-signs feedback parameters with `passphrase` (SHA-512, as the tests' simulator).
fn signed(params: &[(String, String)], passphrase: &str) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "SHASIGN").cloned().collect();
    let sig = ogone::sign_out(&p, passphrase, HashAlgorithm::Sha512);
    p.push(("SHASIGN".into(), sig));
    p
}

fn with(params: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    params.iter().map(|(k, v)| (k.clone(), if k.eq_ignore_ascii_case(name) { value.to_owned() } else { v.clone() })).collect()
}

async fn notify(st: &MoneyStack, params: &[(String, String)]) -> (u16, String) {
    let r = st.http.post(format!("{}/psp/ogone/notifications", st.base)).form(params).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn order_status(st: &MoneyStack, movement: &str) -> String {
    let order = movement.replace('-', "");
    let (status,): (String,) = sqlx::query_as("SELECT status FROM card_payments WHERE token = $1").bind(order).fetch_one(&st.pool).await.unwrap();
    status
}

async fn mints(st: &MoneyStack, op: &str) -> i64 {
    st.chain_events(op, "Minted").await
}

async fn settle_and_reconcile(st: &MoneyStack) {
    let block = st.chain.block_number().await.unwrap();
    wait_for_cursor(&st.pool, block, Duration::from_secs(60)).await.unwrap();
    let (ok, out) = reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address).unwrap();
    assert!(ok && out.contains(": 0 mismatches"), "reconcile:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_verified_psp_feedback_mints_and_only_once() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("card_psp", ApiOptions::default()).await?;
    let (w, _) = st.wallet().await;

    // the paymentUrl is the PSP's page with the order's parameters and a SHA-IN that verifies
    let started = st.start_card_cash_in(&w, "12.50").await;
    let url = reqwest::Url::parse(&s(&started, "paymentUrl"))?;
    let params: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(ogone::param(&params, "AMOUNT"), Some("1250"));
    assert_eq!(ogone::param(&params, "ORDERID"), Some(s(&started, "movementId").replace('-', "").as_str()));
    assert!(ogone::same_signature(ogone::param(&params, "SHASIGN").unwrap(), &ogone::sign_in(&params, PSP_SHA_IN, HashAlgorithm::Sha512)));
    // the PSP's page refuses a request whose amount was changed after signing
    let mut tampered = url.clone();
    tampered.set_query(Some(&url.query().unwrap().replace("AMOUNT=1250", "AMOUNT=125000")));
    assert_eq!(st.http.get(tampered).send().await?.status().as_u16(), 400);

    // paid on the page: the simulator notifies (server to server) and redirects the customer back
    let (feedback, back) = st.psp_page(url.as_str(), "pay").await;
    let movement = s(&started, "movementId");
    let op = s(&started, "apiOperationId");
    st.wait_movement(&w, &movement, "SUCCESS").await;
    assert_eq!(order_status(&st, &movement).await, "PAID");
    // the customer's return verifies too and sends them to successUrl; it mints nothing more
    let r = st.http.get(&back).send().await?;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str()?), (303, "https://client.example/ok"));
    // a replay of the applied notification, and two deliveries of it at once: 200, nothing new
    let (a, b) = tokio::join!(notify(&st, &feedback), notify(&st, &feedback));
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert!(a.1.contains("AlreadyPaid") && b.1.contains("AlreadyPaid"), "{a:?} {b:?}");
    // the same order paid again under another PAYID (a PSP double charge): recorded, never minted again
    let (code, text) = notify(&st, &signed(&with(&feedback, "PAYID", "999999999"), PSP_SHA_OUT)).await;
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("DuplicatePayment"), "{text}");
    // a decline arriving after the payment changes nothing
    let (code, text) = notify(&st, &signed(&with(&feedback, "STATUS", "2"), PSP_SHA_OUT)).await;
    assert!(code == 200 && text.contains("Ignored"), "{code} {text}");
    settle_and_reconcile(&st).await;
    assert_eq!(mints(&st, &op).await, 1);
    st.wait_balances(&w, ("12.50", "12.50", "0.00")).await;

    // a second order, attacked before the PSP says anything
    let second = st.start_card_cash_in(&w, "40").await;
    let order_url = reqwest::Url::parse(&s(&second, "paymentUrl"))?;
    let order_id = ogone::param(&order_url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect::<Vec<_>>(), "ORDERID")
        .unwrap()
        .to_owned();
    let forged: Vec<(String, String)> = [("orderID", order_id.as_str()), ("amount", "40"), ("currency", "EUR"), ("STATUS", "9"), ("PAYID", "1234")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // a bad SHA-OUT (signed with the wrong passphrase, or with the SHA-IN one)
    for passphrase in ["not-the-passphrase", PSP_SHA_IN] {
        let (code, text) = notify(&st, &signed(&forged, passphrase)).await;
        assert_eq!(code, 400, "{text}");
        assert!(text.contains("SHASIGN"), "{text}");
    }
    // unsigned
    assert_eq!(notify(&st, &forged).await.0, 400);
    // a genuine signature with the amount changed afterwards
    let genuine = signed(&forged, PSP_SHA_OUT);
    assert_eq!(notify(&st, &with(&genuine, "amount", "4000")).await.0, 400);
    // the customer's return with a bad signature: a page, no redirect, nothing minted
    let bad_return = reqwest::Url::parse_with_params(&format!("{}/psp/ogone/return", st.base), signed(&forged, "nope"))?;
    assert_eq!(st.http.get(bad_return).send().await?.status().as_u16(), 400);
    // signed, but for an amount that is not the order's
    let (code, text) = notify(&st, &signed(&with(&forged, "amount", "400"), PSP_SHA_OUT)).await;
    assert!(code == 400 && text.contains("not the order"), "{code} {text}");
    // an order that does not exist
    assert_eq!(notify(&st, &signed(&with(&forged, "orderID", "00000000000000000000000000000000"), PSP_SHA_OUT)).await.0, 404);
    assert_eq!(order_status(&st, &s(&second, "movementId")).await, "PENDING");
    let m = st.get(&format!("/api/v1/public/wallets/{w}/movements/{}", s(&second, "movementId"))).await.ok(200).clone();
    assert_eq!(m["status"], "PENDING");
    let (refused,): (i64,) = sqlx::query_as("SELECT count(*) FROM psp_feedback WHERE order_id = $1 AND NOT verified").bind(&order_id).fetch_one(&st.pool).await?;
    assert!(refused >= 4, "refused feedbacks are kept for the operator: {refused}");

    // the PSP cannot decide at once (91), then declines (2): ERROR with the reason, nothing minted
    let (code, _) = notify(&st, &signed(&with(&forged, "STATUS", "91"), PSP_SHA_OUT)).await;
    assert_eq!(code, 200);
    assert_eq!(order_status(&st, &s(&second, "movementId")).await, "PROCESSING");
    let declined = signed(&[with(&forged, "STATUS", "2"), vec![("NCERROR".into(), "30001001".into())]].concat(), PSP_SHA_OUT);
    assert_eq!(notify(&st, &declined).await.0, 200);
    let m = st.wait_movement(&w, &s(&second, "movementId"), "ERROR").await;
    assert!(m.to_string().contains("STATUS=2") || order_status(&st, &s(&second, "movementId")).await == "REJECTED", "{m}");
    assert_eq!(order_status(&st, &s(&second, "movementId")).await, "REJECTED");
    // the decline replayed: still nothing
    assert_eq!(notify(&st, &declined).await.0, 200);

    // a third order declined on the PSP's page (STATUS=2): the customer goes to rejectUrl
    let third = st.start_card_cash_in(&w, "5").await;
    let (_, back) = st.psp_page(&s(&third, "paymentUrl"), "decline").await;
    let r = st.http.get(&back).send().await?;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str()?), (303, "https://client.example/ko"));
    st.wait_movement(&w, &s(&third, "movementId"), "ERROR").await;
    // a fourth: processing on the page, paid by a later notification: minted once
    let fourth = st.start_card_cash_in(&w, "2.25").await;
    let (pending, _) = st.psp_page(&s(&fourth, "paymentUrl"), "processing").await;
    assert_eq!(order_status(&st, &s(&fourth, "movementId")).await, "PROCESSING");
    let paid_later = signed(&with(&pending, "STATUS", "9"), PSP_SHA_OUT);
    let (a, b) = tokio::join!(notify(&st, &paid_later), notify(&st, &paid_later));
    assert_eq!((a.0, b.0), (200, 200));
    assert!([&a.1, &b.1].iter().filter(|t| t.contains("Minted")).count() == 1, "{a:?} {b:?}");
    st.wait_movement(&w, &s(&fourth, "movementId"), "SUCCESS").await;

    settle_and_reconcile(&st).await;
    assert_eq!(mints(&st, &s(&second, "apiOperationId")).await, 0);
    assert_eq!(mints(&st, &s(&third, "apiOperationId")).await, 0);
    assert_eq!(mints(&st, &s(&fourth, "apiOperationId")).await, 1);
    st.wait_balances(&w, ("14.75", "14.75", "0.00")).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_with_default_flags_has_no_card_page_and_no_psp() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("card_no_psp", ApiOptions { subprocess: true, no_psp: true, ..Default::default() }).await?;
    let (w, _) = st.wallet().await;
    for path in ["/card-payments/orderstandard_utf8.asp", "/card-payments/0123/pay", "/psp/ogone/notifications", "/psp/ogone/return"] {
        let r = st.http.get(format!("{}{path}", st.base)).send().await?;
        assert_eq!(r.status().as_u16(), 404, "GET {path}");
        let r = st.http.post(format!("{}{path}", st.base)).body("STATUS=9").send().await?;
        assert_eq!(r.status().as_u16(), 404, "POST {path}");
    }
    let r = st
        .post(&format!("/api/v1/public/wallets/{w}/cards/cashIns"), json!({"amount": "10", "successUrl": "https://a.example", "rejectUrl": "https://b.example"}))
        .await;
    r.err(409, "psp_not_configured");
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM movements").fetch_one(&st.pool).await?;
    assert_eq!(n, 0, "a refused card cash-in leaves no movement");
    Ok(())
}
