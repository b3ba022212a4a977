//! The `plateau` command: arguments in, findings out, and an exit code that scripts can trust
//! (0 fine, 1 leak found, 2 could not run). Algorithms live in the library crates.

mod cli;
mod commands;
mod load;
mod progress;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// How a command ended, mapped to the process exit code.
pub enum Outcome {
    /// Success, or no leak found.
    Fine,
    /// A check found a leak.
    LeakFound,
}

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match commands::run(args) {
        Ok(Outcome::Fine) => ExitCode::from(0),
        Ok(Outcome::LeakFound) => ExitCode::from(1),
        Err(err) => {
            // A closed pipe (`plateau analyze x | head`) is not a failure.
            if err
                .chain()
                .filter_map(|e| e.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::from(0);
            }
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "plateau: error: {err}");
            for cause in err.chain().skip(1) {
                let _ = write!(stderr, ": {cause}");
            }
            let _ = writeln!(stderr);
            ExitCode::from(2)
        }
    }
}
