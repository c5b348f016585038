//! The README's walkthroughs, run verbatim against `emledger up` (issue 6).
//!
//! Starts the `emledger` binary the way `scripts/run` does (`emledger up`, here with
//! a fresh state dir under `target/test-state/`, `--fresh` and free ports), waits for
//! the banner, takes its `export ...` line, extracts the README's fenced blocks tagged
//! `walkthrough=NAME` and runs each walkthrough's blocks in one `bash` session with
//! `set -euo pipefail` and those variables, checking every line they print; then
//! checks the results over the REST API, stops the stack with SIGINT (Ctrl-C), starts
//! it again without `--fresh` and checks that users, wallets, balances, movements and
//! the contract survived.
//!
//! Build the binary first: `cargo build --bin emledger && cargo test -p emledger-tests --test walkthrough`.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use emledger_tests::stack::{emledger_bin, free_port};
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// The banner's `export` line as (name, value) pairs.
type Exports = BTreeMap<String, String>;

fn parse_exports(line: &str) -> Exports {
    line.trim()
        .strip_prefix("export ")
        .expect("export line")
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("NAME=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// `emledger up` as a subprocess; its stdout is read by a thread into a channel.
struct Up {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    exports: Exports,
}

impl Up {
    fn start(state_dir: &Path, fresh: bool, node: &Node) -> Up {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(state_dir.with_extension("log"))
            .expect("log file");
        let mut cmd = Command::new(emledger_bin());
        cmd.arg("--state-dir").arg(state_dir).arg("up");
        if fresh {
            cmd.arg("--fresh");
        }
        cmd.args(["--anvil-port", &free_port().to_string()])
            .args(["--api-listen", &format!("127.0.0.1:{}", free_port())])
            .current_dir(repo_root())
            .env_remove("DATABASE_URL")
            .env_remove("EMLEDGER_RPC_URL")
            .env_remove("EMLEDGER_PLATFORM_KEY")
            .env_remove("EMLEDGER_API_LISTEN")
            .env("RUST_LOG", std::env::var("EMLEDGER_TEST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(url) = &node.rpc_url {
            cmd.args(["--rpc-url", url, "--platform-key", NODE_ACCOUNT_0]);
        }
        cmd.envs(node.env.iter().map(|(k, v)| (k, v)));
        cmd.args(&node.up_args);
        eprintln!("walkthrough: starting {cmd:?}");
        let mut child = cmd.spawn().expect("spawning emledger up");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut up = Up { child, lines, stdout: Vec::new(), exports: Exports::new() };
        let deadline = Instant::now() + Duration::from_secs(150);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match up.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.starts_with("export EMLEDGER_API=");
                    if done {
                        up.exports = parse_exports(&line);
                    }
                    up.stdout.push(line);
                    if done {
                        break;
                    }
                }
                Err(e) => panic!(
                    "no banner from emledger up ({e}); stdout so far:\n{}\n(see {})",
                    up.stdout.join("\n"),
                    state_dir.with_extension("log").display()
                ),
            }
        }
        for k in ["EMLEDGER_API", "EMLEDGER_API_KEY", "EMLEDGER_RPC", "EMLEDGER_TOKEN"] {
            assert!(up.exports.get(k).is_some_and(|v| !v.is_empty()), "{k} missing in the export line: {:?}", up.exports);
        }
        up
    }

    fn banner_line(&self, prefix: &str) -> &str {
        self.stdout.iter().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no `{prefix}` line in the banner"))
    }

    /// SIGINT (what Ctrl-C sends), then waits for a clean exit.
    fn interrupt(&mut self) {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args(["-INT", &pid]).status().expect("kill -INT");
        assert!(st.success(), "kill -INT {pid}");
        let deadline = Instant::now() + Duration::from_secs(40);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            assert!(Instant::now() < deadline, "emledger up did not stop within 40 s of SIGINT");
            std::thread::sleep(Duration::from_millis(100));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.stdout.push(line);
        }
        assert!(status.success(), "emledger up exited with {status} after SIGINT");
        assert!(self.stdout.iter().any(|l| l.contains("emledger stopped.")), "no `emledger stopped.` line:\n{}", self.stdout.join("\n"));
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
            for _ in 0..100 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The README's blocks tagged `walkthrough=NAME[,NAME...]`, per name, in order.
fn readme_walkthroughs() -> BTreeMap<String, Vec<String>> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else { continue };
        let mut words = info.split_whitespace();
        let is_bash = words.next() == Some("bash");
        let names: Vec<String> = words
            .filter_map(|w| w.strip_prefix("walkthrough="))
            .flat_map(|n| n.split(',').map(str::to_owned).collect::<Vec<_>>())
            .collect();
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        if is_bash {
            for n in names {
                out.entry(n).or_default().push(body.clone());
            }
        }
    }
    out
}

