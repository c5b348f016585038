//! Seed details (issue 12) over the real stack (anvil, Postgres, the indexer
//! binary, the API with its PSP simulator and simulated bank):
//! - every movement type of seed 003, field by field against its table: the
//!   counterpart fields (`origin*`/`target*`) for `TRANSFER_IN`/`TRANSFER_OUT`
//!   only, `userId`/`walletId` for every other type, `payerName` for
//!   `BANK_ACCOUNT_CASHOUT` only — empty (`null`) otherwise, and always present;
//! - wallets: seed 002's `groupId`, seed 004's `allowNegative` (always false),
//!   seed 001's `duplicate_external_id` (400) and `external_id` spelling, a
//!   currency other than the token's refused;
//! - the card cash-in answers 202 with an absolute `paymentUrl`.
//!
//! Build the binary first: `cargo build --bin emledger && cargo test -p emledger-tests --test seed_details`.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

mod api_stack;
use api_stack::{camt054, ApiOptions, Credit, MoneyStack, SETTLE};

const PAYOUT_IBAN: &str = "ES9121000418450200051332";

/// Every field of seed 003's movement table.
const SEED_FIELDS: [&str; 19] = [
    "id",
    "originUserId",
    "targetUserId",
    "userId",
    "payerName",
    "amount",
    "clientId",
    "concept",
    "createdAt",
    "originDltAddress",
    "targetDltAddress",
    "originWalletId",
    "targetWalletId",
    "walletId",
    "dltNetwork",
    "status",
    "type",
    "updatedAt",
    "scheduledOperationId",
];

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no string {k} in {v}")).to_owned()
}

/// A wallet and its holder.
struct Holder {
    wallet: String,
    user: String,
    address: String,
    name: String,
}

async fn holder(st: &MoneyStack, wallet: &str, address: &str, name: &str) -> Holder {
    let w = st.get(&format!("/api/v1/public/wallets/{wallet}")).await.ok(200).clone();
    Holder { wallet: wallet.into(), user: s(&w, "userId"), address: address.to_ascii_lowercase(), name: name.into() }
}

/// The type-dependent fields of a movement of `own`, as seed 003's table has
/// them (`from` → `to` are a transfer's sender and receiver).
fn seed_003_table(kind: &str, own: &Holder, from: &Holder, to: &Holder) -> Vec<(&'static str, Value)> {
    let transfer = matches!(kind, "TRANSFER_IN" | "TRANSFER_OUT");
    let only = |filled: bool, v: &str| if filled { json!(v) } else { Value::Null };
    vec![
        // "ID of the sender's/receiver's wallet [user] if the movement type is TRANSFER_IN or TRANSFER_OUT. Empty if ... any other"
        ("originUserId", only(transfer, &from.user)),
        ("targetUserId", only(transfer, &to.user)),
        ("originDltAddress", only(transfer, &from.address)),
        ("targetDltAddress", only(transfer, &to.address)),
        ("originWalletId", only(transfer, &from.wallet)),
        ("targetWalletId", only(transfer, &to.wallet)),
        // "User id / Wallet id associated to the movement if the movement type is different from TRANSFER_IN or TRANSFER_OUT"
        ("userId", only(!transfer, &own.user)),
        ("walletId", only(!transfer, &own.wallet)),
        // "Payer's name when movement type is BANK_ACCOUNT_CASH_OUT. Empty if the movement type is any other"
        ("payerName", only(kind == "BANK_ACCOUNT_CASHOUT", &own.name)),
    ]
}

