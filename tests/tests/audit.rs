//! The audit trail (issue "Credentials that die when revoked …", item 6): every
//! admin action is stored with the credential that did it and its request id,
//! in the action's own transaction; readable at an admin endpoint (a tenant sees
//! its own) and the operator's (all); never editable, not even in SQL.
//! Real parts: anvil with EmToken, Postgres, the indexer binary, the API.

use reqwest::Method;
use serde_json::{json, Value};

mod api_stack;
use api_stack::{camt054, ApiOptions, Credit, MoneyStack, BANK_IBAN, OPERATOR_TOKEN};

async fn events(st: &MoneyStack, key: &str, query: &str) -> Value {
    let r = st.http.get(format!("{}/api/v1/public/audit-events{query}", st.base)).header("X-API-Key", key).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

fn actions(page: &Value) -> Vec<String> {
    page["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_actions_are_recorded_with_credential_and_request_and_cannot_be_edited() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("audit", ApiOptions::default()).await?;
    let (wallet, _) = st.wallet().await;
    let keys = st.get("/api/v1/public/api-keys").await.ok(200).clone();
    let main_key_id = keys[0]["id"].as_str().unwrap().to_owned();

    // an admin creates a key, with its own request id
    let r = st
        .send(Method::POST, "/api/v1/public/api-keys", Some(json!({"name": "rotation", "scopes": ["read", "write", "admin"]})), &[("X-Request-Id", "req-audit-1")])
        .await;
    let created = r.ok(201).clone();
    let (new_id, new_key) = (created["id"].as_str().unwrap().to_owned(), created["apiKey"].as_str().unwrap().to_owned());

    // the new key, as a bearer token, changes a wallet's compliance status (idempotent: twice)
    let token: Value = st
        .http
        .post(format!("{}/oauth/token", st.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", &st.client_id.to_string()), ("client_secret", &new_key)])
        .send()
        .await?
        .json()
        .await?;
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let r = st
            .http
            .put(format!("{}/api/v1/public/wallets/{wallet}/compliance-status", st.base))
            .bearer_auth(&bearer)
            .header("Idempotency-Key", "audit-suspicious")
            .header("X-Request-Id", "req-audit-2")
            .json(&json!({"status": "suspicious", "reason": "unusual pattern"}))
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await?);
    }

    // refused actions leave nothing: an unknown key, a bad status
    let r = st.send(Method::DELETE, &format!("/api/v1/public/api-keys/{}", uuid::Uuid::now_v7()), None, &[]).await;
    r.ok(404);
    let r = st.send(Method::PUT, &format!("/api/v1/public/wallets/{wallet}/compliance-status"), Some(json!({"status": "nonsense"})), &[]).await;
    r.ok(400);

    // the old key revokes the new one
    st.send(Method::DELETE, &format!("/api/v1/public/api-keys/{new_id}"), None, &[("X-Request-Id", "req-audit-3")]).await.ok(200);

    let page = events(&st, &st.key, "").await;
    let list = page["events"].as_array().unwrap();
    let find = |action: &str| -> Vec<&Value> { list.iter().filter(|e| e["action"] == action).collect() };
    // newest first
    assert_eq!(list[0]["action"], "api_key.revoked", "{page}");
    let revoked = find("api_key.revoked");
    assert_eq!(revoked.len(), 1, "{page}");
    assert_eq!(revoked[0]["objectId"], new_id.as_str());
    assert_eq!(revoked[0]["credential"], format!("api_key:{main_key_id}"));
    assert_eq!(revoked[0]["requestId"], "req-audit-3");
    let changed = find("wallet.compliance_status_changed");
    assert_eq!(changed.len(), 1, "a replay records nothing: {page}");
    assert_eq!(changed[0]["credential"], format!("bearer:{new_id}"));
    assert_eq!(changed[0]["requestId"], "req-audit-2");
    assert_eq!(changed[0]["objectId"], wallet.as_str());
    assert_eq!(changed[0]["detail"]["complianceStatus"], "suspicious", "{page}");
    let made = find("api_key.created");
    let made: Vec<_> = made.iter().filter(|e| e["objectId"] == new_id.as_str()).collect();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["requestId"], "req-audit-1");
    assert!(made[0]["detail"].get("apiKey").is_none() && !made[0]["detail"].to_string().contains(&new_key[4..]), "no secret in the trail");
    assert_eq!(find("tenant.created")[0]["credential"], "cli");
    assert!(!find("user.updated").is_empty(), "the KYC change of the wallet's user: {page}");
    // every event carries a request id when it came through the API (one was generated)
    for e in list.iter().filter(|e| e["credential"] != "cli") {
        assert!(e["requestId"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
    }

    // paging: newest first, `before` continues
    let first = events(&st, &st.key, "?limit=2").await;
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    let before = first["nextBefore"].as_i64().expect("nextBefore");
    let next = events(&st, &st.key, &format!("?limit=2&before={before}")).await;
    assert!(next["events"][0]["id"].as_i64().unwrap() < before);
    let only = events(&st, &st.key, "?action=api_key.revoked").await;
    assert_eq!(actions(&only), vec!["api_key.revoked"]);
    let r = st.get("/api/v1/public/audit-events?limit=0").await;
    r.ok(400);

    // a read or write key may not read the trail; another tenant sees only its own
    let (_, writer) = emledger_api::create_api_key(&st.pool, st.client_id, "w", &[emledger_api::Scope::Read, emledger_api::Scope::Write]).await?;
    let r = st.http.get(format!("{}/api/v1/public/audit-events", st.base)).header("X-API-Key", &writer).send().await?;
    assert_eq!(r.status().as_u16(), 403);
    let (other, other_key) = emledger_api::create_tenant(&st.pool, "other", "anvil-local").await?;
    let theirs = events(&st, &other_key, "").await;
    for e in theirs["events"].as_array().unwrap() {
        assert_eq!(e["clientId"], other.to_string(), "{theirs}");
    }
    assert_eq!(actions(&theirs), vec!["api_key.created", "tenant.created"]);

    // the operator imports a bank statement: recorded with the operator's credential
    let xml = camt054(&[Credit::new("AUDIT-1", BANK_IBAN, "1.00")]);
    let r = st
        .http
        .post(format!("{}/api/v1/operator/bank/statements?name=audit.xml", st.base))
        .bearer_auth(OPERATOR_TOKEN)
        .header("X-Request-Id", "req-audit-4")
        .body(xml)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await?);
    let all = st.operator_get("/api/v1/operator/audit-events").await;
    let import = &all["events"][0];
    assert_eq!(import["action"], "bank.statement_imported", "{all}");
    assert_eq!(import["credential"], "operator");
    assert_eq!(import["requestId"], "req-audit-4");
    assert!(import["clientId"].is_null());
    // the operator sees every tenant's; `clientId` narrows
    let tenants: std::collections::HashSet<String> = all["events"].as_array().unwrap().iter().filter_map(|e| e["clientId"].as_str().map(str::to_owned)).collect();
    assert!(tenants.contains(&st.client_id.to_string()) && tenants.contains(&other.to_string()), "{all}");
    let narrowed = st.operator_get(&format!("/api/v1/operator/audit-events?clientId={other}")).await;
    assert_eq!(actions(&narrowed), vec!["api_key.created", "tenant.created"]);
    // tenants cannot reach the operator's view
    let r = st.get("/api/v1/operator/audit-events").await;
    r.ok(401);

    // never editable: the database refuses UPDATE, DELETE and TRUNCATE
    for sql in ["UPDATE audit_events SET action = 'nothing'", "DELETE FROM audit_events", "TRUNCATE audit_events"] {
        let e = sqlx::query(sql).execute(&st.pool).await.expect_err(sql);
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM audit_events WHERE action = 'api_key.revoked'").fetch_one(&st.pool).await?;
    assert_eq!(count, 1);
    Ok(())
}
