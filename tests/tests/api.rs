//! Black-box HTTP tests of the REST API (issue 4): a real Postgres (one private
//! cluster per test binary under `target/test-state/api`, a fresh database per
//! test), the real server in-process on 127.0.0.1:0, and only HTTP (reqwest) to
//! talk to it. Read-model rows (balances, movements, holds) are inserted with SQL,
//! as the indexer would write them.
//!
//! The randomized test prints its seed; replay with `EMLEDGER_FUZZ_SEED=<seed>`
//! (and `EMLEDGER_FUZZ_REQUESTS=<n>` to change the count, default 1500).

use std::{
    path::PathBuf,
    sync::{Mutex, OnceLock},
};

use emledger_ledger::postgres::PrivateCluster;
use rand::{rngs::StdRng, Rng, SeedableRng};
use reqwest::{header::HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

const CONTRACT: &str = "0x00000000000000000000000000000000c0ffee00";
const CHAIN_ID: i64 = 31337;

fn cluster() -> &'static Mutex<PrivateCluster> {
    static CLUSTER: OnceLock<Mutex<PrivateCluster>> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = root.join("target/test-state/api");
        Mutex::new(PrivateCluster::start(&dir).expect("start the private Postgres cluster"))
    })
}

/// A running API over its own database, with a first tenant.
struct Api {
    base: String,
    http: reqwest::Client,
    pool: PgPool,
    key: String,
    client_id: Uuid,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A response: status, headers, JSON body (Null when not JSON).
struct Res {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Res {
    #[track_caller]
    fn ok(&self, expected: u16) -> &Value {
        assert_eq!(self.status.as_u16(), expected, "unexpected status; body: {}", self.body);
        &self.body
    }

