//! Tenants (seed 003's "clients") and their API keys.
//!
//! A key reads `eml_<prefix>_<secret>`: the prefix (12 hex digits) is stored in
//! clear to find the row, the secret (64 hex digits) only as its SHA-256, compared
//! in constant time. The full key is shown once, when created.

use anyhow::Context;
use rand::RngCore;
use sha2::{Digest, Sha256};
use emledger_operations::audit::{self, Action, Actor};
use sqlx::{PgConnection, PgPool};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// GET endpoints.
    Read,
    /// Creating and changing users, wallets, favourites.
    Write,
    /// KYC level / user status changes, API key management.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A key as stored, found by prefix.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredKey {
    pub id: Uuid,
    pub client_id: Uuid,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<String>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A verified key: whose it is and what it may do.
#[derive(Debug, Clone)]
pub(crate) struct KeyIdentity {
    pub key_id: Uuid,
    pub client_id: Uuid,
    pub scopes: Vec<Scope>,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Splits `eml_<prefix>_<secret>`; `None` when it does not have that shape.
pub(crate) fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("eml_")?;
    let (prefix, secret) = rest.split_once('_')?;
    let hexy = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hexy(prefix, 12) && hexy(secret, 64)).then_some((prefix, secret))
}

/// Looks a presented key up; `None` for unknown, malformed, wrong or revoked keys.
pub(crate) async fn verify_api_key(pool: &PgPool, key: &str) -> anyhow::Result<Option<KeyIdentity>> {
    let Some((prefix, secret)) = split_key(key) else { return Ok(None) };
    let row: Option<StoredKey> = sqlx::query_as(
        "SELECT id, client_id, secret_hash, scopes, revoked_at FROM api_keys WHERE prefix = $1",
    )
    .bind(prefix)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let presented = Sha256::digest(secret.as_bytes());
    let matches: bool = presented[..].ct_eq(row.secret_hash.as_slice()).into();
    if !matches || row.revoked_at.is_some() {
        return Ok(None);
    }
    Ok(Some(KeyIdentity {
        key_id: row.id,
        client_id: row.client_id,
        scopes: row.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
    }))
}

/// Whether `key` is a live (unrevoked) key of `client_id`.
pub async fn api_key_is_live(pool: &PgPool, client_id: Uuid, key: &str) -> anyhow::Result<bool> {
    Ok(verify_api_key(pool, key).await?.is_some_and(|k| k.client_id == client_id))
}

/// Creates an API key for `client_id` with `scopes` from the command line (or a
/// test); returns its id and the full key (shown once: only its hash is kept).
pub async fn create_api_key(pool: &PgPool, client_id: Uuid, name: &str, scopes: &[Scope]) -> anyhow::Result<(Uuid, String)> {
    let mut tx = pool.begin().await?;
    let made = create_api_key_on(&mut tx, &Actor::cli(Some(client_id)), client_id, name, scopes).await?;
    tx.commit().await?;
    Ok(made)
}

/// Creates an API key on `conn` (the caller's transaction), with its audit event.
pub async fn create_api_key_on(
    conn: &mut PgConnection,
    actor: &Actor,
    client_id: Uuid,
    name: &str,
    scopes: &[Scope],
) -> anyhow::Result<(Uuid, String)> {
    let id = Uuid::now_v7();
    let prefix = random_hex(6);
    let secret = random_hex(32);
    let hash = Sha256::digest(secret.as_bytes()).to_vec();
    let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    sqlx::query(
        "INSERT INTO api_keys (id, client_id, name, prefix, secret_hash, scopes) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(client_id)
    .bind(name)
    .bind(&prefix)
    .bind(hash)
    .bind(&scopes)
    .execute(&mut *conn)
    .await
    .context("storing the API key")?;
    let detail = serde_json::json!({"name": name, "prefix": prefix, "scopes": scopes});
    audit::record(conn, actor, Some(client_id), Action { action: "api_key.created", object_type: "api_key", object_id: id.to_string(), detail }).await?;
    Ok((id, format!("eml_{prefix}_{secret}")))
}

/// Revokes a key of `client_id` from the command line (or a test); `false` when
/// there is no such (unrevoked) key.
pub async fn revoke_api_key(pool: &PgPool, client_id: Uuid, key_id: Uuid) -> anyhow::Result<bool> {
    let mut tx = pool.begin().await?;
    let done = revoke_api_key_on(&mut tx, &Actor::cli(Some(client_id)), client_id, key_id).await?;
    tx.commit().await?;
    Ok(done)
}

/// Revokes a key on `conn` (the caller's transaction), with its audit event.
pub async fn revoke_api_key_on(conn: &mut PgConnection, actor: &Actor, client_id: Uuid, key_id: Uuid) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND client_id = $2 AND revoked_at IS NULL",
    )
    .bind(key_id)
    .bind(client_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    let what = Action { action: "api_key.revoked", object_type: "api_key", object_id: key_id.to_string(), detail: serde_json::json!({}) };
    audit::record(conn, actor, Some(client_id), what).await?;
    Ok(true)
}

/// Creates a tenant and its first API key (scopes read, write, admin). Returns
/// the tenant's `clientId` and the key, which is shown only this once.
pub async fn create_tenant(pool: &PgPool, alias: &str, dlt_network: &str) -> anyhow::Result<(Uuid, String)> {
    let alias = alias.trim();
    anyhow::ensure!(!alias.is_empty() && alias.len() <= 200, "the tenant alias must have 1 to 200 characters");
    let client_id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO clients (id, alias, dlt_network) VALUES ($1, $2, $3)")
        .bind(client_id)
        .bind(alias)
        .bind(dlt_network)
        .execute(&mut *tx)
        .await
        .context("storing the tenant")?;
    let actor = Actor::cli(Some(client_id));
    let detail = serde_json::json!({"alias": alias, "dltNetwork": dlt_network});
    audit::record(&mut tx, &actor, Some(client_id), Action { action: "tenant.created", object_type: "tenant", object_id: client_id.to_string(), detail }).await?;
    let (_, key) = create_api_key_on(&mut tx, &actor, client_id, "first key", &Scope::ALL).await?;
    tx.commit().await?;
    Ok((client_id, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape() {
        let k = format!("eml_{}_{}", "a".repeat(12), "b".repeat(64));
        assert!(split_key(&k).is_some());
        assert!(split_key("eml_x_y").is_none());
        assert!(split_key("").is_none());
    }
}
