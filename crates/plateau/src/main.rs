//! The `plateau` command: arguments in, findings out, and an exit code that scripts can trust
//! (0 fine, 1 leak found, 2 could not run). Algorithms live in the library crates.

mod allocator;
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
    allocator::tune();
    let args = cli::Args::parse();
    match commands::run(args) {
        Ok(Outcome::Fine) => ExitCode::from(0),
        Ok(Outcome::LeakFound) => ExitCode::from(1),
        Err(err) => {
            // A closed pipe (`plateau analyze x | head`) is not a failure.
            let broken_pipe = err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>().map(std::io::Error::kind)
                    == Some(std::io::ErrorKind::BrokenPipe)
                    || e.downcast_ref::<serde_json::Error>()
                        .and_then(serde_json::Error::io_error_kind)
                        == Some(std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::from(0);
            }
            // One line: the message and its causes, each said once (library errors often
            // embed their source already).
            let mut line = format!("plateau: error: {err}");
            for cause in err.chain().skip(1) {
                let cause = cause.to_string();
                if !line.contains(&cause) {
                    line.push_str(": ");
                    line.push_str(&cause);
                }
            }
            let _ = writeln!(std::io::stderr().lock(), "{line}");
            ExitCode::from(2)
        }
    }
}
