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

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built `plateau` binary with `args`.
pub fn plateau(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(args)
        .env_remove("PLATEAU_TIMINGS")
        .output()
        .expect("the plateau binary runs")
}

/// A directory of the test's own, removed when dropped.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("plateau-test-")
        .tempdir()
        .expect("a temporary directory")
}

/// A file named `name` holding `bytes`, in a directory of its own; both are removed when
/// this is dropped.
pub struct ScratchFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl std::ops::Deref for ScratchFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

pub fn scratch_file(name: &str, bytes: &[u8]) -> ScratchFile {
    let dir = scratch_dir();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("a temporary file");
    ScratchFile { _dir: dir, path }
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
