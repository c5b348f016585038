#![allow(dead_code)]
//! The whole stack for money tests: anvil with EmToken, Postgres, the real
//! indexer binary, and the API with its submitter (in-process, or the real
//! `emledger api` subprocess when a test must kill it), plus an HTTP client.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use reqwest::{header::HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use emledger_tests::stack::{emledger_bin, free_port, fresh_database, Chain, IndexerProcess};

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
    /// No PSP at all (the API's default flags); otherwise the PSP simulator runs
    /// with [`PSP_SHA_IN`] / [`PSP_SHA_OUT`] (SHA-512).
    pub no_psp: bool,
    /// No simulated bank: the test answers the pain.001 files itself.
    pub no_bank_simulator: bool,
    /// The API's `--rpc-url` (anvil's own when `None`), e.g. a fault proxy.
    pub rpc_url: Option<String>,
    /// Extra environment of the subprocess.
    pub env: Vec<(String, String)>,
    /// Per-tenant rate limits; off when `None` (the tests load the API on purpose).
    pub rate_limits: Option<emledger_api::RateLimitConfig>,
    /// Extra arguments of anvil (e.g. a pre-London hardfork).
    pub anvil_args: Vec<String>,
    /// `--gas-mode` and `--gas-price-wei` of the API.
    pub gas_mode: Option<String>,
    pub gas_price_wei: Option<u128>,
}

/// The simulator's passphrases in tests (so tests can sign feedbacks of their own).
pub const PSP_SHA_IN: &str = "money-tests-sha-in";
pub const PSP_SHA_OUT: &str = "money-tests-sha-out";
pub const PSP_PSPID: &str = "EMLEDGERTEST";
/// The operator token of the tests' API.
pub const OPERATOR_TOKEN: &str = "money-tests-operator-token";
/// The platform's account at the (simulated) bank.
pub const BANK_IBAN: &str = "ES0700120345030000067890";

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
    /// `inbox/` and `outbox/` of the simulated bank.
    pub bank_dir: std::path::PathBuf,
    users: u32,
}

