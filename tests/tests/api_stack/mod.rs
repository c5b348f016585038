#![allow(dead_code)]
//! The whole stack for money tests: anvil with EmToken, Postgres, the real
//! indexer binary, and the API with its submitter (in-process, or the real
//! `emledger api` subprocess when a test must kill it), plus an HTTP client.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use reqwest::{header::HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use emledger_tests::stack::{emledger_bin, fresh_database, Chain, IndexerProcess};

/// How long a test waits for the chain and the indexer to settle something.
pub const SETTLE: Duration = Duration::from_secs(60);

/// A response: status, headers, JSON body (Null when not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Res {
    #[track_caller]
    pub fn ok(&self, expected: u16) -> &Value {
        assert_eq!(self.status.as_u16(), expected, "unexpected status; body: {}", self.body);
        &self.body
    }

    /// Asserts an error envelope with `code`.
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        let e = &self.body["error"];
        assert!(e["code"].is_string() && e["message"].is_string() && e["details"].is_object(), "not an error envelope: {}", self.body);
        assert_eq!(e["code"], code, "body: {}", self.body);
        &self.body["error"]["details"]
    }

    pub fn replayed(&self) -> bool {
        self.headers.get("idempotency-replayed").and_then(|v| v.to_str().ok()) == Some("true")
    }
}

/// The API, in-process or as a subprocess.
pub enum ApiRunner {
    InProcess { stop: Option<tokio::sync::oneshot::Sender<()>>, join: Option<tokio::task::JoinHandle<()>> },
    Process { child: Child },
}

/// Options of the API under test.
#[derive(Clone, Default)]
pub struct ApiOptions {
    pub subprocess: bool,
    /// `EMLEDGER_FAULT` for the subprocess.
    pub fault: Option<String>,
    pub bank_reject_ibans: Vec<String>,
    pub max_in_flight: Option<usize>,
    /// `--batch-size` (the API's default when `None`).
    pub batch_size: Option<usize>,
    /// `--stuck-after-secs`.
    pub stuck_after_secs: Option<u64>,
    /// `--retry-base-ms`.
    pub retry_base_ms: Option<u64>,
    /// `--max-attempts`.
    pub max_attempts: Option<u32>,
}

pub struct MoneyStack {
    pub chain: Chain,
    pub pool: PgPool,
    pub db_url: String,
    pub indexer: IndexerProcess,
    pub api: ApiRunner,
    pub base: String,
    pub http: reqwest::Client,
    pub key: String,
    pub client_id: Uuid,
    pub options: ApiOptions,
    users: u32,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl MoneyStack {
    pub async fn start(name: &str, options: ApiOptions) -> anyhow::Result<Self> {
        let chain = Chain::start().await?;
        let (pool, db_url) = fresh_database(name).await?;
        chain.record(&pool).await?;
        let indexer = IndexerProcess::spawn(&chain.rpc_url(), &db_url, chain.deployment.address, &[])?;
        let (client_id, key) = emledger_api::create_tenant(&pool, "money-tenant", "anvil-local").await?;
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).pool_max_idle_per_host(64).build()?;
        let mut stack = Self {
            chain,
            pool,
            db_url,
            indexer,
            api: ApiRunner::InProcess { stop: None, join: None },
            base,
            http,
            key,
            client_id,
            options: options.clone(),
            users: 0,
        };
        stack.api = stack.launch(port, &options).await?;
        Ok(stack)
    }

    fn platform_key(&self) -> String {
        format!("0x{}", alloy::primitives::hex::encode(self.chain.platform.to_bytes()))
    }

