//! Shared pieces of the end-to-end tests: a real stack (anvil, Postgres, the
//! `emledger` binary) and a model-based workload of contract calls.

pub mod stack;
pub mod tls;
pub mod workload;
