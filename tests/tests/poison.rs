//! One bad operation never stops money moving (issue "One bad operation must
//! never stop money moving"): poison operations of every kind among good ones,
//! batched, with kill -9 of the API at random points; guard rails on wallet
//! addresses; `/health` turning DEGRADED while an operation is stuck.
//!
//! Real parts: anvil with EmToken, Postgres, the indexer and API binaries.
//! Build the binary first: `cargo build --bin emledger`.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use alloy::{
    consensus::Transaction as _,
    network::TransactionBuilder,
    primitives::{Address, Bytes},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::{Revert, SolError},
};
use emledger_contracts::EmToken;
use emledger_tests::stack::{reconcile, seed, wait_for_cursor, Chain};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

mod api_stack;
use api_stack::{ApiOptions, MoneyStack};

/// Init code deploying `runtime` as is.
fn deploy_code(runtime: &[u8]) -> Vec<u8> {
    let n = runtime.len() as u8;
    let mut code = vec![0x60, n, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xf3];
    code.extend_from_slice(runtime);
    code
}

/// Runtime code that always reverts with `data`.
fn reverting_with(data: &[u8]) -> Vec<u8> {
    let n = data.len() as u8;
    let mut code = vec![0x60, n, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xfd];
    code.extend_from_slice(data);
    code
}

/// Deploys with anvil account 1 (never the platform: its nonces belong to the submitter).
async fn deploy(chain: &Chain, runtime: &[u8]) -> Address {
    let provider = Chain::signer_provider(&chain.anvil, &chain.account(1));
    let tx = TransactionRequest::default().with_deploy_code(Bytes::from(deploy_code(runtime)));
    let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    receipt.contract_address.expect("deployed")
}

/// An operation stored the way a command stores one, calling `target` (no movements).
async fn insert_operation(st: &MoneyStack, target: Address, calldata: Vec<u8>) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO operations (id, client_id, kind, chain_operation_id, chain_id, target, calldata)
         VALUES ($1, $2, 'TRANSFER', $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(st.client_id)
    .bind(id.to_string())
    .bind(st.chain.anvil.chain_id() as i64)
    .bind(format!("{target:#x}"))
    .bind(calldata)
    .execute(&st.pool)
    .await
    .unwrap();
    id
}

async fn statuses(st: &MoneyStack) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("SELECT status, count(*) FROM operations GROUP BY status").fetch_all(&st.pool).await.unwrap().into_iter().collect()
}

fn readable(reason: &str) -> bool {
    !reason.is_empty() && reason.len() < 1000 && !reason.chars().any(|c| c.is_control())
}