/// Runs one walkthrough's blocks in one bash session; returns its stdout lines.
fn run_walkthrough(name: &str, blocks: &[String], exports: &Exports, env: &[(String, String)]) -> Vec<String> {
    let mut script = String::from("set -euo pipefail\n");
    for b in blocks {
        script.push_str(b);
    }
    let started = Instant::now();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(repo_root())
        .envs(exports)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("running bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("---- walkthrough {name} ({:.1} s) ----\n{stdout}", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "walkthrough {name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}", out.status);
    stdout.lines().map(str::to_owned).collect()
}

/// Each output line against its pattern, token by token; a token ending in `*`
/// matches any token with that prefix. Returns the values of such `key=...*` tokens,
/// named `label:key` (label: the pattern's text before its first `:`).
fn expect_lines(name: &str, got: &[String], patterns: &[&str]) -> BTreeMap<String, String> {
    let mut captured = BTreeMap::new();
    let all = got.join("\n");
    assert_eq!(got.len(), patterns.len(), "walkthrough {name}: {} lines, expected {}:\n{all}", got.len(), patterns.len());
    for (line, pattern) in got.iter().zip(patterns) {
        let lt: Vec<&str> = line.split_whitespace().collect();
        let pt: Vec<&str> = pattern.split_whitespace().collect();
        let ok = lt.len() == pt.len()
            && lt.iter().zip(&pt).all(|(l, p)| match p.strip_suffix('*') {
                Some(prefix) => l.starts_with(prefix),
                None => l == p,
            });
        assert!(ok, "walkthrough {name}: line\n  {line}\ndoes not match\n  {pattern}\nwhole output:\n{all}");
        let label = pattern.split(':').next().unwrap_or("");
        for (l, p) in lt.iter().zip(&pt) {
            if let (Some((key, _)), true) = (p.split_once('='), p.ends_with('*')) {
                captured.insert(format!("{label}:{key}"), l[key.len() + 1..].to_owned());
            }
        }
    }
    captured
}

struct Rest {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Rest {
    fn new(exports: &Exports) -> Rest {
        Rest { http: reqwest::Client::new(), base: exports["EMLEDGER_API"].clone(), key: exports["EMLEDGER_API_KEY"].clone() }
    }

    async fn get(&self, path: &str) -> Value {
        let res = self.http.get(format!("{}{path}", self.base)).header("X-API-Key", &self.key).send().await.expect("GET");
        let status = res.status();
        let body: Value = res.json().await.expect("json");
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let res =
            self.http.post(format!("{}{path}", self.base)).header("X-API-Key", &self.key).json(&body).send().await.expect("POST");
        let status = res.status();
        let body: Value = res.json().await.expect("json");
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    async fn wallets(&self) -> Vec<Value> {
        self.get("/api/v1/public/wallets?size=2000").await["_embedded"]["wallets"].as_array().expect("wallets").clone()
    }

    async fn wallet_at(&self, address: &str) -> Value {
        self.wallets()
            .await
            .into_iter()
            .find(|w| w["dltAddress"] == address)
            .unwrap_or_else(|| panic!("no wallet at {address}"))
    }

    async fn movements(&self, wallet: &str) -> Vec<Value> {
        self.get(&format!("/api/v1/public/wallets/{wallet}/movements?size=2000&sort=createdAt,asc")).await["_embedded"]["movements"]
            .as_array()
            .expect("movements")
            .clone()
    }

    /// Every wallet with its balances and movements, and its user.
    async fn snapshot(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for w in self.wallets().await {
            let id = w["id"].as_str().unwrap().to_owned();
            let user = self.get(&format!("/api/v1/public/users/{}", w["userId"].as_str().unwrap())).await;
            let movements: Vec<Value> = self
                .movements(&id)
                .await
                .into_iter()
                .map(|m| json!([m["id"], m["type"], m["status"], m["amount"], m["txHash"]]))
                .collect();
            out.insert(
                id,
                json!({
                    "address": w["dltAddress"], "iban": w["iban"], "status": w["status"],
                    "balance": w["balance"], "available": w["availableBalance"], "held": w["heldBalance"],
                    "user": [user["id"], user["name"], user["kycLevel"]],
                    "movements": movements,
                }),
            );
        }
        out
    }
}

fn types_of(movements: &[Value]) -> Vec<String> {
    movements.iter().map(|m| format!("{} {} {}", m["type"].as_str().unwrap(), m["status"].as_str().unwrap(), m["amount"].as_str().unwrap())).collect()
}

async fn await_movement_success(rest: &Rest, wallet: &str, movement: &str) {
    for _ in 0..150 {
        let m = rest.get(&format!("/api/v1/public/wallets/{wallet}/movements/{movement}")).await;
        match m["status"].as_str() {
            Some("SUCCESS") => return,
            Some("ERROR") => panic!("movement {movement} turned ERROR: {m}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("movement {movement} did not settle");
}

/// Account (0) of anvil's and Hardhat's development mnemonic: the platform when
/// `up` is pointed at a node of the matrix (public by design).
const NODE_ACCOUNT_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The chain the walkthroughs run on: `up`'s own anvil, or a node of the matrix
/// that `up` is pointed at with `--rpc-url` (issue "Run on real chains", item 5).
struct Node {
    label: &'static str,
    /// `up`'s `--rpc-url`; `None`: `up` starts its own anvil.
    rpc_url: Option<String>,
    /// Environment of `up` and of the walkthrough shells (a private CA).
    env: Vec<(String, String)>,
    _anvil: Option<alloy::node_bindings::AnvilInstance>,
    child: Option<Child>,
    /// More arguments of `up`.
    up_args: Vec<&'static str>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Node {
    fn ups_anvil() -> Node {
        Node { label: "anvil", rpc_url: None, env: Vec::new(), _anvil: None, child: None, up_args: Vec::new() }
    }

    /// anvil started here with `args`.
    fn anvil(label: &'static str, args: &[&str]) -> Node {
        let anvil = alloy::node_bindings::Anvil::at(emledger_contracts::toolchain::anvil()).args(args.iter().copied()).spawn();
        Node { label, rpc_url: Some(anvil.endpoint()), env: Vec::new(), _anvil: Some(anvil), child: None, up_args: Vec::new() }
    }
}

/// One walkthrough at a time in this binary: they share `examples/ethers`' npm ci.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_walkthroughs_against_emledger_up() {
    walkthroughs_on(Node::ups_anvil()).await;
}

/// A Besu/Quorum-style chain: no base fee (pre-London), gas price 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_walkthroughs_on_a_legacy_zero_price_chain() {
    walkthroughs_on(Node::anvil("legacy", &["--hardfork", "berlin", "--gas-price", "0", "--base-fee", "0"])).await;
}

/// Every party (the stack, cast, ethers) through a TLS-terminating proxy whose
/// certificate a private CA signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_walkthroughs_through_a_tls_proxy() {
    emledger_ledger::rpc::install_tls_provider();
    let mut node = Node::anvil("tls", &[]);
    let dir = emledger_tests::stack::target_dir().join(format!("test-state/walkthrough-tls-{}", std::process::id()));
    let (url, ca) = emledger_tests::tls::proxy(node.rpc_url.as_deref().unwrap(), &dir).await.expect("the TLS proxy");
    let ca = ca.display().to_string();
    node.rpc_url = Some(url);
    // the stack: --rpc-ca-file; cast (rustls, native roots): SSL_CERT_FILE; ethers (Node.js): NODE_EXTRA_CA_CERTS
    node.env = vec![("EMLEDGER_RPC_CA_FILE".into(), ca.clone()), ("SSL_CERT_FILE".into(), ca.clone()), ("NODE_EXTRA_CA_CERTS".into(), ca)];
    walkthroughs_on(node).await;
}

/// Hardhat's node (npm `hardhat`, pinned in tests/nodes/hardhat), installed by
/// `scripts/walkthrough-matrix`, which runs this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Hardhat installed: scripts/walkthrough-matrix hardhat"]
async fn readme_walkthroughs_on_hardhat() {
    let dir = repo_root().join("tests/nodes/hardhat");
    let bin = dir.join("node_modules/.bin/hardhat");
    assert!(bin.exists(), "Hardhat is not installed: run scripts/walkthrough-matrix hardhat");
    let port = free_port();
    let log = std::fs::File::create(emledger_tests::stack::target_dir().join("test-state/hardhat.log")).expect("log");
    let child = Command::new(&bin)
        .args(["node", "--hostname", "127.0.0.1", "--port", &port.to_string()])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawning hardhat node");
    let hardhat = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let start = Instant::now();
    while http.post(&hardhat).json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})).send().await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "hardhat node did not start (see target/test-state/hardhat.log)");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let url = input_data_shim(hardhat).await;
    let node = Node { label: "hardhat", rpc_url: Some(url), env: Vec::new(), _anvil: None, child: Some(child), up_args: Vec::new() };
    walkthroughs_on(node).await;
}