    /// Asserts an error in the envelope with `code`, returning `details`.
    #[track_caller]
    fn err(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        assert_envelope(&self.body);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        &self.body["error"]["details"]
    }
}

#[track_caller]
fn assert_envelope(body: &Value) {
    let e = &body["error"];
    assert!(e["code"].is_string() && e["message"].is_string() && e["details"].is_object(), "not an error envelope: {body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "extra top-level fields: {body}");
}

async fn start(name: &str) -> Api {
    let url = {
        let c = cluster().lock().unwrap_or_else(|p| p.into_inner());
        c.create_database(&format!("api_{name}")).expect("create database")
    };
    let pool = emledger_ledger::db::connect(&url, 10).await.expect("connect");
    emledger_ledger::db::migrate(&pool).await.expect("migrate");
    sqlx::query(
        "INSERT INTO chain_cursor (chain_id, contract, deploy_block, block_number, block_hash, decimals) VALUES ($1, $2, 0, 0, '0x00', 2)",
    )
    .bind(CHAIN_ID)
    .bind(CONTRACT)
    .execute(&pool)
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = emledger_api::ApiConfig {
        listen: addr.to_string(),
        jwt_secret: Some("test-secret-of-some-length".into()),
        max_body_bytes: 64 * 1024,
        ..Default::default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let p = pool.clone();
    tokio::spawn(async move {
        emledger_api::serve_on(listener, config, p, async {
            let _ = rx.await;
        })
        .await
        .expect("server");
    });
    let (client_id, key) = emledger_api::create_tenant(&pool, "tenant-a", "anvil-local").await.unwrap();
    Api { base: format!("http://{addr}"), http: reqwest::Client::new(), pool, key, client_id, _stop: tx }
}

impl Api {
    async fn send(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>, headers: &[(&str, &str)]) -> Res {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(k) = key {
            rb = rb.header("X-API-Key", k);
        }
        for (h, v) in headers {
            rb = rb.header(*h, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Res { status, headers, body }
    }

    async fn raw(&self, method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Res {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path)).header("X-API-Key", &self.key).body(body);
        if let Some(ct) = content_type {
            rb = rb.header("Content-Type", ct);
        }
        let res = rb.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        Res { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    async fn get(&self, path: &str) -> Res {
        self.send(Method::GET, path, Some(&self.key), None, &[]).await
    }
    async fn post(&self, path: &str, body: Value) -> Res {
        self.send(Method::POST, path, Some(&self.key), Some(body), &[]).await
    }
    async fn patch(&self, path: &str, body: Value) -> Res {
        self.send(Method::PATCH, path, Some(&self.key), Some(body), &[]).await
    }
    async fn delete(&self, path: &str) -> Res {
        self.send(Method::DELETE, path, Some(&self.key), None, &[]).await
    }

    /// A second tenant's key.
    async fn other_tenant(&self) -> String {
        emledger_api::create_tenant(&self.pool, "tenant-b", "anvil-local").await.unwrap().1
    }

    async fn create_user(&self, n: u32) -> Value {
        self.post(
            "/api/v1/public/users",
            json!({"name": format!("User {n}"), "phoneNumber": format!("+346123456{:02}", n % 100), "country": "ES", "email": format!("u{n}@example.com")}),
        )
        .await
        .ok(201)
        .clone()
    }

    /// A user (ACTIVATED, KYC 1) and its first wallet id.
    async fn user_with_wallet(&self, n: u32) -> (String, String, String) {
        let u = self.create_user(n).await;
        let uid = u["id"].as_str().unwrap().to_owned();
        self.patch(&format!("/api/v1/public/users/{uid}"), json!({"kycLevel": 1})).await.ok(200);
        (uid, u["walletId"].as_str().unwrap().to_owned(), u["dltAddress"].as_str().unwrap().to_owned())
    }

    async fn set_balance(&self, address: &str, gross: i64, held: i64) {
        sqlx::query(
            "INSERT INTO balances (chain_id, contract, address, gross, held) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (chain_id, contract, address) DO UPDATE SET gross = $4, held = $5",
        )
        .bind(CHAIN_ID)
        .bind(CONTRACT)
        .bind(address)
        .bind(rust_decimal::Decimal::from(gross))
        .bind(rust_decimal::Decimal::from(held))
        .execute(&self.pool)
        .await
        .unwrap();
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_movement(&self, owner: &str, mtype: &str, status: &str, amount: i64, at: &str, origin: Option<&str>, target: Option<&str>) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO movements (id, type, status, amount, concept, owner_address, origin_dlt_address, target_dlt_address, dlt_network, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'test', $5, $6, $7, 'anvil-local', $8::timestamptz, $8::timestamptz)",
        )
        .bind(id)
        .bind(mtype)
        .bind(status)
        .bind(rust_decimal::Decimal::from(amount))
        .bind(owner)
        .bind(origin)
        .bind(target)
        .bind(at)
        .execute(&self.pool)
        .await
        .unwrap();
        id
    }

    async fn insert_hold(&self, op: &str, payer: &str, payee: &str, held: i64, executed: i64, status: &str) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO holds (id, chain_id, contract_address, operation_id, issuer_dlt_address, payer_dlt_address, payee_dlt_address, \
             notary_dlt_address, held_value, executed_value, remaining_value, status, dlt_network, expiration) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, '0x7c311a5e1b9fed7e56ec37d493901bbcb9063d02', $7, $8, $7 - $8, $9, 'anvil-local', '2030-01-01T00:00:00Z')",
        )
        .bind(id)
        .bind(CHAIN_ID)
        .bind(CONTRACT)
        .bind(op)
        .bind(payer)
        .bind(payee)
        .bind(rust_decimal::Decimal::from(held))
        .bind(rust_decimal::Decimal::from(executed))
        .bind(status)
        .execute(&self.pool)
        .await
        .unwrap();
        id
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Independent ISO 13616 mod-97 check.
fn iban_mod97_ok(iban: &str) -> bool {
    let rearranged = format!("{}{}", &iban[4..], &iban[..4]);
    let mut r: u64 = 0;
    for c in rearranged.chars() {
        let v = c.to_digit(36).unwrap() as u64;
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    r == 1
}

// ---------------------------------------------------------------- health, docs

#[tokio::test]
async fn health_openapi_and_docs() {
    let api = start("health").await;
    let h = api.send(Method::GET, "/health", None, None, &[]).await;
    // this API has no platform key: it stores operations but sends none, and says so
    let body = h.ok(200);
    assert_eq!(body["status"], "DEGRADED");
    assert_eq!(body["database"], "UP");
    assert!(body["reasons"][0].as_str().unwrap().contains("no operation submitter"), "{body}");
    assert!(h.headers.get("x-request-id").is_some(), "request id header");
    let doc = api.send(Method::GET, "/openapi.json", None, None, &[]).await;
    let doc = doc.ok(200);
    assert!(s(&doc["openapi"]).starts_with("3.1"), "OpenAPI 3.1: {}", doc["openapi"]);
    for p in [
        "/api/v1/public/users",
        "/api/v1/public/wallets/{walletId}/create-iban",
        "/api/v1/public/wallets/{walletId}/favourite-external-accounts",
        "/api/v1/public/wallets/{walletId}/movements",
        "/api/v1/public/wallets/{walletId}/holds/{holdId}",
        "/oauth/token",
    ] {
        assert!(doc["paths"][p].is_object(), "missing path {p}");
    }
    let ui = api.http.get(format!("{}/docs/", api.base)).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().to_lowercase().contains("swagger"));
    // unknown route and wrong method: envelope too
    api.get("/api/v1/public/nothing").await.err(404, "not_found");
    api.send(Method::PUT, "/api/v1/public/users", Some(&api.key), None, &[]).await.err(405, "method_not_allowed");
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn auth_api_keys_oauth_and_scopes() {
    let api = start("auth").await;
    let path = "/api/v1/public/wallets";
    api.send(Method::GET, path, None, None, &[]).await.err(401, "unauthorized");
    api.send(Method::GET, path, Some("eml_000000000000_00"), None, &[]).await.err(401, "unauthorized");
    let wrong = format!("{}0", &api.key[..api.key.len() - 1]);
    let wrong = if wrong == api.key { format!("{}1", &api.key[..api.key.len() - 1]) } else { wrong };
    api.send(Method::GET, path, Some(&wrong), None, &[]).await.err(401, "unauthorized");
    api.send(Method::GET, path, None, None, &[("Authorization", "Bearer nope")]).await.err(401, "unauthorized");
    api.send(Method::GET, path, None, None, &[("Authorization", "Basic abc")]).await.err(401, "unauthorized");
    api.get(path).await.ok(200);

    // OAuth2 client credentials (form)
    let form = format!("grant_type=client_credentials&client_id={}&client_secret={}", api.client_id, api.key);
    let t = api.http.post(format!("{}/oauth/token", api.base)).header("Content-Type", "application/x-www-form-urlencoded").body(form).send().await.unwrap();
    assert_eq!(t.status(), 200);
    let t: Value = t.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_u64().unwrap() > 0);
    assert_eq!(t["scope"], "read write admin");
    let bearer = format!("Bearer {}", s(&t["access_token"]));
    api.send(Method::GET, path, None, None, &[("Authorization", &bearer)]).await.ok(200);
    let u = api
        .send(Method::POST, "/api/v1/public/users", None, Some(json!({"name":"B","phoneNumber":"+34612345678","country":"ES"})), &[("Authorization", &bearer)])
        .await;
    u.ok(201);
    // a tampered token
    let mut tampered = s(&t["access_token"]).to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    api.send(Method::GET, path, None, None, &[("Authorization", &format!("Bearer {tampered}"))]).await.err(401, "unauthorized");

    // JSON token request with a narrower scope → 403 on writes
    let r = api.send(Method::POST, "/oauth/token", None, Some(json!({"grant_type":"client_credentials","client_id":api.client_id,"client_secret":api.key,"scope":"read"})), &[]).await;
    let read_bearer = format!("Bearer {}", s(&r.ok(200)["access_token"]));
    api.send(Method::GET, path, None, None, &[("Authorization", &read_bearer)]).await.ok(200);
    let d = api
        .send(Method::POST, "/api/v1/public/users", None, Some(json!({"name":"B","phoneNumber":"+34612345678","country":"ES"})), &[("Authorization", &read_bearer)])
        .await
        .err(403, "forbidden")
        .clone();
    assert_eq!(d["requiredScope"], "write");
    // token endpoint refusals
    api.send(Method::POST, "/oauth/token", None, Some(json!({"grant_type":"password","client_id":api.client_id,"client_secret":api.key})), &[]).await.err(400, "unsupported_grant_type");
    api.send(Method::POST, "/oauth/token", None, Some(json!({"grant_type":"client_credentials","client_id":api.client_id,"client_secret":wrong})), &[]).await.err(401, "invalid_client");
    api.send(Method::POST, "/oauth/token", None, Some(json!({"grant_type":"client_credentials","client_id":Uuid::now_v7(),"client_secret":api.key})), &[]).await.err(401, "invalid_client");
    api.send(Method::POST, "/oauth/token", None, Some(json!({"grant_type":"client_credentials","client_id":api.client_id,"client_secret":api.key,"scope":"root"})), &[]).await.err(400, "invalid_scope");

    // API key management: a read-only key, a write-only key; revocation
    let k = api.post("/api/v1/public/api-keys", json!({"name":"reader","scopes":["read"]})).await;
    let k = k.ok(201).clone();
    let reader = s(&k["apiKey"]).to_owned();
    assert!(reader.starts_with("eml_"));
    api.send(Method::GET, path, Some(&reader), None, &[]).await.ok(200);
    api.send(Method::POST, path, Some(&reader), Some(json!({"userId": Uuid::now_v7()})), &[]).await.err(403, "forbidden");
    let w = api.post("/api/v1/public/api-keys", json!({"name":"writer","scopes":["read","write"]})).await.ok(201).clone();
    let writer = s(&w["apiKey"]).to_owned();
    let uid = s(&u.body["id"]).to_owned();
    api.send(Method::PATCH, &format!("/api/v1/public/users/{uid}"), Some(&writer), Some(json!({"kycLevel":1})), &[]).await.err(403, "forbidden");
    api.send(Method::GET, "/api/v1/public/api-keys", Some(&writer), None, &[]).await.err(403, "forbidden");
    let list = api.get("/api/v1/public/api-keys").await.ok(200).clone();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(list.as_array().unwrap().iter().all(|k| k.get("apiKey").is_none()), "secrets never listed");
    api.post("/api/v1/public/api-keys", json!({"name":"x","scopes":["superuser"]})).await.err(400, "invalid_request");
    // a bearer token obtained with the reader key dies with it
    let r = api.send(Method::POST, "/oauth/token", None, Some(json!({"grant_type":"client_credentials","client_id":api.client_id,"client_secret":reader})), &[]).await;
    let reader_bearer = format!("Bearer {}", s(&r.ok(200)["access_token"]));
    api.send(Method::GET, path, None, None, &[("Authorization", &reader_bearer)]).await.ok(200);
    api.delete(&format!("/api/v1/public/api-keys/{}", s(&k["id"]))).await.ok(200);
    api.send(Method::GET, path, Some(&reader), None, &[]).await.err(401, "unauthorized");
    api.send(Method::GET, path, None, None, &[("Authorization", &reader_bearer)]).await.err(401, "unauthorized");
    // the tenant's other tokens live on
    api.send(Method::GET, path, None, None, &[("Authorization", &bearer)]).await.ok(200);
    api.delete(&format!("/api/v1/public/api-keys/{}", s(&k["id"]))).await.err(404, "not_found");
}

// ---------------------------------------------------------------- users

#[tokio::test]
async fn users_create_get_admin_update() {
    let api = start("users").await;
    let u = api
        .post(
            "/api/v1/public/users",
            json!({"name":"Ana García","phoneNumber":"+34612345678","country":"ES","email":"ana@example.com","externalId":"crm-1"}),
        )
        .await;
    let u = u.ok(201).clone();
    for f in ["id", "clientId", "name", "phoneNumber", "country", "email", "externalId", "kycLevel", "status", "walletId", "dltAddress", "createdAt", "updatedAt"] {
        assert!(u.get(f).is_some(), "user field {f}: {u}");
    }
    assert_eq!(u["status"], "ACTIVATED");
    assert_eq!(u["kycLevel"], 0);
    assert_eq!(u["clientId"], api.client_id.to_string());
    assert!(s(&u["_links"]["self"]["href"]).ends_with(s(&u["id"])));
    let addr = s(&u["dltAddress"]);
    assert!(addr.len() == 42 && addr.starts_with("0x") && addr == addr.to_lowercase(), "{addr}");
    chrono::DateTime::parse_from_rfc3339(s(&u["createdAt"])).expect("RFC 3339");
    let uid = s(&u["id"]).to_owned();

    // the first wallet was created with it
    let ws = api.get(&format!("/api/v1/public/wallets?userId={uid}")).await.ok(200).clone();
    let list = ws["_embedded"]["wallets"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], u["walletId"]);
    assert_eq!(list[0]["status"], "READY");
    assert_eq!(list[0]["type"], "general_purpose");

    let g = api.get(&format!("/api/v1/public/users/{uid}")).await.ok(200).clone();
    assert_eq!(g["name"], "Ana García");

    // validation, each naming its field
    let base = json!({"name":"X","phoneNumber":"+34612345678","country":"ES"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (field, value) in [
        ("phoneNumber", json!("612345678")),
        ("phoneNumber", json!("+3461234")),
        ("phoneNumber", json!("+346123456789012345678")),
        ("phoneNumber", json!(34612345678u64)),
        ("country", json!("XX")),
        ("country", json!("es")),
        ("country", json!("ESP")),
        ("email", json!("not-an-email")),
        ("name", json!("")),
        ("name", json!("   ")),
        ("externalId", json!("")),
    ] {
        let d = api.post("/api/v1/public/users", with(field, value.clone())).await.err(400, "invalid_request").clone();
        assert_eq!(d["field"], field, "{field}={value}: {d}");
    }
    let d = api.post("/api/v1/public/users", json!({"name":"X","country":"ES"})).await.err(400, "invalid_request").clone();
    assert_eq!(d["field"], "phoneNumber");
    let d = api.post("/api/v1/public/users", with("nickname", json!("x"))).await.err(400, "invalid_request").clone();
    assert_eq!(d["field"], "nickname");

    // externalId unique per tenant: 400 duplicate_external_id (seed 001), also through the `external_id` alias
    let d = api.post("/api/v1/public/users", with("externalId", json!("crm-1"))).await.err(400, "duplicate_external_id").clone();
    assert_eq!(d["field"], "externalId");
    api.post("/api/v1/public/users", with("external_id", json!("crm-1"))).await.err(400, "duplicate_external_id");

    // admin update: KYC level and status
    let p = api.patch(&format!("/api/v1/public/users/{uid}"), json!({"kycLevel": 2})).await.ok(200).clone();
    assert_eq!(p["kycLevel"], 2);
    api.patch(&format!("/api/v1/public/users/{uid}"), json!({"kycLevel": 4})).await.err(400, "invalid_request");
    api.patch(&format!("/api/v1/public/users/{uid}"), json!({"status": "SLEEPING"})).await.err(400, "invalid_request");
    api.patch(&format!("/api/v1/public/users/{uid}"), json!({})).await.err(400, "invalid_request");
    let p = api.patch(&format!("/api/v1/public/users/{uid}"), json!({"status": "BLOCKED"})).await.ok(200).clone();
    assert_eq!(p["status"], "BLOCKED");
    api.patch(&format!("/api/v1/public/users/{uid}"), json!({"status": "ACTIVATED"})).await.ok(200);
    api.patch(&format!("/api/v1/public/users/{uid}"), json!({"status": "UNSUBSCRIBED"})).await.ok(200);
    // irreversible
    api.patch(&format!("/api/v1/public/users/{uid}"), json!({"status": "ACTIVATED"})).await.err(409, "user_unsubscribed");
    api.get(&format!("/api/v1/public/users/{}", Uuid::now_v7())).await.err(404, "not_found");
    let d = api.get("/api/v1/public/users/not-a-uuid").await.err(400, "invalid_request").clone();
    assert_eq!(d["field"], "userId");
}

// ---------------------------------------------------------------- wallets

#[tokio::test]
async fn wallets_create_rules_and_superset() {
    let api = start("wallets_create").await;
    let (uid, first, _) = api.user_with_wallet(1).await;
    let w = api
        .post(
            "/api/v1/public/wallets",
            json!({"userId": uid, "dltAddress": "0x485De9F4580eDEDB5b16a84028e4Bac64434c36D", "externalId": "w-1", "name": "Savings",
                   "nickname": "piggy", "type": "saving", "purpose": "holidays", "parentWalletId": first, "currency": "EUR",
                   "metadata": {"a": 1, "b": {"c": [true, null]}}}),
        )
        .await;
    let w = w.ok(201).clone();
    for f in ["id", "walletId", "userId", "clientId", "clientAlias", "dltAddress", "dltNetwork", "iban", "status", "balance", "availableBalance", "heldBalance", "currency", "type", "purpose", "name", "nickname", "externalId", "parentWalletId", "groupId", "allowNegative", "metadata", "createdAt", "updatedAt"] {
        assert!(w.get(f).is_some(), "wallet field {f}: {w}");
    }
    assert_eq!(w["dltAddress"], "0x485de9f4580ededb5b16a84028e4bac64434c36d");
    assert_eq!(w["dltNetwork"], "anvil-local");
    assert_eq!(w["status"], "READY");
    assert_eq!(w["type"], "saving");
    assert_eq!(w["parentWalletId"], first.as_str());
    assert_eq!(w["metadata"]["b"]["c"][0], true);
    assert_eq!(w["balance"], "0.00");
    assert_eq!(w["clientAlias"], "tenant-a");
    assert_eq!(s(&w["_links"]["self"]["href"]), format!("/api/v1/public/wallets/{}", s(&w["id"])));

    // defaults
    let d = api.post("/api/v1/public/wallets", json!({"userId": uid})).await.ok(201).clone();
    assert_eq!(d["type"], "general_purpose");
    assert_eq!(d["currency"], "EUR");
    assert_ne!(d["dltAddress"], w["dltAddress"]);

    // uniqueness (seed 001: 400 duplicate_external_id)
    let e = api.post("/api/v1/public/wallets", json!({"userId": uid, "externalId": "w-1"})).await.err(400, "duplicate_external_id").clone();
    assert_eq!(e["field"], "externalId");
    api.post("/api/v1/public/wallets", json!({"userId": uid, "dltAddress": "0x485de9f4580ededb5b16a84028e4bac64434c36d"})).await.err(409, "dlt_address_in_use");

    // validation
    for (field, value) in [
        ("type", json!("checking")),
        ("currency", json!("EURO")),
        ("currency", json!("XYZ")),
        ("currency", json!("COP")),
        ("groupId", json!("g".repeat(65))),
        ("groupId", json!("")),
        ("allowNegative", json!(true)),
        ("dltAddress", json!("0x1234")),
        ("metadata", json!([1, 2])),
        ("metadata", json!("x")),
        ("name", json!(7)),
        ("userId", json!("nope")),
    ] {
        let mut b = json!({"userId": uid});
        b[field] = value.clone();
        let e = api.post("/api/v1/public/wallets", b).await.err(400, "invalid_request").clone();
        assert_eq!(e["field"], field, "{field}={value}");
    }
    let e = api.post("/api/v1/public/wallets", json!({})).await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "userId");
    // unknown user / parent → 404
    let e = api.post("/api/v1/public/wallets", json!({"userId": Uuid::now_v7()})).await.err(404, "not_found").clone();
    assert_eq!(e["field"], "userId");
    let e = api.post("/api/v1/public/wallets", json!({"userId": uid, "parentWalletId": Uuid::now_v7()})).await.err(404, "not_found").clone();
    assert_eq!(e["field"], "parentWalletId");

    // at most 5 wallets per user (first + 2 so far)
    api.post("/api/v1/public/wallets", json!({"userId": uid})).await.ok(201);
    api.post("/api/v1/public/wallets", json!({"userId": uid})).await.ok(201);
    api.post("/api/v1/public/wallets", json!({"userId": uid})).await.err(409, "wallet_limit_reached");

    // an unsubscribed wallet's address can never be reused; it frees a slot
    let addr = s(&w["dltAddress"]).to_owned();
    api.delete(&format!("/api/v1/public/wallets/{}", s(&w["id"]))).await.ok(200);
    api.post("/api/v1/public/wallets", json!({"userId": uid, "dltAddress": addr})).await.err(409, "dlt_address_in_use");
    api.post("/api/v1/public/wallets", json!({"userId": uid})).await.ok(201);

    // user must be ACTIVATED
    let (uid2, _, _) = api.user_with_wallet(2).await;
    api.patch(&format!("/api/v1/public/users/{uid2}"), json!({"status": "BLOCKED"})).await.ok(200);
    api.post("/api/v1/public/wallets", json!({"userId": uid2})).await.err(409, "user_not_activated");

    // GET by id, ?userId=
    let g = api.get(&format!("/api/v1/public/wallets/{}", s(&d["id"]))).await.ok(200).clone();
    assert_eq!(g["id"], d["id"]);
    let l = api.get(&format!("/api/v1/public/wallets?userId={uid}")).await.ok(200).clone();
    assert_eq!(l["page"]["totalElements"], 6);
    api.get(&format!("/api/v1/public/wallets?userId={}", Uuid::now_v7())).await.err(404, "not_found");
    let e = api.get("/api/v1/public/wallets?userId=123").await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "userId");
    assert_eq!(e["in"], "query");
    api.get(&format!("/api/v1/public/wallets/{}", Uuid::now_v7())).await.err(404, "not_found");
}

#[tokio::test]
async fn wallets_idempotency() {
    let api = start("wallets_idem").await;
    let (uid, _, _) = api.user_with_wallet(1).await;
    let body = json!({"userId": uid, "name": "idem"});
    let a = api.send(Method::POST, "/api/v1/public/wallets", Some(&api.key), Some(body.clone()), &[("Idempotency-Key", "k-1")]).await;
    a.ok(201);
    assert!(a.headers.get("idempotency-replayed").is_none());
    let b = api.send(Method::POST, "/api/v1/public/wallets", Some(&api.key), Some(body.clone()), &[("Idempotency-Key", "k-1")]).await;
    assert_eq!(b.ok(201), &a.body);
    assert_eq!(b.headers.get("idempotency-replayed").unwrap(), "true");
    // different body, same key
    api.send(Method::POST, "/api/v1/public/wallets", Some(&api.key), Some(json!({"userId": uid, "name": "other"})), &[("Idempotency-Key", "k-1")])
        .await
        .err(422, "idempotency_key_reused");
    // the body field (seed 002)
    let c = api.post("/api/v1/public/wallets", json!({"userId": uid, "idempotencyKey": "k-2"})).await;
    c.ok(201);
    let c2 = api.post("/api/v1/public/wallets", json!({"userId": uid, "idempotencyKey": "k-2"})).await;
    assert_eq!(c2.ok(201)["id"], c.body["id"]);
    assert_eq!(c2.headers.get("idempotency-replayed").unwrap(), "true");
    // header and body disagree
    api.send(Method::POST, "/api/v1/public/wallets", Some(&api.key), Some(json!({"userId": uid, "idempotencyKey": "x"})), &[("Idempotency-Key", "y")])
        .await
        .err(400, "invalid_request");
    let l = api.get(&format!("/api/v1/public/wallets?userId={uid}")).await.ok(200).clone();
    assert_eq!(l["page"]["totalElements"], 3, "replays created nothing");
    // a refusal is remembered for its key
    api.patch(&format!("/api/v1/public/users/{uid}"), json!({"status": "BLOCKED"})).await.ok(200);
    let r = api.post("/api/v1/public/wallets", json!({"userId": uid, "idempotencyKey": "k-3"})).await;
    r.err(409, "user_not_activated");
    api.patch(&format!("/api/v1/public/users/{uid}"), json!({"status": "ACTIVATED"})).await.ok(200);
    let r2 = api.post("/api/v1/public/wallets", json!({"userId": uid, "idempotencyKey": "k-3"})).await;
    r2.err(409, "user_not_activated");
    assert_eq!(r2.headers.get("idempotency-replayed").unwrap(), "true");
    // users are idempotent too
    let ub = json!({"name":"I","phoneNumber":"+34612345678","country":"ES","idempotencyKey":"u-1"});
    let u1 = api.post("/api/v1/public/users", ub.clone()).await;
    let u2 = api.post("/api/v1/public/users", ub).await;
    assert_eq!(u1.ok(201)["id"], u2.ok(201)["id"]);
    // keys are per tenant
    let other = api.other_tenant().await;
    let o = api.send(Method::POST, "/api/v1/public/users", Some(&other), Some(json!({"name":"I","phoneNumber":"+34612345678","country":"ES","idempotencyKey":"u-1"})), &[]).await;
    assert_ne!(o.ok(201)["id"], u1.body["id"]);
    // concurrent duplicates: one creation
    let body = json!({"userId": uid, "idempotencyKey": "k-conc"});
    let futs: Vec<_> = (0..6).map(|_| api.post("/api/v1/public/wallets", body.clone())).collect();
    let results = futures_join(futs).await;
    // the first creates; the others replay it, or get 409 while it is still in flight
    let ids: std::collections::HashSet<String> =
        results.iter().filter(|r| r.status.as_u16() == 201).map(|r| s(&r.body["id"]).to_owned()).collect();
    assert_eq!(ids.len(), 1);
    for r in results.iter().filter(|r| r.status.as_u16() != 201) {
        assert_eq!(r.status.as_u16(), 409, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "idempotency_in_flight");
    }
}

async fn futures_join<F: std::future::Future<Output = Res>>(futs: Vec<F>) -> Vec<Res> {
    let mut out = Vec::new();
    let handles: Vec<_> = futs.into_iter().map(Box::pin).collect();
    // poll them concurrently
    let joined = join_all(handles).await;
    out.extend(joined);
    out
}

async fn join_all<F: std::future::Future + Unpin>(futs: Vec<F>) -> Vec<F::Output> {
    let mut slots: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    let mut futs: Vec<Option<F>> = futs.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if let Some(fut) = f {
                match std::pin::Pin::new(fut).poll(cx) {
                    std::task::Poll::Ready(v) => {
                        slots[i] = Some(v);
                        *f = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    slots.into_iter().map(|s| s.unwrap()).collect()
}

#[tokio::test]
async fn wallets_create_iban_rules() {
    let api = start("wallets_iban").await;
    let u = api.create_user(1).await;
    let uid = s(&u["id"]).to_owned();
    let wid = s(&u["walletId"]).to_owned();
    let path = format!("/api/v1/public/wallets/{wid}/create-iban");
    api.post(&path, json!({})).await.err(409, "kyc_level_too_low");
    api.patch(&format!("/api/v1/public/users/{uid}"), json!({"kycLevel": 1})).await.ok(200);
    let r = api.send(Method::POST, &path, Some(&api.key), None, &[]).await.ok(200).clone();
    let iban = s(&r["iban"]).to_owned();
    assert!(iban.starts_with("ES") && iban.len() == 24, "{iban}");
    assert!(iban_mod97_ok(&iban), "mod-97: {iban}");
    assert_eq!(s(&r["_links"]["self"]["href"]), format!("/api/v1/public/wallets/{wid}"));
    api.post(&path, json!({})).await.err(409, "iban_already_assigned");
    let g = api.get(&format!("/api/v1/public/wallets/{wid}")).await.ok(200).clone();
    assert_eq!(g["iban"], iban.as_str());
    // unique across wallets
    let mut seen = std::collections::HashSet::from([iban]);
    for n in 0..4 {
        let w = api.post("/api/v1/public/wallets", json!({"userId": uid})).await.ok(201).clone();
        let i = api.post(&format!("/api/v1/public/wallets/{}/create-iban", s(&w["id"])), json!({})).await.ok(200).clone();
        assert!(iban_mod97_ok(s(&i["iban"])));
        assert!(seen.insert(s(&i["iban"]).to_owned()), "duplicate IBAN at {n}");
    }
    // wallet not READY
    let (uid2, wid2, _) = api.user_with_wallet(2).await;
    let extra = api.post("/api/v1/public/wallets", json!({"userId": uid2})).await.ok(201).clone();
    api.delete(&format!("/api/v1/public/wallets/{}", s(&extra["id"]))).await.ok(200);
    api.post(&format!("/api/v1/public/wallets/{}/create-iban", s(&extra["id"])), json!({})).await.err(409, "wallet_not_ready");
    // user UNSUBSCRIBED
    api.patch(&format!("/api/v1/public/users/{uid2}"), json!({"status": "UNSUBSCRIBED"})).await.ok(200);
    api.post(&format!("/api/v1/public/wallets/{wid2}/create-iban"), json!({})).await.err(409, "user_unsubscribed");
    api.post(&format!("/api/v1/public/wallets/{}/create-iban", Uuid::now_v7()), json!({})).await.err(404, "not_found");
    let e = api.post("/api/v1/public/wallets/xyz/create-iban", json!({})).await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "walletId");
    assert_eq!(e["in"], "path");
}

#[tokio::test]
async fn wallets_balances_and_unsubscribe() {
    let api = start("wallets_unsub").await;
    let (uid, wid, addr) = api.user_with_wallet(1).await;
    let w = api.get(&format!("/api/v1/public/wallets/{wid}")).await.ok(200).clone();
    assert_eq!((w["balance"].clone(), w["availableBalance"].clone(), w["heldBalance"].clone()), (json!("0.00"), json!("0.00"), json!("0.00")));
    api.set_balance(&addr, 1050, 200).await;
    let w = api.get(&format!("/api/v1/public/wallets/{wid}")).await.ok(200).clone();
    assert_eq!(w["balance"], "10.50");
    assert_eq!(w["availableBalance"], "8.50");
    assert_eq!(w["heldBalance"], "2.00");
    let l = api.get(&format!("/api/v1/public/wallets?userId={uid}")).await.ok(200).clone();
    assert_eq!(l["_embedded"]["wallets"][0]["balance"], "10.50");

    // refuse while it holds money
    let e = api.delete(&format!("/api/v1/public/wallets/{wid}")).await;
    e.err(409, "wallet_has_funds");
    assert!(s(&e.body["error"]["message"]).contains("10.50"));
    api.set_balance(&addr, 0, 0).await;
    // refuse while a hold is open (as payer, or as payee)
    let h = api.insert_hold("op-1", &addr, "0x0e1ff5c25bf0132d476ff999096c21a41143fb4a", 500, 0, "CREATED").await;
    api.delete(&format!("/api/v1/public/wallets/{wid}")).await.err(409, "wallet_has_open_holds");
    sqlx::query("UPDATE holds SET status = 'EXECUTED' WHERE id = $1").bind(h).execute(&api.pool).await.unwrap();
    let (_, wid_b, addr_b) = api.user_with_wallet(2).await;
    api.insert_hold("op-2", "0x0e1ff5c25bf0132d476ff999096c21a41143fb4a", &addr_b, 500, 0, "PENDING_DLT_EXECUTION").await;
    api.delete(&format!("/api/v1/public/wallets/{wid_b}")).await.err(409, "wallet_has_open_holds");

    let d = api.delete(&format!("/api/v1/public/wallets/{wid}")).await.ok(200).clone();
    for f in ["dltAddress", "dltNetwork", "status", "userId", "walletId"] {
        assert!(d.get(f).is_some(), "{f}");
    }
    assert_eq!(d["status"], "UNSUBSCRIBED");
    assert_eq!(d["walletId"], wid.as_str());
    // irreversible: no second unsubscribe, no favourites, no IBAN
    api.delete(&format!("/api/v1/public/wallets/{wid}")).await.err(409, "wallet_unsubscribed");
    api.post(&format!("/api/v1/public/wallets/{wid}/favourite-external-accounts"), json!({"alias":"a","externalIban":{"accountNumber":"ES7921000813610123456789"}}))
        .await
        .err(409, "wallet_not_ready");
    api.post(&format!("/api/v1/public/wallets/{wid}/create-iban"), json!({})).await.err(409, "wallet_not_ready");
    assert_eq!(api.get(&format!("/api/v1/public/wallets/{wid}")).await.ok(200)["status"], "UNSUBSCRIBED");
    api.delete(&format!("/api/v1/public/wallets/{}", Uuid::now_v7())).await.err(404, "not_found");
}

// ---------------------------------------------------------------- pagination

#[tokio::test]
async fn wallets_pagination_and_sorting() {
    let api = start("paging").await;
    // 7 users → 7 wallets, plus 3 extra of types that sort before/after
    let (uid, _, _) = api.user_with_wallet(0).await;
    for n in 1..7 {
        api.create_user(n).await;
    }
    for t in ["vault", "saving", "vault"] {
        api.post("/api/v1/public/wallets", json!({"userId": uid, "type": t})).await.ok(201);
    }
    let all = api.get("/api/v1/public/wallets?size=2000").await.ok(200).clone();
    assert_eq!(all["page"]["totalElements"], 10);
    assert_eq!(all["page"]["size"], 2000);
    assert_eq!(all["page"]["totalPages"], 1);
    api.get("/api/v1/public/wallets?size=2001").await.err(400, "invalid_request");
    let e = api.get("/api/v1/public/wallets?size=0").await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "size");
    let e = api.get("/api/v1/public/wallets?page=-1").await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "page");
    api.get("/api/v1/public/wallets?size=abc").await.err(400, "invalid_request");
    api.get("/api/v1/public/wallets?sort=nope,asc").await.err(400, "invalid_request");
    api.get("/api/v1/public/wallets?sort=createdAt,sideways").await.err(400, "invalid_request");

    // default page and links
    let p0 = api.get("/api/v1/public/wallets?size=4").await.ok(200).clone();
    assert_eq!(p0["page"], json!({"size":4,"totalElements":10,"totalPages":3,"number":0}));
    assert_eq!(p0["_embedded"]["wallets"].as_array().unwrap().len(), 4);
    assert!(p0["_links"]["next"]["href"].as_str().unwrap().contains("page=1"));
    assert!(p0["_links"].get("prev").is_none());
    assert!(s(&p0["_links"]["last"]["href"]).contains("page=2"));
    assert!(s(&p0["_links"]["self"]["href"]).starts_with("/api/v1/public/wallets?"));
    // last page is partial, has prev and no next
    let p2 = api.get("/api/v1/public/wallets?size=4&page=2").await.ok(200).clone();
    assert_eq!(p2["_embedded"]["wallets"].as_array().unwrap().len(), 2);
    assert!(p2["_links"].get("next").is_none());
    assert!(s(&p2["_links"]["prev"]["href"]).contains("page=1"));
    // past the end: empty page, same totals
    let p9 = api.get("/api/v1/public/wallets?size=4&page=9").await.ok(200).clone();
    assert_eq!(p9["_embedded"]["wallets"].as_array().unwrap().len(), 0);
    assert_eq!(p9["page"]["totalElements"], 10);
    // pages are disjoint and cover everything, default order createdAt asc
    let mut ids = Vec::new();
    for page in 0..3 {
        let p = api.get(&format!("/api/v1/public/wallets?size=4&page={page}")).await.ok(200).clone();
        for w in p["_embedded"]["wallets"].as_array().unwrap() {
            ids.push(s(&w["id"]).to_owned());
        }
    }
    let all_ids: Vec<String> = all["_embedded"]["wallets"].as_array().unwrap().iter().map(|w| s(&w["id"]).to_owned()).collect();
    assert_eq!(ids, all_ids);
    // two sort fields: type desc, then createdAt desc
    let sorted = api.get("/api/v1/public/wallets?size=2000&sort=type,desc&sort=createdAt,desc").await.ok(200).clone();
    let rows: Vec<(String, String)> = sorted["_embedded"]["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (s(&w["type"]).to_owned(), s(&w["createdAt"]).to_owned()))
        .collect();
    let mut expected = rows.clone();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    assert_eq!(rows, expected);
    assert_eq!(rows[0].0, "vault");
    assert!(s(&sorted["_links"]["self"]["href"]).contains("sort=type%2Cdesc&sort=createdAt%2Cdesc"));
    // the filtered list's links keep the filter
    let f = api.get(&format!("/api/v1/public/wallets?userId={uid}&size=1")).await.ok(200).clone();
    assert!(s(&f["_links"]["next"]["href"]).contains(&format!("userId={uid}")));
}

// ---------------------------------------------------------------- favourites

#[tokio::test]
async fn favourites_rules() {
    let api = start("favourites").await;
    let (_, wid, _) = api.user_with_wallet(1).await;
    let base = format!("/api/v1/public/wallets/{wid}/favourite-external-accounts");
    let f = api.post(&base, json!({"alias":"My favourite account","externalIban":{"accountNumber":"ES79 2100 0813 6101 2345 6789"}})).await.ok(201).clone();
    for k in ["favouriteExternalAccountId", "alias", "externalIban", "status", "id", "iban", "walletId"] {
        assert!(f.get(k).is_some(), "{k}: {f}");
    }
    assert_eq!(f["externalIban"], "ES7921000813610123456789");
    assert_eq!(f["status"], "ACTIVE");
    let fid = s(&f["id"]).to_owned();
    let g = api.get(&format!("{base}/{fid}")).await.ok(200).clone();
    assert_eq!(g["iban"], "ES7921000813610123456789");
    assert_eq!(s(&g["_links"]["wallet"]["href"]), format!("/api/v1/public/wallets/{wid}"));
    // alias unique per wallet; IBAN validated
    api.post(&base, json!({"alias":"My favourite account","externalIban":{"accountNumber":"GB82WEST12345698765432"}})).await.err(409, "duplicate_alias");
    let e = api.post(&base, json!({"alias":"x","externalIban":{"accountNumber":"ES7921000813610123456788"}})).await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "externalIban.accountNumber");
    let e = api.post(&base, json!({"alias":"x","externalIban":{}})).await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "externalIban.accountNumber");
    let e = api.post(&base, json!({"alias":"","externalIban":{"accountNumber":"GB82WEST12345698765432"}})).await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "alias");
    // at most 5 ACTIVE
    for n in 2..=5 {
        api.post(&base, json!({"alias": format!("fav {n}"),"externalIban":{"accountNumber":"GB82WEST12345698765432"}})).await.ok(201);
    }
    api.post(&base, json!({"alias":"fav 6","externalIban":{"accountNumber":"GB82WEST12345698765432"}})).await.err(409, "favourite_limit_reached");
    // list, paged
    let l = api.get(&format!("{base}?size=2&sort=alias,asc")).await.ok(200).clone();
    assert_eq!(l["page"]["totalElements"], 5);
    assert_eq!(l["page"]["totalPages"], 3);
    assert_eq!(l["_embedded"]["favouriteExternalAccounts"][0]["alias"], "My favourite account");
    // delete → DELETED, irreversible; frees a slot and the alias
    let d = api.delete(&format!("{base}/{fid}")).await.ok(200).clone();
    assert_eq!(d["status"], "DELETED");
    assert_eq!(d["favouriteExternalAccountId"], fid.as_str());
    api.delete(&format!("{base}/{fid}")).await.err(409, "favourite_deleted");
    assert_eq!(api.get(&format!("{base}/{fid}")).await.ok(200)["status"], "DELETED");
    api.post(&base, json!({"alias":"My favourite account","externalIban":{"accountNumber":"ES7921000813610123456789"}})).await.ok(201);
    let active = api.get(&format!("{base}?status=ACTIVE")).await.ok(200).clone();
    assert_eq!(active["page"]["totalElements"], 5);
    api.get(&format!("{base}?status=GONE")).await.err(400, "invalid_request");
    api.get(&format!("{base}/{}", Uuid::now_v7())).await.err(404, "not_found");
    // another wallet's favourite is not reachable through this wallet
    let (_, wid2, _) = api.user_with_wallet(2).await;
    api.get(&format!("/api/v1/public/wallets/{wid2}/favourite-external-accounts/{fid}")).await.err(404, "not_found");
}

// ---------------------------------------------------------------- movements

#[tokio::test]
async fn movements_get_list_filters() {
    let api = start("movements").await;
    let (uid, wid, addr) = api.user_with_wallet(1).await;
    let (uid2, wid2, addr2) = api.user_with_wallet(2).await;
    let t_out = api.insert_movement(&addr, "TRANSFER_OUT", "SUCCESS", 1000, "2020-02-28T10:00:00Z", Some(&addr), Some(&addr2)).await;
    api.insert_movement(&addr2, "TRANSFER_IN", "SUCCESS", 1000, "2020-02-28T10:00:00Z", Some(&addr), Some(&addr2)).await;
    // as the indexer stores a mint: the wallet as target (not shown: seed 003 leaves it empty)
    let cash = api.insert_movement(&addr, "CARD_CASHIN", "PENDING", 5000, "2020-02-28T12:00:00Z", None, Some(&addr)).await;
    let lock = api.insert_movement(&addr, "LOCK", "SUCCESS", 150, "2020-02-28T14:00:00Z", None, None).await;
    let err = api.insert_movement(&addr, "BANK_ACCOUNT_CASHOUT", "ERROR", 1, "2020-02-29T00:00:00Z", Some(&addr), None).await;
    // same instant: tie broken by id
    let tie_a = api.insert_movement(&addr, "RELEASE", "SUCCESS", 7, "2020-03-01T00:00:00Z", None, None).await;
    let tie_b = api.insert_movement(&addr, "RELEASE", "SUCCESS", 7, "2020-03-01T00:00:00Z", None, None).await;

    let m = api.get(&format!("/api/v1/public/wallets/{wid}/movements/{t_out}")).await.ok(200).clone();
    for f in ["id", "originUserId", "targetUserId", "userId", "payerName", "amount", "clientId", "concept", "createdAt", "originDltAddress", "targetDltAddress", "originWalletId", "targetWalletId", "walletId", "dltNetwork", "status", "type", "updatedAt", "scheduledOperationId"] {
        assert!(m.get(f).is_some(), "movement field {f}: {m}");
    }
    // seed 003: a transfer fills its counterparts, not userId/walletId/payerName
    for f in ["userId", "walletId", "payerName"] {
        assert!(m[f].is_null(), "{f} of a TRANSFER_OUT: {m}");
    }
    assert_eq!(m["amount"], "10.00");
    assert_eq!(m["type"], "TRANSFER_OUT");
    assert_eq!(m["originWalletId"], wid.as_str());
    assert_eq!(m["targetWalletId"], wid2.as_str());
    assert_eq!(m["originUserId"], uid.as_str());
    assert_eq!(m["targetUserId"], uid2.as_str());
    assert_eq!(m["clientId"], api.client_id.to_string());
    assert_eq!(s(&m["_links"]["targetWallet"]["href"]), format!("/api/v1/public/wallets/{wid2}"));
    assert_eq!(m["createdAt"], "2020-02-28T10:00:00Z");
    // any other type: userId/walletId, no counterparts; payerName for a cash-out only (the holder's name)
    for (id, payer) in [(cash, None), (lock, None), (err, Some("User 1")), (tie_a, None)] {
        let m = api.get(&format!("/api/v1/public/wallets/{wid}/movements/{id}")).await.ok(200).clone();
        assert_eq!((m["walletId"].as_str(), m["userId"].as_str()), (Some(wid.as_str()), Some(uid.as_str())), "{m}");
        assert_eq!(m["payerName"].as_str(), payer, "{m}");
        for f in ["originUserId", "targetUserId", "originDltAddress", "targetDltAddress", "originWalletId", "targetWalletId"] {
            assert!(m[f].is_null(), "{f} of a {}: {m}", m["type"]);
        }
    }
    // not this wallet's movement
    let other = api.get(&format!("/api/v1/public/wallets/{wid2}/movements/{t_out}")).await;
    other.err(404, "not_found");

    let ids = |v: &Value| -> Vec<String> { v["_embedded"]["movements"].as_array().unwrap().iter().map(|m| s(&m["id"]).to_owned()).collect() };
    let all = api.get(&format!("/api/v1/public/wallets/{wid}/movements")).await.ok(200).clone();
    let (a, b) = if tie_a < tie_b { (tie_a, tie_b) } else { (tie_b, tie_a) };
    assert_eq!(ids(&all), [t_out, cash, lock, err, a, b].map(|u| u.to_string()));
    assert_eq!(all["page"]["totalElements"], 6);
    let desc = api.get(&format!("/api/v1/public/wallets/{wid}/movements?sort=createdAt,desc")).await.ok(200).clone();
    assert_eq!(ids(&desc)[..2], [a.to_string(), b.to_string()], "ties keep id order");

    // date filters: the seed's format (UTC), RFC 3339, offsets honoured
    let q = |qs: &str| format!("/api/v1/public/wallets/{wid}/movements?{qs}");
    let r = api.get(&q("startDate=2020-02-28%2011:00:00&endDate=2020-02-28%2016:00:00")).await.ok(200).clone();
    assert_eq!(ids(&r), [cash, lock].map(|u| u.to_string()));
    let r = api.get(&q("startDate=2020-02-28T13:00:00%2B02:00&endDate=2020-02-28T15:00:00Z")).await.ok(200).clone();
    assert_eq!(ids(&r), [cash, lock].map(|u| u.to_string()), "13:00+02:00 is 11:00Z");
    let r = api.get(&q("startDate=2020-02-28 14:00:00+02")).await.ok(200).clone(); // '+' arrives as a space
    assert_eq!(ids(&r).len(), 5);
    let r = api.get(&q("endDate=2020-02-28T10:00:00Z")).await.ok(200).clone();
    assert_eq!(ids(&r), [t_out.to_string()], "endDate inclusive");
    let e = api.get(&q("startDate=yesterday")).await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "startDate");
    api.get(&q("startDate=2020-03-01T00:00:00Z&endDate=2020-02-01T00:00:00Z")).await.err(400, "invalid_request");
    // status and type filters
    let r = api.get(&q("status=PENDING")).await.ok(200).clone();
    assert_eq!(ids(&r), [cash.to_string()]);
    let r = api.get(&q("status=SUCCESS&type=RELEASE")).await.ok(200).clone();
    assert_eq!(r["page"]["totalElements"], 2);
    let r = api.get(&q("type=LOCK,CARD_CASHIN")).await.ok(200).clone();
    assert_eq!(r["page"]["totalElements"], 2);
    let e = api.get(&q("status=DONE")).await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "status");
    api.get(&q("type=LOCKED")).await.err(400, "invalid_request");
    // paging
    let p = api.get(&q("size=4&page=1")).await.ok(200).clone();
    assert_eq!(ids(&p).len(), 2);
    let e = api.get(&format!("/api/v1/public/wallets/{wid}/movements/nope")).await.err(400, "invalid_request").clone();
    assert_eq!(e["field"], "movementId");
}

