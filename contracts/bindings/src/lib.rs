//! Rust bindings for the EmToken contract, generated at build time from
//! `contracts/src` (see `build.rs`), plus deployment and the paths of the
//! pinned toolchain (anvil, cast) that the rest of the workspace spawns.

#![allow(clippy::too_many_arguments)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

pub mod deploy;
pub mod reads;
pub mod toolchain;

pub use deploy::{deploy_cross_ledger_link, deploy_em_token, Deployment, LinkDeployment, TokenParams};