/// Hardhat 2's node (EDR) refuses a call object that carries both `input` and
/// `data` ("duplicate field `data`"); cast 1.7 sends both for old nodes' sake,
/// and the execution API spec names `input`. This JSON-RPC pass-through in front
/// of Hardhat drops the duplicate `data` (same bytes), and nothing else: a
/// third-party incompatibility, not one of the platform's (the stack itself
/// sends `input` only). Returns its URL.
async fn input_data_shim(upstream: String) -> String {
    fn fix(v: &mut Value) {
        match v {
            Value::Array(calls) => calls.iter_mut().for_each(fix),
            Value::Object(call) => {
                if let Some(Value::Object(tx)) = call.get_mut("params").and_then(|p| p.get_mut(0)) {
                    if tx.contains_key("input") && tx.get("data") == tx.get("input") {
                        tx.remove("data");
                    }
                }
            }
            _ => {}
        }
    }
    let client = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (client, upstream) = (client.clone(), upstream.clone());
            async move {
                let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                fix(&mut v);
                let answer = client.post(&upstream).json(&v).send().await.expect("hardhat answers");
                let status = answer.status().as_u16();
                let bytes = answer.bytes().await.unwrap_or_default();
                (axum::http::StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], bytes)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("shim") });
    url
}

async fn walkthroughs_on(node: Node) {
    let _serial = SERIAL.lock().await;
    let bin = emledger_bin();
    let target = bin.parent().and_then(Path::parent).expect("target dir").to_path_buf();
    let base = target.join("test-state");
    std::fs::create_dir_all(&base).unwrap();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let state_dir = base.join(format!("walkthrough-{}-{}-{stamp}", node.label, std::process::id()));
    eprintln!("walkthrough: on {} ({})", node.label, node.rpc_url.as_deref().unwrap_or("up's own anvil"));

    let walkthroughs = readme_walkthroughs();
    for name in ["curl", "cast", "ethers"] {
        assert!(walkthroughs.get(name).is_some_and(|b| !b.is_empty()), "README has no `walkthrough={name}` block");
    }
    let test_started = Instant::now();

    // ---- first start: fresh
    let mut up = Up::start(&state_dir, true, &node);
    let token = up.exports["EMLEDGER_TOKEN"].clone();
    let emtoken_line = up.banner_line("EmToken").to_owned();
    assert!(emtoken_line.contains(&token) && emtoken_line.contains("(deployed now)"), "{emtoken_line}");
    for prefix in ["API ", "Swagger UI", "RPC URL", "Chain id", "Platform", "API key"] {
        up.banner_line(prefix);
    }
    if node.rpc_url.is_none() {
        assert!(up.banner_line("  (0) ").contains("platform / notary"));
        up.banner_line("  (9) ");
    } else {
        assert_eq!(up.exports["EMLEDGER_RPC"], node.rpc_url.clone().unwrap(), "the stack talks to the node of the matrix");
    }
    let legacy = node.label == "legacy";
    assert_eq!(up.exports.get("EMLEDGER_CAST_FLAGS").map(String::as_str), Some(if legacy { "--legacy" } else { "" }), "{:?}", up.exports);
    let rest = Rest::new(&up.exports);

    // ---- curl
    let out = run_walkthrough("curl", &walkthroughs["curl"], &up.exports, &node.env);
    let c = expect_lines(
        "curl",
        &out,
        &[
            "user: id=* wallet=* status=READY address=0x*",
            "<title>Card payment (PSP simulator)</title>",
            "card page: paid, back to the shop=303 https://shop.example/ok",
            "card cash-in: movement=* status=SUCCESS balance=50.00 available=50.00 held=0.00",
            "kyc: level=1",
            "iban: ES*",
            "sepa cash-in: status=SUCCESS balance=250.00 available=250.00 held=0.00",
            "transfer: status=SUCCESS from balance=220.00 available=220.00 held=0.00",
            "transfer: status=SUCCESS to balance=30.00 available=30.00 held=0.00",
            "hold: status=CREATED balance=220.00 available=180.00 held=40.00",
            "hold: status=EXECUTED_AND_KEPT_OPEN balance=205.00 available=180.00 held=25.00",
            "hold: status=RELEASED_BY_NOTARY held=40.00 executed=15.00 remaining=0.00",
            "hold: payer balance=205.00 available=205.00 held=0.00",
            "hold: payee balance=45.00 available=45.00 held=0.00",
            "movement: RELEASE SUCCESS 25.00",
            "movement: TRANSFER_OUT SUCCESS 15.00",
            "movement: LOCK SUCCESS 40.00",
            "movement: TRANSFER_OUT SUCCESS 30.00",
            "movement: BANK_ACCOUNT_CASHIN SUCCESS 200.00",
            "movement: CARD_CASHIN SUCCESS 50.00",
            "filtered: total=2 types=TRANSFER_OUT",
            "paged: page=1 size=2 items=2 total=6 pages=3 next=true",
            "favourite: id=*",
            "cash-out: status=SUCCESS iban=ES0221004440760100171757 balance=180.00 available=180.00 held=0.00",
        ],
    );
    // the same facts over REST, from here
    let carol = c["user:wallet"].clone();
    let w = rest.get(&format!("/api/v1/public/wallets/{carol}")).await;
    assert_eq!((w["balance"].as_str(), w["heldBalance"].as_str(), w["status"].as_str()), (Some("180.00"), Some("0.00"), Some("READY")));
    assert_eq!(w["userId"], c["user:id"].as_str());
    assert!(w["iban"].as_str().is_some_and(|i| i.starts_with("ES")), "{w}");
    let user = rest.get(&format!("/api/v1/public/users/{}", c["user:id"])).await;
    assert_eq!((user["name"].as_str(), user["kycLevel"].as_i64()), (Some("Carol Example"), Some(1)));
    let carol_movements = rest.movements(&carol).await;
    let mut kinds = types_of(&carol_movements);
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "BANK_ACCOUNT_CASHIN SUCCESS 200.00",
            "BANK_ACCOUNT_CASHOUT SUCCESS 25.00",
            "CARD_CASHIN SUCCESS 50.00",
            "LOCK SUCCESS 25.00",
            "LOCK SUCCESS 40.00",
            "RELEASE SUCCESS 25.00",
            "TRANSFER_OUT SUCCESS 15.00",
            "TRANSFER_OUT SUCCESS 30.00",
        ],
        "Carol's movements: {carol_movements:#?}"
    );
    let first_transfer = carol_movements.iter().find(|m| m["type"] == "TRANSFER_OUT" && m["amount"] == "30.00").unwrap();
    let dave = first_transfer["targetWalletId"].as_str().expect("targetWalletId").to_owned();
    let dave_wallet = rest.get(&format!("/api/v1/public/wallets/{dave}")).await;
    assert_eq!(dave_wallet["balance"], "45.00");
    let mut dave_kinds = types_of(&rest.movements(&dave).await);
    dave_kinds.sort();
    assert_eq!(dave_kinds, ["TRANSFER_IN SUCCESS 15.00", "TRANSFER_IN SUCCESS 30.00"]);
    let holds = rest.get(&format!("/api/v1/public/wallets/{carol}/holds?size=100")).await;
    let statuses: Vec<&str> = holds["_embedded"]["holds"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"RELEASED_BY_NOTARY") && statuses.contains(&"EXECUTED"), "holds: {holds}");
    let favourites = rest.get(&format!("/api/v1/public/wallets/{carol}/favourite-external-accounts")).await;
    assert_eq!(favourites["_embedded"]["favouriteExternalAccounts"][0]["alias"], "My savings", "{favourites}");

    // ---- cast
    let out = run_walkthrough("cast", &walkthroughs["cast"], &up.exports, &node.env);
    expect_lines(
        "cast",
        &out,
        &[
            "token: decimals=2 currency=\"EUR\"",
            "dapp wallet: address=0x70997970c51812dc3a010c7d01b50e0d17dc79c8 balance=100.00 available=100.00 held=0.00",
            "dapp on chain: balanceOf=10000",
            "hold: payer LOCK SUCCESS 10.00",
            "executeHold: payer RELEASE SUCCESS 4.00",
            "executeHold: payer TRANSFER_OUT SUCCESS 6.00",
            "executeHold: payee TRANSFER_IN SUCCESS 6.00",
            "hold via REST: status=EXECUTED notary=0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc executed=6.00",
            "orderTransfer: payer LOCK SUCCESS 5.00",
            "cleared: payee TRANSFER_IN SUCCESS 5.00",
            "dapp wallet: balance=89.00 available=89.00 held=0.00",
            "payee wallet: balance=11.00 available=11.00 held=0.00",
        ],
    );
    let dapp = rest.wallet_at("0x70997970c51812dc3a010c7d01b50e0d17dc79c8").await;
    assert_eq!((dapp["balance"].as_str(), dapp["heldBalance"].as_str()), (Some("89.00"), Some("0.00")), "{dapp}");
    let dapp_movements = rest.movements(dapp["id"].as_str().unwrap()).await;
    let mut dk = types_of(&dapp_movements);
    dk.sort();
    assert_eq!(
        dk,
        [
            "CARD_CASHIN SUCCESS 100.00",
            "LOCK SUCCESS 10.00",
            "LOCK SUCCESS 5.00",
            "RELEASE SUCCESS 4.00",
            "TRANSFER_OUT SUCCESS 5.00",
            "TRANSFER_OUT SUCCESS 6.00",
        ]
    );
    assert!(dapp_movements.iter().filter(|m| m["type"] != "CARD_CASHIN").all(|m| m["txHash"].as_str().is_some()));

    // ---- ethers
    let out = run_walkthrough("ethers", &walkthroughs["ethers"], &up.exports, &node.env);
    // npm ci prints its own summary first; the script's lines are the last six
    let script_out: Vec<String> = out.iter().skip_while(|l| !l.starts_with("dapp wallet:")).cloned().collect();
    let e = expect_lines(
        "ethers",
        &script_out,
        &[
            "dapp wallet: id=* address=0x15d34aaf54267db7d7c367839aaf71a00a2c6a65 available=20.00",
            "hold tx: status=1 block=* hash=0x*",
            "on chain: onHold=2.5",
            "lock movement: type=LOCK status=SUCCESS amount=2.50 txHash=0x*",
            "hold via REST: status=CREATED held=2.50 notary=0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc payee=0x976ea74026e726554db657fa54763abd0c3a0aa9",
            "dapp wallet after: balance=20.00 available=17.50 held=2.50",
        ],
    );
    assert_eq!(e["hold tx:hash"], e["lock movement:txHash"]);
    let ethers_wallet = rest.wallet_at("0x15d34aaf54267db7d7c367839aaf71a00a2c6a65").await;
    assert_eq!(ethers_wallet["id"], e["dapp wallet:id"].as_str());
    assert_eq!(ethers_wallet["heldBalance"], "2.50");

    // ---- stop (Ctrl-C) and start again: the state survives
    let before = rest.snapshot().await;
    assert!(before.len() >= 7, "expected at least 7 wallets, found {}", before.len());
    let old_key = up.exports["EMLEDGER_API_KEY"].clone();
    up.interrupt();
    drop(up);

    let up = Up::start(&state_dir, false, &node);
    let emtoken_line = up.banner_line("EmToken").to_owned();
    assert!(emtoken_line.contains(&token) && emtoken_line.contains("(reused)"), "after the restart: {emtoken_line}");
    assert_eq!(up.exports["EMLEDGER_TOKEN"], token);
    let rest = Rest::new(&up.exports);
    let after = rest.snapshot().await;
    assert_eq!(before, after, "the state changed across the restart");
    // the demo key survives the restart (integrations configured with it keep working)
    assert_eq!(up.exports["EMLEDGER_API_KEY"], old_key, "a new demo key at restart");
    let res = rest.http.get(format!("{}/api/v1/public/wallets", rest.base)).header("X-API-Key", &old_key).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "the demo key stopped working across a restart");
    // and money still moves (the platform's nonces carried over)
    let t = rest
        .post(&format!("/api/v1/public/wallets/{carol}/transfer"), json!({"amount": "1.00", "targetWalletId": dave, "concept": "after restart"}))
        .await;
    await_movement_success(&rest, &carol, t["movementId"].as_str().unwrap()).await;
    assert_eq!(rest.get(&format!("/api/v1/public/wallets/{carol}")).await["balance"], "179.00");

    let mut up = up;
    up.interrupt();
    drop(up);
    eprintln!("walkthrough: done in {:.1} s", test_started.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&state_dir);
    let _ = std::fs::remove_file(state_dir.with_extension("log"));
}

