//! Cross-ledger transfers between two networks (issue "Cross-ledger transfers
//! between two networks"), end to end: two anvils with different chain ids, an
//! EmToken and a CrossLedgerLink on each, one Postgres, an `emledger indexer`
//! per network and the `emledger relayer` binary driving the links.
//!
//! - 25.00 move from A to B with the relayer killed (abort at a fault point)
//!   after every step it stores and around the signing and sending of its
//!   transactions: the transfer completes exactly once; balances, movements and
//!   both links agree; reconcile is clean on both networks.
//! - A transfer whose currency is not active on the destination is revoked:
//!   the origin hold is released, both movements ERROR with the reason.
//! - The destination node frozen (SIGSTOP) for 30 s: the transfer waits, and
//!   completes once it answers again; the API's `/health` and the relayer's own
//!   (`--metrics-listen`) are DEGRADED meanwhile, naming what is stuck, and UP after.
//! - Four orders at once complete side by side, each step once; three at once
//!   through random SIGKILLs of the relayer too.
//! - Postgres killed under the relayer: its `/health` DOWN (503), then UP by
//!   itself once Postgres is back, and a new order completes.
//!
//! Users and wallets are written to the database directly: the API does not yet
//! create a wallet on a chosen network.
//! Build the binary first: `cargo build --bin emledger`.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    network::EthereumWallet,
};
use emledger_contracts::{CrossLedgerLink, EmToken};
use emledger_operations::crossledger::{register_network, Network};
use emledger_tests::stack::{emledger_bin, free_port, fresh_database, reconcile, test_state_dir, Chain, IndexerProcess};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

const CHAIN_A: u64 = 31_401;
const CHAIN_B: u64 = 31_402;
/// The links' admin (anvil account 9 on both chains).
const ADMIN: usize = 9;

struct Net {
    name: &'static str,
    chain: Chain,
    link: Address,
    indexer: IndexerProcess,
}

impl Net {
    fn token(&self) -> EmToken::EmTokenInstance<&DynProvider> {
        EmToken::new(self.chain.deployment.address, &self.chain.provider)
    }

    fn link(&self) -> CrossLedgerLink::CrossLedgerLinkInstance<&DynProvider> {
        CrossLedgerLink::new(self.link, &self.chain.provider)
    }

    /// The link as its admin.
    fn admin(&self) -> CrossLedgerLink::CrossLedgerLinkInstance<DynProvider> {
        CrossLedgerLink::new(self.link, Chain::signer_provider(&self.chain.anvil, &self.chain.account(ADMIN)))
    }
}

/// An anvil with `chain_id`, its token and link (the link holds its token roles,
/// EUR active towards `other`), recorded as network `name`, and its indexer.
async fn network(pool: &PgPool, db_url: &str, name: &'static str, chain_id: u64, other: u64) -> anyhow::Result<Net> {
    let chain = Chain::start_with_args(&["--chain-id", &chain_id.to_string()]).await?;
    chain.record(pool).await?;
    let platform = chain.platform.address();
    let token = chain.deployment.address;
    // the link's admin is not the platform (the relayer's key signs operator steps only)
    let admin = Chain::signer_provider(&chain.anvil, &chain.account(ADMIN));
    let link = CrossLedgerLink::deploy(&chain.provider, token, U256::from(chain_id), chain.account(ADMIN).address(), platform).await?;
    let link_block = chain.provider.get_block_number().await?;
    let t = EmToken::new(token, &chain.provider);
    for role in [t.OPERATOR_ROLE().call().await?, t.BURNER_ROLE().call().await?, t.MINTER_ROLE().call().await?] {
        assert!(t.grantRole(role, *link.address()).send().await?.get_receipt().await?.status());
    }
    let as_admin = CrossLedgerLink::new(*link.address(), &admin);
    assert!(as_admin.activateChain(U256::from(other)).send().await?.get_receipt().await?.status());
    assert!(as_admin.activateCurrency("EUR".into(), U256::from(other)).send().await?.get_receipt().await?.status());
    register_network(pool, &Network { name: name.into(), chain_id, token, link: Some(*link.address()), link_block }).await?;
    let indexer = IndexerProcess::spawn(&chain.rpc_url(), db_url, token, &["--dlt-network", name])?;
    Ok(Net { name, link: *link.address(), chain, indexer })
}

