//! The operator console in a real browser (issue 14, item 2): headless
//! Debian Chromium driven by `console/tests/console.spec.mjs` (playwright-core)
//! against the real stack (anvil with EmToken, Postgres, the indexer binary,
//! the API serving `/console` from its embedded build).
//!
//! Sign in (a wrong key refused first), the overview, users and wallets (the
//! other tenant's user never shown), a wallet; a transfer made through the API
//! while the page is open shows PENDING, then SUCCESS once the block is mined,
//! without a reload; an operation the chain never mines (automine off) is listed
//! as stuck, and its detail shows its transaction hash. Screenshots go to
//! `target/test-artifacts/console/`.
//!
//! Needs `scripts/setup` (Chromium, the console's npm packages and its build)
//! and `cargo build --bin emledger`.

use std::{path::PathBuf, process::Stdio, time::Duration};

use alloy::providers::Provider;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{ChildStdout, Command},
};

mod api_stack;
use api_stack::{ApiOptions, MoneyStack, SETTLE};

const CHROMIUM: &str = "/usr/bin/chromium";

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>, expect: &str) -> String {
    let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("the browser script said nothing for 120 s (waiting for `{expect}`)"))
        .expect("reading the browser script's output")
        .unwrap_or_else(|| panic!("the browser script ended before `{expect}` (its log is above)"));
    assert!(line.starts_with(expect), "the browser script said `{line}`, expected `{expect}`");
    line
}

/// Waits until the operation has `status`; returns it.
async fn wait_status(st: &MoneyStack, id: &str, status: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let r = st.get(&format!("/api/v1/public/operations/{id}")).await;
        if r.status == 200 && r.body["status"] == status {
            return r.body;
        }
        assert!(start.elapsed() < SETTLE, "operation {id} never reached {status}: {}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_a_transfer_settle_and_a_stuck_operation() -> anyhow::Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let console = repo.join("console");
    assert!(
        console.join("node_modules/playwright-core").is_dir() && console.join("dist/index.html").is_file(),
        "console/node_modules or console/dist is missing: run scripts/setup"
    );
    assert!(std::path::Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: run scripts/setup (apt-get install chromium)");

    // an operation counts as stuck after 2 s here
    let mut st = MoneyStack::start("console", ApiOptions { stuck_after_secs: Some(2), ..Default::default() }).await?;
    let (a, _) = st.wallet().await; // "User 1"
    let (b, _) = st.wallet().await; // "User 2"
    st.fund(&a, "100").await;
    let first = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "5.00", "targetWalletId": b, "concept": "first"}), "console-1").await;
    let first = first.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    st.wait_operation(&first).await;
    // a hold and a schedule for the wallet's other screens
    let hold = st.post(&format!("/api/v1/public/wallets/{a}/hold"), json!({"amount": "2.00", "targetWalletId": b, "concept": "console hold"})).await;
    let hold = hold.ok(202)["id"].as_str().expect("the hold's id").to_owned();
    st.wait_hold(&a, &hold, "CREATED").await;
    st.post(
        &format!("/api/v1/public/wallets/{a}/scheduled-operations"),
        json!({"alias": "console allowance", "amount": "1", "receiver": {"type": "IOCASH_WALLET", "account": b}, "schedule": {"startDate": "2030-01-31T09:30:00Z", "frequency": "MONTHLY"}}),
    )
    .await
    .ok(201);
    // another tenant with a user of its own: the console must never show it
    let (_, other_key) = emledger_api::create_tenant(&st.pool, "console tenant B", "anvil-local").await?;
    let r = st
        .http
        .post(format!("{}/api/v1/public/users", st.base))
        .header("X-API-Key", &other_key)
        .json(&json!({"name": "Foreign Tenant Person", "phoneNumber": "+34612345699", "country": "ES"}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 201);

    let artifacts = emledger_tests::stack::target_dir().join("test-artifacts").join("console");
    let _ = std::fs::remove_dir_all(&artifacts);
    let mut browser = Command::new("node")
        .arg(console.join("tests/console.spec.mjs"))
        .current_dir(&console)
        .env("CONSOLE_URL", format!("{}/console/", st.base))
        .env("API_KEY", &st.key)
        .env("WALLET_ID", &a)
        .env("WALLET_USER", "User 1")
        .env("FOREIGN_USER", "Foreign Tenant Person")
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let mut to_browser = browser.stdin.take().unwrap();
    let mut from_browser = BufReader::new(browser.stdout.take().unwrap()).lines();

    next_line(&mut from_browser, "READY wallet-open").await;
    // the chain mines nothing until told: the transfer stays PENDING while the page looks
    let _: Value = st.chain.provider.raw_request("evm_setAutomine".into(), (false,)).await?;
    let t = st
        .post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "12.34", "targetWalletId": b, "concept": "console transfer"}), "console-2")
        .await;
    let transfer = t.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    to_browser.write_all(format!("TRANSFER {transfer}\n").as_bytes()).await?;
    next_line(&mut from_browser, "SEEN pending").await;
    wait_status(&st, &transfer, "SENT").await;
    let _: Value = st.chain.provider.raw_request("evm_mine".into(), ()).await?;
    assert_eq!(st.wait_operation(&transfer).await["status"], "SUCCESS");
    next_line(&mut from_browser, "SEEN success").await;

    // a transfer sent to a chain that does not mine: stuck in SENT, with its hash
    let s = st
        .post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1.00", "targetWalletId": b, "concept": "console stuck"}), "console-3")
        .await;
    let stuck = s.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    let sent = wait_status(&st, &stuck, "SENT").await;
    let hash = sent["txHash"].as_str().expect("a SENT operation has its tx hash").to_owned();
    to_browser.write_all(format!("STUCK {stuck} {hash}\n").as_bytes()).await?;
    next_line(&mut from_browser, "DONE").await;

    let status = tokio::time::timeout(Duration::from_secs(30), browser.wait()).await??;
    assert!(status.success(), "the browser script failed: {status}");
    let shots = std::fs::read_dir(&artifacts)?.filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png"))).count();
    assert!(shots >= 8, "screenshots in {}: {shots}", artifacts.display());
    println!("console: {shots} screenshots in {}", artifacts.display());

    // let the stuck one settle: nothing is left behind in flight
    let _: Value = st.chain.provider.raw_request("evm_setAutomine".into(), (true,)).await?;
    let _: Value = st.chain.provider.raw_request("evm_mine".into(), ()).await?;
    assert_eq!(st.wait_operation(&stuck).await["status"], "SUCCESS");
    Ok(())
}

