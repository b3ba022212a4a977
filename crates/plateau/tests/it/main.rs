//! The `plateau` binary end to end: real fixtures in, reports and exit codes out.

mod analyze;
mod bad_input;
mod classify;
mod demo;
mod diff;
mod java;
mod profiles;
mod repro;
mod series_fixtures;
mod watch;

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the built `plateau` binary with `args`.
pub fn plateau(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(args)
        .env_remove("PLATEAU_TIMINGS")
        .output()
        .expect("the plateau binary runs")
}

/// A file under the workspace's `fixtures/`.
pub fn fixture(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(relative)
        .to_string_lossy()
        .into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
