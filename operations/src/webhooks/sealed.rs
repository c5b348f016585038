//! Webhook signing secrets at rest. The platform must keep them readable (it
//! signs every delivery with them), so they cannot be hashed like API key
//! secrets; with `--secrets-key` they are sealed with AES-256-GCM under that key
//! before they are stored (`sealed:v1:<hex nonce ‖ ciphertext ‖ tag>`), bound to
//! their endpoint's id, so a database dump or a backup alone does not give a
//! tenant's receiver-side secret away, nor can a sealed value be moved to another
//! endpoint. Without the key they are stored as they are (and the API says so
//! at start). Values stored before a key was given are sealed when an API
//! process starts with one ([`seal_stored`]).
//!
//! Rotation: `--secrets-key-previous` names the key being replaced. A process
//! opens with either key and seals with `--secrets-key` only; at start it
//! re-seals under `--secrets-key` every value that opens only with the previous
//! one. The rolling change of a deployment's key is two steps: every process
//! with `--secrets-key OLD --secrets-key-previous NEW` (all can open what the
//! next step seals), then every process with `--secrets-key NEW
//! --secrets-key-previous OLD` (re-seals), after which the previous key can go.

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

/// The keys of this process: it seals with `current` and opens with either.
#[derive(Debug)]
pub struct Keys {
    pub current: SealKey,
    /// The key being rotated out (`--secrets-key-previous`).
    pub previous: Option<SealKey>,
}

static KEYS: RwLock<Option<Arc<Keys>>> = RwLock::new(None);

/// The key this process seals and opens with (`None`: secrets stored as they are).
pub fn set_key(key: Option<SealKey>) {
    set_keys(key.map(|current| Keys { current, previous: None }));
}

/// This process's keys (`None`: secrets stored as they are).
pub fn set_keys(keys: Option<Keys>) {
    *KEYS.write().unwrap_or_else(|e| e.into_inner()) = keys.map(Arc::new);
}

pub fn keys() -> Option<Arc<Keys>> {
    KEYS.read().unwrap_or_else(|e| e.into_inner()).clone()
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
    match keys() {
        Some(k) => seal(&k.current, endpoint, secret),
        None => secret.to_owned(),
    }
}

/// The secret a stored value holds: sealed ones are opened with `keys` (the
/// current key, else the previous one), others (stored without a key) are the
/// secret itself. An error says why it cannot be read (no key, another key, a
/// damaged value).
pub fn open(keys: Option<&Keys>, endpoint: Uuid, stored: &str) -> Result<String, String> {
    let Some(keys) = keys else {
        return match stored.strip_prefix(PREFIX) {
            Some(_) => Err("the endpoint's signing secret is sealed and this process has no --secrets-key (EMLEDGER_SECRETS_KEY)".into()),
            None => Ok(stored.to_owned()),
        };
    };
    open_keys(keys, endpoint, stored).map(|(secret, _)| secret)
}

/// `stored` opened with the current key, else the previous one: the secret, and
/// whether the current key opened it.
fn open_keys(keys: &Keys, endpoint: Uuid, stored: &str) -> Result<(String, bool), String> {
    match (open_with(&keys.current, endpoint, stored), &keys.previous) {
        (Err(Unopened::OtherKey), Some(previous)) => open_with(previous, endpoint, stored).map(|s| (s, false)).map_err(|e| e.reason(true)),
        (other, _) => other.map(|s| (s, true)).map_err(|e| e.reason(false)),
    }
}

/// Why a sealed value did not open.
#[derive(Debug, PartialEq)]
enum Unopened {
    Damaged(&'static str),
    OtherKey,
}

impl Unopened {
    fn reason(&self, tried_previous: bool) -> String {
        match self {
            Self::Damaged(why) => format!("the endpoint's sealed signing secret is damaged ({why})"),
            Self::OtherKey if tried_previous => {
                "the endpoint's signing secret opens neither with this --secrets-key nor with --secrets-key-previous (sealed under another key, or damaged)".into()
            }
            Self::OtherKey => "the endpoint's signing secret does not open with this --secrets-key (sealed under another key, or damaged)".into(),
        }
    }
}

/// `stored` opened with `key` (a value without the prefix is the secret itself).
fn open_with(key: &SealKey, endpoint: Uuid, stored: &str) -> Result<String, Unopened> {
    let Some(sealed) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_owned()) };
    let bytes = hex::decode(sealed).map_err(|_| Unopened::Damaged("not hex"))?;
    if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(Unopened::Damaged("too short"));
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unopened::Damaged("bad nonce"))?;
    let mut data = rest.to_vec();
    let plain = key.0.open_in_place(nonce, Aad::from(endpoint.as_bytes()), &mut data).map_err(|_| Unopened::OtherKey)?;
    String::from_utf8(plain.to_vec()).map_err(|_| Unopened::Damaged("not text"))
}

