use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Find memory leaks: tell a leak from high-but-stable use, name what holds the memory, and
/// prove the fix plateaus.
#[derive(Parser, Debug)]
#[command(name = "plateau", version, about, max_term_width = 100)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// What holds the memory in one heap snapshot: totals, classes, top retainers with their
    /// paths from the GC roots, largest collections, duplicate strings.
    Analyze(AnalyzeArgs),
    /// Leak suspects from snapshots of one process taken over time: what grows, where it is
    /// held, how fast, which leak pattern it is and the usual fix. Exit 1 when a suspect is found.
    Diff(DiffArgs),
    /// Runs plateau on a bundled real example: snapshots of a small leaking Node.js service.
    Demo(DemoArgs),
}

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// A V8 `.heapsnapshot` (Node.js, Chrome), optionally gzipped.
    pub file: PathBuf,
    /// Rows per list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print one JSON document (schema_version 1) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Mask string contents and data-like property names (heap dumps hold secrets).
    #[arg(long)]
    pub redact: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// Snapshots, oldest first (baseline, after round 1, ...), or one directory of them.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Rows in the stable and growing-class lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print one JSON document (schema_version 1) instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Accept known leaks: a previous `plateau diff --json` output, or fingerprints one per line.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// A suspect grows by at least this many bytes per round.
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    pub min_growth: u64,
    /// Mask string contents and data-like property names.
    #[arg(long)]
    pub redact: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Rows per list.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}
