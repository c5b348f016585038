//! SEPA as ISO 20022 files (issue "Real payment rails"): cash-ins only from the
//! bank's camt.054/053 (never a tenant's request), cash-outs as pain.001.001.09
//! files valid against the official XSD, settled by the bank's pain.002 /
//! camt.054; and no tenant route that mints. Real anvil, Postgres, indexer
//! binary and API (with its simulated bank on the inbox and outbox folders).
//!
//! Build the binary first: `cargo build --bin emledger && cargo test -p emledger-tests --test sepa`.

use std::{process::Command, time::Duration};

use emledger_tests::stack::{reconcile, wait_for_cursor};
use serde_json::{json, Value};

mod api_stack;
use api_stack::{camt054, ApiOptions, Credit, MoneyStack};

const REJECTED_IBAN: &str = "ES7921000813610123456789";
const PAYOUT_IBAN: &str = "ES9121000418450200051332";
const UNKNOWN_IBAN: &str = "DE75512108001245126199";

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no string {k} in {v}")).to_owned()
}

async fn reconciled(st: &MoneyStack) {
    let block = st.chain.block_number().await.unwrap();
    wait_for_cursor(&st.pool, block, Duration::from_secs(60)).await.unwrap();
    let (ok, out) = reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address).unwrap();
    assert!(ok && out.contains(": 0 mismatches"), "reconcile:\n{out}");
}

async fn iban_of(st: &MoneyStack, wallet: &str) -> String {
    let w = st.send(reqwest::Method::POST, &format!("/api/v1/public/wallets/{wallet}/create-iban"), None, &[]).await;
    s(w.ok(200), "iban")
}

async fn count(st: &MoneyStack, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&st.pool).await.unwrap();
    n
}