// ---------------------------------------------------------------- holds

#[tokio::test]
async fn holds_get_and_list() {
    let api = start("holds").await;
    let (uid, wid, addr) = api.user_with_wallet(1).await;
    let (_, wid2, addr2) = api.user_with_wallet(2).await;
    let h1 = api.insert_hold("q13", &addr, &addr2, 1000, 800, "EXECUTED").await;
    let h2 = api.insert_hold("q14", &addr, "0x0e1ff5c25bf0132d476ff999096c21a41143fb4a", 250, 0, "CREATED").await;
    let h = api.get(&format!("/api/v1/public/wallets/{wid}/holds/{h1}")).await.ok(200).clone();
    for f in ["id", "userId", "clientId", "issuerDltAddress", "payerDltAddress", "payeeDltAddress", "notaryDltAddress", "heldValue", "executedValue", "status", "dltNetwork", "contractAddress", "operationId", "payerWalletId", "payeeWalletId", "createdAt", "expiration"] {
        assert!(h.get(f).is_some(), "hold field {f}: {h}");
    }
    assert_eq!(h["heldValue"], "10.00");
    assert_eq!(h["executedValue"], "8.00");
    assert_eq!(h["operationId"], "q13");
    assert_eq!(h["payerWalletId"], wid.as_str());
    assert_eq!(h["payeeWalletId"], wid2.as_str());
    assert_eq!(h["userId"], uid.as_str());
    assert_eq!(h["expiration"], "2030-01-01T00:00:00Z");
    // visible from the payee's wallet too
    api.get(&format!("/api/v1/public/wallets/{wid2}/holds/{h1}")).await.ok(200);
    api.get(&format!("/api/v1/public/wallets/{wid2}/holds/{h2}")).await.err(404, "not_found");
    let l = api.get(&format!("/api/v1/public/wallets/{wid}/holds")).await.ok(200).clone();
    assert_eq!(l["page"]["totalElements"], 2);
    assert_eq!(l["_embedded"]["holds"][1]["payeeWalletId"], Value::Null);
    let l = api.get(&format!("/api/v1/public/wallets/{wid}/holds?status=CREATED")).await.ok(200).clone();
    assert_eq!(l["_embedded"]["holds"][0]["id"], h2.to_string());
    api.get(&format!("/api/v1/public/wallets/{wid}/holds?status=OPEN")).await.err(400, "invalid_request");
    let l = api.get(&format!("/api/v1/public/wallets/{wid}/holds?size=1&page=1&sort=heldValue,desc")).await.ok(200).clone();
    assert_eq!(l["_embedded"]["holds"][0]["id"], h2.to_string());
}