impl MoneyStack {
    pub async fn start(name: &str, options: ApiOptions) -> anyhow::Result<Self> {
        let anvil_args: Vec<&str> = options.anvil_args.iter().map(String::as_str).collect();
        let chain = Chain::start_with_args(&anvil_args).await?;
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
            bank_dir: emledger_tests::stack::test_state_dir().join("bank").join(format!("{name}-{}", Uuid::now_v7().simple())),
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
                .arg(options.rpc_url.clone().unwrap_or_else(|| self.chain.rpc_url()))
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
            let limits = options.rate_limits.clone().unwrap_or_else(emledger_api::RateLimitConfig::off);
            cmd.arg("--rate-limit-reads").arg(limits.rate_limit_reads.to_string());
            cmd.arg("--rate-limit-writes").arg(limits.rate_limit_writes.to_string());
            if let Some(m) = &options.gas_mode {
                cmd.arg("--gas-mode").arg(m);
            }
            if let Some(p) = options.gas_price_wei {
                cmd.arg("--gas-price-wei").arg(p.to_string());
            }
            cmd.envs(options.env.iter().map(|(k, v)| (k, v)));
            cmd.arg("--bank-inbox")
                .arg(self.bank_dir.join("inbox"))
                .arg("--bank-outbox")
                .arg(self.bank_dir.join("outbox"))
                .arg(format!("--bank-simulator={}", !options.no_bank_simulator))
                .arg("--bank-cutoff-ms")
                .arg("200")
                .arg("--bank-inbox-poll-ms")
                .arg("100")
                .env("EMLEDGER_OPERATOR_TOKEN", OPERATOR_TOKEN);
            if !options.no_psp {
                cmd.arg("--psp-simulator")
                    .arg("--psp-pspid")
                    .arg(PSP_PSPID)
                    .env("EMLEDGER_PSP_SHA_IN", PSP_SHA_IN)
                    .env("EMLEDGER_PSP_SHA_OUT", PSP_SHA_OUT);
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
                rpc_url: Some(options.rpc_url.clone().unwrap_or_else(|| self.chain.rpc_url())),
                platform_key: Some(self.platform_key()),
                max_in_flight: options.max_in_flight.unwrap_or(32),
                bank_reject_ibans: options.bank_reject_ibans.clone(),
                batch_size: options.batch_size.unwrap_or(64),
                stuck_after_secs: options.stuck_after_secs.unwrap_or(60),
                retry_base_ms: options.retry_base_ms.unwrap_or(500),
                max_attempts: options.max_attempts.unwrap_or(5),
                psp_simulator: !options.no_psp,
                bank_inbox: Some(self.bank_dir.join("inbox")),
                bank_outbox: Some(self.bank_dir.join("outbox")),
                bank_simulator: !options.no_bank_simulator,
                bank_cutoff_ms: 200,
                bank_inbox_poll_ms: 100,
                operator_token: Some(OPERATOR_TOKEN.into()),
                psp_pspid: (!options.no_psp).then(|| PSP_PSPID.into()),
                psp_sha_in: (!options.no_psp).then(|| PSP_SHA_IN.into()),
                psp_sha_out: (!options.no_psp).then(|| PSP_SHA_OUT.into()),
                rate_limits: options.rate_limits.clone().unwrap_or_else(emledger_api::RateLimitConfig::off),
                gas_mode: options.gas_mode.clone().unwrap_or_else(|| "auto".into()),
                gas_price_wei: options.gas_price_wei,
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

    /// Starts a card cash-in (202 Accepted); returns its answer (movementId, paymentUrl, …).
    pub async fn start_card_cash_in(&self, wallet: &str, amount: &str) -> Value {
        self.post(
            &format!("/api/v1/public/wallets/{wallet}/cards/cashIns"),
            json!({"amount": amount, "successUrl": "https://client.example/ok", "rejectUrl": "https://client.example/ko"}),
        )
        .await
        .ok(202)
        .clone()
    }

    /// On the PSP simulator's page of `payment_url`, does `action` (pay, decline,
    /// cancel, processing) as the page's form does. The simulator notifies the
    /// platform before it answers; returns the feedback parameters it redirected
    /// the customer with, and that redirect.
    pub async fn psp_page(&self, payment_url: &str, action: &str) -> (Vec<(String, String)>, String) {
        let page = reqwest::Url::parse(payment_url).expect("an absolute paymentUrl");
        assert_eq!(self.http.get(page.clone()).send().await.unwrap().status().as_u16(), 200, "the simulator's page");
        let mut form: Vec<(String, String)> = page.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        form.push(("action".into(), action.into()));
        let mut target = page.clone();
        target.set_query(None);
        let res = self.http.post(target).form(&form).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 303, "the simulator redirects the customer");
        let back = res.headers()["location"].to_str().unwrap().to_owned();
        let params = reqwest::Url::parse(&back).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        (params, back)
    }

    /// Funds a wallet through a card cash-in (the PSP simulator's page → Pay, the
    /// customer's return) and waits for SUCCESS.
    pub async fn fund(&self, wallet: &str, amount: &str) -> String {
        let r = self.start_card_cash_in(wallet, amount).await;
        let (_, back) = self.psp_page(r["paymentUrl"].as_str().unwrap(), "pay").await;
        let res = self.http.get(&back).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 303, "the platform verifies the return");
        assert_eq!(res.headers()["location"], "https://client.example/ok");
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
    /// What a failing wait prints: the indexer's cursor against the chain head,
    /// whether the indexer process still runs, and the tails of both logs.
    pub async fn diagnostics(&mut self) -> String {
        let cursor: Option<(i64,)> = sqlx::query_as("SELECT block_number FROM chain_cursor").fetch_optional(&self.pool).await.ok().flatten();
        let head = self.chain.block_number().await.ok();
        let indexer = match self.indexer.child.try_wait() {
            Ok(None) => "running".to_owned(),
            Ok(Some(s)) => format!("EXITED ({s})"),
            Err(e) => format!("unknown ({e})"),
        };
        let tail = |name: &str| -> String {
            let path = emledger_tests::stack::target_dir().join("test-state").join(name);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(25)..].join("\n")
        };
        format!(
            "indexer cursor {cursor:?}, chain head {head:?}, indexer process {indexer}\n--- indexer.log (tail) ---\n{}\n--- api.log (tail) ---\n{}",
            tail("indexer.log"),
            tail("api.log")
        )
    }

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

/// A credit entry of a test camt.054.
#[derive(Clone)]
pub struct Credit {
    /// The bank's account-servicer reference of the entry.
    pub reference: String,
    pub creditor_iban: String,
    /// Decimal, e.g. "25.00".
    pub amount: String,
    pub debtor_name: String,
    pub end_to_end_id: String,
}

impl Credit {
    pub fn new(reference: &str, creditor_iban: &str, amount: &str) -> Self {
        Credit {
            reference: reference.into(),
            creditor_iban: creditor_iban.into(),
            amount: amount.into(),
            debtor_name: "Ada Lovelace".into(),
            end_to_end_id: format!("E2E-{reference}"),
        }
    }
}

/// A camt.054.001.02 debit/credit notification of the platform's account with
/// booked SEPA credits, as a bank sends it.
pub fn camt054(credits: &[Credit]) -> String {
    let entries: String = credits
        .iter()
        .map(|c| {
            format!(
                r#"
      <Ntry>
        <Amt Ccy="EUR">{amount}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2026-12-05</Dt></BookgDt>
        <ValDt><Dt>2026-12-05</Dt></ValDt>
        <AcctSvcrRef>{reference}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><AcctSvcrRef>{reference}</AcctSvcrRef><EndToEndId>{e2e}</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Dbtr><Nm>{debtor}</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct>
              <Cdtr><Nm>emledger e-money platform</Nm></Cdtr>
              <CdtrAcct><Id><IBAN>{iban}</IBAN></Id></CdtrAcct>
            </RltdPties>
            <RmtInf><Ustrd>Top-up {reference}</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>"#,
                amount = c.amount,
                reference = c.reference,
                e2e = c.end_to_end_id,
                debtor = c.debtor_name,
                iban = c.creditor_iban
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>NTF-{id}</MsgId><CreDtTm>2026-12-05T10:00:00</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>NTF-{id}-1</Id>
      <CreDtTm>2026-12-05T10:00:00</CreDtTm>
      <Acct><Id><IBAN>{account}</IBAN></Id><Ccy>EUR</Ccy></Acct>{entries}
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
"#,
        id = Uuid::now_v7().simple(),
        account = BANK_IBAN
    )
}

impl MoneyStack {
    /// Writes a bank file into the inbox the API watches (as a bank connector
    /// does: a dot file, then a rename).
    pub fn drop_in_inbox(&self, name: &str, content: &str) {
        let inbox = self.bank_dir.join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let part = inbox.join(format!(".{name}.part"));
        std::fs::write(&part, content).unwrap();
        std::fs::rename(&part, inbox.join(name)).unwrap();
    }

    /// Imports a bank file through the operator endpoint; returns (status, report).
    pub async fn import_bank_file(&self, name: &str, content: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/api/v1/operator/bank/statements?name={name}", self.base))
            .bearer_auth(OPERATOR_TOKEN)
            .header("content-type", "application/xml")
            .body(content.to_owned())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// GET an operator endpoint.
    pub async fn operator_get(&self, path: &str) -> Value {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(OPERATOR_TOKEN).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// Waits until `wallet` has a movement of `kind` with `status`; returns the newest such.
    pub async fn wait_movement_of_type(&self, wallet: &str, kind: &str, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let r = self.get(&format!("/api/v1/public/wallets/{wallet}/movements?size=200")).await;
            let list = r.body["_embedded"]["movements"].as_array().cloned().or_else(|| r.body["content"].as_array().cloned()).unwrap_or_default();
            if let Some(m) = list.iter().find(|m| m["type"] == kind && m["status"] == status) {
                return m.clone();
            }
            assert!(start.elapsed() < SETTLE, "no {kind} {status} movement on {wallet}: {}", r.body);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

// ---- shared by the lifecycle tests

/// A wallet of a new user whose address is anvil account `i` (a dApp can sign for it).
pub async fn dapp_wallet(st: &mut MoneyStack, i: usize) -> (String, alloy::signers::local::PrivateKeySigner) {
    let (first, _) = st.wallet().await;
    let user = st.get(&format!("/api/v1/public/wallets/{first}")).await.ok(200)["userId"].as_str().unwrap().to_owned();
    let key = st.chain.account(i);
    let w = st.post("/api/v1/public/wallets", json!({"userId": user, "dltAddress": format!("{:#x}", key.address())})).await.ok(201).clone();
    (w["id"].as_str().unwrap().to_owned(), key)
}

pub fn minor(amount: &str) -> alloy::primitives::U256 {
    alloy::primitives::U256::from((amount.parse::<f64>().unwrap() * 100.0).round() as u64)
}

pub async fn wait_until<F: std::future::Future<Output = Option<Value>>>(what: &str, within: Duration, mut f: impl FnMut() -> F) -> Value {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < within, "{what} did not happen within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn movements(st: &MoneyStack, wallet: &str) -> Vec<Value> {
    st.get(&format!("/api/v1/public/wallets/{wallet}/movements?size=2000")).await.ok(200)["_embedded"]["movements"].as_array().cloned().unwrap_or_default()
}

pub async fn clearable(st: &MoneyStack, operation_id: &str) -> Option<Value> {
    let r = st.http.get(format!("{}/api/v1/operator/clearable-transfers?status=ALL", st.base)).bearer_auth(OPERATOR_TOKEN).send().await.unwrap();
    let list: Vec<Value> = r.json().await.unwrap();
    list.into_iter().find(|c| c["operationId"] == operation_id)
}
