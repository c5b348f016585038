//! Running on chains other than a default anvil (issue "Run on real chains"):
//! legacy and zero-price gas; https:// nodes behind a private CA. Real parts:
//! anvil (with a pre-London hardfork and a zero gas price, as Besu/Quorum
//! consortium chains run; or behind a TLS-terminating proxy with a self-signed
//! CA), Postgres, the indexer and API binaries.

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

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = std::process::Command::new(emledger_tests::stack::emledger_bin());
    cmd.args(args).env_remove("EMLEDGER_RPC_CA_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("emledger runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// An https:// node whose certificate the platform does not trust: every
/// command that talks to it stops at start with an error naming the URL and
/// the flag that fixes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_clear_startup_error_naming_the_url() -> anyhow::Result<()> {
    let st = MoneyStack::start("real_chains_bad_tls", ApiOptions::default()).await?;
    let dir = emledger_tests::stack::target_dir().join("test-state/tls-bad");
    let (url, _ca) = emledger_tests::tls::proxy(&st.chain.rpc_url(), &dir).await?;
    let contract = format!("{:#x}", st.chain.deployment.address);
    let key = format!("{}", alloy::hex::encode_prefixed(st.chain.platform.to_bytes()));
    for args in [
        vec!["--database-url", &st.db_url, "indexer", "--rpc-url", &url, "--contract", &contract],
        vec!["--database-url", &st.db_url, "reconcile", "--rpc-url", &url, "--contract", &contract],
        vec!["--database-url", &st.db_url, "api", "--listen", "127.0.0.1:0", "--rpc-url", &url, "--platform-key", &key],
    ] {
        let (ok, out) = tokio::task::spawn_blocking({
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            move || run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
        })
        .await?;
        assert!(!ok, "{args:?} started against an untrusted certificate:\n{out}");
        assert!(out.contains(&format!("cannot reach the chain node at {url}")) && out.contains("--rpc-ca-file"), "{args:?}:\n{out}");
        assert!(!out.contains(&key[2..]), "the platform key is never printed");
    }
    // a CA file that is not one is refused as such
    std::fs::write(dir.join("junk.pem"), "not a certificate")?;
    let junk = dir.join("junk.pem");
    let (ok, out) = run(&["--database-url", &st.db_url, "--rpc-ca-file", junk.to_str().unwrap(), "reconcile", "--rpc-url", &url, "--contract", &contract], &[]);
    assert!(!ok && out.contains("holds no PEM certificate"), "{out}");
    Ok(())
}

/// Through a TLS-terminating proxy with a private CA (`--rpc-ca-file`): the
/// submitter sends over https, money settles, reconcile over https is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_tls_proxy_with_a_private_ca_money_settles() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("real_chains_tls", ApiOptions::default()).await?;
    let dir = emledger_tests::stack::target_dir().join("test-state/tls-good");
    let (url, ca) = emledger_tests::tls::proxy(&st.chain.rpc_url(), &dir).await?;
    let opts = ApiOptions {
        subprocess: true,
        rpc_url: Some(url.clone()),
        env: vec![("EMLEDGER_RPC_CA_FILE".into(), ca.display().to_string())],
        ..Default::default()
    };
    st.restart_api(opts).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "10").await;
    let r = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1.25", "targetWalletId": b}), "tls-1").await;
    let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    let op = st.wait_operation(&id).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    st.wait_balances(&b, ("1.25", "1.25", "0.00")).await;
    let block = st.chain.block_number().await?;
    emledger_tests::stack::wait_for_cursor(&st.pool, block, std::time::Duration::from_secs(60)).await?;
    let contract = format!("{:#x}", st.chain.deployment.address);
    let (ok, out) = tokio::task::spawn_blocking({
        let (db, url, ca, contract) = (st.db_url.clone(), url.clone(), ca.display().to_string(), contract.clone());
        move || run(&["--database-url", &db, "--rpc-ca-file", &ca, "reconcile", "--rpc-url", &url, "--contract", &contract], &[])
    })
    .await?;
    assert!(ok && out.contains(": 0 mismatches"), "{out}");

    // the indexer over https, woken by a wss:// new-head subscription through the same proxy
    // (the private CA: --rpc-ca-file for https, SSL_CERT_FILE for the WebSocket's TLS)
    st.indexer.kill9();
    let wss = url.replace("https://", "wss://");
    let ca_s = ca.display().to_string();
    st.indexer = emledger_tests::stack::IndexerProcess::spawn_with_env(
        &url,
        &st.db_url,
        st.chain.deployment.address,
        &["--ws-url", &wss],
        &[("EMLEDGER_RPC_CA_FILE", &ca_s), ("SSL_CERT_FILE", &ca_s)],
    )?;
    let r = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "0.75", "targetWalletId": b}), "tls-2").await;
    let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    assert_eq!(st.wait_operation(&id).await["status"], "SUCCESS");
    st.wait_balances(&b, ("2.00", "2.00", "0.00")).await;
    let log = std::fs::read_to_string(emledger_tests::stack::target_dir().join("test-state/indexer.log"))?;
    let subscribed = log.lines().any(|l| l.contains("following new heads by websocket subscription") && l.contains(&wss));
    assert!(subscribed, "the indexer did not subscribe over {wss}");
    Ok(())
}

