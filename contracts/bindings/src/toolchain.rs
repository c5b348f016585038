//! Where the pinned toolchain lives. `scripts/setup` installs the npm packages
//! named in `package.json` into `node_modules/`; the binaries are inside them.
//! `EMLEDGER_HOME` overrides the project root (e.g. for an installed binary).

use std::path::PathBuf;

/// The project root: `EMLEDGER_HOME`, else the checkout this crate was built in.
pub fn project_root() -> PathBuf {
    if let Some(home) = std::env::var_os("EMLEDGER_HOME") {
        return PathBuf::from(home);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    })
}

fn foundry_binary(tool: &str) -> PathBuf {
    let var = format!("EMLEDGER_{}", tool.to_uppercase());
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    project_root().join(format!("node_modules/@foundry-rs/{tool}-linux-amd64/bin/{tool}"))
}

/// The pinned `anvil` binary (`EMLEDGER_ANVIL` overrides).
pub fn anvil() -> PathBuf {
    foundry_binary("anvil")
}

/// The pinned `cast` binary (`EMLEDGER_CAST` overrides).
pub fn cast() -> PathBuf {
    foundry_binary("cast")
}
