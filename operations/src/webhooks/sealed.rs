//! Webhook signing secrets at rest. The platform must keep them readable (it
//! signs every delivery with them), so they cannot be hashed like API key
//! secrets; with `--secrets-key` they are sealed with AES-256-GCM under that key
//! before they are stored (`sealed:v1:<hex nonce ‖ ciphertext ‖ tag>`), bound to
//! their endpoint's id, so a database dump or a backup alone does not give a
//! tenant's receiver-side secret away, nor can a sealed value be moved to another
//! endpoint. Without the key they are stored as they are (and the API says so
//! at start). Values stored before a key was given are sealed when an API
//! process starts with one ([`seal_stored`]).

use std::sync::{Arc, RwLock};

use ring::{
    aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN},
    rand::{SecureRandom, SystemRandom},
};
use sqlx::PgPool;
use uuid::Uuid;

const PREFIX: &str = "sealed:v1:";

/// The key secrets are sealed with (32 bytes).
pub struct SealKey(LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(…)")
    }
}

impl SealKey {
    /// 64 hex digits (32 bytes), e.g. from `openssl rand -hex 32`.
    pub fn from_hex(hex_key: &str) -> Result<Self, String> {
        let hex_key = hex_key.trim();
        let bytes = hex::decode(hex_key.strip_prefix("0x").unwrap_or(hex_key)).map_err(|_| "must be 64 hex digits (32 bytes)".to_owned())?;
        if bytes.len() != 32 {
            return Err(format!("must be 64 hex digits (32 bytes), got {} bytes", bytes.len()));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| "not an AES-256 key".to_owned())?;
        Ok(Self(LessSafeKey::new(key)))
    }
}

static KEY: RwLock<Option<Arc<SealKey>>> = RwLock::new(None);

/// The key this process seals and opens with (`None`: secrets stored as they are).
pub fn set_key(key: Option<SealKey>) {
    *KEY.write().unwrap_or_else(|e| e.into_inner()) = key.map(Arc::new);
}

pub fn key() -> Option<Arc<SealKey>> {
    KEY.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `secret` sealed for endpoint `endpoint`.
pub fn seal(key: &SealKey, endpoint: Uuid, secret: &str) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).expect("the system's random source");
    let mut data = secret.as_bytes().to_vec();
    key.0
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(endpoint.as_bytes()), &mut data)
        .expect("AES-GCM seals any length a secret has");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    format!("{PREFIX}{}", hex::encode(out))
}

/// What to store for `secret` of endpoint `endpoint` with this process's key.
pub fn for_storage(endpoint: Uuid, secret: &str) -> String {
    match key() {
        Some(k) => seal(&k, endpoint, secret),
        None => secret.to_owned(),
    }
}

/// The secret a stored value holds: sealed ones are opened with `key`, others
/// (stored without a key) are the secret itself. An error says why it cannot be
/// read (no key, another key, a damaged value).
pub fn open(key: Option<&SealKey>, endpoint: Uuid, stored: &str) -> Result<String, String> {
    let Some(sealed) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_owned()) };
    let key = key.ok_or("the endpoint's signing secret is sealed and this process has no --secrets-key (EMLEDGER_SECRETS_KEY)")?;
    let bytes = hex::decode(sealed).map_err(|_| "the endpoint's sealed signing secret is damaged (not hex)".to_owned())?;
    if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err("the endpoint's sealed signing secret is damaged (too short)".into());
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce".to_owned())?;
    let mut data = rest.to_vec();
    let plain = key
        .0
        .open_in_place(nonce, Aad::from(endpoint.as_bytes()), &mut data)
        .map_err(|_| "the endpoint's signing secret does not open with this --secrets-key (sealed under another key, or damaged)".to_owned())?;
    String::from_utf8(plain.to_vec()).map_err(|_| "the endpoint's signing secret is not text".to_owned())
}

/// Seals the secrets of live endpoints stored without a key (before one was
/// given). One transaction; returns how many endpoints were sealed. Nothing to
/// do without a key.
pub async fn seal_stored(pool: &PgPool) -> crate::Result<u64> {
    let Some(key) = key() else { return Ok(0) };
    let mut tx = pool.begin().await?;
    let rows: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT id, secret, previous_secret FROM webhook_endpoints
         WHERE deleted_at IS NULL AND (secret NOT LIKE 'sealed:%' OR previous_secret NOT LIKE 'sealed:%')
         FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    let seal_plain = |id: Uuid, v: &str| if v.starts_with(PREFIX) { v.to_owned() } else { seal(&key, id, v) };
    for (id, secret, previous) in &rows {
        sqlx::query("UPDATE webhook_endpoints SET secret = $2, previous_secret = $3 WHERE id = $1")
            .bind(id)
            .bind(seal_plain(*id, secret))
            .bind(previous.as_deref().map(|p| seal_plain(*id, p)))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const K2: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_endpoint() {
        let (k1, k2) = (SealKey::from_hex(K1).unwrap(), SealKey::from_hex(K2).unwrap());
        let (e1, e2) = (Uuid::now_v7(), Uuid::now_v7());
        let secret = "whsec_0123456789abcdef";
        let stored = seal(&k1, e1, secret);
        assert!(stored.starts_with(PREFIX) && !stored.contains("0123456789abcdef"), "{stored}");
        assert_ne!(stored, seal(&k1, e1, secret), "a fresh nonce each time");
        assert_eq!(open(Some(&k1), e1, &stored).unwrap(), secret);
        assert!(open(Some(&k2), e1, &stored).unwrap_err().contains("another key"));
        assert!(open(Some(&k1), e2, &stored).unwrap_err().contains("another key"), "bound to its endpoint");
        assert!(open(None, e1, &stored).unwrap_err().contains("--secrets-key"));
        // one flipped bit of the ciphertext
        let mut damaged = stored.clone().into_bytes();
        let last = damaged.len() - 1;
        damaged[last] = if damaged[last] == b'0' { b'1' } else { b'0' };
        assert!(open(Some(&k1), e1, std::str::from_utf8(&damaged).unwrap()).is_err());
        assert!(open(Some(&k1), e1, "sealed:v1:00").unwrap_err().contains("damaged"));
        // stored without a key: the value is the secret
        assert_eq!(open(Some(&k1), e1, secret).unwrap(), secret);
        assert_eq!(open(None, e1, secret).unwrap(), secret);
    }

    #[test]
    fn keys_are_64_hex_digits() {
        assert!(SealKey::from_hex(K1).is_ok());
        assert!(SealKey::from_hex(&format!("0x{K1}\n")).is_ok());
        assert!(SealKey::from_hex("abcd").unwrap_err().contains("32 bytes"));
        assert!(SealKey::from_hex(&"zz".repeat(32)).is_err());
        assert_eq!(format!("{:?}", SealKey::from_hex(K1).unwrap()), "SealKey(…)");
    }
}
