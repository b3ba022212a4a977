use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that stops a load run or a load command from starting (or, for IO set-up, from
/// going on). Errors *during* a run (a reset connection, a 500) are not `LoadError`s: they are
/// counted in the report.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error(
        "https is not supported; plateau-load speaks plain HTTP/1.1 only: point it at the \
         service's plain-HTTP port, or use a load command with a TLS-capable tool ({url})"
    )]
    HttpsUnsupported { url: String },

    #[error("could not resolve {host:?}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "refusing to send load to {host} ({addr}): not a loopback address; allow remote targets \
         explicitly (--allow-remote) to load a service on another host"
    )]
    RemoteTarget { host: String, addr: SocketAddr },

    #[error("invalid load plan: {0}")]
    InvalidPlan(String),

    #[error("{file}:{line}: {message}")]
    RequestsFile {
        file: String,
        line: usize,
        message: String,
    },

    #[error("could not read {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("could not start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
}
