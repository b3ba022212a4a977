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
pub struct DemoArgs {
    /// Rows per list.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}