    async fn launch(&self, port: u16, options: &ApiOptions) -> anyhow::Result<ApiRunner> {
        let runner = if options.subprocess {
            let log = emledger_tests::stack::test_state_dir().join("api.log");
            let _ = std::fs::create_dir_all(log.parent().unwrap());
            let out = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
            let mut cmd = Command::new(emledger_bin());
            cmd.arg("--database-url")
                .arg(&self.db_url)
                .arg("api")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--jwt-secret")
                .arg("money-tests-secret")
                .arg("--rpc-url")
                .arg(self.chain.rpc_url())
                .env("EMLEDGER_PLATFORM_KEY", self.platform_key())
                .env("RUST_LOG", "info,sqlx=warn")
                .env_remove("EMLEDGER_FAULT")
                .stdout(Stdio::null())
                .stderr(out);
            if !options.bank_reject_ibans.is_empty() {
                cmd.arg("--bank-reject-ibans").arg(options.bank_reject_ibans.join(","));
            }
            if let Some(f) = &options.fault {
                cmd.env("EMLEDGER_FAULT", f);
            }
            if let Some(n) = options.max_in_flight {
                cmd.arg("--max-in-flight").arg(n.to_string());
            }
            if let Some(n) = options.batch_size {
                cmd.arg("--batch-size").arg(n.to_string());
            }
            if let Some(n) = options.stuck_after_secs {
                cmd.arg("--stuck-after-secs").arg(n.to_string());
            }
            if let Some(n) = options.retry_base_ms {
                cmd.arg("--retry-base-ms").arg(n.to_string());
            }
            if let Some(n) = options.max_attempts {
                cmd.arg("--max-attempts").arg(n.to_string());
            }
            ApiRunner::Process { child: cmd.spawn().context("spawning emledger api")? }
        } else {
            let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
            let config = emledger_api::ApiConfig {
                listen: format!("127.0.0.1:{port}"),
                jwt_secret: Some("money-tests-secret".into()),
                rpc_url: Some(self.chain.rpc_url()),
                platform_key: Some(self.platform_key()),
                max_in_flight: options.max_in_flight.unwrap_or(32),
                bank_reject_ibans: options.bank_reject_ibans.clone(),
                batch_size: options.batch_size.unwrap_or(64),
                stuck_after_secs: options.stuck_after_secs.unwrap_or(60),
                retry_base_ms: options.retry_base_ms.unwrap_or(500),
                max_attempts: options.max_attempts.unwrap_or(5),
                ..Default::default()
            };
            let pool = emledger_ledger::db::connect(&self.db_url, 24).await?;
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let join = tokio::spawn(async move {
                emledger_api::serve_on(listener, config, pool, async {
                    let _ = rx.await;
                })
                .await
                .expect("api server");
            });
            ApiRunner::InProcess { stop: Some(tx), join: Some(join) }
        };
        // ready when /health answers
        let start = Instant::now();
        loop {
            if let Ok(r) = self.http.get(format!("http://127.0.0.1:{port}/health")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            anyhow::ensure!(start.elapsed() < Duration::from_secs(30), "the API did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(runner)
    }

    /// SIGKILL the API subprocess (or wait for it to have aborted), then start it again with `options`.
    pub async fn restart_api(&mut self, options: ApiOptions) -> anyhow::Result<()> {
        self.kill_api().await;
        let port: u16 = self.base.rsplit(':').next().unwrap().parse()?;
        self.api = self.launch(port, &options).await?;
        self.options = options;
        Ok(())
    }

    pub async fn kill_api(&mut self) {
        match &mut self.api {
            ApiRunner::Process { child } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            ApiRunner::InProcess { stop, join } => {
                if let Some(s) = stop.take() {
                    let _ = s.send(());
                }
                if let Some(j) = join.take() {
                    let _ = tokio::time::timeout(Duration::from_secs(15), j).await;
                }
            }
        }
    }

    /// Waits until the API subprocess has exited (e.g. aborted by a fault hook).
    pub async fn wait_api_exit(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        if let ApiRunner::Process { child } = &mut self.api {
            loop {
                if child.try_wait()?.is_some() {
                    return Ok(());
                }
                anyhow::ensure!(start.elapsed() < timeout, "the API did not exit");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(())
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Res {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path)).header("X-API-Key", &self.key);
        for (h, v) in headers {
            rb = rb.header(*h, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        match rb.send().await {
            Ok(res) => {
                let status = res.status();
                let headers = res.headers().clone();
                let bytes = res.bytes().await.unwrap_or_default();
                Res { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
            }
            Err(e) => Res { status: StatusCode::BAD_GATEWAY, headers: HeaderMap::new(), body: json!({"transport": e.to_string()}) },
        }
    }

    /// POSTs all `bodies` to `path` at once (each with its optional Idempotency-Key).
    pub async fn concurrent_posts(&self, path: &str, bodies: Vec<(Value, Option<String>)>) -> Vec<Res> {
        let mut handles = Vec::with_capacity(bodies.len());
        for (body, key) in bodies {
            let mut rb = self.http.post(format!("{}{}", self.base, path)).header("X-API-Key", &self.key).json(&body);
            if let Some(k) = key {
                rb = rb.header("Idempotency-Key", k);
            }
            handles.push(tokio::spawn(async move {
                match rb.send().await {
                    Ok(res) => {
                        let status = res.status();
                        let headers = res.headers().clone();
                        let bytes = res.bytes().await.unwrap_or_default();
                        Res { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
                    }
                    Err(e) => Res { status: StatusCode::BAD_GATEWAY, headers: HeaderMap::new(), body: json!({"transport": e.to_string()}) },
                }
            }));
        }
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.expect("request task"));
        }
        out
    }

    pub async fn get(&self, path: &str) -> Res {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Res {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    pub async fn post_key(&self, path: &str, body: Value, key: &str) -> Res {
        self.send(Method::POST, path, Some(body), &[("Idempotency-Key", key)]).await
    }

    /// A new user (KYC 1) and its first wallet: (wallet id, DLT address).
    pub async fn wallet(&mut self) -> (String, String) {
        self.users += 1;
        let n = self.users;
        let u = self
            .post("/api/v1/public/users", json!({"name": format!("User {n}"), "phoneNumber": format!("+346123456{:02}", n % 100), "country": "ES"}))
            .await
            .ok(201)
            .clone();
        let uid = u["id"].as_str().unwrap().to_owned();
        self.send(Method::PATCH, &format!("/api/v1/public/users/{uid}"), Some(json!({"kycLevel": 1})), &[]).await.ok(200);
        (u["walletId"].as_str().unwrap().to_owned(), u["dltAddress"].as_str().unwrap().to_owned())
    }

    /// Funds a wallet through a card cash-in (page → Pay) and waits for SUCCESS.
    pub async fn fund(&self, wallet: &str, amount: &str) -> String {
        let r = self
            .post(
                &format!("/api/v1/public/wallets/{wallet}/cards/cashIns"),
                json!({"amount": amount, "successUrl": "https://client.example/ok", "rejectUrl": "https://client.example/ko"}),
            )
            .await
            .ok(201)
            .clone();
        let url = r["paymentUrl"].as_str().unwrap();
        let res = self.http.post(format!("{}{}/pay", self.base, url)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 303);
        let movement = r["movementId"].as_str().unwrap().to_owned();
        self.wait_movement(wallet, &movement, "SUCCESS").await;
        movement
    }

    /// Waits until a movement of `wallet` has `status`; returns it.
    pub async fn wait_movement(&self, wallet: &str, movement: &str, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let r = self.get(&format!("/api/v1/public/wallets/{wallet}/movements/{movement}")).await;
            if r.status == 200 && r.body["status"] == status {
                return r.body;
            }
            assert!(start.elapsed() < SETTLE, "movement {movement} never reached {status}: {}", r.body);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a hold of `wallet` has `status`; returns it.
    pub async fn wait_hold(&self, wallet: &str, hold: &str, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let r = self.get(&format!("/api/v1/public/wallets/{wallet}/holds/{hold}")).await;
            if r.status == 200 && r.body["status"] == status {
                return r.body;
            }
            assert!(start.elapsed() < SETTLE, "hold {hold} never reached {status}: {}", r.body);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until an operation is final (SUCCESS or FAILED); returns it.
    pub async fn wait_operation(&self, id: &str) -> Value {
        let start = Instant::now();
        loop {
            let r = self.get(&format!("/api/v1/public/operations/{id}")).await;
            if r.status == 200 && (r.body["status"] == "SUCCESS" || r.body["status"] == "FAILED") {
                return r.body;
            }
            assert!(start.elapsed() < SETTLE, "operation {id} never finished: {}", r.body);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// (balance, availableBalance, heldBalance) of a wallet, as strings.
    pub async fn balances(&self, wallet: &str) -> (String, String, String) {
        let w = self.get(&format!("/api/v1/public/wallets/{wallet}")).await.ok(200).clone();
        let s = |k: &str| w[k].as_str().unwrap().to_owned();
        (s("balance"), s("availableBalance"), s("heldBalance"))
    }

    /// Waits until a wallet's (gross, available, held) balances are as expected.
    pub async fn wait_balances(&self, wallet: &str, expected: (&str, &str, &str)) {
        let start = Instant::now();
        loop {
            let b = self.balances(wallet).await;
            if (b.0.as_str(), b.1.as_str(), b.2.as_str()) == expected {
                return;
            }
            assert!(start.elapsed() < SETTLE, "balances of {wallet}: {b:?}, expected {expected:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many chain events carry `operation_id` with `name`.
    pub async fn chain_events(&self, operation_id: &str, name: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM chain_events WHERE operation_id = $1 AND name = $2")
            .bind(operation_id)
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .unwrap();
        n
    }
}

impl Drop for MoneyStack {
    fn drop(&mut self) {
        if let ApiRunner::Process { child } = &mut self.api {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
