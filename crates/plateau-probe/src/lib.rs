//! Where memory numbers come from: `/proc/PID`, cgroup v1 and v2 controllers, a Prometheus
//! `/metrics` endpoint, and GC logs (Node `--trace-gc`, JVM `-Xlog:gc`, Go `gctrace`); and the
//! series store that records them (`store`: append-only JSON lines, also reads plain CSV).
//! `capture` takes heap dumps of running services without code changes: a V8 snapshot through
//! Node's inspector, an HPROF dump through `jcmd`, a `tracemalloc` snapshot through a signal
//! handler plateau installs, a pprof profile over HTTP.
//!
//! This crate reads the outside world and returns plain readings. It must not know what a leak
//! is (that is `plateau-analysis`), nor how anything is shown (that is `plateau-report`).

pub mod capture;
pub mod cgroup;
pub mod gclog;
pub mod procfs;
pub mod prometheus;
pub mod sampler;

pub mod store;
