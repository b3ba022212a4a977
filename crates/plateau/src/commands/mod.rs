mod analyze;
mod check;
mod classify;
mod compare;
mod demo;
mod diff;
mod profile;
mod repro;

pub use repro::Runtime;
mod watch;

use crate::cli::{Args, Command};
use crate::Outcome;

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.command {
        Command::Analyze(a) => analyze::run(&a),
        Command::Diff(a) => diff::run(&a),
        Command::Classify(a) => classify::run(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Watch(a) => watch::run(&a),
        Command::Repro(a) => repro::run(&a),
        Command::Compare(a) => compare::run(&a),
        Command::Check(a) => check::run(&a),
    }
}