/// What to store instead of `stored` so that it is sealed under `keys.current`
/// (`None`: it already is, or it opens with neither key and is left as it is).
fn resealed(keys: &Keys, endpoint: Uuid, stored: &str) -> Option<String> {
    if !stored.starts_with(PREFIX) {
        return Some(seal(&keys.current, endpoint, stored));
    }
    match open_keys(keys, endpoint, stored) {
        Ok((secret, false)) => Some(seal(&keys.current, endpoint, &secret)),
        _ => None,
    }
}

/// Seals under the current key the secrets of live endpoints stored without a
/// key (before one was given) and, with a previous key, those sealed under it.
/// One transaction; returns how many endpoints changed. Nothing to do without a
/// key. A value that opens with neither key is left as it is (its endpoint's
/// deliveries fail with the reason).
pub async fn seal_stored(pool: &PgPool) -> crate::Result<u64> {
    let Some(keys) = keys() else { return Ok(0) };
    let mut tx = pool.begin().await?;
    // without a previous key only the unsealed values can change
    let rows: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT id, secret, previous_secret FROM webhook_endpoints
         WHERE deleted_at IS NULL AND ($1 OR secret NOT LIKE 'sealed:%' OR previous_secret NOT LIKE 'sealed:%')
         FOR UPDATE",
    )
    .bind(keys.previous.is_some())
    .fetch_all(&mut *tx)
    .await?;
    let mut changed = 0;
    for (id, secret, previous) in &rows {
        let new_secret = resealed(&keys, *id, secret);
        let new_previous = previous.as_deref().and_then(|p| resealed(&keys, *id, p));
        if new_secret.is_none() && new_previous.is_none() {
            continue;
        }
        sqlx::query("UPDATE webhook_endpoints SET secret = $2, previous_secret = $3 WHERE id = $1")
            .bind(id)
            .bind(new_secret.as_deref().unwrap_or(secret))
            .bind(new_previous.as_deref().or(previous.as_deref()))
            .execute(&mut *tx)
            .await?;
        changed += 1;
    }
    tx.commit().await?;
    Ok(changed)
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
        let (k1, k2) = (only(k1), only(k2));
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
        assert!(open(Some(&k1), e1, "sealed:v1:zz").unwrap_err().contains("not hex"));
        // stored without a key: the value is the secret
        assert_eq!(open(Some(&k1), e1, secret).unwrap(), secret);
        assert_eq!(open(None, e1, secret).unwrap(), secret);
    }

    fn only(current: SealKey) -> Keys {
        Keys { current, previous: None }
    }

    #[test]
    fn a_rotated_key_opens_with_the_previous_one_and_reseals_under_the_current() {
        let (old, new) = (SealKey::from_hex(K1).unwrap(), SealKey::from_hex(K2).unwrap());
        let e = Uuid::now_v7();
        let secret = "whsec_rotate";
        let under_old = seal(&old, e, secret);
        let under_new = seal(&new, e, secret);
        let rotating = Keys { current: new, previous: Some(old) };
        assert_eq!(open(Some(&rotating), e, &under_old).unwrap(), secret);
        assert_eq!(open(Some(&rotating), e, &under_new).unwrap(), secret);
        // re-sealed: what was under the old key opens with the new one alone
        let again = resealed(&rotating, e, &under_old).expect("re-sealed");
        let new_only = only(SealKey::from_hex(K2).unwrap());
        assert_eq!(open(Some(&new_only), e, &again).unwrap(), secret);
        assert!(open(Some(&only(SealKey::from_hex(K1).unwrap())), e, &again).is_err());
        assert_eq!(resealed(&rotating, e, &under_new), None, "already under the current key");
        assert!(resealed(&rotating, e, secret).is_some(), "stored without a key");
        // under a third key: opens with neither, left as it is, and the error names both flags
        let third = SealKey::from_hex(&"ab".repeat(32)).unwrap();
        let foreign = seal(&third, e, secret);
        assert_eq!(resealed(&rotating, e, &foreign), None);
        assert!(open(Some(&rotating), e, &foreign).unwrap_err().contains("--secrets-key-previous"));
        // without a previous key a value under another one is not touched
        assert_eq!(resealed(&new_only, e, &under_old), None);
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
