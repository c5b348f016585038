//! The security suite (issue "Credentials that die when revoked …", item 7),
//! generated from the router: the route table is read from the API's own
//! source (every `.route(path, method(handler))` and the guard of each handler:
//! `Auth<Read|Write|Admin>`, the operator token, or none), so a new route is
//! covered without anyone remembering to add it, and a route that is not in the
//! OpenAPI, or that has no guard and is not a known public route, fails here.
//!
//! Every route × {no credential, a tampered token, an `alg: none` token, a
//! revoked key's token, read, write and admin keys} → the documented answer;
//! every tenant route × another tenant's ids → 404; every write route ×
//! {oversized, malformed, wrongly typed body} → 413/400/415, never 500; a
//! revoked key's bearer → 401 on two API replicas at once.
//! Real parts: anvil with EmToken, Postgres, the indexer binary, the API.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

mod api_stack;
use api_stack::{ApiOptions, MoneyStack, OPERATOR_TOKEN};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Guard {
    Scope(&'static str),
    Operator,
    Public,
}

#[derive(Debug, Clone)]
struct Route {
    method: Method,
    path: String,
    handler: String,
    guard: Guard,
}

/// Routes that answer without a credential on purpose.
const PUBLIC: &[&str] = &[
    "/health",
    "/metrics",
    "/openapi.json",
    "/oauth/token",
    "/psp/ogone/notifications",
    "/psp/ogone/return",
    "/card-payments/orderstandard_utf8.asp",
];

/// The text between the `(` at `open` and its matching `)`.
fn balanced(text: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses");
}

/// `const NAME: &str = "…";` anywhere in the API's sources.
fn constant(sources: &BTreeMap<String, String>, name: &str) -> String {
    let needle = format!("const {name}: &str = \"");
    for text in sources.values() {
        if let Some(i) = text.find(&needle) {
            let rest = &text[i + needle.len()..];
            return rest[..rest.find('"').unwrap()].to_owned();
        }
    }
    panic!("route path constant {name} not found");
}

/// The guard of handler `name` in `text`: its `Auth<…>` argument, an operator check in its body, or none.
fn guard(text: &str, name: &str) -> Guard {
    let Some(start) = text.find(&format!("async fn {name}(")) else {
        // a handler made by a macro (`action_handler!(name, …)`): the macro's own `async fn $fn(`
        let call = text.find(&format!("!({name},")).unwrap_or_else(|| panic!("handler {name} not found"));
        let macro_name: String = text[..call].chars().rev().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<Vec<_>>().into_iter().rev().collect();
        let def = text.find(&format!("macro_rules! {macro_name}")).unwrap_or_else(|| panic!("macro {macro_name} of {name} not found"));
        return guard(&text[def..], "$fn");
    };
    let body_start = start + text[start..].find(" {\n").expect("handler body");
    let signature = &text[start..body_start];
    let body_end = body_start + text[body_start..].find("\n}\n").unwrap_or(text.len() - body_start);
    let body = &text[body_start..body_end];
    for (marker, scope) in [("Auth<Read>", "read"), ("Auth<Write>", "write"), ("Auth<Admin>", "admin")] {
        if signature.contains(marker) {
            return Guard::Scope(scope);
        }
    }
    if body.contains("operator(&ctx, &headers)") {
        return Guard::Operator;
    }
    Guard::Public
}

/// Every route the API's router declares, with its handler's guard.
fn route_table() -> Vec<Route> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/src/http");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            sources.insert(path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap());
        }
    }
    let mut routes = Vec::new();
    for text in sources.values() {
        let mut from = 0;
        while let Some(i) = text[from..].find(".route(") {
            let open = from + i + ".route".len();
            let args = balanced(text, open);
            from = open + args.len();
            let args = args.trim();
            let (path, rest) = if let Some(lit) = args.strip_prefix('"') {
                let end = lit.find('"').unwrap();
                (lit[..end].to_owned(), &lit[end + 1..])
            } else {
                let end = args.find(',').unwrap();
                (constant(&sources, args[..end].trim()), &args[end..])
            };
            for m in ["get", "post", "put", "patch", "delete"] {
                let mut at = 0;
                while let Some(j) = rest[at..].find(&format!("{m}(")) {
                    let k = at + j;
                    at = k + m.len() + 1;
                    // a method router call, not the tail of another word
                    if k > 0 && !matches!(rest.as_bytes()[k - 1], b'.' | b' ' | b',' | b'\n' | b'(') {
                        continue;
                    }
                    let handler: String = rest[k + m.len() + 1..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if handler.is_empty() {
                        continue;
                    }
                    let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap();
                    // the /openapi.json handler lives with the docs, no guard
                    let guard = sources
                        .values()
                        .find(|t| t.contains(&format!("async fn {handler}(")) || t.contains(&format!("!({handler},")))
                        .map(|t| guard(t, &handler));
                    let guard = guard.unwrap_or_else(|| panic!("handler {handler} of {path} not found"));
                    routes.push(Route { method, path: path.clone(), handler, guard });
                }
            }
        }
    }
    routes.sort_by(|a, b| (&a.path, a.method.as_str()).cmp(&(&b.path, b.method.as_str())));
    routes
}

