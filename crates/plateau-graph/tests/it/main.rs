//! Integration tests of the graph engine against brute-force oracles.

// Brute-force oracles read best as plain index loops.
#![allow(clippy::needless_range_loop)]

mod dominators;
mod paths;
