//! The load generator from the command line, for the benchmark (bench/load/run.sh) and for
//! trying it by hand:
//!
//! ```text
//! cargo run --release -p plateau-load --example load -- URL [CONNECTIONS] [SECONDS] [THREADS] [RATE]
//! ```
//! Defaults: 32 connections, 10 seconds, threads chosen by the library, closed loop. Prints a
//! wrk-like summary.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use plateau_load::{run, LoadPlan};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: load URL [CONNECTIONS] [SECONDS] [THREADS] [RATE]");
        std::process::exit(2);
    }
    let arg = |i: usize| args.get(i).filter(|a| !a.is_empty() && *a != "-");
    let mut plan = match LoadPlan::from_url(&args[0], false) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    plan.connections = arg(1).map_or(32, |c| c.parse().expect("CONNECTIONS"));
    plan.max_duration = Some(Duration::from_secs_f64(
        arg(2).map_or(10.0, |s| s.parse().expect("SECONDS")),
    ));
    plan.threads = arg(3).map_or(0, |t| t.parse().expect("THREADS"));
    plan.rate = arg(4).map(|r| r.parse().expect("RATE"));

    let cancel = AtomicBool::new(false);
    let report = match run(&plan, &cancel, &mut |_| {}) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let l = &report.latency;
    println!(
        "{} connections, {:.2?}: {} requests sent, {} responses, {:.1} MB read",
        plan.connections,
        report.duration,
        report.requests_sent,
        report.responses,
        report.bytes_received as f64 / 1e6
    );
    println!(
        "latency min {:?} p50 {:?} p90 {:?} p99 {:?} max {:?}",
        l.min, l.p50, l.p90, l.p99, l.max
    );
    println!("errors: {} {:?}", report.errors.total(), report.errors);
    println!("statuses: {:?}", report.statuses);
    println!("Requests/sec: {:.2}", report.rps);
}