fn fill(path: &str, ids: &BTreeMap<&str, String>) -> String {
    let mut out = path.to_owned();
    while let Some(i) = out.find('{') {
        let j = out[i..].find('}').unwrap() + i;
        let name = &out[i + 1..j];
        let value = ids.get(name).unwrap_or_else(|| panic!("the security suite has no id for `{{{name}}}` (route {path}): add one"));
        out.replace_range(i..=j, value);
    }
    out
}

/// A request body that passes parsing for each write route (so that another
/// tenant's ids are what refuses it); a new write route must add one here.
fn valid_body(method: &Method, path: &str, ids: &BTreeMap<&str, String>) -> Option<Value> {
    let other = ids["otherWalletId"].clone();
    let body = match (method.as_str(), path) {
        ("GET" | "DELETE", _) => return None,
        ("PATCH", "/api/v1/public/users/{userId}") => json!({"kycLevel": 1}),
        ("POST", "/api/v1/public/wallets/{walletId}/transfer") => json!({"amount": "1.00", "targetWalletId": other}),
        ("POST", "/api/v1/public/wallets/{walletId}/hold") => json!({"amount": "1.00", "targetWalletId": other}),
        ("POST", "/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHold") => json!({"amount": "1.00"}),
        ("POST", "/api/v1/public/wallets/{walletId}/hold/{holdId}/executeHoldAndKeepOpen") => json!({"amount": "1.00"}),
        ("POST", "/api/v1/public/wallets/{walletId}/hold/{holdId}/releaseHold") => json!({}),
        ("POST", "/api/v1/public/wallets/{walletId}/hold/{holdId}/renewHold") => json!({}),
        ("POST", "/api/v1/public/wallets/{walletId}/cards/cashIns") => {
            json!({"amount": "10", "successUrl": "https://a.example", "rejectUrl": "https://b.example"})
        }
        ("POST", "/api/v1/public/wallets/{walletId}/cashOuts") => json!({"iban": {"accountNumber": "ES9121000418450200051332"}, "amount": "1"}),
        ("POST", "/api/v1/public/wallets/{walletId}/cashout-to-favourite-external-account") => {
            json!({"favouriteExternalAccountId": ids["favouriteExternalAccountId"], "amount": "1"})
        }
        ("POST", "/api/v1/public/wallets/{walletId}/favourite-external-accounts") => {
            json!({"alias": "x", "externalIban": {"accountNumber": "ES7921000813610123456789"}})
        }
        ("POST", "/api/v1/public/wallets/{walletId}/create-iban") => json!({}),
        ("PUT", "/api/v1/public/wallets/{walletId}/compliance-status") => json!({"status": "suspicious"}),
        ("POST", "/api/v1/public/wallets/{walletId}/scheduled-operations") => json!({"alias": "x", "amount": "1", "receiver": {"type": "IOCASH_WALLET", "account": other},
            "schedule": {"startDate": "2030-01-31T09:30:00Z", "frequency": "MONTHLY"}}),
        ("POST", "/api/v1/public/users" | "/api/v1/public/wallets" | "/api/v1/public/api-keys") => json!({}),
        ("PATCH", "/api/v1/public/webhook-endpoints/{endpointId}") => json!({"description": "another tenant's"}),
        ("POST", "/api/v1/public/webhook-endpoints/{endpointId}/rotate-secret" | "/api/v1/public/webhook-deliveries/{deliveryId}/redeliver") => json!({}),
        (m, p) if p.starts_with("/api/v1/operator/") || PUBLIC.contains(&p) => {
            let _ = m;
            json!({})
        }
        (m, p) => panic!("the security suite has no valid body for {m} {p}: add one"),
    };
    Some(body)
}