/// The official pain.001.001.09 XSD from the pinned PyPI package sepaxml.
fn pain001_xsd() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sepaxml, os; print(os.path.dirname(sepaxml.__file__))"])
        .output()
        .expect("python3: run scripts/setup");
    assert!(out.status.success(), "sepaxml is not installed: run scripts/setup");
    format!("{}/schemas/pain.001.001.09.xsd", String::from_utf8_lossy(&out.stdout).trim())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_statements_mint_once_and_keep_what_they_cannot_apply() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("sepa_in", ApiOptions::default()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    let (iban_a, iban_b) = (iban_of(&st, &a).await, iban_of(&st, &b).await);

    // an earlier file: one credit to A, through the watched inbox
    st.drop_in_inbox("camt054-1.xml", &camt054(&[Credit::new("BANKREF-1", &iban_a, "25.00")]));
    st.wait_movement_of_type(&a, "BANK_ACCOUNT_CASHIN", "SUCCESS").await;
    assert!(st.bank_dir.join("inbox/processed/camt054-1.xml").exists(), "an imported file is moved to processed/");

    // three credits: B (new), an unknown IBAN, and a repeat of the earlier entry
    let file = camt054(&[
        Credit::new("BANKREF-2", &iban_b, "40.10"),
        Credit::new("BANKREF-3", UNKNOWN_IBAN, "7.00"),
        Credit::new("BANKREF-1", &iban_a, "25.00"),
    ]);
    let (code, report) = st.import_bank_file("camt054-2.xml", &file).await;
    assert_eq!(code, 201, "{report}");
    assert_eq!(
        (&report["kind"], &report["creditsApplied"], &report["creditsRepeated"], &report["unapplied"]),
        (&json!("camt.054"), &json!(1), &json!(1), &json!(1)),
        "{report}"
    );
    st.wait_movement_of_type(&b, "BANK_ACCOUNT_CASHIN", "SUCCESS").await;
    // the same file again: nothing changes, the first report comes back
    let (code, again) = st.import_bank_file("camt054-2-again.xml", &file).await;
    assert_eq!(code, 200);
    assert_eq!(again["alreadyImported"], true);
    assert_eq!(again["creditsApplied"], 1);
    // the unapplied entry is listed for the operator, with the reason
    let unapplied = st.operator_get("/api/v1/operator/bank/entries?status=UNAPPLIED").await;
    let list = unapplied.as_array().unwrap();
    assert_eq!(list.len(), 1, "{unapplied}");
    assert!(list[0]["reason"].as_str().unwrap().contains("no wallet has IBAN"), "{unapplied}");
    assert_eq!(list[0]["amount"], "7.00");
    // a file that is not a bank statement: 400, nothing recorded
    let (code, body) = st.import_bank_file("junk.xml", "<Document xmlns=\"urn:example\"/>").await;
    assert_eq!(code, 400, "{body}");
    // a statement of another account: refused
    let (code, _) = st.import_bank_file("other.xml", &file.replace(api_stack::BANK_IBAN, "FR7630006000011234567890189")).await;
    assert_eq!(code, 400);
    // the operator routes do not take a tenant key
    let r = st.http.get(format!("{}/api/v1/operator/bank/entries", st.base)).header("X-API-Key", &st.key).send().await?;
    assert_eq!(r.status().as_u16(), 401);

    reconciled(&st).await;
    assert_eq!(count(&st, "SELECT count(*) FROM movements WHERE type = 'BANK_ACCOUNT_CASHIN' AND status = 'SUCCESS'").await, 2);
    assert_eq!(count(&st, "SELECT count(*) FROM operations WHERE kind = 'BANK_CASHIN'").await, 2);
    st.wait_balances(&a, ("25.00", "25.00", "0.00")).await;
    st.wait_balances(&b, ("40.10", "40.10", "0.00")).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cash_outs_leave_as_valid_pain001_and_settle_on_the_banks_answer() -> anyhow::Result<()> {
    let options = ApiOptions { bank_reject_ibans: vec![REJECTED_IBAN.into()], ..Default::default() };
    let mut st = MoneyStack::start("sepa_out", options).await?;
    let (a, _) = st.wallet().await;
    st.fund(&a, "100").await;

    let paid = st
        .post(&format!("/api/v1/public/wallets/{a}/cashOuts"), json!({"iban": {"accountNumber": PAYOUT_IBAN}, "amount": "10", "concept": "rent Müller & Søn"}))
        .await
        .ok(202)
        .clone();
    let rejected = st.post(&format!("/api/v1/public/wallets/{a}/cashOuts"), json!({"iban": {"accountNumber": REJECTED_IBAN}, "amount": "7"})).await.ok(202).clone();
    let ok = st.wait_movement(&a, &s(&paid, "movementId"), "SUCCESS").await;
    assert_eq!(ok["type"], "BANK_ACCOUNT_CASHOUT");
    let ko = st.wait_movement(&a, &s(&rejected, "movementId"), "ERROR").await;
    let (reason, bank_reason): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT m.error, p.bank_reason FROM movements m JOIN payouts p ON p.movement_id = m.id WHERE m.id = $1::uuid")
            .bind(s(&rejected, "movementId"))
            .fetch_one(&st.pool)
            .await?;
    assert!(reason.as_deref().unwrap_or("").contains("AC04"), "{reason:?} {ko}");
    assert_eq!(bank_reason.as_deref(), Some("AC04"));
    // the rejected funds are back, the executed ones burnt
    st.wait_balances(&a, ("90.00", "90.00", "0.00")).await;
    let started = std::time::Instant::now();
    loop {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT status FROM payouts ORDER BY status").fetch_all(&st.pool).await?;
        let statuses: Vec<&str> = rows.iter().map(|s| s.0.as_str()).collect();
        if statuses == ["PAID", "RELEASED"] {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "payouts never PAID and RELEASED: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // the payment files: listed for the operator, each valid against the official XSD
    let files = st.operator_get("/api/v1/operator/bank/payment-files").await;
    let files = files.as_array().unwrap().clone();
    assert!(!files.is_empty());
    let xsd = pain001_xsd();
    let mut transfers = 0;
    for f in &files {
        let r = st.http.get(format!("{}/api/v1/operator/bank/payment-files/{}", st.base, s(f, "id"))).bearer_auth(api_stack::OPERATOR_TOKEN).send().await?;
        assert_eq!(r.status().as_u16(), 200);
        let xml = r.text().await?;
        let path = st.bank_dir.join(format!("check-{}.xml", s(f, "id")));
        std::fs::write(&path, &xml)?;
        let out = Command::new("xmllint").arg("--noout").arg("--schema").arg(&xsd).arg(&path).output().expect("xmllint: run scripts/setup");
        assert!(out.status.success(), "pain.001 invalid against the XSD:\n{}\n{xml}", String::from_utf8_lossy(&out.stderr));
        assert!(xml.contains("urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"));
        transfers += f["transfers"].as_i64().unwrap();
        // the file the simulated bank took from the outbox is the same
        assert!(st.bank_dir.join("outbox/consumed").join(s(f, "name")).exists(), "{f}");
    }
    assert_eq!(transfers, 2);

    // a pain.002 that answers again changes nothing (the payouts are past SENT)
    let (code, report) = st.import_bank_file("late-pain002.xml", &std::fs::read_to_string(
        std::fs::read_dir(st.bank_dir.join("inbox/processed"))?.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.to_string_lossy().contains("pain002")).unwrap(),
    )?.replace("<MsgId>", "<MsgId>X")).await;
    assert_eq!(code, 201, "{report}");
    assert_eq!((report["payoutsExecuted"].as_i64(), report["payoutsRejected"].as_i64()), (Some(0), Some(0)), "{report}");
    reconciled(&st).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tenant_route_mints() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("sepa_no_mint", ApiOptions::default()).await?;
    let (w, address) = st.wallet().await;
    let (other, _) = st.wallet().await;
    let iban = iban_of(&st, &w).await;
    let user = s(st.get(&format!("/api/v1/public/wallets/{w}")).await.ok(200), "userId");
    let (_, admin) = emledger_api::create_api_key(
        &st.pool,
        st.client_id,
        "admin",
        &[emledger_api::Scope::Read, emledger_api::Scope::Write, emledger_api::Scope::Admin],
    )
    .await?;
    let supply = |st: &MoneyStack| {
        let token = emledger_contracts::EmToken::new(st.chain.deployment.address, st.chain.provider.clone());
        async move { token.totalSupply().call().await.unwrap() }
    };
    let before = supply(&st).await;

    // every route of the OpenAPI that changes something, called with the tenant's admin key
    let spec: Value = st.http.get(format!("{}/openapi.json", st.base)).send().await?.json().await?;
    let bodies = [
        json!({"amount": "1000", "successUrl": "https://a.example/ok", "rejectUrl": "https://a.example/ko"}),
        json!({"iban": iban, "amount": "1000", "reference": "TENANT-SAYS-SO", "debtorName": "Me"}),
        json!({"amount": "1000", "targetWalletId": other, "concept": "x"}),
        json!({}),
    ];
    let mut called = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let concrete = path
                .replace("{walletId}", &w)
                .replace("{userId}", &user)
                .replace("{id}", &uuid::Uuid::now_v7().to_string())
                .replace("{holdId}", &uuid::Uuid::now_v7().to_string())
                .replace("{favouriteExternalAccountId}", &uuid::Uuid::now_v7().to_string())
                .replace("{scheduledOperationId}", &uuid::Uuid::now_v7().to_string());
            for body in &bodies {
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())?;
                let r = st.http.request(m, format!("{}{concrete}", st.base)).header("X-API-Key", &admin).json(body).send().await?;
                assert_ne!(r.status().as_u16(), 500, "{method} {concrete}");
                called += 1;
            }
        }
    }
    assert!(called > 40, "{called}");
    // the routes that used to mint, and the PSP's and the operator's, with the admin key
    for (path, expected) in [
        ("/api/v1/bank/incoming-transfers", 404),
        ("/api/v1/operator/bank/statements", 401),
        ("/psp/ogone/notifications", 400),
    ] {
        let r = st
            .http
            .post(format!("{}{path}", st.base))
            .header("X-API-Key", &admin)
            .json(&json!({"iban": iban, "amount": "1000", "reference": "R", "STATUS": "9", "orderID": "x"}))
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), expected, "POST {path}");
    }
    // whatever the submitter was given has settled; nothing was minted
    tokio::time::sleep(Duration::from_secs(2)).await;
    reconciled(&st).await;
    assert_eq!(supply(&st).await, before, "a tenant request minted");
    assert_eq!(count(&st, "SELECT count(*) FROM operations WHERE kind IN ('CARD_CASHIN', 'BANK_CASHIN')").await, 0);
    let _ = address;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_report_from_the_bank_executes_or_rejects_each_payout() -> anyhow::Result<()> {
    use emledger_operations::iso20022::{pain001, pain002};
    let mut st = MoneyStack::start("sepa_pain002", ApiOptions { no_bank_simulator: true, ..Default::default() }).await?;
    let (a, _) = st.wallet().await;
    st.fund(&a, "50").await;
    let paid = st.post(&format!("/api/v1/public/wallets/{a}/cashOuts"), json!({"iban": {"accountNumber": PAYOUT_IBAN}, "amount": "12.34"})).await.ok(202).clone();
    let refused = st.post(&format!("/api/v1/public/wallets/{a}/cashOuts"), json!({"iban": {"accountNumber": REJECTED_IBAN}, "amount": "5"})).await.ok(202).clone();
    // the funds are held while the payouts wait for the bank
    st.wait_balances(&a, ("50.00", "32.66", "17.34")).await;
    // the outbox has the pain.001 (one file or two, by the cut-off)
    let started = std::time::Instant::now();
    let transfers: Vec<pain001::CreditTransfer> = loop {
        let mut found = Vec::new();
        for e in std::fs::read_dir(st.bank_dir.join("outbox")).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().ends_with(".xml") {
                found.extend(pain001::parse(&std::fs::read_to_string(e.path())?)?.transfers);
            }
        }
        if found.len() == 2 {
            break found;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no pain.001 with both payouts: {found:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(st.wait_movement(&a, &s(&paid, "movementId"), "PENDING").await["type"], "BANK_ACCOUNT_CASHOUT");
    // the bank's pain.002: the first settled (ACSC), the second rejected (AM04)
    let line = |t: &pain001::CreditTransfer| {
        let rejected = t.creditor_iban == REJECTED_IBAN;
        pain002::TxStatus {
            original_instruction_id: Some(t.instruction_id.clone()),
            original_end_to_end_id: t.end_to_end_id.clone(),
            status: if rejected { "RJCT" } else { "ACSC" }.into(),
            reason_code: rejected.then(|| "AM04".into()),
            reason_text: None,
        }
    };
    let report = pain002::StatusReport {
        message_id: "BANK-PSR-1".into(),
        created_at: chrono::Utc::now(),
        original_message_id: "whatever".into(),
        group_status: Some("PART".into()),
        transactions: transfers.iter().map(line).collect(),
    };
    let (code, r) = st.import_bank_file("pain002.xml", &pain002::write(&report)).await;
    assert_eq!(code, 201, "{r}");
    assert_eq!((r["payoutsExecuted"].as_i64(), r["payoutsRejected"].as_i64()), (Some(1), Some(1)), "{r}");
    st.wait_movement(&a, &s(&paid, "movementId"), "SUCCESS").await;
    st.wait_movement(&a, &s(&refused, "movementId"), "ERROR").await;
    let (error,): (Option<String>,) = sqlx::query_as("SELECT error FROM movements WHERE id = $1::uuid").bind(s(&refused, "movementId")).fetch_one(&st.pool).await?;
    assert!(error.as_deref().unwrap_or("").contains("AM04"), "{error:?}");
    st.wait_balances(&a, ("37.66", "37.66", "0.00")).await;
    // the same answers again (another message): nothing moves
    let again = pain002::StatusReport { message_id: "BANK-PSR-2".into(), ..report };
    let (_, r) = st.import_bank_file("pain002-again.xml", &pain002::write(&again)).await;
    assert_eq!((r["payoutsExecuted"].as_i64(), r["payoutsRejected"].as_i64()), (Some(0), Some(0)), "{r}");
    reconciled(&st).await;
    st.wait_balances(&a, ("37.66", "37.66", "0.00")).await;
    Ok(())
}