/// The pid of `up`'s anvil child.
fn anvil_pid(up_pid: u32) -> Option<i32> {
    let out = Command::new("pgrep").args(["-P", &up_pid.to_string(), "anvil"]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().next().and_then(|l| l.trim().parse().ok())
}

/// (status code, body) of `/health`.
async fn health(http: &reqwest::Client, base: &str) -> (u16, Value) {
    match http.get(format!("{base}/health")).timeout(Duration::from_secs(3)).send().await {
        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
        Err(e) => (0, json!({ "transport": e.to_string() })),
    }
}

/// Polls `/health` until `pred` holds; returns how long it took.
async fn wait_health(http: &reqwest::Client, base: &str, within: Duration, what: &str, pred: impl Fn(u16, &Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let (code, body) = health(http, base).await;
        if pred(code, &body) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what}: /health is {code} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `up` supervises what it starts (issue "Survive the faults of its own
/// parts"): kill -9 of its Postgres → started again by `up`, and money moves
/// again; kill -9 of its anvil → started again, money moves again; `up` stops
/// cleanly after both and leaves no anvil behind; anvil's earlier logs are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_restarts_a_killed_postgres_and_a_killed_anvil() {
    let bin = emledger_bin();
    let base_dir = bin.parent().and_then(Path::parent).expect("target dir").join("test-state");
    std::fs::create_dir_all(&base_dir).unwrap();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let state_dir = base_dir.join(format!("supervise-{}-{stamp}", std::process::id()));
    let mut up = Up::start(&state_dir, true, &Node::ups_anvil());
    let rest = Rest::new(&up.exports);
    let http = reqwest::Client::new();
    let api = up.exports["EMLEDGER_API"].clone();
    wait_health(&http, &api, Duration::from_secs(30), "UP after start", |c, b| c == 200 && b["status"] == "UP").await;

    // a transfer between two demo wallets with money
    let wallets = rest.wallets().await;
    let rich = wallets.iter().find(|w| w["availableBalance"].as_str().is_some_and(|b| b != "0.00")).expect("a funded demo wallet").clone();
    let other = wallets.iter().find(|w| w["id"] != rich["id"]).expect("a second demo wallet").clone();
    let transfer = |n: u32| {
        let rest = &rest;
        let (from, to) = (rich["id"].as_str().unwrap().to_owned(), other["id"].as_str().unwrap().to_owned());
        async move {
            let t = rest
                .post(&format!("/api/v1/public/wallets/{from}/transfer"), json!({"amount": "0.01", "targetWalletId": to, "concept": format!("supervised {n}")}))
                .await;
            let id = t["apiOperationId"].as_str().expect("apiOperationId").to_owned();
            let start = Instant::now();
            loop {
                let op = rest.get(&format!("/api/v1/public/operations/{id}")).await;
                if op["status"] == "SUCCESS" {
                    return;
                }
                assert!(op["status"] != "FAILED" && start.elapsed() < Duration::from_secs(60), "transfer {n}: {op}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    transfer(1).await;

    // ---- kill -9 of the postmaster: up starts it again (the DOWN window and the
    // 503s are timed in tests/outage.rs, where nothing restarts Postgres)
    let pid_file = state_dir.join("postgres/pgdata/postmaster.pid");
    let pg_pid = std::fs::read_to_string(&pid_file).expect("postmaster.pid").lines().next().unwrap().trim().to_owned();
    assert!(Command::new("kill").args(["-9", &pg_pid]).status().unwrap().success());
    let log_path = state_dir.with_extension("log");
    let start = Instant::now();
    while !std::fs::read_to_string(&log_path).unwrap_or_default().contains("Postgres had stopped; started it again") {
        assert!(start.elapsed() < Duration::from_secs(30), "up did not restart Postgres (see {})", log_path.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_pid = std::fs::read_to_string(&pid_file).expect("postmaster.pid").lines().next().unwrap().trim().to_owned();
    assert_ne!(new_pid, pg_pid);
    wait_health(&http, &api, Duration::from_secs(30), "UP after Postgres came back", |c, b| c == 200 && b["status"] == "UP").await;
    transfer(2).await;

    // ---- kill -9 of anvil (after its state file caught up: the lagging-state case is the reorg test's)
    tokio::time::sleep(Duration::from_secs(3)).await;
    let anvil = anvil_pid(up.child.id()).expect("anvil child of up");
    assert!(Command::new("kill").args(["-9", &anvil.to_string()]).status().unwrap().success());
    let start = Instant::now();
    let again = loop {
        if let Some(p) = anvil_pid(up.child.id()).filter(|p| *p != anvil) {
            break p;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "up did not start anvil again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_health(&http, &api, Duration::from_secs(30), "UP after anvil came back", |c, b| c == 200 && b["status"] == "UP" && b["chain"] == "UP").await;
    transfer(3).await;

    // ---- kill -9 of anvil right after transfers were mined: it comes back from a
    // state file that lags its last blocks (written every 2 s). The rewound
    // transactions are sent again from their stored bytes; every transfer ends
    // SUCCESS with a canonical receipt, exactly once.
    let before = rest.get(&format!("/api/v1/public/wallets/{}", rich["id"].as_str().unwrap())).await["balance"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for n in 0..30 {
        let t = rest
            .post(
                &format!("/api/v1/public/wallets/{}/transfer", rich["id"].as_str().unwrap()),
                json!({"amount": "0.01", "targetWalletId": other["id"], "concept": format!("rewound {n}")}),
            )
            .await;
        ids.push(t["apiOperationId"].as_str().unwrap().to_owned());
    }
    // wait until some are mined, then kill
    let start = Instant::now();
    loop {
        let op = rest.get(&format!("/api/v1/public/operations/{}", ids[29])).await;
        if op["status"] == "MINED" || op["status"] == "SUCCESS" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{op}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let anvil = again;
    assert!(Command::new("kill").args(["-9", &anvil.to_string()]).status().unwrap().success());
    let start = Instant::now();
    let again = loop {
        if let Some(p) = anvil_pid(up.child.id()).filter(|p| *p != anvil) {
            break p;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "up did not start anvil again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rpc = up.exports["EMLEDGER_RPC"].clone();
    let start = Instant::now();
    for id in &ids {
        loop {
            let op = rest.get(&format!("/api/v1/public/operations/{id}")).await;
            if op["status"] == "SUCCESS" {
                // a receipt on the chain as it is now
                // (a restarted anvil may not listen yet: a refused connection is asked again)
                let receipt: Value = match http
                    .post(&rpc)
                    .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt", "params": [op["txHash"]]}))
                    .send()
                    .await
                {
                    Ok(r) => r.json().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                if receipt["result"]["status"] == "0x1" {
                    break;
                }
            }
            assert!(op["status"] != "FAILED" && start.elapsed() < Duration::from_secs(60), "after the rewind: {op}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // exactly once: 30 × 0.01 left the wallet
    let cents = before.replace('.', "").parse::<i64>().unwrap() - 30;
    let expected = format!("{}.{:02}", cents / 100, cents % 100);
    let start = Instant::now();
    loop {
        let now = rest.get(&format!("/api/v1/public/wallets/{}", rich["id"].as_str().unwrap())).await["balance"].as_str().unwrap().to_owned();
        if now == expected {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "balance {now}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // ---- kill -9 of up itself right after transfers were mined: its anvil dies with
    // it (never orphaned), Postgres stays; a new `up` on the same state dir brings
    // anvil back from a lagging state file and every transfer ends SUCCESS once.
    let mut ids = Vec::new();
    for n in 0..20 {
        let t = rest
            .post(
                &format!("/api/v1/public/wallets/{}/transfer", rich["id"].as_str().unwrap()),
                json!({"amount": "0.01", "targetWalletId": other["id"], "concept": format!("up killed {n}")}),
            )
            .await;
        ids.push(t["apiOperationId"].as_str().unwrap().to_owned());
    }
    let start = Instant::now();
    loop {
        let op = rest.get(&format!("/api/v1/public/operations/{}", ids[19])).await;
        if op["status"] == "MINED" || op["status"] == "SUCCESS" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{op}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    up.child.kill().unwrap();
    let _ = up.child.wait();
    let start = Instant::now();
    while Command::new("kill").args(["-0", &again.to_string()]).status().map(|s| s.success()).unwrap_or(false) {
        assert!(start.elapsed() < Duration::from_secs(5), "anvil {again} outlived kill -9 of up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(up);
    // and the kill landed while anvil was rewriting its state file (it truncates,
    // then writes): the file is cut off. `up` starts from the last whole copy it kept.
    let state_file = state_dir.join("anvil/state.json");
    let whole = std::fs::read(&state_file).expect("anvil's state file");
    std::fs::write(&state_file, &whole[..whole.len() / 2]).unwrap();
    let mut up = Up::start(&state_dir, false, &Node::ups_anvil());
    let rest = Rest::new(&up.exports);
    let rpc = up.exports["EMLEDGER_RPC"].clone();
    let start = Instant::now();
    for id in &ids {
        loop {
            let op = rest.get(&format!("/api/v1/public/operations/{id}")).await;
            if op["status"] == "SUCCESS" {
                // (a restarted anvil may not listen yet: a refused connection is asked again)
                let receipt: Value = match http
                    .post(&rpc)
                    .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt", "params": [op["txHash"]]}))
                    .send()
                    .await
                {
                    Ok(r) => r.json().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                if receipt["result"]["status"] == "0x1" {
                    break;
                }
            }
            assert!(op["status"] != "FAILED" && start.elapsed() < Duration::from_secs(60), "after kill -9 of up: {op}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let cents = cents - 20;
    let expected = format!("{}.{:02}", cents / 100, cents % 100);
    let start = Instant::now();
    loop {
        let now = rest.get(&format!("/api/v1/public/wallets/{}", rich["id"].as_str().unwrap())).await["balance"].as_str().unwrap().to_owned();
        if now == expected {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "balance {now}, expected {expected} after kill -9 of up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = anvil_pid(up.child.id()).expect("the new up's anvil");

    // ---- reconcile against the running stack's state dir: clean, and the stack keeps serving
    let start = Instant::now();
    let out = loop {
        let out = Command::new(&bin).arg("--state-dir").arg(&state_dir).args(["reconcile", "--rpc-url", &rpc]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && stdout.contains(": 0 mismatches") {
            break stdout;
        }
        // the indexer may still be catching up with the restarted chain
        assert!(start.elapsed() < Duration::from_secs(30), "reconcile: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(out.contains("platform transactions"), "{out}");
    wait_health(&http, &up.exports["EMLEDGER_API"], Duration::from_secs(10), "UP after reconcile", |c, b| c == 200 && b["status"] == "UP").await;
    rest.get("/api/v1/public/wallets").await;

    up.interrupt();
    // no anvil left behind
    assert!(Command::new("kill").args(["-0", &again.to_string()]).status().map(|s| !s.success()).unwrap_or(true), "anvil {again} still running after up stopped");
    let log = std::fs::read_to_string(state_dir.join("anvil/anvil.log")).unwrap();
    assert!(log.matches("==== emledger up: anvil starting").count() >= 2, "earlier anvil logs kept");
    assert!(log.contains("the state file was torn") && log.contains("starting from the last whole copy"), "the torn state file is said in anvil.log");
    assert!(state_dir.join("anvil/state.torn.json").exists(), "the torn file is kept for a look");
}

/// `emledger up --networks 2`: two anvils, a token and a CrossLedgerLink on each,
/// an indexer per network and the relayer in one process tree. A user with a
/// wallet on each network (made through the API, the second with `dltNetwork`)
/// orders 25.00 from network 1 to network 2 on the link with their own key; the
/// relayer takes it to COMPLETED and the API shows both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_with_two_networks_moves_money_between_them() {
    use alloy::{
        network::EthereumWallet,
        primitives::{Address, U256},
        providers::ProviderBuilder,
        signers::local::PrivateKeySigner,
    };
    let bin = emledger_bin();
    let base_dir = bin.parent().and_then(Path::parent).expect("target dir").join("test-state");
    std::fs::create_dir_all(&base_dir).unwrap();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let state_dir = base_dir.join(format!("networks-{}-{stamp}", std::process::id()));
    let mut node = Node::ups_anvil();
    node.up_args = vec!["--networks", "2"];
    let mut up = Up::start(&state_dir, true, &node);
    for k in ["EMLEDGER_LINK", "EMLEDGER_RPC_2", "EMLEDGER_TOKEN_2", "EMLEDGER_LINK_2", "EMLEDGER_CHAIN_ID_2", "EMLEDGER_DLT_NETWORK_2"] {
        assert!(up.exports.get(k).is_some_and(|v| !v.is_empty()), "{k} missing in the export line: {:?}", up.exports);
    }
    assert!(up.banner_line("Network 2").contains(&up.exports["EMLEDGER_DLT_NETWORK_2"]));
    let rest = Rest::new(&up.exports);

    // alice: anvil account 7 on network 1, account 8 on network 2 (public development keys)
    let alice: PrivateKeySigner = "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356".parse().unwrap();
    let alice_2: Address = "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f".parse().unwrap();
    let user = rest.post("/api/v1/public/users", json!({"name": "Alice Cross", "phoneNumber": "+34611111111", "country": "ES"})).await;
    let user = user["id"].as_str().unwrap().to_owned();
    let w1 = rest.post("/api/v1/public/wallets", json!({"userId": user, "dltAddress": format!("{:#x}", alice.address())})).await;
    let network_2 = up.exports["EMLEDGER_DLT_NETWORK_2"].clone();
    let w2 = rest.post("/api/v1/public/wallets", json!({"userId": user, "dltAddress": format!("{alice_2:#x}"), "dltNetwork": network_2})).await;
    assert_eq!(w2["dltNetwork"], json!(network_2), "{w2}");
    let (w1, w2) = (w1["id"].as_str().unwrap().to_owned(), w2["id"].as_str().unwrap().to_owned());

    // 30.00 from a funded demo wallet to alice's wallet on network 1
    let rich = rest
        .wallets()
        .await
        .into_iter()
        .find(|w| w["availableBalance"].as_str().and_then(|b| b.parse::<f64>().ok()).is_some_and(|b| b >= 30.0))
        .expect("a funded demo wallet");
    let t = rest.post(&format!("/api/v1/public/wallets/{}/transfer", rich["id"].as_str().unwrap()), json!({"amount": "30.00", "targetWalletId": w1})).await;
    let op = t["apiOperationId"].as_str().unwrap().to_owned();
    let start = Instant::now();
    while rest.get(&format!("/api/v1/public/operations/{op}")).await["status"] != "SUCCESS" {
        assert!(start.elapsed() < Duration::from_secs(60), "the funding transfer did not settle");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // alice orders 25.00 to her wallet on network 2, with her own key (a dApp)
    let chain_2: u64 = up.exports["EMLEDGER_CHAIN_ID_2"].parse().unwrap();
    emledger_ledger::rpc::install_tls_provider();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(alice.clone())).connect_http(up.exports["EMLEDGER_RPC"].parse().unwrap());
    let link = emledger_contracts::CrossLedgerLink::new(up.exports["EMLEDGER_LINK"].parse().unwrap(), &provider);
    let receipt = link
        .orderTransfer("up-xl-1".into(), U256::from(2_500), alice_2, "EUR".into(), U256::from(chain_2))
        .send()
        .await
        .expect("orderTransfer")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());
    let start = Instant::now();
    let transfer = loop {
        let page = rest.get(&format!("/api/v1/public/cross-ledger-transfers?walletId={w2}")).await;
        let t = page["_embedded"]["crossLedgerTransfers"][0].clone();
        if t["status"] == "COMPLETED" {
            break t;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "not COMPLETED: {page}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!((transfer["operationId"].as_str(), transfer["amount"].as_str()), (Some("up-xl-1"), Some("25.00")), "{transfer}");
    assert_eq!(transfer["destinationDltNetwork"], json!(network_2));
    let wallet_1 = rest.get(&format!("/api/v1/public/wallets/{w1}")).await;
    let wallet_2 = rest.get(&format!("/api/v1/public/wallets/{w2}")).await;
    assert_eq!(wallet_1["balance"], json!("5.00"), "{wallet_1}");
    assert_eq!(wallet_2["balance"], json!("25.00"), "{wallet_2}");
    let kinds = |ms: Vec<Value>| ms.iter().map(|m| (m["type"].as_str().unwrap_or("").to_owned(), m["status"].as_str().unwrap_or("").to_owned())).collect::<Vec<_>>();
    assert!(kinds(rest.movements(&w1).await).contains(&("TRANSFER_OUT".into(), "SUCCESS".into())));
    assert_eq!(kinds(rest.movements(&w2).await), [("TRANSFER_IN".to_owned(), "SUCCESS".to_owned())]);
    up.interrupt();
}