// ---------------------------------------------------------------- tenant isolation

#[tokio::test]
async fn tenant_isolation_everywhere() {
    let api = start("isolation").await;
    let (uid, wid, addr) = api.user_with_wallet(1).await;
    let (_, wid2, addr2) = api.user_with_wallet(2).await;
    let fav = api
        .post(&format!("/api/v1/public/wallets/{wid}/favourite-external-accounts"), json!({"alias":"a","externalIban":{"accountNumber":"ES7921000813610123456789"}}))
        .await
        .ok(201)
        .clone();
    let fid = s(&fav["id"]).to_owned();
    let mid = api.insert_movement(&addr, "TRANSFER_OUT", "SUCCESS", 100, "2020-01-01T00:00:00Z", Some(&addr), Some(&addr2)).await;
    let hid = api.insert_hold("iso-1", &addr, &addr2, 100, 0, "CREATED").await;

    let b = api.other_tenant().await;
    let (buid, bwid) = {
        let u = api.send(Method::POST, "/api/v1/public/users", Some(&b), Some(json!({"name":"B","phoneNumber":"+34612345699","country":"ES"})), &[]).await.ok(201).clone();
        (s(&u["id"]).to_owned(), s(&u["walletId"]).to_owned())
    };
    let unknown = Uuid::now_v7();
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/public/users/{uid}"), None),
        (Method::PATCH, format!("/api/v1/public/users/{uid}"), Some(json!({"kycLevel": 2}))),
        (Method::GET, format!("/api/v1/public/wallets/{wid}"), None),
        (Method::GET, format!("/api/v1/public/wallets?userId={uid}"), None),
        (Method::POST, "/api/v1/public/wallets".into(), Some(json!({"userId": uid}))),
        (Method::POST, "/api/v1/public/wallets".into(), Some(json!({"userId": buid, "parentWalletId": wid}))),
        (Method::POST, format!("/api/v1/public/wallets/{wid}/create-iban"), Some(json!({}))),
        (Method::DELETE, format!("/api/v1/public/wallets/{wid}"), None),
        (Method::POST, format!("/api/v1/public/wallets/{wid}/favourite-external-accounts"), Some(json!({"alias":"b","externalIban":{"accountNumber":"ES7921000813610123456789"}}))),
        (Method::GET, format!("/api/v1/public/wallets/{wid}/favourite-external-accounts"), None),
        (Method::GET, format!("/api/v1/public/wallets/{wid}/favourite-external-accounts/{fid}"), None),
        (Method::GET, format!("/api/v1/public/wallets/{bwid}/favourite-external-accounts/{fid}"), None),
        (Method::DELETE, format!("/api/v1/public/wallets/{wid}/favourite-external-accounts/{fid}"), None),
        (Method::GET, format!("/api/v1/public/wallets/{wid}/movements"), None),
        (Method::GET, format!("/api/v1/public/wallets/{wid}/movements/{mid}"), None),
        (Method::GET, format!("/api/v1/public/wallets/{bwid}/movements/{mid}"), None),
        (Method::GET, format!("/api/v1/public/wallets/{wid}/holds"), None),
        (Method::GET, format!("/api/v1/public/wallets/{wid}/holds/{hid}"), None),
        (Method::GET, format!("/api/v1/public/wallets/{bwid}/holds/{hid}"), None),
    ];
    for (method, path, body) in cases {
        let other = api.send(method.clone(), &path, Some(&b), body.clone(), &[]).await;
        other.err(404, "not_found");
        // identical to an id that does not exist
        let fake = path.replace(&uid, &unknown.to_string()).replace(&wid, &unknown.to_string());
        let fake_body = body.map(|v| serde_json::from_str::<Value>(&v.to_string().replace(&uid, &unknown.to_string()).replace(&wid, &unknown.to_string())).unwrap());
        let missing = api.send(method, &fake, Some(&b), fake_body, &[]).await;
        assert_eq!(other.status, missing.status, "{path}");
        assert_eq!(other.body, missing.body, "{path}: other tenant's id must look like an unknown one");
    }
    // B's lists show nothing of A
    let l = api.send(Method::GET, "/api/v1/public/wallets?size=2000", Some(&b), None, &[]).await.ok(200).clone();
    assert_eq!(l["page"]["totalElements"], 1);
    // B's own wallet has its own (empty) movements even if linked addresses are A's
    let hm = api.send(Method::GET, &format!("/api/v1/public/wallets/{bwid}/holds"), Some(&b), None, &[]).await.ok(200).clone();
    assert_eq!(hm["page"]["totalElements"], 0);
    // and A's data is intact
    assert_eq!(api.get(&format!("/api/v1/public/users/{uid}")).await.ok(200)["kycLevel"], 1);
    assert_eq!(api.get(&format!("/api/v1/public/wallets/{wid}")).await.ok(200)["status"], "READY");
    let _ = wid2;
}