/// The console's files are served by the API with their types and a strict
/// CSP; a screen's path gets the page; a missing file is the API's 404 envelope;
/// the overview and the user search are tenant-scoped and refuse bad input with
/// the error envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_and_its_endpoints_are_tenant_scoped() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("console_http", ApiOptions::default()).await?;
    let get = |path: &str| st.http.get(format!("{}{path}", st.base)).send();
    for path in ["/console", "/console/", "/console/users", "/console/wallets/0193a5b2-0000-7000-8000-000000000000"] {
        let r = get(path).await?;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8", "{path}");
        assert!(r.headers()["content-security-policy"].to_str()?.contains("script-src 'self'"));
        let html = r.text().await?;
        assert!(html.contains("/console/assets/"), "{path}: {html}");
    }
    let html = get("/console/").await?.text().await?;
    let js = html.split("src=\"").nth(1).and_then(|s| s.split('"').next()).expect("a script");
    let r = get(js).await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/javascript; charset=utf-8");
    let r = get("/console/assets/nothing-here.js").await?;
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "not_found");
    let r = st.http.post(format!("{}/console/", st.base)).send().await?;
    assert_eq!(r.status().as_u16(), 405);

    // tenant A has a funded wallet; tenant B has a user of its own
    let (a, _) = st.wallet().await;
    st.wallet().await;
    st.fund(&a, "10").await;
    let (_, other_key) = emledger_api::create_tenant(&st.pool, "console tenant B", "anvil-local").await?;
    let r = st
        .http
        .post(format!("{}/api/v1/public/users", st.base))
        .header("X-API-Key", &other_key)
        .json(&json!({"name": "Foreign Tenant Person", "phoneNumber": "+34612345699", "country": "ES"}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 201);

    let count = |o: &Value, s: &str| o["operationsByStatus"].as_array().unwrap().iter().find(|x| x["status"] == s).unwrap()["count"].as_i64().unwrap();
    // the movement settles first; its operation follows
    let start = std::time::Instant::now();
    let o = loop {
        let o = st.get("/api/v1/public/console/overview").await.ok(200).clone();
        if count(&o, "SUCCESS") == 1 {
            break o;
        }
        assert!(start.elapsed() < SETTLE, "the cash-in never counted as SUCCESS: {o}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(o["unsettled"].as_array().unwrap().is_empty() && o["oldestUnsettled"].is_null(), "{o}");
    assert_eq!(o["settledPerMinute"].as_array().unwrap().len(), 60);
    assert_eq!(o["settledPerMinute"].as_array().unwrap().iter().map(|m| m["count"].as_i64().unwrap()).sum::<i64>(), 1);
    assert_eq!(o["recent"][0]["kind"], "CARD_CASHIN", "{o}");
    assert_eq!(o["reconcile"]["status"], "MATCH", "{o}");
    assert_eq!(o["reconcile"]["walletsChecked"], 2, "{o}");
    assert_eq!(o["reconcile"]["tokenTotals"], "MATCH", "{o}");
    assert!(o["chain"]["indexerBlock"].is_u64() && o["chain"]["chainHead"].is_u64(), "{o}");

    // tenant B sees none of A's operations or wallets
    let theirs: Value = st.http.get(format!("{}/api/v1/public/console/overview", st.base)).header("X-API-Key", &other_key).send().await?.json().await?;
    assert!(theirs["recent"].as_array().unwrap().is_empty(), "{theirs}");
    assert_eq!(theirs["reconcile"]["walletsTotal"], 1, "their one wallet: {theirs}");
    let theirs: Value = st.http.get(format!("{}/api/v1/public/console/users", st.base)).header("X-API-Key", &other_key).send().await?.json().await?;
    assert_eq!(theirs["users"].as_array().unwrap().len(), 1);
    assert_eq!(theirs["users"][0]["name"], "Foreign Tenant Person");

    let mine = st.get("/api/v1/public/console/users").await.ok(200).clone();
    assert_eq!(mine["users"].as_array().unwrap().len(), 2, "{mine}");
    assert_eq!(mine["users"][1]["name"], "User 1", "newest first: {mine}");
    assert_eq!(mine["users"][1]["wallets"][0]["balance"], "10.00", "{mine}");
    let found = st.get(&format!("/api/v1/public/console/users?q={a}")).await.ok(200).clone();
    assert_eq!(found["users"].as_array().unwrap().len(), 1);
    assert_eq!(found["users"][0]["name"], "User 1", "{found}");
    assert!(st.get("/api/v1/public/console/users?q=Foreign").await.ok(200)["users"].as_array().unwrap().is_empty());
    st.get("/api/v1/public/console/users?limit=0").await.err(400, "invalid_request");
    st.get("/api/v1/public/console/users?limit=abc").await.err(400, "invalid_request");
    st.get("/api/v1/public/console/users?q=a%00b").await.err(400, "invalid_request");
    st.get("/api/v1/public/console/users?q=a&q=b").await.err(400, "invalid_request");
    let r = st.http.get(format!("{}/api/v1/public/console/overview", st.base)).send().await?;
    assert_eq!(r.status().as_u16(), 401);

    // the check can fail: one wallet's indexed balance one unit off the chain (a
    // read model that drifted) is a MISMATCH naming the wallet and the fields, and
    // `emledger reconcile` fails naming the address; put back, both are clean again
    let (wallet, address): (uuid::Uuid, String) = sqlx::query_as(
        "SELECT w.id, w.dlt_address FROM wallets w JOIN balances b ON b.address = w.dlt_address WHERE w.client_id = $1 AND b.gross > 0",
    )
    .bind(st.client_id)
    .fetch_one(&st.pool)
    .await?;
    // available is generated (gross - held): it drifts with gross
    let drift = |by: i64| sqlx::query("UPDATE balances SET gross = gross + $2 WHERE address = $1").bind(&address).bind(by);
    drift(1).execute(&st.pool).await?;
    let o = st.get("/api/v1/public/console/overview").await.ok(200).clone();
    assert_eq!(o["reconcile"]["status"], "MISMATCH", "{o}");
    assert_eq!(o["reconcile"]["tokenTotals"], "MISMATCH", "{o}");
    let fields: Vec<(&str, &str)> =
        o["reconcile"]["mismatches"].as_array().unwrap().iter().map(|m| (m["walletId"].as_str().unwrap(), m["field"].as_str().unwrap())).collect();
    let wallet = wallet.to_string();
    assert_eq!(fields, vec![(wallet.as_str(), "available"), (wallet.as_str(), "gross")], "{o}");
    let m = &o["reconcile"]["mismatches"][1];
    assert_eq!(m["indexed"].as_str().unwrap().parse::<u128>()?, m["chain"].as_str().unwrap().parse::<u128>()? + 1, "{o}");
    let (clean, report) = emledger_tests::stack::reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address)?;
    assert!(!clean, "{report}");
    assert!(report.to_lowercase().contains(&format!("{} gross", address.to_lowercase())), "{report}");
    assert!(report.contains("totalSupply"), "{report}");
    drift(-1).execute(&st.pool).await?;
    assert_eq!(st.get("/api/v1/public/console/overview").await.ok(200)["reconcile"]["status"], "MATCH");
    assert!(emledger_tests::stack::reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address)?.0);
    let _ = &mut st;
    Ok(())
}