/// `emledger api` of network A (its submitter stands by while the relayer's holds the signer).
struct Api {
    child: Child,
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Api {
    async fn start(db_url: &str, a: &Net, key: String) -> anyhow::Result<Self> {
        let port = free_port();
        let log = test_state_dir().join("cross-ledger-api.log");
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
        let child = Command::new(emledger_bin())
            .args(["--database-url", db_url, "api", "--listen", &format!("127.0.0.1:{port}"), "--jwt-secret", "cross-ledger-tests"])
            .args(["--rpc-url", &a.chain.rpc_url(), "--dlt-network", a.name, "--stuck-after-secs", "10"])
            .env("EMLEDGER_PLATFORM_KEY", format!("0x{}", alloy::primitives::hex::encode(a.chain.platform.to_bytes())))
            .env("RUST_LOG", "info,sqlx=warn")
            .env_remove("EMLEDGER_FAULT")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()?;
        let api = Api { child, base: format!("http://127.0.0.1:{port}"), key, http: reqwest::Client::new() };
        let start = Instant::now();
        while api.http.get(format!("{}/health", api.base)).send().await.is_err() {
            anyhow::ensure!(start.elapsed() < Duration::from_secs(30), "the API did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(api)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).header("X-API-Key", &self.key).send().await.expect("GET");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).header("X-API-Key", &self.key).json(&body).send().await.expect("POST");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// A wallet of `user` at `address` on `network` (None: the tenant's own).
    async fn wallet(&self, user: &str, address: Address, network: Option<&str>) -> Uuid {
        let mut body = json!({"userId": user, "dltAddress": format!("{address:#x}")});
        if let Some(n) = network {
            body["dltNetwork"] = json!(n);
        }
        let (status, w) = self.post("/api/v1/public/wallets", body).await;
        assert_eq!(status, 201, "{w}");
        assert_eq!(w["dltNetwork"], network.unwrap_or("net-a"), "{w}");
        w["id"].as_str().unwrap().parse().unwrap()
    }

    /// The transfer movements of `wallet`: (type, status, amount, the movement).
    async fn movements(&self, wallet: Uuid) -> Vec<(String, String, String, Value)> {
        let (status, page) = self.get(&format!("/api/v1/public/wallets/{wallet}/movements?size=100")).await;
        assert_eq!(status, 200, "{page}");
        let items = page["_embedded"]["movements"].as_array().cloned().unwrap_or_default();
        let all: Vec<(String, String, String, Value)> = items
            .iter()
            .filter(|m| m["type"] == "TRANSFER_OUT" || m["type"] == "TRANSFER_IN")
            .map(|m| (m["type"].as_str().unwrap().to_owned(), m["status"].as_str().unwrap().to_owned(), m["amount"].as_str().unwrap().to_owned(), m.clone()))
            .collect();
        all
    }
}

/// An `emledger relayer` subprocess, killed when dropped (also when the test fails).
struct Relayer(Child);

impl Drop for Relayer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn relayer(db_url: &str, a: &Net, b_rpc: &str, b: &Net, fault: Option<&str>, status_port: Option<u16>) -> anyhow::Result<Relayer> {
    let log = test_state_dir().join("relayer.log");
    let _ = std::fs::create_dir_all(log.parent().unwrap());
    let out = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
    let key = format!("0x{}", alloy::primitives::hex::encode(a.chain.platform.to_bytes()));
    let mut cmd = Command::new(emledger_bin());
    cmd.arg("--database-url")
        .arg(db_url)
        .arg("relayer")
        .arg("--network-rpc")
        .arg(format!("{}={},{}={}", a.name, a.chain.rpc_url(), b.name, b_rpc))
        .arg("--poll-ms")
        .arg("50")
        .arg("--max-amount")
        .arg("5000")
        .env("EMLEDGER_PLATFORM_KEY", key)
        .env("EMLEDGER_RPC_TIMEOUT_MS", "2000")
        .env("RUST_LOG", "info,sqlx=warn")
        .env_remove("EMLEDGER_FAULT")
        .stdout(Stdio::null())
        .stderr(out);
    if let Some(f) = fault {
        cmd.env("EMLEDGER_FAULT", f);
    }
    if let Some(port) = status_port {
        cmd.arg("--metrics-listen").arg(format!("127.0.0.1:{port}")).arg("--stuck-after-secs").arg("10");
    }
    Ok(Relayer(cmd.spawn()?))
}

/// The relayer's `/health` (status code, body), or `None` while it does not answer yet.
async fn relayer_get(port: u16, path: &str) -> Option<(u16, String)> {
    let r = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}")).timeout(Duration::from_secs(5)).send().await.ok()?;
    Some((r.status().as_u16(), r.text().await.ok()?))
}

/// The last `n` lines of a log file (empty when it cannot be read).
fn log_tail(path: &std::path::Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Polls the relayer's `/health` until `ok` holds for its body (JSON), for at most `within`.
async fn relayer_health_until(port: u16, within: Duration, ok: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    let start = Instant::now();
    let mut last;
    loop {
        match relayer_get(port, "/health").await {
            Some((200, body)) => {
                let health: Value = serde_json::from_str(&body)?;
                if ok(&health) {
                    return Ok(health);
                }
                last = format!("200 {body}");
            }
            Some((code, body)) => last = format!("{code} {body}"),
            None => last = "no answer".to_owned(),
        }
        anyhow::ensure!(
            start.elapsed() < within,
            "the relayer's /health not as expected after {within:?}; last answer: {last}; relayer log (end):\n{}",
            log_tail(&test_state_dir().join("relayer.log"), 40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn transfer_status(pool: &PgPool, operation_id: &str) -> anyhow::Result<Option<(String, Option<String>)>> {
    Ok(sqlx::query_as("SELECT status, error FROM cross_ledger_transfers WHERE operation_id = $1")
        .bind(operation_id)
        .fetch_optional(pool)
        .await?)
}

async fn wait_status(pool: &PgPool, operation_id: &str, want: &str, within: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let now = transfer_status(pool, operation_id).await?;
        if now.as_ref().map(|s| s.0.as_str()) == Some(want) {
            return Ok(());
        }
        anyhow::ensure!(start.elapsed() < within, "transfer {operation_id} not {want} after {within:?}: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for `child` to end on its own (the fault point aborted it).
async fn aborted(child: &mut Relayer, fault: &str) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.0.try_wait()? {
            use std::os::unix::process::ExitStatusExt;
            // SIGABRT (6) is the fault point's abort; anything else is a relayer that failed
            anyhow::ensure!(st.signal() == Some(6), "the relayer ended with {st} instead of aborting at {fault} (see relayer.log)");
            return Ok(());
        }
        anyhow::ensure!(start.elapsed() < Duration::from_secs(60), "the relayer never reached fault point {fault}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The user orders `amount` (minor units) of `from`'s money to `to` on B: held on A.
async fn order(a: &Net, from_key: usize, id: &str, amount: u64, to: Address) -> anyhow::Result<()> {
    let signer = a.chain.account(from_key);
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(a.chain.rpc_url().parse()?);
    let r = CrossLedgerLink::new(a.link, &provider)
        .orderTransfer(id.into(), U256::from(amount), to, "EUR".into(), U256::from(CHAIN_B))
        .send()
        .await?
        .get_receipt()
        .await?;
    anyhow::ensure!(r.status(), "the order reverted");
    Ok(())
}

async fn supply(n: &Net) -> anyhow::Result<U256> {
    Ok(n.token().totalSupply().call().await?)
}

/// The read model's (gross, held) of `address` on `net` next to the chain's.
async fn balances_agree(pool: &PgPool, n: &Net, address: Address) -> anyhow::Result<(String, String)> {
    let block = n.chain.block_number().await?;
    let chain_id = n.chain.deployment.chain_id as i64;
    let start = Instant::now();
    loop {
        let (cursor,): (i64,) = sqlx::query_as("SELECT block_number FROM chain_cursor WHERE chain_id = $1").bind(chain_id).fetch_one(pool).await?;
        if cursor as u64 >= block {
            break;
        }
        anyhow::ensure!(start.elapsed() < Duration::from_secs(30), "the indexer of {} is at {cursor}, the chain at {block}", n.name);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT gross::text, held::text FROM balances WHERE chain_id = $1 AND address = $2",
    )
    .bind(n.chain.deployment.chain_id as i64)
    .bind(format!("{address:#x}"))
    .fetch_optional(pool)
    .await?;
    let row = row.unwrap_or(("0".into(), "0".into()));
    let gross = n.token().netBalanceOf(address).call().await?;
    let held = n.token().balanceOnHold(address).call().await?;
    assert_eq!(row, (gross.to_string(), held.to_string()), "read model vs chain of {address} on {}", n.name);
    Ok(row)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_ledger_transfers_complete_once_through_kill_9_revocations_and_a_paused_network() -> anyhow::Result<()> {
    let (pool, db_url) = fresh_database("cross_ledger").await?;
    let a = network(&pool, &db_url, "net-a", CHAIN_A, CHAIN_B).await?;
    let b = network(&pool, &db_url, "net-b", CHAIN_B, CHAIN_A).await?;
    let (_client, key) = emledger_api::create_tenant(&pool, "cross-ledger-tenant", "net-a").await?;
    let api = Api::start(&db_url, &a, key).await?;
    // alice: a wallet on A (account 1) and one on B (account 2), made through the API
    let (status, user) =
        api.post("/api/v1/public/users", json!({"name": "Alice", "phoneNumber": "+34612345678", "country": "ES"})).await;
    assert_eq!(status, 201, "{user}");
    let user = user["id"].as_str().unwrap().to_owned();
    let alice_a = a.chain.account(1).address();
    let alice_b = b.chain.account(2).address();
    let wallet_a = api.wallet(&user, alice_a, None).await;
    let wallet_b = api.wallet(&user, alice_b, Some("net-b")).await;
    let (status, refused) = api
        .post("/api/v1/public/wallets", json!({"userId": user, "dltAddress": format!("{:#x}", a.chain.account(3).address()), "dltNetwork": "net-z"}))
        .await;
    assert_eq!(status, 404, "{refused}");
    assert!(refused.to_string().contains("dltNetwork"), "{refused}");
    // while transfer 1 runs the relayer's own submitters sign on both networks (an API
    // of network A would hold A's signer; it is back for the later transfers)
    let api_key = api.key.clone();
    drop(api);
    assert!(a.token().mint("cash-in-1".into(), alice_a, U256::from(10_000)).send().await?.get_receipt().await?.status());
    let total_before = supply(&a).await? + supply(&b).await?;

    // 1. 25.00 from A to B, the relayer killed after every step
    let id = "xl-1";
    order(&a, 1, id, 2_500, alice_b).await?;
    let faults = [
        "relayer_after_accept",
        "after_sign",
        "relayer_after_acknowledge",
        "after_send",
        "relayer_after_execute_out",
        "after_sign",
        "relayer_after_execute_in",
    ];
    for fault in faults {
        let mut child = relayer(&db_url, &a, &b.chain.rpc_url(), &b, Some(fault), None)?;
        aborted(&mut child, fault).await?;
    }
    let status_port = free_port();
    let live = relayer(&db_url, &a, &b.chain.rpc_url(), &b, None, Some(status_port))?;
    wait_status(&pool, id, "COMPLETED", Duration::from_secs(60)).await?;
    // the relayer's own /health and /metrics: both networks, nothing open, nothing failing
    let up = relayer_health_until(status_port, Duration::from_secs(15), |h| h["status"] == "UP").await?;
    let names: Vec<&str> = up["networks"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"net-a") && names.contains(&"net-b"), "{up}");
    assert_eq!(up["openTransfers"], 0, "{up}");
    let (code, text) = relayer_get(status_port, "/metrics").await.expect("the relayer's /metrics answers");
    assert_eq!(code, 200);
    for line in ["emledger_relayer_degraded 0", "emledger_cross_ledger_open_transfers 0", "emledger_relayer_order_scan_consecutive_errors{network=\"net-b\"} 0"] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in the relayer's /metrics:\n{text}");
    }

    let on_a = a.link().getTransferData(id.into()).call().await?;
    let on_b = b.link().getTransferData(id.into()).call().await?;
    assert_eq!((on_a.transferType, on_a.status), (1, 6), "TransferOut, TransferOutExecuted");
    assert_eq!((on_b.transferType, on_b.status), (0, 5), "TransferIn, TransferInExecuted");
    assert_eq!(on_a.secret, on_b.secret);
    assert_eq!((on_a.amount, on_b.amount), (U256::from(2_500), U256::from(2_500)));
    assert_eq!(a.token().balanceOf(alice_a).call().await?, U256::from(7_500));
    assert_eq!(b.token().balanceOf(alice_b).call().await?, U256::from(2_500));
    assert_eq!(supply(&a).await? + supply(&b).await?, total_before, "the supply over both networks only moved");
    assert_eq!(balances_agree(&pool, &a, alice_a).await?, ("7500".into(), "0".into()));
    assert_eq!(balances_agree(&pool, &b, alice_b).await?, ("2500".into(), "0".into()));
    // one movement per side, SUCCESS, with the chain position of the burn / the mint
    let moves: Vec<(String, String, i64, Option<Uuid>, Option<String>, String)> = sqlx::query_as(
        "SELECT type, status, chain_id, owner_wallet_id, tx_hash, dlt_network FROM movements
         WHERE chain_operation_id = $1 AND type <> 'LOCK' ORDER BY type",
    )
    .bind(id)
    .fetch_all(&pool)
    .await?;
    assert_eq!(moves.len(), 2, "{moves:?}");
    assert_eq!((&moves[0].0[..], &moves[0].1[..], moves[0].2, moves[0].3), ("TRANSFER_IN", "SUCCESS", CHAIN_B as i64, Some(wallet_b)));
    assert_eq!((&moves[1].0[..], &moves[1].1[..], moves[1].2, moves[1].3), ("TRANSFER_OUT", "SUCCESS", CHAIN_A as i64, Some(wallet_a)));
    assert!(moves.iter().all(|m| m.4.is_some()), "{moves:?}");
    assert_eq!((&moves[0].5[..], &moves[1].5[..]), ("net-b", "net-a"));
    // every step once: six link calls at most one each, none failed
    let steps: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, status FROM operations WHERE chain_operation_id = $1 ORDER BY seq").bind(id).fetch_all(&pool).await?;
    let kinds: Vec<&str> = steps.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        kinds,
        ["CROSS_LEDGER_ACCEPT", "CROSS_LEDGER_ACKNOWLEDGE", "CROSS_LEDGER_EXECUTE_OUT", "CROSS_LEDGER_EXECUTE_IN"],
        "{steps:?}"
    );
    assert!(steps.iter().all(|s| s.1 == "SUCCESS"), "{steps:?}");

    // the same through the API: both wallets, their movements, the transfer
    let api = Api::start(&db_url, &a, api_key).await?;
    let (_, wb) = api.get(&format!("/api/v1/public/wallets/{wallet_b}")).await;
    assert_eq!((wb["balance"].as_str(), wb["dltNetwork"].as_str()), (Some("25.00"), Some("net-b")), "{wb}");
    let (_, wa) = api.get(&format!("/api/v1/public/wallets/{wallet_a}")).await;
    assert_eq!((wa["balance"].as_str(), wa["dltNetwork"].as_str()), (Some("75.00"), Some("net-a")), "{wa}");
    let out = api.movements(wallet_a).await;
    assert_eq!(out.iter().map(|m| (&m.0[..], &m.1[..], &m.2[..])).collect::<Vec<_>>(), [("TRANSFER_OUT", "SUCCESS", "25.00")], "{out:?}");
    let inn = api.movements(wallet_b).await;
    assert_eq!(inn.iter().map(|m| (&m.0[..], &m.1[..], &m.2[..])).collect::<Vec<_>>(), [("TRANSFER_IN", "SUCCESS", "25.00")], "{inn:?}");
    let (status, list) = api.get(&format!("/api/v1/public/cross-ledger-transfers?walletId={wallet_b}")).await;
    assert_eq!(status, 200, "{list}");
    let t = &list["_embedded"]["crossLedgerTransfers"][0];
    assert_eq!((t["operationId"].as_str(), t["status"].as_str(), t["amount"].as_str()), (Some(id), Some("COMPLETED"), Some("25.00")), "{list}");
    assert_eq!((t["originDltNetwork"].as_str(), t["destinationDltNetwork"].as_str()), (Some("net-a"), Some("net-b")), "{t}");
    assert_eq!((t["originWalletId"].as_str(), t["targetWalletId"].as_str()), (Some(&wallet_a.to_string()[..]), Some(&wallet_b.to_string()[..])));
    let (status, one) = api.get(&format!("/api/v1/public/cross-ledger-transfers/{}", t["id"].as_str().unwrap())).await;
    assert_eq!((status, &one["status"]), (200, &json!("COMPLETED")), "{one}");

    // 2. the currency is switched off on B: the next order is revoked
    assert!(b.admin().deactivateCurrency("EUR".into(), U256::from(CHAIN_A)).send().await?.get_receipt().await?.status());
    let revoked = "xl-2";
    order(&a, 1, revoked, 1_000, alice_b).await?;
    wait_status(&pool, revoked, "REVOKED", Duration::from_secs(60)).await?;
    assert_eq!(a.link().getTransferData(revoked.into()).call().await?.status, 3);
    assert_eq!(b.link().getTransferData(revoked.into()).call().await?.status, 3);
    assert_eq!(a.token().balanceOnHold(alice_a).call().await?, U256::ZERO, "the origin hold is released");
    assert_eq!(balances_agree(&pool, &a, alice_a).await?, ("7500".into(), "0".into()));
    let errors: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT type, status, error FROM movements WHERE chain_operation_id = $1 AND cross_ledger_transfer_id IS NOT NULL ORDER BY type",
    )
    .bind(revoked)
    .fetch_all(&pool)
    .await?;
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (kind, status, error) in &errors {
        assert_eq!(status, "ERROR", "{kind}");
        assert!(error.as_deref().unwrap_or("").contains("currency is not active"), "{kind}: {error:?}");
    }
    let (_, list) = api.get("/api/v1/public/cross-ledger-transfers?status=REVOKED").await;
    let t = &list["_embedded"]["crossLedgerTransfers"][0];
    assert_eq!((t["operationId"].as_str(), t["reason"].as_i64()), (Some(revoked), Some(2)), "{list}");
    assert!(t["reasonText"].as_str().unwrap_or("").contains("currency"), "{t}");
    assert!(b.admin().activateCurrency("EUR".into(), U256::from(CHAIN_A)).send().await?.get_receipt().await?.status());

    // 3. B's node frozen for 30 s while a transfer is under way
    let paused = "xl-3";
    let pid = b.chain.anvil.child().id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status()?.success());
    order(&a, 1, paused, 500, alice_b).await?;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let during = transfer_status(&pool, paused).await?;
    assert!(matches!(during.as_ref().map(|s| s.0.as_str()), Some("ORDERED")), "{during:?}");
    // the stuck transfer shows on /health (threshold 10 s)
    let (_, health) = api.get("/health").await;
    assert_eq!(health["status"], "DEGRADED", "{health}");
    assert!(health["reasons"].to_string().contains("cross-ledger transfer has been open (ORDERED)"), "{health}");
    // the relayer says which network it cannot reach, and that the transfer waits
    let (code, body) = relayer_get(status_port, "/health").await.expect("the relayer's /health answers while B is frozen");
    let relayer_health: Value = serde_json::from_str(&body)?;
    assert_eq!((code, &relayer_health["status"]), (200, &json!("DEGRADED")), "{relayer_health}");
    let reasons = relayer_health["reasons"].to_string();
    assert!(reasons.contains("network net-b: looking for cross-ledger orders failed"), "{relayer_health}");
    assert!(!reasons.contains("network net-a"), "{relayer_health}");
    assert!(reasons.contains("cross-ledger transfer has been open (ORDERED)"), "{relayer_health}");
    let (_, text) = relayer_get(status_port, "/metrics").await.expect("the relayer's /metrics answers");
    assert!(text.lines().any(|l| l == "emledger_relayer_degraded 1"), "{text}");
    assert!(Command::new("kill").args(["-CONT", &pid]).status()?.success());
    wait_status(&pool, paused, "COMPLETED", Duration::from_secs(60)).await?;
    let (_, health) = api.get("/health").await;
    assert!(!health["reasons"].to_string().contains("cross-ledger"), "{health}");
    relayer_health_until(status_port, Duration::from_secs(15), |h| h["status"] == "UP").await?;
    assert_eq!(b.token().balanceOf(alice_b).call().await?, U256::from(3_000));
    assert_eq!(supply(&a).await? + supply(&b).await?, total_before);
    assert_eq!(balances_agree(&pool, &a, alice_a).await?, ("7000".into(), "0".into()));
    assert_eq!(balances_agree(&pool, &b, alice_b).await?, ("3000".into(), "0".into()));

    // 4. above the platform's limit (50.00): revoked with reason 8
    let big = "xl-4";
    order(&a, 1, big, 6_000, alice_b).await?;
    wait_status(&pool, big, "REVOKED", Duration::from_secs(60)).await?;
    let (reason,): (Option<i16>,) = sqlx::query_as("SELECT reason FROM cross_ledger_transfers WHERE operation_id = $1").bind(big).fetch_one(&pool).await?;
    assert_eq!(reason, Some(8));
    assert_eq!(a.token().balanceOnHold(alice_a).call().await?, U256::ZERO);

    // 5. SIGKILL of the relayer at random moments until three transfers ordered at
    // once are done (the relayer advances them side by side, so kills land between
    // the steps of different transfers)
    drop(live);
    let randoms = [("xl-5-0", 300u64), ("xl-5-1", 200), ("xl-5-2", 200)];
    for (id, amount) in randoms {
        order(&a, 1, id, amount, alice_b).await?;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(emledger_tests::stack::seed("cross_ledger_random_kills"));
    let start = Instant::now();
    let mut kills = 0;
    loop {
        let mut r = relayer(&db_url, &a, &b.chain.rpc_url(), &b, None, None)?;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..400))).await;
        let mut done = 0;
        for (id, _) in randoms {
            done += usize::from(transfer_status(&pool, id).await?.is_some_and(|s| s.0 == "COMPLETED"));
        }
        if done == randoms.len() {
            break;
        }
        r.0.kill()?; // SIGKILL
        let _ = r.0.wait();
        kills += 1;
        anyhow::ensure!(start.elapsed() < Duration::from_secs(120), "{done} of 3 COMPLETED after {kills} kills");
    }
    eprintln!("three cross-ledger transfers completed through {kills} SIGKILLs of the relayer");
    for (id, _) in randoms {
        let steps: Vec<(String, String)> =
            sqlx::query_as("SELECT kind, status FROM operations WHERE chain_operation_id = $1 ORDER BY seq").bind(id).fetch_all(&pool).await?;
        assert_eq!(steps.len(), 4, "{id}: each step once: {steps:?}");
        assert!(steps.iter().all(|s| s.1 == "SUCCESS"), "{id}: {steps:?}");
    }
    assert_eq!(b.token().balanceOf(alice_b).call().await?, U256::from(3_700));
    assert_eq!(supply(&a).await? + supply(&b).await?, total_before);
    assert_eq!(balances_agree(&pool, &a, alice_a).await?, ("6300".into(), "0".into()));
    assert_eq!(balances_agree(&pool, &b, alice_b).await?, ("3700".into(), "0".into()));

    // 6. four orders at once: the relayer advances them side by side, each step once
    let live = relayer(&db_url, &a, &b.chain.rpc_url(), &b, None, None)?;
    let many: Vec<String> = (0..4).map(|i| format!("xl-6-{i}")).collect();
    for id in &many {
        order(&a, 1, id, 100, alice_b).await?;
    }
    for id in &many {
        wait_status(&pool, id, "COMPLETED", Duration::from_secs(60)).await?;
        let (steps,): (i64,) = sqlx::query_as("SELECT count(*) FROM operations WHERE chain_operation_id = $1 AND status = 'SUCCESS'")
            .bind(id)
            .fetch_one(&pool)
            .await?;
        assert_eq!(steps, 4, "{id}: each step once");
    }
    assert_eq!(b.token().balanceOf(alice_b).call().await?, U256::from(4_100));
    assert_eq!(supply(&a).await? + supply(&b).await?, total_before);
    assert_eq!(balances_agree(&pool, &a, alice_a).await?, ("5900".into(), "0".into()));
    assert_eq!(balances_agree(&pool, &b, alice_b).await?, ("4100".into(), "0".into()));

    // 7. Postgres killed under the relayer: its /health answers DOWN (503) within
    // seconds; once Postgres is back it is UP again by itself and moves a new order
    drop(live);
    let status_port = free_port();
    let live = relayer(&db_url, &a, &b.chain.rpc_url(), &b, None, Some(status_port))?;
    relayer_health_until(status_port, Duration::from_secs(30), |h| h["status"] == "UP").await?;
    let c = emledger_tests::stack::cluster().expect("this binary's cluster");
    let pid = std::fs::read_to_string(c.data_dir().join("postmaster.pid"))?.lines().next().unwrap_or_default().trim().to_owned();
    assert!(Command::new("kill").args(["-9", &pid]).status()?.success());
    let killed = Instant::now();
    let down = loop {
        if let Some((503, body)) = relayer_get(status_port, "/health").await {
            break serde_json::from_str::<Value>(&body)?;
        }
        anyhow::ensure!(killed.elapsed() < Duration::from_secs(10), "the relayer's /health not DOWN 10 s after Postgres was killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(down["status"], "DOWN", "{down}");
    assert!(down["reasons"].to_string().contains("database"), "{down}");
    let c2 = c.clone_handle();
    tokio::task::spawn_blocking(move || c2.restart()).await??;
    relayer_health_until(status_port, Duration::from_secs(30), |h| h["status"] == "UP").await?;
    order(&a, 1, "xl-7", 100, alice_b).await?;
    wait_status(&pool, "xl-7", "COMPLETED", Duration::from_secs(60)).await?;
    assert_eq!(b.token().balanceOf(alice_b).call().await?, U256::from(4_200));
    assert_eq!(supply(&a).await? + supply(&b).await?, total_before);
    drop(live);

    // reconcile clean on both networks
    drop(api);
    for n in [&a, &b] {
        let (clean, report) = reconcile(&n.chain.rpc_url(), &db_url, n.chain.deployment.address)?;
        assert!(clean, "reconcile of {}: {report}", n.name);
    }
    drop(a.indexer);
    drop(b.indexer);
    Ok(())
}

/// A relayer pass reads the open transfers a page at a time: every due open
/// transfer exactly once, oldest first (ties on `created_at` broken by id), none
/// that is finished or waiting out a retry delay; transfers finishing between two
/// pages (the first and the last of a page) shift nothing (a keyset, not an offset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_transfers_are_read_a_page_at_a_time_each_once_oldest_first() -> anyhow::Result<()> {
    const PAGE: i64 = 200;
    let (pool, _) = fresh_database("cross_ledger_pages").await?;
    let base = chrono::Utc::now() - chrono::Duration::hours(1);
    let open = ["ORDERED", "ACCEPTED", "ACKNOWLEDGED", "TRANSFER_OUT_EXECUTED", "TRANSFER_IN_EXECUTED", "REVOKED_ON_DESTINATION"];
    let mut due = Vec::new();
    for i in 0..470usize {
        // random ids, five runs of equal created_at: the order is not the insert order
        let id = Uuid::new_v4();
        let created = base + chrono::Duration::seconds((i % 5) as i64);
        let (status, delayed) = match i % 47 {
            0 => ("COMPLETED", false),
            1 => ("REVOKED", false),
            2 => ("ACCEPTED", true),
            _ => (open[i % open.len()], false),
        };
        sqlx::query(
            "INSERT INTO cross_ledger_transfers (id, operation_id, origin_chain_id, destination_chain_id, from_address, to_address,
                                                 amount, currency, status, created_at, next_attempt_at)
             VALUES ($1, $2, 31401, 31402, $3, $3, 100, 'EUR', $4, $5, CASE WHEN $6 THEN now() + interval '1 hour' END)",
        )
        .bind(id)
        .bind(format!("page-{i}"))
        .bind(format!("{:#x}", Address::with_last_byte(7)))
        .bind(status)
        .bind(created)
        .bind(delayed)
        .execute(&pool)
        .await?;
        if !delayed && status != "COMPLETED" && status != "REVOKED" {
            due.push((created, id));
        }
    }
    due.sort();
    let (mut read, mut pages, mut after) = (Vec::new(), Vec::new(), None);
    loop {
        let page = emledger_operations::crossledger::open_transfers(&pool, after, PAGE).await?;
        pages.push(page.len());
        read.extend(page.iter().map(|t| t.id));
        if page.len() < PAGE as usize {
            break;
        }
        // the relayer finishes some of what it read before it reads on
        for t in [page.first(), page.last()].into_iter().flatten() {
            sqlx::query("UPDATE cross_ledger_transfers SET status = 'COMPLETED' WHERE id = $1").bind(t.id).execute(&pool).await?;
        }
        after = page.last().map(|t| t.id);
        anyhow::ensure!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    assert_eq!(pages, vec![200, 200, due.len() - 400], "{} due", due.len());
    assert_eq!(read, due.iter().map(|d| d.1).collect::<Vec<_>>(), "each due transfer once, oldest first");
    Ok(())
}