/// The platform key from an encrypted keystore (`emledger keystore import|new`,
/// `--platform-keystore`): it signs, a wrong password is a clear startup error,
/// and neither the key nor the password appears in any output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_key_from_a_keystore_signs_and_a_wrong_password_is_a_clear_error() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("real_chains_keystore", ApiOptions::default()).await?;
    let dir = emledger_tests::stack::target_dir().join(format!("test-state/keystore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let key = alloy::hex::encode_prefixed(st.chain.platform.to_bytes());
    let password = "correct horse battery";
    let file = dir.join("platform.json");
    let file_s = file.display().to_string();

    let (ok, out) = run(&["keystore", "import", "--out", &file_s], &[("EMLEDGER_PLATFORM_KEY", &key), ("EMLEDGER_PLATFORM_KEYSTORE_PASSWORD", password)]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{:#x}", st.chain.platform.address())), "{out}");
    let stored = std::fs::read_to_string(&file)?;
    assert!(!stored.contains(&key[2..]) && !out.contains(&key[2..]), "the key is stored encrypted only");
    let (ok, out) = run(&["keystore", "import", "--out", &file_s], &[("EMLEDGER_PLATFORM_KEY", &key), ("EMLEDGER_PLATFORM_KEYSTORE_PASSWORD", password)]);
    assert!(!ok && out.contains("exists already"), "{out}");

    // a wrong password: the API does not start, and says why
    let (ok, out) = tokio::task::spawn_blocking({
        let (db, rpc, file_s) = (st.db_url.clone(), st.chain.rpc_url(), file_s.clone());
        move || {
            run(
                &["--database-url", &db, "api", "--listen", "127.0.0.1:0", "--rpc-url", &rpc, "--platform-keystore", &file_s],
                &[("EMLEDGER_PLATFORM_KEYSTORE_PASSWORD", "not the password")],
            )
        }
    })
    .await?;
    assert!(!ok && out.contains("wrong password") && out.contains(&file_s), "{out}");
    assert!(!out.contains("not the password"), "the password is never printed");

    // the right one (from a file): the submitter signs as the platform
    let pw_file = dir.join("password");
    std::fs::write(&pw_file, format!("{password}\n"))?;
    let opts = ApiOptions {
        subprocess: true,
        env: vec![
            ("EMLEDGER_PLATFORM_KEY".into(), String::new()),
            ("EMLEDGER_PLATFORM_KEYSTORE".into(), file_s.clone()),
            ("EMLEDGER_PLATFORM_KEYSTORE_PASSWORD_FILE".into(), pw_file.display().to_string()),
        ],
        ..Default::default()
    };
    st.restart_api(opts).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "3").await;
    let r = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1.00", "targetWalletId": b}), "keystore-1").await;
    let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    let op = st.wait_operation(&id).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    let log = std::fs::read_to_string(emledger_tests::stack::target_dir().join("test-state/api.log"))?;
    assert!(log.contains("the platform key comes from a keystore"), "the source of the key is logged");
    assert!(!log.contains(&key[2..]) && !log.contains(password), "neither key nor password in the log");

    // `keystore new`: a fresh key that decrypts with its password
    let fresh = dir.join("fresh.json");
    let (ok, out) = run(&["keystore", "new", "--out", &fresh.display().to_string()], &[("EMLEDGER_PLATFORM_KEYSTORE_PASSWORD", password)]);
    assert!(ok, "{out}");
    let signer = emledger_operations::submitter::decrypt_keystore(&fresh, password)?;
    assert!(out.contains(&format!("{:#x}", signer.address())), "{out}");

    // `deploy` takes the keystore too (a database of its own: a second deployment)
    let (_pool, db) = emledger_tests::stack::fresh_database("real_chains_keystore_deploy").await?;
    let (ok, out) = tokio::task::spawn_blocking({
        let (rpc, file_s, pw) = (st.chain.rpc_url(), file_s.clone(), pw_file.display().to_string());
        move || run(&["--database-url", &db, "deploy", "--rpc-url", &rpc, "--platform-keystore", &file_s, "--platform-keystore-password-file", &pw], &[])
    })
    .await?;
    assert!(ok && out.contains("\"address\""), "{out}");
    Ok(())
}

/// The operation's current attempt: (status, txHash).
async fn op_attempt(st: &MoneyStack, id: &str) -> (String, Option<String>) {
    let r = st.get(&format!("/api/v1/public/operations/{id}")).await;
    (r.body["status"].as_str().unwrap_or_default().to_owned(), r.body["txHash"].as_str().map(str::to_owned))
}

/// Waits until `cond` holds on the operation's (status, txHash).
async fn wait_attempt(st: &MoneyStack, id: &str, what: &str, cond: impl Fn(&str, Option<&str>) -> bool) -> (String, Option<String>) {
    let start = std::time::Instant::now();
    loop {
        let (status, hash) = op_attempt(st, id).await;
        if cond(&status, hash.as_deref()) {
            return (status, hash);
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "operation {id}: never {what} (now {status} {hash:?})");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The attempts recorded for the nonce of transaction `hash`: (hash, status, max fee, replaced_by's hash).
async fn attempts_of(st: &MoneyStack, hash: &str) -> Vec<(String, String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT t.tx_hash, t.status, t.max_fee_per_gas::text, r.tx_hash FROM chain_transactions t
         LEFT JOIN chain_transactions r ON r.id = t.replaced_by
         WHERE (t.chain_id, t.signer, t.nonce) = (SELECT chain_id, signer, nonce FROM chain_transactions WHERE tx_hash = $1)
         ORDER BY t.id",
    )
    .bind(hash)
    .fetch_all(&st.pool)
    .await
    .unwrap()
}

/// Stuck transactions (issue "Run on real chains", item 4): a transaction the
/// chain does not mine is signed again for the same nonce with higher fees, and
/// whichever attempt mines settles the operation exactly once.
/// A: the base fee jumps above the transaction's fee cap → the replacement pays
/// the new price and mines. B: the earlier attempt is the one that mines (the
/// replacement dropped from the pool) → the operation follows the mined one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_transaction_is_replaced_and_whichever_attempt_mines_settles_it_once() -> anyhow::Result<()> {
    let options = ApiOptions { subprocess: true, env: vec![("EMLEDGER_REPLACE_AFTER_SECS".into(), "2".into())], ..Default::default() };
    let mut st = MoneyStack::start("real_chains_replace", options).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    let p = &st.chain.provider.clone();
    st.fund(&a, "10").await;
    st.wait_balances(&a, ("10.00", "10.00", "0.00")).await;

    // A. no blocks unless asked; the transfer waits in the pool
    let _: serde_json::Value = p.raw_request("evm_setAutomine".into(), (false,)).await?;
    let r = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1.00", "targetWalletId": b}), "stuck-a").await;
    let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    let (_, first) = wait_attempt(&st, &id, "SENT", |s, _| s == "SENT").await;
    let first = first.unwrap();
    let sent = p.get_transaction_by_hash(first.parse()?).await?.expect("the first attempt is in the pool");
    let first_cap = alloy::consensus::Transaction::max_fee_per_gas(sent.inner.inner());
    // the chain's price jumps above what it offered: it cannot be mined
    let _: serde_json::Value = p.raw_request("anvil_setNextBlockBaseFeePerGas".into(), (format!("{:#x}", first_cap * 4),)).await?;
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;
    assert!(p.get_transaction_receipt(first.parse()?).await?.is_none(), "the first attempt is priced out");
    let _: serde_json::Value = p.raw_request("evm_setAutomine".into(), (true,)).await?;
    let op = st.wait_operation(&id).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    let mined = op["txHash"].as_str().unwrap().to_owned();
    assert_ne!(mined, first, "settled by the replacement");
    let receipt = p.get_transaction_receipt(mined.parse()?).await?.expect("the replacement's receipt");
    assert!(receipt.status());
    let tx = p.get_transaction_by_hash(mined.parse()?).await?.unwrap();
    assert_eq!(alloy::consensus::Transaction::nonce(tx.inner.inner()), alloy::consensus::Transaction::nonce(sent.inner.inner()), "same nonce");
    assert_eq!(alloy::consensus::Transaction::input(tx.inner.inner()), alloy::consensus::Transaction::input(sent.inner.inner()), "same call");
    let cap = alloy::consensus::Transaction::max_fee_per_gas(tx.inner.inner());
    assert!(cap >= first_cap * 3, "pays the new price: {cap} vs {first_cap}");
    assert!(p.get_transaction_receipt(first.parse()?).await?.is_none(), "the first attempt never mined");
    let attempts = attempts_of(&st, &mined).await;
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!((attempts[0].0.as_str(), attempts[0].1.as_str(), attempts[0].3.as_deref()), (first.as_str(), "REPLACED", Some(mined.as_str())));
    assert_eq!((attempts[1].0.as_str(), attempts[1].1.as_str()), (mined.as_str(), "MINED"));
    st.wait_balances(&b, ("1.00", "1.00", "0.00")).await;

    // B. the replacement waits in the pool, then the earlier attempt is the one mined
    let _: serde_json::Value = p.raw_request("evm_setAutomine".into(), (false,)).await?;
    let r = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "2.00", "targetWalletId": b}), "stuck-b").await;
    let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    let (_, first) = wait_attempt(&st, &id, "SENT", |s, _| s == "SENT").await;
    let first = first.unwrap();
    let (_, second) = wait_attempt(&st, &id, "replaced", |s, h| s == "SENT" && h.is_some_and(|h| h != first)).await;
    let second = second.unwrap();
    let (raw,): (Vec<u8>,) = sqlx::query_as("SELECT raw_tx FROM chain_transactions WHERE tx_hash = $1").bind(&first).fetch_one(&st.pool).await?;
    let _: serde_json::Value = p.raw_request("anvil_dropTransaction".into(), (second.clone(),)).await?;
    let _ = p.send_raw_transaction(&raw).await?;
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;
    let _: serde_json::Value = p.raw_request("evm_setAutomine".into(), (true,)).await?;
    assert!(p.get_transaction_receipt(first.parse()?).await?.is_some(), "the earlier attempt mined");
    let op = st.wait_operation(&id).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    assert_eq!(op["txHash"].as_str(), Some(first.as_str()), "the operation follows the attempt that mined");
    let attempts = attempts_of(&st, &first).await;
    let live: Vec<_> = attempts.iter().filter(|a| a.1 != "REPLACED").collect();
    assert_eq!(live.len(), 1, "{attempts:?}");
    assert_eq!((live[0].0.as_str(), live[0].1.as_str()), (first.as_str(), "MINED"));
    assert!(attempts.iter().any(|a| a.0 == second && a.1 == "REPLACED"), "{attempts:?}");
    st.wait_balances(&b, ("3.00", "3.00", "0.00")).await;
    st.wait_balances(&a, ("7.00", "7.00", "0.00")).await;
    assert_eq!(st.chain_events(&id, "OperatorTransfer").await, 1, "moved once");

    let (ok, out) = emledger_tests::stack::reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address)?;
    assert!(ok, "reconcile: {out}");
    let log = std::fs::read_to_string(emledger_tests::stack::target_dir().join("test-state/api.log"))?;
    assert!(log.contains("a stuck transaction is replaced"), "the replacement is logged");
    Ok(())
}