// ---------------------------------------------------------------- malformed input

#[tokio::test]
async fn malformed_requests_are_4xx_envelopes() {
    let api = start("malformed").await;
    let (uid, wid, _) = api.user_with_wallet(1).await;
    let users = "/api/v1/public/users";
    let d = api.raw(Method::POST, users, Some("application/json"), b"{\"name\": ".to_vec()).await.err(400, "malformed_json").clone();
    assert!(d["line"].is_number());
    api.raw(Method::POST, users, Some("application/json"), b"".to_vec()).await.err(400, "malformed_json");
    api.raw(Method::POST, users, Some("application/json"), vec![0xff, 0xfe, 0x00]).await.err(400, "malformed_json");
    api.raw(Method::POST, users, Some("text/plain"), b"{}".to_vec()).await.err(415, "unsupported_media_type");
    api.raw(Method::POST, users, None, b"{}".to_vec()).await.err(415, "unsupported_media_type");
    let d = api.raw(Method::POST, users, Some("application/json"), b"[1,2]".to_vec()).await.err(400, "invalid_request").clone();
    assert_eq!(d["field"], "body");
    let d = api.raw(Method::POST, users, Some("application/json"), br#"{"name":1,"phoneNumber":"+34612345678","country":"ES"}"#.to_vec()).await.err(400, "invalid_request").clone();
    assert_eq!(d["field"], "name");
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(100 * 1024));
    let d = api.raw(Method::POST, users, Some("application/json"), big.into_bytes()).await.err(413, "payload_too_large").clone();
    assert_eq!(d["maxBytes"], 64 * 1024);
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    api.raw(Method::POST, "/api/v1/public/wallets", Some("application/json"), format!("{{\"userId\":\"{uid}\",\"metadata\":{{\"a\":{deep}}}}}").into_bytes())
        .await
        .err(400, "malformed_json");
    api.raw(Method::POST, "/api/v1/public/wallets", Some("application/json"), format!("{{\"userId\":\"{uid}\",\"metadata\":{{\"a\":\"\\u0000\"}}}}").into_bytes())
        .await
        .err(400, "invalid_request");
    api.raw(Method::POST, users, Some("application/json"), b"{\"name\":\"a\\u0000b\",\"phoneNumber\":\"+34612345678\",\"country\":\"ES\"}".to_vec())
        .await
        .err(400, "invalid_request");
    let d = api.get("/api/v1/public/wallets/%ZZ").await;
    assert!(d.status.is_client_error());
    assert_envelope(&d.body);
    api.get(&format!("/api/v1/public/wallets/{wid}/movements?page=99999999999999999999")).await.err(400, "invalid_request");
    api.get(&format!("/api/v1/public/wallets/{wid}/movements?page=1&page=2")).await.err(400, "invalid_request");
    api.get("/api/v1/public/wallets?externalId=%00").await.err(400, "invalid_request");
}

