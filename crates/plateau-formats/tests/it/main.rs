//! Integration tests of the V8 reader: hand-written snapshots for every error and layout,
//! DevTools semantics on small graphs, parity with the DevTools oracle on real fixtures, and
//! a stable-toolchain stand-in for the fuzz target.

mod common;
mod errors;
mod fuzz_smoke;
mod layouts;
#[path = "../support/mutate.rs"]
mod mutate;
mod parity;
mod semantics;
mod sniff;
mod strings;
