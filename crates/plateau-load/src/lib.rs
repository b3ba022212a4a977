//! Bounded load for `plateau repro`: an HTTP/1.1 load generator (keep-alive connections, a
//! constant request rate or a closed loop, hard bounds on requests and time) and a runner for an
//! external load command (`wrk`, `hey`, a script) that is killed with its whole process group.
//!
//! This crate owns *making traffic*: URLs and request specs ([`plan`], [`reqfile`]), the loopback
//! safety rule ([`Target::resolve`]), the event loop ([`run`]), latency statistics
//! ([`Histogram`]) and process-group supervision of load commands ([`run_command`]). It must not
//! know about heaps, leaks, memory samples or output formats: it returns plain numbers
//! ([`LoadReport`], [`CommandReport`]) and reports progress through a callback; it never prints.
//! Phases (warm-up, rounds, cool-down) are the caller's: call [`run`] once per phase; each call
//! opens its own connections (a thread or two and `connections` connects: a few milliseconds on
//! loopback) and returns numbers for that phase only, with a [`Histogram`] to merge phases.
//!
//! # Safety rule
//! Load goes to loopback targets only (127.0.0.0/8, `::1`, or a name that resolves only to those)
//! unless the plan says `allow_remote`. The check happens before any connection is made.
//!
//! # Example
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use std::time::Duration;
//! use plateau_load::{LoadPlan, run};
//!
//! let mut plan = LoadPlan::from_url("http://127.0.0.1:8080/api/items", false)?;
//! plan.connections = 16;
//! plan.max_requests = Some(10_000);
//! plan.max_duration = Some(Duration::from_secs(30));
//! let cancel = AtomicBool::new(false);
//! let report = run(&plan, &cancel, &mut |p| eprintln!("{} sent", p.requests_sent))?;
//! println!("{:.0} req/s, p99 {:?}", report.rps, report.latency.p99);
//! # Ok::<(), plateau_load::LoadError>(())
//! ```

mod command;
mod engine;
mod error;
mod histogram;
mod http;
pub mod plan;
pub mod reqfile;

pub use command::{run_command, CommandReport, CommandStop};
pub use engine::{run, ErrorCounts, LatencySummary, LoadProgress, LoadReport, StopReason};
pub use error::LoadError;
pub use histogram::Histogram;
pub use plan::{LoadPlan, RequestSpec, Target, Url};
pub use reqfile::{parse_requests, read_requests_file};