// ---------------------------------------------------------------- randomized

fn random_string(rng: &mut StdRng) -> String {
    const PIECES: &[&str] = &[
        "", " ", "a", "ES", "es", "EUR", "+34612345678", "0x", "0x485de9f4580ededb5b16a84028e4bac64434c36d", "null", "true", "💸", "é", "\u{0}",
        "\\", "\"", "'", "%", "%00", ",", "asc", "desc", "createdAt", "-1", "1e309", "99999999999999999999", "2020-02-28 12:00:00",
        "2020-02-28T12:00:00+02:00", "ES7921000813610123456789", "{", "}", "[", "SUCCESS", "LOCK", "\n",
    ];
    let n = rng.gen_range(0..4);
    let mut out = String::new();
    for _ in 0..n {
        if rng.gen_bool(0.7) {
            out.push_str(PIECES[rng.gen_range(0..PIECES.len())]);
        } else {
            let len = rng.gen_range(0..12);
            out.extend((0..len).map(|_| char::from_u32(rng.gen_range(0x20..0x2FF)).unwrap_or('x')));
        }
    }
    if rng.gen_bool(0.02) {
        out.push_str(&"z".repeat(rng.gen_range(100..5000)));
    }
    out
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth > 3 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.gen_bool(0.5)),
        2 => json!(rng.gen_range(-1_000_000i64..1_000_000)),
        3 => json!(rng.gen_range(-1e12f64..1e12)),
        4 | 5 => json!(random_string(rng)),
        6 => Value::Array((0..rng.gen_range(0..4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.gen_range(0..5) {
                m.insert(random_string(rng), random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

/// Mutates a valid body: drop, retype or add fields.
fn mutate(rng: &mut StdRng, valid: &Value, fields: &[&str]) -> Value {
    let mut v = valid.clone();
    for _ in 0..rng.gen_range(1..4) {
        let f = fields[rng.gen_range(0..fields.len())];
        match rng.gen_range(0..4) {
            0 => {
                v.as_object_mut().unwrap().remove(f);
            }
            1 | 2 => v[f] = random_value(rng, 1),
            _ => v[random_string(rng)] = random_value(rng, 1),
        }
    }
    v
}

fn random_query(rng: &mut StdRng) -> String {
    const KEYS: &[&str] = &["page", "size", "sort", "startDate", "endDate", "status", "type", "userId", "externalId", "x"];
    let mut parts = Vec::new();
    for _ in 0..rng.gen_range(0..5) {
        let k = KEYS[rng.gen_range(0..KEYS.len())];
        let v: String = match rng.gen_range(0..5) {
            0 => rng.gen_range(-5i64..3000).to_string(),
            1 => format!("{},{}", ["createdAt", "amount", "type", "nope", ""][rng.gen_range(0..5)], ["asc", "desc", "up", ""][rng.gen_range(0..4)]),
            2 => Uuid::now_v7().to_string(),
            _ => random_string(rng),
        };
        let enc: String = if rng.gen_bool(0.1) {
            // raw, possibly invalid percent-encoding
            format!("%{:02X}%{}", rng.gen_range(0..256), ["ZZ", "", "e9"][rng.gen_range(0..3)])
        } else {
            form_urlencoded_pair(&v)
        };
        parts.push(format!("{k}={enc}"));
    }
    parts.join("&")
}

fn form_urlencoded_pair(v: &str) -> String {
    v.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[tokio::test]
async fn randomized_requests_never_5xx() {
    let seed: u64 = std::env::var("EMLEDGER_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| rand::thread_rng().gen());
    let count: usize = std::env::var("EMLEDGER_FUZZ_REQUESTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1500);
    println!("randomized API test: EMLEDGER_FUZZ_SEED={seed} EMLEDGER_FUZZ_REQUESTS={count}");
    let mut rng = StdRng::seed_from_u64(seed);
    let api = start("fuzz").await;
    let (uid, wid, addr) = api.user_with_wallet(1).await;
    let fav = api
        .post(&format!("/api/v1/public/wallets/{wid}/favourite-external-accounts"), json!({"alias":"a","externalIban":{"accountNumber":"ES7921000813610123456789"}}))
        .await
        .ok(201)
        .clone();
    let fid = s(&fav["id"]).to_owned();
    let mid = api.insert_movement(&addr, "LOCK", "SUCCESS", 100, "2020-01-01T00:00:00Z", None, None).await;
    let hid = api.insert_hold("fz", &addr, &addr, 100, 0, "CREATED").await;

    let valid_user = json!({"name":"F","phoneNumber":"+34612345678","country":"ES","email":"f@example.com","externalId":"e","idempotencyKey":"k"});
    let valid_wallet = json!({"userId": uid, "dltAddress": "0x485de9f4580ededb5b16a84028e4bac64434c36d", "externalId":"w","name":"n","nickname":"k","type":"saving","purpose":"p","parentWalletId": wid,"currency":"EUR","metadata":{},"idempotencyKey":"i"});
    let valid_fav = json!({"alias":"b","externalIban":{"accountNumber":"ES7921000813610123456789"}});
    let valid_patch = json!({"kycLevel": 1, "status": "ACTIVATED"});
    let valid_token = json!({"grant_type":"client_credentials","client_id": api.client_id,"client_secret": api.key});
    let valid_key = json!({"name":"n","scopes":["read"]});

    let get_paths = [
        "/health".to_owned(),
        format!("/api/v1/public/users/{uid}"),
        format!("/api/v1/public/wallets/{wid}"),
        "/api/v1/public/wallets".to_owned(),
        format!("/api/v1/public/wallets/{wid}/favourite-external-accounts"),
        format!("/api/v1/public/wallets/{wid}/favourite-external-accounts/{fid}"),
        format!("/api/v1/public/wallets/{wid}/movements"),
        format!("/api/v1/public/wallets/{wid}/movements/{mid}"),
        format!("/api/v1/public/wallets/{wid}/holds"),
        format!("/api/v1/public/wallets/{wid}/holds/{hid}"),
        "/api/v1/public/api-keys".to_owned(),
    ];
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut failures = Vec::new();
    let mut last_request: String;
    for i in 0..count {
        let kind = rng.gen_range(0..10);
        last_request = "GET".into();
        let res = if kind < 4 {
            // GET with random query string / path junk
            let mut p = get_paths[rng.gen_range(0..get_paths.len())].clone();
            if rng.gen_bool(0.15) {
                p = p.replace(&wid, &form_urlencoded_pair(&random_string(&mut rng)));
            }
            let q = random_query(&mut rng);
            api.send(Method::GET, &format!("{p}?{q}"), Some(&api.key), None, &[]).await
        } else {
            let (path, valid, fields, method): (String, &Value, &[&str], Method) = match rng.gen_range(0..8) {
                0 => ("/api/v1/public/users".into(), &valid_user, &["name", "phoneNumber", "country", "email", "externalId", "idempotencyKey"], Method::POST),
                1 | 2 => (
                    "/api/v1/public/wallets".into(),
                    &valid_wallet,
                    &["userId", "dltAddress", "externalId", "name", "nickname", "type", "purpose", "parentWalletId", "currency", "metadata", "idempotencyKey"],
                    Method::POST,
                ),
                3 => (format!("/api/v1/public/wallets/{wid}/favourite-external-accounts"), &valid_fav, &["alias", "externalIban"], Method::POST),
                4 => (format!("/api/v1/public/users/{uid}"), &valid_patch, &["kycLevel", "status"], Method::PATCH),
                5 => ("/oauth/token".into(), &valid_token, &["grant_type", "client_id", "client_secret", "scope"], Method::POST),
                6 => ("/api/v1/public/api-keys".into(), &valid_key, &["name", "scopes"], Method::POST),
                _ => (format!("/api/v1/public/wallets/{wid}/create-iban"), &valid_key, &["name", "scopes"], Method::POST),
            };
            let body: Vec<u8> = match rng.gen_range(0..6) {
                0 => serde_json::to_vec(&random_value(&mut rng, 0)).unwrap(),
                1 => (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect(),
                2 => {
                    let mut b = serde_json::to_vec(&mutate(&mut rng, valid, fields)).unwrap();
                    let cut = rng.gen_range(0..=b.len());
                    b.truncate(cut);
                    b
                }
                _ => serde_json::to_vec(&mutate(&mut rng, valid, fields)).unwrap(),
            };
            let ct = ["application/json", "application/json", "application/json", "text/plain", "application/x-www-form-urlencoded", ""][rng.gen_range(0..6)];
            let mut rb = api.http.request(method, format!("{}{}", api.base, path)).header("X-API-Key", &api.key).body(body);
            if !ct.is_empty() {
                rb = rb.header("Content-Type", ct);
            }
            if rng.gen_bool(0.1) {
                let k: String = random_string(&mut rng).chars().filter(|c| (' '..='~').contains(c)).collect();
                rb = rb.header("Idempotency-Key", k);
            }
            let sent = rb.try_clone().and_then(|b| b.build().ok()).map(|r| {
                let body = r.body().and_then(|b| b.as_bytes()).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
                format!("{} {} {:?} {body}", r.method(), r.url().path(), r.headers().get("content-type"))
            });
            last_request = sent.unwrap_or_default();
            let r = rb.send().await.expect("request");
            let status = r.status();
            let headers = r.headers().clone();
            let bytes = r.bytes().await.unwrap();
            Res { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
        };
        *statuses.entry(res.status.as_u16()).or_default() += 1;
        if res.status.is_server_error() {
            failures.push(format!("request {i}: {} {} (sent: {last_request})", res.status, res.body));
        } else if res.status.is_client_error() {
            let e = &res.body["error"];
            if !(e["code"].is_string() && e["message"].is_string() && e["details"].is_object()) {
                failures.push(format!("request {i}: {} not an envelope: {}", res.status, res.body));
            }
        }
    }
    println!("statuses: {statuses:?}");
    assert!(failures.is_empty(), "seed {seed}: {} failures, first: {:#?}", failures.len(), &failures[..failures.len().min(5)]);
    assert!(count >= 1000 || std::env::var("EMLEDGER_FUZZ_REQUESTS").is_ok());
}