async fn call(st: &MoneyStack, method: &Method, path: &str, auth: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
    let mut rb = st.http.request(method.clone(), format!("{}{path}", st.base));
    for (h, v) in auth {
        rb = rb.header(*h, *v);
    }
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The status of a request with a 2 MB JSON body, over a raw connection: the
/// server answers 413 as soon as it sees the length and may close before the
/// body is sent, which an HTTP client reports as a broken pipe.
async fn oversized(base: &str, method: &Method, path: &str, auth: (&str, &str)) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://").to_owned();
    for _ in 0..5 {
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        let len = 2 * 1024 * 1024;
        let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{}: {}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n", auth.0, auth.1);
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(head.as_bytes()).await;
            let _ = wr.write_all(&vec![b' '; len]).await;
        });
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(2).any(|w| w == b"\r\n") {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        writer.abort();
        let line = String::from_utf8_lossy(&buf);
        if let Some(code) = line.split(' ').nth(1).and_then(|c| c.parse().ok()) {
            return code;
        }
    }
    panic!("no answer to a 2 MB body on {method} {path}");
}

async fn token(st: &MoneyStack, key: &str) -> String {
    let t: Value = st
        .http
        .post(format!("{}/oauth/token", st.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", &st.client_id.to_string()), ("client_secret", key)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["access_token"].as_str().expect("a token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_credential_and_tenant_as_documented() -> anyhow::Result<()> {
    let routes = route_table();
    assert!(routes.len() >= 45, "the route table looks short: {routes:#?}");

    let mut st = MoneyStack::start("security", ApiOptions::default()).await?;

    // every route is in the OpenAPI, every unguarded route is a known public one
    let doc: Value = st.http.get(format!("{}/openapi.json", st.base)).send().await?.json().await?;
    let mut problems = Vec::new();
    for r in &routes {
        let documented = doc["paths"][&r.path][r.method.as_str().to_ascii_lowercase()].is_object();
        if !documented && r.path != "/openapi.json" && r.path != "/card-payments/orderstandard_utf8.asp" && r.path != "/metrics" {
            problems.push(format!("{} {} ({}) is not in the OpenAPI", r.method, r.path, r.handler));
        }
        if r.guard == Guard::Public && !PUBLIC.contains(&r.path.as_str()) {
            problems.push(format!("{} {} ({}) checks no credential", r.method, r.path, r.handler));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // tenant A's objects, one of each kind a path can name
    let hook = st
        .post("/api/v1/public/webhook-endpoints", json!({"url": "http://127.0.0.1:9/hook", "eventTypes": ["movement.*"]}))
        .await
        .ok(201)
        .clone();
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "100").await;
    let wallet = st.get(&format!("/api/v1/public/wallets/{a}")).await.ok(200).clone();
    let t = st.post_key(&format!("/api/v1/public/wallets/{a}/transfer"), json!({"amount": "1.00", "targetWalletId": b}), "sec-t").await.ok(202).clone();
    let op = t["apiOperationId"].as_str().unwrap().to_owned();
    st.wait_operation(&op).await;
    let movements = st.get(&format!("/api/v1/public/wallets/{a}/movements")).await.ok(200).clone();
    let hold = st.post(&format!("/api/v1/public/wallets/{a}/hold"), json!({"amount": "2.00", "targetWalletId": b})).await.ok(202).clone();
    let fav = st
        .post(&format!("/api/v1/public/wallets/{a}/favourite-external-accounts"), json!({"alias": "a", "externalIban": {"accountNumber": "ES7921000813610123456789"}}))
        .await
        .ok(201)
        .clone();
    let sched = st
        .post(
            &format!("/api/v1/public/wallets/{a}/scheduled-operations"),
            json!({"alias": "s", "amount": "1", "receiver": {"type": "IOCASH_WALLET", "account": b}, "schedule": {"startDate": "2030-01-31T09:30:00Z", "frequency": "MONTHLY"}}),
        )
        .await
        .ok(201)
        .clone();
    let keys = st.get("/api/v1/public/api-keys").await.ok(200).clone();
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    let endpoint_id = s(&hook["id"]);
    let deliveries = st.get(&format!("/api/v1/public/webhook-endpoints/{endpoint_id}/deliveries")).await.ok(200).clone();
    let delivery = &deliveries["_embedded"]["webhookDeliveries"][0];
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    ids.insert("walletId", a.clone());
    ids.insert("otherWalletId", b.clone());
    ids.insert("userId", s(&wallet["userId"]));
    ids.insert("operationId", op.clone());
    ids.insert("movementId", s(&movements["_embedded"]["movements"][0]["id"]));
    ids.insert("holdId", s(&hold["id"]));
    ids.insert("favouriteExternalAccountId", s(&fav["id"]));
    ids.insert("scheduledOperationId", s(&sched["id"]));
    ids.insert("keyId", s(&keys[0]["id"]));
    ids.insert("endpointId", endpoint_id.clone());
    ids.insert("eventId", s(&delivery["eventId"]));
    ids.insert("deliveryId", s(&delivery["id"]));
    ids.insert("id", uuid::Uuid::now_v7().to_string()); // operator: a payment file
    ids.insert("action", "process".into());
    // no cross-ledger transfer exists on this one-network stack: any id is one of nothing
    ids.insert("transferId", uuid::Uuid::now_v7().to_string());
    // ids of nothing (what a credential that passes its guard meets: 404 or 400, no side effect)
    let mut nothing = ids.clone();
    for k in ["walletId", "userId", "operationId", "movementId", "holdId", "favouriteExternalAccountId", "scheduledOperationId", "keyId", "id",
              "endpointId", "eventId", "deliveryId", "transferId"] {
        nothing.insert(k, uuid::Uuid::now_v7().to_string());
    }
    nothing.insert("operationId", format!("0x{}", "ab".repeat(32)));

    // credentials: one key per scope, tenant B with all scopes, tokens tampered, alg none, revoked
    let scoped = |scopes: &'static [emledger_api::Scope]| emledger_api::create_api_key(&st.pool, st.client_id, "scoped", scopes);
    let (_, read) = scoped(&[emledger_api::Scope::Read]).await?;
    let (_, write) = scoped(&[emledger_api::Scope::Write]).await?;
    let (_, admin) = scoped(&[emledger_api::Scope::Admin]).await?;
    let (revoked_id, revoked) = scoped(&emledger_api::Scope::ALL).await?;
    let revoked_bearer = format!("Bearer {}", token(&st, &revoked).await);
    emledger_api::revoke_api_key(&st.pool, st.client_id, revoked_id).await?;
    let (_, other_key) = emledger_api::create_tenant(&st.pool, "tenant B", "anvil-local").await?;
    let good = token(&st, &st.key).await;
    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let tampered = format!("Bearer {tampered}");
    let payload = good.split('.').nth(1).unwrap();
    let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("Bearer {none_header}.{payload}.");
    let operator = format!("Bearer {OPERATOR_TOKEN}");
    let scope_keys: [(&str, &str); 3] = [("read", &read), ("write", &write), ("admin", &admin)];

    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for r in &routes {
        let label = format!("{} {}", r.method, r.path);
        let real = fill(&r.path, &ids);
        let absent = fill(&r.path, &nothing);
        let empty = (r.method != Method::GET && r.method != Method::DELETE).then(|| json!({}));
        let mut expect = |what: &str, got: (u16, Value), ok: &dyn Fn(u16) -> bool| {
            if !ok(got.0) || got.0 >= 500 {
                failures.push(format!("{label} × {what}: {} {}", got.0, got.1));
            }
        };
        match &r.guard {
            Guard::Scope(scope) => {
                expect("no credential", call(&st, &r.method, &real, &[], empty.as_ref()).await, &|s| s == 401);
                expect("garbage key", call(&st, &r.method, &real, &[("X-API-Key", "eml_000000000000_00")], empty.as_ref()).await, &|s| s == 401);
                expect("tampered token", call(&st, &r.method, &real, &[("Authorization", &tampered)], empty.as_ref()).await, &|s| s == 401);
                expect("alg none", call(&st, &r.method, &real, &[("Authorization", &alg_none)], empty.as_ref()).await, &|s| s == 401);
                expect("revoked key's token", call(&st, &r.method, &real, &[("Authorization", &revoked_bearer)], empty.as_ref()).await, &|s| s == 401);
                expect("operator token", call(&st, &r.method, &real, &[("Authorization", &operator)], empty.as_ref()).await, &|s| s == 401);
                for (name, key) in scope_keys {
                    if name == *scope {
                        // passes its guard, meets ids of nothing: refused by the route itself
                        let got = call(&st, &r.method, &absent, &[("X-API-Key", key)], empty.as_ref()).await;
                        expect(&format!("{name} key (its scope)"), got, &|s| s != 401 && s != 403);
                    } else {
                        let got = call(&st, &r.method, &real, &[("X-API-Key", key)], empty.as_ref()).await;
                        expect(&format!("{name} key"), got, &|s| s == 403);
                    }
                }
                if r.path.contains('{') {
                    let body = valid_body(&r.method, &r.path, &ids);
                    let got = call(&st, &r.method, &real, &[("X-API-Key", &other_key)], body.as_ref()).await;
                    expect("another tenant", got, &|s| s == 404);
                }
            }
            Guard::Operator => {
                expect("no credential", call(&st, &r.method, &real, &[], empty.as_ref()).await, &|s| s == 401);
                expect("tenant admin key", call(&st, &r.method, &real, &[("X-API-Key", &st.key)], empty.as_ref()).await, &|s| s == 401);
                expect("tenant bearer", call(&st, &r.method, &real, &[("Authorization", &format!("Bearer {good}"))], empty.as_ref()).await, &|s| s == 401);
                let got = call(&st, &r.method, &absent, &[("Authorization", &operator)], empty.as_ref()).await;
                expect("operator token", got, &|s| s != 401 && s != 403);
            }
            Guard::Public => {
                let got = call(&st, &r.method, &absent, &[], empty.as_ref()).await;
                expect("no credential", got, &|s| s != 401 && s != 403);
            }
        }
        // bad bodies on every write route, with a credential that passes: never a 500
        if r.method != Method::GET && r.method != Method::DELETE && r.guard != Guard::Public {
            let auth: (&str, &str) = if r.guard == Guard::Operator { ("Authorization", &operator) } else { ("X-API-Key", &st.key) };
            let url = format!("{}{absent}", st.base);
            let big = oversized(&st.base, &r.method, &absent, auth).await;
            expect("a 2 MB body", (big, Value::Null), &|s| s == 413);
            let bad = st.http.request(r.method.clone(), &url).header(auth.0, auth.1).header("content-type", "application/json").body("{\"amount\": ").send().await?;
            expect("malformed JSON", (bad.status().as_u16(), Value::Null), &|s| (400..500).contains(&s));
            let nul = st.http.request(r.method.clone(), &url).header(auth.0, auth.1).json(&json!({"name": "a\u{0}b", "amount": "1\u{0}"})).send().await?;
            expect("NUL bytes", (nul.status().as_u16(), Value::Null), &|s| (400..500).contains(&s));
        }
        covered.insert(label);
    }
    assert!(failures.is_empty(), "{} answers differ from the documented ones:\n{}", failures.len(), failures.join("\n"));
    // 100% of the router's routes went through the suite
    assert_eq!(covered.len(), routes.len());
    println!("security suite: {} routes covered", covered.len());

    // nothing of A changed: its balance is what it was
    st.wait_balances(&a, ("99.00", "97.00", "2.00")).await;
    Ok(())
}

/// A revoked key's bearer is refused at once by every replica (the key is read
/// on each request; no cache to expire).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_keys_bearer_dies_on_two_replicas_at_once() -> anyhow::Result<()> {
    let st = MoneyStack::start("security_replicas", ApiOptions::default()).await?;
    // a second replica on the same database and JWT secret
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let second = format!("http://{}", listener.local_addr()?);
    let config = emledger_api::ApiConfig {
        listen: listener.local_addr()?.to_string(),
        jwt_secret: Some("money-tests-secret".into()),
        scheduler: false,
        clearing_auto: false,
        rate_limits: emledger_api::RateLimitConfig::off(),
        ..Default::default()
    };
    let pool = emledger_ledger::db::connect(&st.db_url, 4).await?;
    tokio::spawn(async move { emledger_api::serve_on(listener, config, pool, std::future::pending()).await.expect("second replica") });
    let (key_id, key) = emledger_api::create_api_key(&st.pool, st.client_id, "rotating", &emledger_api::Scope::ALL).await?;
    let bearer = token(&st, &key).await;
    let get = |base: String, bearer: String| {
        let http = st.http.clone();
        async move { http.get(format!("{base}/api/v1/public/wallets")).bearer_auth(bearer).send().await.unwrap().status().as_u16() }
    };
    let mut up = false;
    for _ in 0..100 {
        if get(second.clone(), bearer.clone()).await == 200 {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the second replica accepts the bearer");
    assert_eq!(get(st.base.clone(), bearer.clone()).await, 200);
    // revoked through the first replica's API
    let r = st.send(Method::DELETE, &format!("/api/v1/public/api-keys/{key_id}"), None, &[]).await;
    r.ok(200);
    let revoked_at = std::time::Instant::now();
    let (one, two) = tokio::join!(get(st.base.clone(), bearer.clone()), get(second.clone(), bearer.clone()));
    assert_eq!((one, two), (401, 401));
    assert!(revoked_at.elapsed() < std::time::Duration::from_secs(1));
    Ok(())
}
