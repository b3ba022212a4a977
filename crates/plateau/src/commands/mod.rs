mod analyze;
mod demo;

use crate::cli::{Args, Command};
use crate::Outcome;

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.command {
        Command::Analyze(a) => analyze::run(&a),
        Command::Demo(a) => demo::run(&a),
    }
}
