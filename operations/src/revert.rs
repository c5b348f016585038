//! Readable, storable reasons for failed contract calls: EmToken's and
//! OpenZeppelin's custom errors by name, `Error(string)`, `Panic(uint256)`, and
//! anything else as a short hex excerpt. What comes out never contains control
//! characters (Postgres refuses NUL in text) and is at most [`MAX_REASON`] characters.

use alloy::{
    sol_types::{SolInterface, decode_revert_reason},
    transports::{RpcError, TransportErrorKind},
};
use emledger_contracts::EmToken::EmTokenErrors;

/// Longest reason stored (characters).
pub const MAX_REASON: usize = 300;

/// Turns revert data into a reason a person can read.
pub fn describe(data: &[u8]) -> String {
    if data.is_empty() {
        return "reverted without a reason".into();
    }
    if let Ok(e) = EmTokenErrors::abi_decode(data) {
        // `Name(Name { field: value, .. })` → `Name { field: value, .. }`
        let debug = format!("{e:?}");
        let inner = debug
            .split_once('(')
            .and_then(|(name, rest)| rest.strip_suffix(')').filter(|r| r.starts_with(name)))
            .map(str::to_owned)
            .unwrap_or(debug);
        return sanitize(&inner);
    }
    const ERROR_STRING: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    const PANIC: [u8; 4] = [0x4e, 0x48, 0x7b, 0x71];
    if data.starts_with(&ERROR_STRING) || data.starts_with(&PANIC) {
        if let Some(r) = decode_revert_reason(data) {
            return sanitize(r.strip_prefix("revert: ").unwrap_or(&r));
        }
    }
    if data.len() >= 4 && (data.len() - 4) % 32 == 0 {
        // an ABI-encoded error (selector + words) that no known ABI names
        return format!("reverted with an unknown error 0x{} ({} bytes)", hex::encode(&data[..4]), data.len());
    }
    match std::str::from_utf8(data) {
        Ok(s) if !s.trim().is_empty() && s.chars().all(|c| !c.is_control() || c == '\n') => sanitize(s),
        _ => format!("reverted with undecodable data 0x{}{} ({} bytes)", hex::encode(&data[..data.len().min(16)]), if data.len() > 16 { "…" } else { "" }, data.len()),
    }
}

/// Drops control characters (NUL included), collapses whitespace, caps the length.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_REASON));
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() || c == '\u{fffd}' {
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
        if out.chars().count() >= MAX_REASON {
            out.push('…');
            break;
        }
    }
    if out.is_empty() { "reverted without a readable reason".into() } else { out }
}

/// The reason of a JSON-RPC error, if the error is a revert (`None`: a transport
/// or node error, worth retrying).
pub fn of_rpc_error(e: &RpcError<TransportErrorKind>) -> Option<String> {
    if let RpcError::ErrorResp(p) = e {
        if let Some(data) = p.as_revert_data() {
            return Some(describe(&data));
        }
        let m = p.message.to_lowercase();
        if m.contains("revert") {
            let msg = p.message.to_string();
            return Some(sanitize(msg.strip_prefix("execution reverted: ").unwrap_or(&msg)));
        }
    }
    None
}

/// A non-revert error, made storable.
pub fn of_error(e: &dyn std::fmt::Display) -> String {
    sanitize(&e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{Address, U256},
        sol_types::{Revert, SolError},
    };
    use emledger_contracts::EmToken;

    #[test]
    fn custom_errors_by_name() {
        let data = EmToken::ERC20InsufficientBalance { sender: Address::ZERO, balance: U256::from(5), needed: U256::from(10) }.abi_encode();
        let r = describe(&data);
        assert!(r.starts_with("ERC20InsufficientBalance {"), "{r}");
        assert!(r.contains("needed: 10"), "{r}");
        let data = EmToken::ERC20InvalidReceiver { receiver: Address::ZERO }.abi_encode();
        assert!(describe(&data).starts_with("ERC20InvalidReceiver"), "{}", describe(&data));
    }

    #[test]
    fn require_strings_and_panics() {
        let data = Revert::from("Recipient account is frozen").abi_encode();
        assert_eq!(describe(&data), "Recipient account is frozen");
        let panic = alloy::sol_types::Panic { code: U256::from(0x11) }.abi_encode();
        assert!(describe(&panic).to_lowercase().contains("overflow"), "{}", describe(&panic));
    }

    #[test]
    fn binary_and_nul_data_never_leak_control_characters() {
        for data in [vec![0u8; 3], vec![0, 0xff, 0, 1, 2], vec![0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], b"bad\0string\x07".to_vec(), vec![]] {
            let r = describe(&data);
            assert!(!r.is_empty() && !r.chars().any(|c| c.is_control()), "{r:?}");
        }
        // Error(string) whose string holds NUL bytes
        let data = Revert::from("a\0b\0\0c").abi_encode();
        assert_eq!(describe(&data), "abc");
        assert!(sanitize(&"x".repeat(1000)).chars().count() <= MAX_REASON + 1);
    }
}
