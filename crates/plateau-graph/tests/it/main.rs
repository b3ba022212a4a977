//! Integration tests of the graph engine against brute-force oracles.

mod dominators;
mod paths;