/// POSTs until the API answers (the API may be down between a kill and its restart).
async fn post_until_answered(st: &MoneyStack, path: &str, body: &Value, key: &str) -> api_stack::Res {
    let start = Instant::now();
    loop {
        let r = st.post_key(path, body.clone(), key).await;
        if r.status.as_u16() != 502 && r.status.as_u16() != 409 {
            return r;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no answer for {path}: {}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_operations_fail_alone_while_good_ones_settle_through_kill_9() -> anyhow::Result<()> {
    let opts = ApiOptions { subprocess: true, batch_size: Some(32), retry_base_ms: Some(200), max_attempts: Some(3), ..Default::default() };
    let mut st = MoneyStack::start("poison_mix", opts.clone()).await?;
    let mut rng = StdRng::seed_from_u64(seed("poison_mix"));

    // one wallet whose address the contract refuses to credit (frozen), frozen by the
    // platform key (also the token's compliance admin) while no submitter runs and
    // before the submitter's first transaction, so the platform's nonces stay its own
    let (frozen, frozen_address) = st.wallet().await;
    st.kill_api().await;
    let frozen_address: Address = frozen_address.parse()?;
    // a fresh provider: the deployment's one caches nonces
    let platform = Chain::signer_provider(&st.chain.anvil, &st.chain.platform);
    let (recorded,): (i64,) = sqlx::query_as("SELECT count(*) FROM chain_transactions").fetch_one(&st.pool).await?;
    assert_eq!(recorded, 0, "the freeze precedes the submitter's transactions");
    EmToken::new(st.chain.deployment.address, &platform).freeze(frozen_address).send().await?.get_receipt().await?;
    st.restart_api(opts.clone()).await?;
    // 8 funded wallets
    let mut wallets = Vec::new();
    for _ in 0..8 {
        let (w, _) = st.wallet().await;
        st.fund(&w, "1000").await;
        wallets.push(w);
    }

    // contracts that revert with binary data, with NUL bytes in an Error(string), and that never stop
    let binary = deploy(&st.chain, &reverting_with(&[0x00, 0xff, 0x00, 0x01, 0x00])).await;
    let nul_string = deploy(&st.chain, &reverting_with(&Revert::from("bad\0reason\0").abi_encode())).await;
    let endless = deploy(&st.chain, &[0x5b, 0x60, 0x00, 0x56]).await;

    // a database error writing some results: the first write of a frozen-recipient failure
    // reason for every other operation is refused
    sqlx::query(
        "CREATE FUNCTION poison_write() RETURNS trigger AS $$ BEGIN
            IF NEW.status = 'FAILED' AND NEW.error LIKE 'Recipient account is frozen%' AND right(NEW.id::text, 1) IN ('0','2','4','6','8','a','c','e') THEN
                RAISE EXCEPTION 'injected failure writing the result';
            END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
    )
    .execute(&st.pool)
    .await?;
    sqlx::query("CREATE TRIGGER poison_write BEFORE UPDATE ON operations FOR EACH ROW EXECUTE FUNCTION poison_write()").execute(&st.pool).await?;

    // 1,000 good transfers, poison interleaved, kill -9 of the API three times along the way
    let total = 1000;
    let kills: Vec<usize> = (0..3).map(|_| rng.gen_range(50..total - 50)).collect();
    let mut good = Vec::new();
    let mut frozen_ops = Vec::new();
    let mut raw_poison = Vec::new();
    let mut i = 0;
    let mut pending_requests = Vec::new();
    while i < total {
        // a wave of 25 requests at once
        let mut wave = Vec::new();
        for _ in 0..25 {
            let a = rng.gen_range(0..wallets.len());
            let b = (a + rng.gen_range(1..wallets.len())) % wallets.len();
            wave.push((wallets[a].clone(), wallets[b].clone(), format!("good-{i}")));
            i += 1;
            if i % 40 == 0 {
                wave.push((wallets[a].clone(), frozen.clone(), format!("frozen-{i}")));
            }
        }
        let mut handles = Vec::new();
        for (from, to, key) in wave {
            let st_base = (st.base.clone(), st.key.clone());
            let body = json!({"amount": "0.01", "targetWalletId": to, "concept": key});
            let path = format!("/api/v1/public/wallets/{from}/transfer");
            pending_requests.push((path.clone(), body.clone(), key.clone()));
            handles.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let r = http.post(format!("{}{}", st_base.0, path)).header("X-API-Key", st_base.1).header("Idempotency-Key", &key).json(&body).send().await;
                (key, r.ok().map(|r| r.status().as_u16()))
            }));
        }
        for h in handles {
            let _ = h.await;
        }
        if i % 100 == 0 {
            raw_poison.push((insert_operation(&st, binary, vec![1, 2, 3, 4]).await, "undecodable data"));
            raw_poison.push((insert_operation(&st, nul_string, vec![1, 2, 3, 4]).await, "badreason"));
        }
        if i % 250 == 0 {
            raw_poison.push((insert_operation(&st, endless, vec![1, 2, 3, 4]).await, ""));
        }
        if kills.iter().any(|k| (i - 25..i).contains(k)) {
            st.restart_api(opts.clone()).await?; // SIGKILL, then start again
        }
    }
    // every request answered (a retry with the same key after a kill returns the stored answer)
    for (path, body, key) in &pending_requests {
        let r = post_until_answered(&st, path, body, key).await;
        let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
        if key.starts_with("frozen") {
            frozen_ops.push(id);
        } else {
            good.push(id);
        }
    }
    assert_eq!(good.len(), total);

    // the end state: nothing left in flight
    let start = Instant::now();
    loop {
        let s = statuses(&st).await;
        let unsettled: i64 = ["PENDING", "SIGNED", "SENT", "MINED"].iter().map(|k| s.get(*k).copied().unwrap_or(0)).sum();
        if unsettled == 0 {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let health = st.send(reqwest::Method::GET, "/health", None, &[]).await;
            panic!("operations still unsettled: {s:?}; health {} {}", health.status, health.body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in &good {
        let op = st.get(&format!("/api/v1/public/operations/{id}")).await;
        assert_eq!(op.body["status"], "SUCCESS", "good operation: {}", op.body);
    }
    let mut batched_frozen = 0;
    for id in &frozen_ops {
        let (status, error, batch_index): (String, Option<String>, Option<i32>) =
            sqlx::query_as("SELECT status, error, batch_index FROM operations WHERE id = $1").bind(Uuid::parse_str(id)?).fetch_one(&st.pool).await?;
        let error = error.unwrap_or_default();
        assert_eq!(status, "FAILED");
        assert!(readable(&error), "{error:?}");
        assert!(
            error.starts_with("Recipient account is frozen") || error == "the operation failed; its reason could not be stored",
            "{error}"
        );
        batched_frozen += batch_index.is_some() as usize;
    }
    assert!(batched_frozen > 0, "some frozen transfers failed inside a batch of good ones");
    for (id, expected) in &raw_poison {
        let (status, error): (String, Option<String>) =
            sqlx::query_as("SELECT status, error FROM operations WHERE id = $1").bind(id).fetch_one(&st.pool).await?;
        let error = error.unwrap_or_default();
        assert_eq!(status, "FAILED", "{id}: {error}");
        assert!(readable(&error) && error.contains(expected), "{id}: {error:?}");
    }
    // a failed inner call of a batch sits in the same transaction as operations that succeeded
    let (shared,): (i64,) = sqlx::query_as(
        "SELECT count(DISTINCT f.transaction_id) FROM operations f JOIN operations s ON s.transaction_id = f.transaction_id
         WHERE f.status = 'FAILED' AND s.status = 'SUCCESS'",
    )
    .fetch_one(&st.pool)
    .await?;
    assert!(shared > 0, "an inner-call failure shares its batch with successes");

    // money conserved: the read model equals the chain, the frozen wallet got nothing
    let block = st.chain.block_number().await?;
    wait_for_cursor(&st.pool, block, Duration::from_secs(60)).await?;
    let (ok, out) = reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address)?;
    assert!(ok && out.contains(": 0 mismatches"), "reconcile:\n{out}");
    assert_eq!(st.balances(&frozen).await.0, "0.00");
    let mut total_balance = rust_decimal::Decimal::ZERO;
    for w in &wallets {
        total_balance += st.balances(w).await.0.parse::<rust_decimal::Decimal>()?;
    }
    assert_eq!(total_balance.to_string(), "8000.00", "transfers move money, never create or destroy it");

    // no nonce gap: the stored transactions' nonces are contiguous and the chain has mined them all
    let (gaps, max): (i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE prev IS NOT NULL AND nonce <> prev + 1), max(nonce)
         FROM (SELECT nonce, lag(nonce) OVER (ORDER BY nonce) AS prev FROM chain_transactions) x",
    )
    .fetch_one(&st.pool)
    .await?;
    assert_eq!(gaps, 0, "nonce gaps");
    let mined = st.chain.provider.get_transaction_count(st.chain.platform.address()).await?;
    assert_eq!(max.unwrap() as u64 + 1, mined, "every stored nonce is mined, none after");
    let (batches, ops_in_batches): (i64, Option<i64>) =
        sqlx::query_as("SELECT count(*), sum(operations) FROM chain_transactions WHERE batched").fetch_one(&st.pool).await?;
    assert!(batches > 0 && ops_in_batches.unwrap_or(0) > batches, "operations were batched");

    // and reconcile sees a transaction signed with the platform key behind the platform's back
    st.kill_api().await;
    let platform = Chain::signer_provider(&st.chain.anvil, &st.chain.platform);
    let pending = EmToken::new(st.chain.deployment.address, &platform).unfreeze(frozen_address).send().await?;
    let hash = *pending.tx_hash();
    pending.get_receipt().await?;
    let nonce = platform.get_transaction_by_hash(hash).await?.expect("the unfreeze transaction").nonce();
    let block = st.chain.block_number().await?;
    wait_for_cursor(&st.pool, block, Duration::from_secs(60)).await?;
    let (ok, out) = reconcile(&st.chain.rpc_url(), &st.db_url, st.chain.deployment.address)?;
    let mismatches: Vec<&str> = out.lines().filter(|l| l.starts_with("MISMATCH")).collect();
    let expected = format!("MISMATCH signer {:#x} nonce {nonce} nonce: indexed no transaction recorded != chain used", st.chain.platform.address());
    assert!(!ok && mismatches == [expected.as_str()], "reconcile:\n{out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_addresses_that_belong_to_the_platform_are_refused() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("poison_guard", ApiOptions::default()).await?;
    let (w, _) = st.wallet().await;
    let user: String = st.get(&format!("/api/v1/public/wallets/{w}")).await.ok(200)["userId"].as_str().unwrap().to_owned();
    let outsider = st.chain.account(5).address();
    // account 3 gets a role on the token (before the submitter sends anything else)
    st.kill_api().await;
    let platform = Chain::signer_provider(&st.chain.anvil, &st.chain.platform);
    let token = EmToken::new(st.chain.deployment.address, &platform);
    let role = token.MINTER_ROLE().call().await?;
    token.grantRole(role, st.chain.account(3).address()).send().await?.get_receipt().await?;
    st.restart_api(ApiOptions::default()).await?;
    let block = st.chain.block_number().await?;
    wait_for_cursor(&st.pool, block, Duration::from_secs(30)).await?;
    for (address, why) in [
        (Address::ZERO, "zero address"),
        (st.chain.platform.address(), "platform"),
        (st.chain.deployment.address, "token contract"),
        (st.chain.account(3).address(), "role"),
    ] {
        let r = st.post("/api/v1/public/wallets", json!({"userId": user, "dltAddress": format!("{address:#x}")})).await;
        let details = r.err(400, "invalid_request");
        assert!(r.body.to_string().contains("dltAddress"), "{why}: {}", r.body);
        assert!(r.body.to_string().contains(why), "{why}: {} {details}", r.body);
    }
    // an ordinary address is fine
    st.post("/api/v1/public/wallets", json!({"userId": user, "dltAddress": format!("{outsider:#x}")})).await.ok(201);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_degraded_while_an_operation_is_stuck_and_up_again_after() -> anyhow::Result<()> {
    let opts = ApiOptions { stuck_after_secs: Some(1), retry_base_ms: Some(4000), max_attempts: Some(2), ..Default::default() };
    let st = MoneyStack::start("poison_health", opts).await?;
    // UP once the submitter has started and holds its signer lock
    let started = Instant::now();
    loop {
        let body = st.get("/health").await.ok(200).clone();
        if body["status"] == "UP" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "health never UP at start: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // an operation whose gas can never be estimated: retried after 4 s, then FAILED
    let endless = deploy(&st.chain, &[0x5b, 0x60, 0x00, 0x56]).await;
    let id = insert_operation(&st, endless, vec![]).await;
    let stored = Instant::now();
    let mut degraded_at = None;
    loop {
        let h = st.get("/health").await;
        let body = h.ok(200).clone();
        if body["status"] == "DEGRADED" && degraded_at.is_none() {
            assert!(body["reasons"].to_string().contains("an operation has been PENDING"), "{body}");
            degraded_at = Some(stored.elapsed());
        }
        if degraded_at.is_some() && body["status"] == "UP" {
            break;
        }
        assert!(stored.elapsed() < Duration::from_secs(30), "health never went DEGRADED then UP: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // stuck past the 1 s threshold → DEGRADED within 5 s of it
    assert!(degraded_at.unwrap() < Duration::from_secs(6), "{degraded_at:?}");
    let (status, error, attempts): (String, Option<String>, i32) =
        sqlx::query_as("SELECT status, error, attempts FROM operations WHERE id = $1").bind(id).fetch_one(&st.pool).await?;
    assert_eq!(status, "FAILED");
    assert!(attempts >= 1 || error.as_deref().unwrap_or("").len() > 0);
    assert!(readable(error.as_deref().unwrap_or("")), "{error:?}");
    Ok(())
}

/// A TCP proxy in front of the node that, while `hang` is set, takes requests
/// and never answers them (a node behind a stuck load balancer).
async fn hanging_proxy(upstream: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::{atomic::Ordering, Arc};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hang = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let flag = hang.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            let (upstream, hang) = (upstream.clone(), flag.clone());
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if hang.load(Ordering::SeqCst) {
                            continue; // swallowed: no answer will ever come
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                };
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    (url, hang)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_answering_fails_passes_not_the_pipeline() -> anyhow::Result<()> {
    use std::sync::atomic::Ordering;
    let mut st = MoneyStack::start("poison_hang", ApiOptions { subprocess: true, ..Default::default() }).await?;
    // the API reaches the node through a proxy that can stop answering; 1 s per request
    let (proxy, hang) = hanging_proxy(st.chain.rpc_url()).await;
    let opts = ApiOptions {
        subprocess: true,
        rpc_url: Some(proxy),
        env: vec![("EMLEDGER_RPC_TIMEOUT_MS".into(), "1000".into())],
        stuck_after_secs: Some(600),
        ..Default::default()
    };
    st.restart_api(opts).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "10").await;

    // the node takes requests and never answers: the submitter's passes fail (visibly), they do not hang
    hang.store(true, Ordering::SeqCst);
    let r = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "2.50", "targetWalletId": b}), "hang-1").await;
    let id = r.ok(202)["apiOperationId"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        // /health: the chain is DOWN (503); /metrics: the submitter's passes keep failing, and end
        let health = st.get("/health").await;
        let metrics = st.http.get(format!("{}/metrics", st.base)).send().await?.text().await?;
        let gauge = |name: &str| -> f64 {
            metrics.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs_f64();
        if health.status.as_u16() == 503
            && gauge("emledger_submitter_consecutive_errors") >= 3.0
            && now - gauge("emledger_submitter_last_pass_timestamp_seconds") < 5.0
        {
            assert_eq!(health.body["chain"], "DOWN", "{}", health.body);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "passes do not fail while the node hangs: {}\n{metrics}", health.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let op = st.get(&format!("/api/v1/public/operations/{id}")).await.ok(200).clone();
    assert_eq!(op["status"], "PENDING", "{op}");

    // the node answers again: the same operation settles, health is UP again
    hang.store(false, Ordering::SeqCst);
    let op = st.wait_operation(&id).await;
    assert_eq!(op["status"], "SUCCESS", "{op}");
    st.wait_balances(&b, ("2.50", "2.50", "0.00")).await;
    let start = Instant::now();
    loop {
        // a pooled connection the proxy broke may fail one more probe (503): only UP ends the wait
        let h = st.get("/health").await;
        let body = h.body.clone();
        if h.status.as_u16() == 200 && body["status"] == "UP" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "health not UP after the node came back: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