/// The movements of a wallet once none is PENDING any more.
async fn settled_movements(st: &MoneyStack, wallet: &str) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let page = st.get(&format!("/api/v1/public/wallets/{wallet}/movements?size=200")).await.ok(200).clone();
        let list = page["_embedded"]["movements"].as_array().cloned().unwrap_or_default();
        if list.iter().all(|m| m["status"] != "PENDING") {
            return list;
        }
        assert!(start.elapsed() < SETTLE, "movements of {wallet} still PENDING: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks every movement of `own` against the seed's table, in the list and
/// one by one; returns the types seen.
async fn check_movements(st: &MoneyStack, own: &Holder, from: &Holder, to: &Holder) -> BTreeSet<String> {
    let mut kinds = BTreeSet::new();
    for listed in settled_movements(st, &own.wallet).await {
        let one = st.get(&format!("/api/v1/public/wallets/{}/movements/{}", own.wallet, s(&listed, "id"))).await.ok(200).clone();
        assert_eq!(listed, one, "the list and the movement itself agree");
        let kind = s(&one, "type");
        assert_eq!(one["status"], "SUCCESS", "{one}");
        for f in SEED_FIELDS {
            assert!(one.get(f).is_some(), "{kind}: seed 003 field {f} missing in {one}");
        }
        for (field, expected) in seed_003_table(&kind, own, from, to) {
            assert_eq!(one[field], expected, "{kind}: {field} in {one}");
        }
        assert!(one["scheduledOperationId"].is_null(), "no scheduled operation here: {one}");
        assert_eq!(one["clientId"], st.client_id.to_string());
        // the links follow the fields: counterparts' links for transfers only
        let transfer = matches!(kind.as_str(), "TRANSFER_IN" | "TRANSFER_OUT");
        for link in ["originUser", "targetUser", "originWallet", "targetWallet"] {
            assert_eq!(one["_links"].get(link).is_some(), transfer, "{kind}: _links.{link} in {one}");
        }
        if transfer {
            assert_eq!(s(&one["_links"]["originWallet"], "href"), format!("/api/v1/public/wallets/{}", from.wallet));
            assert_eq!(s(&one["_links"]["targetUser"], "href"), format!("/api/v1/public/users/{}", to.user));
        }
        kinds.insert(kind);
    }
    kinds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_movement_type_fills_the_fields_seed_003_says() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("seed_movements", ApiOptions::default()).await?;
    let (a_wallet, a_address) = st.wallet().await;
    let (b_wallet, b_address) = st.wallet().await;
    let a = holder(&st, &a_wallet, &a_address, "User 1").await;
    let b = holder(&st, &b_wallet, &b_address, "User 2").await;

    // CARD_CASHIN (a): through the PSP simulator
    st.fund(&a.wallet, "100").await;
    // BANK_ACCOUNT_CASHIN (b): a SEPA credit in the bank's camt.054
    let iban_b = s(st.send(reqwest::Method::POST, &format!("/api/v1/public/wallets/{}/create-iban", b.wallet), None, &[]).await.ok(200), "iban");
    st.drop_in_inbox("seed-camt054.xml", &camt054(&[Credit::new("SEEDREF-1", &iban_b, "25.00")]));
    st.wait_movement_of_type(&b.wallet, "BANK_ACCOUNT_CASHIN", "SUCCESS").await;
    // TRANSFER_OUT (a) / TRANSFER_IN (b)
    let t = st.post(&format!("/api/v1/public/wallets/{}/transfer", a.wallet), json!({"amount": "10", "targetWalletId": b.wallet, "concept": "t"})).await.ok(202).clone();
    st.wait_movement(&b.wallet, &s(&t, "targetMovementId"), "SUCCESS").await;
    // LOCK + RELEASE (a): a hold released by the notary
    let h = st.post(&format!("/api/v1/public/wallets/{}/hold", a.wallet), json!({"amount": "5", "targetWalletId": b.wallet})).await.ok(202).clone();
    st.wait_hold(&a.wallet, &s(&h, "id"), "CREATED").await;
    st.post(&format!("/api/v1/public/wallets/{}/hold/{}/releaseHold", a.wallet, s(&h, "id")), json!({})).await.ok(202);
    st.wait_hold(&a.wallet, &s(&h, "id"), "RELEASED_BY_NOTARY").await;
    // LOCK (a) + TRANSFER_OUT (a) / TRANSFER_IN (b): a hold executed
    let h = st.post(&format!("/api/v1/public/wallets/{}/hold", a.wallet), json!({"amount": "7", "targetWalletId": b.wallet})).await.ok(202).clone();
    st.wait_hold(&a.wallet, &s(&h, "id"), "CREATED").await;
    st.post(&format!("/api/v1/public/wallets/{}/hold/{}/executeHold", a.wallet, s(&h, "id")), json!({"amount": "7"})).await.ok(202);
    st.wait_hold(&a.wallet, &s(&h, "id"), "EXECUTED").await;
    // LOCK + BANK_ACCOUNT_CASHOUT (a): paid by the simulated bank
    let c = st
        .post(&format!("/api/v1/public/wallets/{}/cashOuts", a.wallet), json!({"iban": {"accountNumber": PAYOUT_IBAN}, "amount": "3", "concept": "rent"}))
        .await
        .ok(202)
        .clone();
    let cash_out = st.wait_movement(&a.wallet, &s(&c, "movementId"), "SUCCESS").await;
    assert_eq!((cash_out["type"].as_str(), cash_out["payerName"].as_str()), (Some("BANK_ACCOUNT_CASHOUT"), Some("User 1")));
    // stored with the movement (the holder's name when the cash-out was asked)
    let (stored,): (Option<String>,) = sqlx::query_as("SELECT payer_name FROM movements WHERE id = $1::uuid").bind(s(&c, "movementId")).fetch_one(&st.pool).await?;
    assert_eq!(stored.as_deref(), Some("User 1"));

    let seen_a = check_movements(&st, &a, &a, &b).await;
    let seen_b = check_movements(&st, &b, &a, &b).await;
    let all: BTreeSet<String> = seen_a.union(&seen_b).cloned().collect();
    let seed_types = ["CARD_CASHIN", "BANK_ACCOUNT_CASHIN", "BANK_ACCOUNT_CASHOUT", "TRANSFER_IN", "TRANSFER_OUT", "LOCK", "RELEASE"];
    assert_eq!(all, seed_types.iter().map(|t| t.to_string()).collect(), "every movement type of seed 003 was checked");
    assert!(seen_a.contains("TRANSFER_OUT") && seen_b.contains("TRANSFER_IN"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_details_and_the_card_cash_in_answer() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("seed_wallets", ApiOptions::default()).await?;
    let (first, _) = st.wallet().await;
    let user = s(st.get(&format!("/api/v1/public/wallets/{first}")).await.ok(200), "userId");

    // the indexer records the token's currency (EmToken.currency()) next to its cursor
    let start = Instant::now();
    loop {
        let (c,): (Option<String>,) = sqlx::query_as("SELECT currency FROM chain_cursor").fetch_one(&st.pool).await?;
        if c.as_deref() == Some("EUR") {
            break;
        }
        assert!(start.elapsed() < SETTLE, "the token's currency was never recorded: {c:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // a user's first wallet: the token's currency, never negative, no group
    let w = st.get(&format!("/api/v1/public/wallets/{first}")).await.ok(200).clone();
    assert_eq!((w["currency"].as_str(), w["allowNegative"].as_bool(), w["groupId"].is_null()), (Some("EUR"), Some(false), true), "{w}");

    // seed 001's spelling (`external_id`), seed 002's groupId, seed 004's allowNegative
    let c = st
        .post("/api/v1/public/wallets", json!({"userId": user, "name": "Player 12345", "external_id": "player-12345", "groupId": "0001", "allowNegative": false}))
        .await
        .ok(201)
        .clone();
    assert_eq!(c["externalId"], "player-12345");
    assert_eq!(c["groupId"], "0001");
    assert_eq!(c["allowNegative"], false);
    assert_eq!(c["currency"], "EUR");
    let g = st.get(&format!("/api/v1/public/wallets/{}", s(&c, "id"))).await.ok(200).clone();
    assert_eq!((g["groupId"].as_str(), g["allowNegative"].as_bool()), (Some("0001"), Some(false)));
    let listed = st.get("/api/v1/public/wallets?groupId=0001").await.ok(200).clone();
    let ids: Vec<String> = listed["_embedded"]["wallets"].as_array().unwrap().iter().map(|w| s(w, "id")).collect();
    assert_eq!(ids, [s(&c, "id")]);
    assert!(listed["_embedded"]["wallets"][0]["allowNegative"] == false);
    st.get(&format!("/api/v1/public/wallets?groupId={}", "g".repeat(65))).await.err(400, "invalid_request");

    // a duplicate external id: 400 duplicate_external_id (seed 001), in the one error envelope, either spelling
    for body in [json!({"userId": user, "externalId": "player-12345"}), json!({"userId": user, "external_id": "player-12345"})] {
        let d = st.post("/api/v1/public/wallets", body).await.err(400, "duplicate_external_id").clone();
        assert_eq!(d["field"], "externalId");
    }
    // both spellings at once is one field given twice
    st.post("/api/v1/public/wallets", json!({"userId": user, "externalId": "x-1", "external_id": "x-2"})).await.err(400, "invalid_request");

    // groupId at most 64 characters
    let g64 = "g".repeat(64);
    let w64 = st.post("/api/v1/public/wallets", json!({"userId": user, "groupId": g64})).await.ok(201).clone();
    assert_eq!(w64["groupId"], g64.as_str());
    for bad in [json!("g".repeat(65)), json!(""), json!(12)] {
        let d = st.post("/api/v1/public/wallets", json!({"userId": user, "groupId": bad})).await.err(400, "invalid_request").clone();
        assert_eq!(d["field"], "groupId", "{bad}");
    }
    // allowNegative can only be false
    let d = st.post("/api/v1/public/wallets", json!({"userId": user, "allowNegative": true})).await.err(400, "invalid_request").clone();
    assert_eq!(d["field"], "allowNegative");
    // the currency must be the token's: COP on the EUR token is refused, naming the field
    for other in ["COP", "USD"] {
        let d = st.post("/api/v1/public/wallets", json!({"userId": user, "currency": other})).await.err(400, "invalid_request").clone();
        assert_eq!(d["field"], "currency", "{other}");
        assert!(d["reason"].as_str().unwrap().contains("EUR"), "{d}");
    }
    let eur = st.post("/api/v1/public/wallets", json!({"userId": user, "currency": "EUR"})).await.ok(201).clone();
    assert_eq!(eur["currency"], "EUR");

    // the card cash-in: 202 like every money request, an absolute paymentUrl
    let body = json!({"amount": "12", "successUrl": "https://client.example/ok", "rejectUrl": "https://client.example/ko"});
    let path = format!("/api/v1/public/wallets/{first}/cards/cashIns");
    let r = st.post_key(&path, body.clone(), "card-1").await;
    let started = r.ok(202).clone();
    assert_eq!(started["status"], "PENDING");
    let url = reqwest::Url::parse(&s(&started, "paymentUrl")).expect("an absolute paymentUrl");
    assert!(matches!(url.scheme(), "http" | "https"), "{url}");
    assert!(url.host_str().is_some_and(|h| h != "0.0.0.0"), "{url}");
    assert!(url.path().ends_with("/card-payments/orderstandard_utf8.asp"), "{url}");
    assert!(url.query_pairs().any(|(k, _)| k == "SHASIGN"), "{url}");
    assert!(s(&started, "paymentUrl").starts_with(&st.base), "on the API's own address: {url}");
    let again = st.post_key(&path, body, "card-1").await;
    assert_eq!((again.status.as_u16(), again.replayed()), (202, true));
    assert_eq!(again.body, started);
    // and it can be paid as is
    let (_, back) = st.psp_page(&s(&started, "paymentUrl"), "pay").await;
    assert_eq!(st.http.get(&back).send().await?.status().as_u16(), 303);
    st.wait_movement(&first, &s(&started, "movementId"), "SUCCESS").await;

    // the OpenAPI says so
    let doc: Value = st.http.get(format!("{}/openapi.json", st.base)).send().await?.json().await?;
    let card = &doc["paths"]["/api/v1/public/wallets/{walletId}/cards/cashIns"]["post"]["responses"];
    assert!(card.get("202").is_some() && card.get("201").is_none(), "{card}");
    let create = &doc["paths"]["/api/v1/public/wallets"]["post"]["responses"];
    assert!(create["400"]["description"].as_str().unwrap().contains("duplicate_external_id"), "{create}");
    assert!(!create["409"]["description"].as_str().unwrap().contains("duplicate_external_id"), "{create}");
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [("WalletView", "groupId"), ("WalletView", "allowNegative"), ("CreateWallet", "groupId"), ("MovementView", "payerName")] {
        assert!(schemas[schema]["properties"].get(field).is_some(), "{schema}.{field}");
    }
    Ok(())
}
