//! The load loop: keep-alive connections driven by `mio` (epoll) on one or two threads.
//!
//! Requests are numbered by a shared ticket counter: a connection that is free takes the next
//! ticket, which is how `max_requests` is never exceeded (a ticket is taken just before its
//! request is written, and tickets past the bound are never taken) and how a constant rate is
//! kept (ticket `k` may not be taken before `start + k / rate`). Each thread owns its
//! connections, counts into its own tally and histogram, and hands them back at the end; the
//! calling thread only watches the clock, the cancel flag and the progress counters.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::histogram::Histogram;
use crate::http::{self, ResponseParser, Step, WireRequest};
use crate::{LoadError, LoadPlan};

/// The longest the loop sleeps before looking at the clock and the cancel flag again.
const TICK: Duration = Duration::from_millis(50);
/// How often `on_progress` is called.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
const READ_BUF: usize = 16 * 1024;
const BACKOFF_FIRST: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(250);

/// Numbers so far, passed to the progress callback about every 100 ms and once at the end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadProgress {
    pub elapsed: Duration,
    pub requests_sent: u64,
    /// Complete responses, whatever their status.
    pub responses: u64,
    /// Failed requests, failed connects and non-2xx responses.
    pub errors: u64,
    pub bytes_received: u64,
}

/// Errors by kind. Connect errors (`connect_*`) cost no request; request errors (`reset` to
/// `io_other`) each lost one sent request; `non_2xx` responses are complete responses, also
/// counted by status in [`LoadReport::statuses`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// The target refused the connection (nothing listening).
    pub connect_refused: u64,
    /// Connecting took longer than the plan's timeout.
    pub connect_timeout: u64,
    /// Any other connect failure (unreachable, no local ports left, ...), or the server
    /// closing a new connection before any request was sent on it.
    pub connect_other: u64,
    /// The connection was reset (or the pipe broke) while a request was in flight.
    pub reset: u64,
    /// The peer closed the connection before the response was complete.
    pub closed: u64,
    /// No complete response within the plan's timeout.
    pub timeout: u64,
    /// The response could not be parsed as HTTP/1.1.
    pub bad_response: u64,
    /// Any other IO error while a request was in flight.
    pub io_other: u64,
    /// Complete responses with a status outside 200..=299.
    pub non_2xx: u64,
}

impl ErrorCounts {
    /// Requests that were sent and got no complete response.
    pub fn failed_requests(&self) -> u64 {
        self.reset + self.closed + self.timeout + self.bad_response + self.io_other
    }

    pub fn connect_errors(&self) -> u64 {
        self.connect_refused + self.connect_timeout + self.connect_other
    }

    pub fn total(&self) -> u64 {
        self.failed_requests() + self.connect_errors() + self.non_2xx
    }

    fn add(&mut self, o: &ErrorCounts) {
        self.connect_refused += o.connect_refused;
        self.connect_timeout += o.connect_timeout;
        self.connect_other += o.connect_other;
        self.reset += o.reset;
        self.closed += o.closed;
        self.timeout += o.timeout;
        self.bad_response += o.bad_response;
        self.io_other += o.io_other;
        self.non_2xx += o.non_2xx;
    }
}

/// Latency of complete responses, from the first byte of the request written to the last byte
/// of the response read. Quantiles come from [`Histogram`] (within 0.4 %); min, max and mean are
/// exact.
///
/// Under a constant rate this is service time: when every connection is busy, due requests
/// wait for a free connection and that wait is not counted (no coordinated-omission
/// correction); the schedule then catches up, sending the late requests as connections free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    pub count: u64,
    pub min: Duration,
    pub mean: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl LatencySummary {
    pub fn from_histogram(h: &Histogram) -> LatencySummary {
        LatencySummary {
            count: h.count(),
            min: Duration::from_nanos(h.min()),
            mean: Duration::from_nanos(h.mean()),
            p50: h.quantile_duration(0.50),
            p90: h.quantile_duration(0.90),
            p99: h.quantile_duration(0.99),
            max: Duration::from_nanos(h.max()),
        }
    }
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `max_requests` were sent and all of them were answered or failed.
    MaxRequests,
    /// `max_duration` passed; requests still in flight were abandoned.
    MaxDuration,
    /// The cancel flag was set.
    Cancelled,
    /// For longer than the plan's timeout, every connect failed, or the server closed every new
    /// connection before it carried a request.
    TargetDown,
}

/// The numbers of one run (one phase).
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests written (fully or partly); never more than `max_requests`.
    pub requests_sent: u64,
    /// Complete responses, whatever their status.
    pub responses: u64,
    pub errors: ErrorCounts,
    /// Complete responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    pub bytes_sent: u64,
    /// Every byte read from the target (heads and bodies).
    pub bytes_received: u64,
    /// Connections established, including reconnects.
    pub connections_opened: u64,
    /// Requests still in flight when the run stopped on its duration or on cancel.
    /// `requests_sent == responses + errors.failed_requests() + abandoned`.
    pub abandoned: u64,
    /// Wall time of the run, from just after the start-up connect check to the end.
    pub duration: Duration,
    /// Complete responses per second of `duration`.
    pub rps: f64,
    pub latency: LatencySummary,
    /// The full latency histogram (nanoseconds), to merge phases.
    pub histogram: Histogram,
    pub stopped: StopReason,
}

/// Runs one bounded load phase and returns its numbers.
///
/// Validates the plan (a bound, a loopback target unless `allow_remote`, well-formed requests),
/// connects once to check that the target is up (`LoadError::Connect` if not), then runs until
/// `max_requests` are sent and answered, `max_duration` passes, `cancel` is set (checked at
/// least every 50 ms; the partial report comes back with [`StopReason::Cancelled`]) or the
/// target goes down for longer than the timeout. Errors during the run are counted, not
/// returned. `on_progress` is called on the calling thread about every 100 ms and once at the
/// end.
pub fn run(
    plan: &LoadPlan,
    cancel: &AtomicBool,
    on_progress: &mut dyn FnMut(&LoadProgress),
) -> Result<LoadReport, LoadError> {
    plan.validate()?;
    let threads = if plan.threads == 0 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.min(2)
    } else {
        plan.threads
    }
    .clamp(1, plan.connections);

    let addr = plan.target.addr;
    let first = std::net::TcpStream::connect_timeout(&addr, plan.timeout)
        .map_err(|source| LoadError::Connect { addr, source })?;
    first
        .set_nonblocking(true)
        .map_err(|source| LoadError::Io {
            context: "setting up a connection",
            source,
        })?;

    let start = Instant::now();
    let shared = Shared {
        wire: plan
            .requests
            .iter()
            .map(|r| http::serialize(r, &plan.target))
            .collect(),
        addr,
        timeout: plan.timeout,
        start,
        deadline: plan.max_duration.map(|d| start + d),
        max_requests: plan.max_requests.unwrap_or(u64::MAX),
        rate: plan.rate,
        next_ticket: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        cancel,
        counters: (0..threads).map(|_| Counters::default()).collect(),
    };

    let mut tallies = Vec::with_capacity(threads);
    let mut failure = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        let mut first = Some(first);
        for w in 0..threads {
            let tx = tx.clone();
            let shared = &shared;
            let n_conns = (plan.connections - w).div_ceil(threads);
            let first = first.take();
            let spawned = std::thread::Builder::new()
                .name(format!("plateau-load-{w}"))
                .spawn_scoped(scope, move || {
                    let result = Worker::new(shared, w, n_conns, first).and_then(Worker::run);
                    if result.is_err() {
                        shared.stop.store(true, Relaxed);
                    }
                    let _ = tx.send(result);
                });
            if let Err(source) = spawned {
                shared.stop.store(true, Relaxed);
                failure = Some(LoadError::Io {
                    context: "starting a load thread",
                    source,
                });
                break;
            }
        }
        drop(tx);
        // Should `on_progress` panic, the threads must not run on to their bounds.
        let _stop_on_unwind = StopOnDrop(&shared.stop);
        let mut next_progress = start + PROGRESS_EVERY;
        loop {
            let now = Instant::now();
            let wait = next_progress.saturating_duration_since(now).min(TICK);
            match rx.recv_timeout(wait) {
                Ok(Ok(tally)) => tallies.push(tally),
                Ok(Err(e)) => failure = failure.take().or(Some(e)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if cancel.load(Relaxed) {
                shared.stop.store(true, Relaxed);
            }
            let now = Instant::now();
            if now >= next_progress {
                on_progress(&shared.progress(now));
                next_progress = now + PROGRESS_EVERY;
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let duration = start.elapsed();
    on_progress(&shared.progress(Instant::now()));

    let mut total = Tally::new();
    for t in &tallies {
        total.merge(t);
    }
    let stopped = tallies
        .iter()
        .map(|t| t.stopped)
        .max_by_key(|s| match s {
            StopReason::Cancelled => 3,
            StopReason::TargetDown => 2,
            StopReason::MaxDuration => 1,
            StopReason::MaxRequests => 0,
        })
        .unwrap_or(StopReason::Cancelled);
    let statuses = total
        .statuses
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(s, &n)| (s as u16, n))
        .collect();
    let secs = duration.as_secs_f64();
    Ok(LoadReport {
        requests_sent: total.sent,
        responses: total.responses,
        errors: total.errors,
        statuses,
        bytes_sent: total.bytes_sent,
        bytes_received: total.bytes_received,
        connections_opened: total.opened,
        abandoned: total.abandoned,
        duration,
        rps: if secs > 0.0 {
            total.responses as f64 / secs
        } else {
            0.0
        },
        latency: LatencySummary::from_histogram(&total.histogram),
        histogram: total.histogram,
        stopped,
    })
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
}

/// Per-thread progress counters, each on its own cache lines.
#[derive(Default)]
#[repr(align(128))]
struct Counters {
    sent: AtomicU64,
    responses: AtomicU64,
    errors: AtomicU64,
    bytes_received: AtomicU64,
}

struct Shared<'a> {
    wire: Vec<WireRequest>,
    addr: SocketAddr,
    timeout: Duration,
    start: Instant,
    deadline: Option<Instant>,
    max_requests: u64,
    rate: Option<f64>,
    next_ticket: AtomicU64,
    stop: AtomicBool,
    cancel: &'a AtomicBool,
    counters: Vec<Counters>,
}

impl Shared<'_> {
    fn progress(&self, now: Instant) -> LoadProgress {
        let mut p = LoadProgress {
            elapsed: now - self.start,
            ..LoadProgress::default()
        };
        for c in &self.counters {
            p.requests_sent += c.sent.load(Relaxed);
            p.responses += c.responses.load(Relaxed);
            p.errors += c.errors.load(Relaxed);
            p.bytes_received += c.bytes_received.load(Relaxed);
        }
        p
    }

    /// When ticket `k` is due under a constant rate.
    fn due(&self, k: u64) -> Option<Instant> {
        self.rate
            .map(|rate| self.start + Duration::from_secs_f64(k as f64 / rate))
    }
}

/// What one thread counted.
struct Tally {
    sent: u64,
    responses: u64,
    errors: ErrorCounts,
    statuses: Vec<u64>,
    bytes_sent: u64,
    bytes_received: u64,
    opened: u64,
    abandoned: u64,
    histogram: Histogram,
    stopped: StopReason,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            sent: 0,
            responses: 0,
            errors: ErrorCounts::default(),
            statuses: vec![0; 600],
            bytes_sent: 0,
            bytes_received: 0,
            opened: 0,
            abandoned: 0,
            histogram: Histogram::new(),
            stopped: StopReason::MaxRequests,
        }
    }

    fn merge(&mut self, o: &Tally) {
        self.sent += o.sent;
        self.responses += o.responses;
        self.errors.add(&o.errors);
        for (a, b) in self.statuses.iter_mut().zip(&o.statuses) {
            *a += b;
        }
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.opened += o.opened;
        self.abandoned += o.abandoned;
        self.histogram.merge(&o.histogram);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting to reconnect after a failed connect.
    Backoff {
        until: Instant,
    },
    Connecting,
    Idle,
    Writing,
    Reading,
    /// No connection and none wanted: every ticket is taken.
    Closed,
}

/// What parsing buffered bytes led to.
enum Parsed {
    /// The response needs more bytes.
    More,
    /// A response was complete; the connection goes on (with the next request, or idle).
    Completed,
    /// The connection was closed and replaced by a new one: stop reading the old one.
    Replaced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    ConnectRefused,
    ConnectTimeout,
    ConnectOther,
    /// The server closed a new connection before any request was sent on it.
    ClosedUnused,
    Reset,
    Closed,
    Timeout,
    BadResponse,
    IoOther,
}

fn request_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Failure::Reset,
        io::ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::IoOther,
    }
}

fn connect_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure::ConnectRefused,
        io::ErrorKind::TimedOut => Failure::ConnectTimeout,
        _ => Failure::ConnectOther,
    }
}

struct Conn {
    stream: Option<TcpStream>,
    state: State,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    parser: ResponseParser,
    request: usize,
    written: usize,
    sent_at: Instant,
    deadline: Instant,
    connect_failures: u32,
    /// Responses completed on this connection.
    served: u32,
}

struct Worker<'s, 'a> {
    shared: &'s Shared<'a>,
    counters: &'s Counters,
    poll: Poll,
    conns: Vec<Conn>,
    idle: Vec<usize>,
    tally: Tally,
    /// No ticket is left for this thread.
    exhausted: bool,
    /// Since when every connect failed, with no success in between.
    down_since: Option<Instant>,
    /// Since when the server closed new connections before they carried a request, with no
    /// response in between.
    refusing_since: Option<Instant>,
}

impl<'s, 'a> Worker<'s, 'a> {
    fn new(
        shared: &'s Shared<'a>,
        index: usize,
        n_conns: usize,
        first: Option<std::net::TcpStream>,
    ) -> Result<Worker<'s, 'a>, LoadError> {
        let poll = Poll::new().map_err(|source| LoadError::Io {
            context: "creating an epoll instance",
            source,
        })?;
        let now = Instant::now();
        let conns = (0..n_conns)
            .map(|_| Conn {
                stream: None,
                state: State::Backoff { until: now },
                buf: vec![0; READ_BUF],
                start: 0,
                end: 0,
                parser: ResponseParser::new(),
                request: 0,
                written: 0,
                sent_at: now,
                deadline: now,
                connect_failures: 0,
                served: 0,
            })
            .collect();
        let mut worker = Worker {
            shared,
            counters: &shared.counters[index],
            poll,
            conns,
            idle: Vec::with_capacity(n_conns),
            tally: Tally::new(),
            exhausted: false,
            down_since: None,
            refusing_since: None,
        };
        if let Some(first) = first {
            let mut stream = TcpStream::from_std(first);
            let _ = stream.set_nodelay(true);
            worker
                .poll
                .registry()
                .register(
                    &mut stream,
                    Token(0),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|source| LoadError::Io {
                    context: "registering a connection",
                    source,
                })?;
            worker.conns[0].stream = Some(stream);
            worker.connected(0, now);
        }
        for i in 0..worker.conns.len() {
            if worker.conns[i].stream.is_none() {
                worker.connect(i, now);
            }
        }
        Ok(worker)
    }

    fn run(mut self) -> Result<Tally, LoadError> {
        let mut events = Events::with_capacity(256);
        loop {
            let now = Instant::now();
            if let Some(reason) = self.should_stop(now) {
                self.tally.stopped = reason;
                break;
            }
            if !self.exhausted && self.shared.next_ticket.load(Relaxed) >= self.shared.max_requests
            {
                // Another thread took the last ticket.
                self.exhausted = true;
            }
            self.dispatch_idle(now);
            // Timers: request and connect timeouts, reconnect back-offs.
            let mut next_timer = now + TICK;
            let mut in_flight = 0;
            for i in 0..self.conns.len() {
                match self.conns[i].state {
                    State::Connecting | State::Writing | State::Reading => {
                        let c = &self.conns[i];
                        if now >= c.deadline {
                            let kind = if c.state == State::Connecting {
                                Failure::ConnectTimeout
                            } else {
                                Failure::Timeout
                            };
                            self.fail(i, kind, now);
                        } else {
                            next_timer = next_timer.min(c.deadline);
                        }
                    }
                    State::Backoff { until } => {
                        if now >= until {
                            self.connect(i, now);
                        } else {
                            next_timer = next_timer.min(until);
                        }
                    }
                    State::Idle | State::Closed => {}
                }
                if matches!(self.conns[i].state, State::Writing | State::Reading) {
                    in_flight += 1;
                }
            }
            if self.exhausted && in_flight == 0 {
                self.tally.stopped = StopReason::MaxRequests;
                break;
            }
            if !self.exhausted && !self.idle.is_empty() {
                let next = self.shared.next_ticket.load(Relaxed);
                if let Some(due) = self.shared.due(next) {
                    next_timer = next_timer.min(due);
                }
            }
            if let Some(deadline) = self.shared.deadline {
                next_timer = next_timer.min(deadline);
            }
            let timeout = next_timer.saturating_duration_since(now);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(LoadError::Io {
                        context: "waiting for connections (epoll)",
                        source: e,
                    });
                }
            }
            let now = Instant::now();
            for event in events.iter() {
                let peer_closed = event.is_read_closed() || event.is_error();
                self.on_event(event.token().0, peer_closed, now);
            }
        }
        self.tally.abandoned = self
            .conns
            .iter()
            .filter(|c| matches!(c.state, State::Writing | State::Reading))
            .count() as u64;
        for c in &mut self.conns {
            c.stream = None;
        }
        Ok(self.tally)
    }

    fn should_stop(&mut self, now: Instant) -> Option<StopReason> {
        let shared = self.shared;
        if shared.cancel.load(Relaxed) {
            return Some(StopReason::Cancelled);
        }
        if shared.deadline.is_some_and(|d| now >= d) {
            return Some(StopReason::MaxDuration);
        }
        let too_long = |since: Option<Instant>| {
            since.is_some_and(|since| now.duration_since(since) > shared.timeout)
        };
        if too_long(self.down_since) || too_long(self.refusing_since) {
            shared.stop.store(true, Relaxed);
            return Some(StopReason::TargetDown);
        }
        if shared.stop.load(Relaxed) {
            // Another thread found the target down, or the caller cancelled.
            return Some(if shared.cancel.load(Relaxed) {
                StopReason::Cancelled
            } else {
                StopReason::TargetDown
            });
        }
        None
    }

    /// Takes the next ticket if one is left and due. `Err(due)` when the next is not due yet.
    fn take_ticket(&mut self, now: Instant) -> Option<Result<u64, Instant>> {
        if self.exhausted {
            return None;
        }
        let shared = self.shared;
        let taken = if shared.rate.is_none() {
            let k = shared.next_ticket.fetch_add(1, Relaxed);
            (k < shared.max_requests).then_some(Ok(k))
        } else {
            loop {
                let k = shared.next_ticket.load(Relaxed);
                if k >= shared.max_requests {
                    break None;
                }
                let due = shared.due(k).unwrap_or(now);
                if due > now {
                    break Some(Err(due));
                }
                if shared
                    .next_ticket
                    .compare_exchange_weak(k, k + 1, Relaxed, Relaxed)
                    .is_ok()
                {
                    break Some(Ok(k));
                }
            }
        };
        if taken.is_none() {
            self.exhausted = true;
        }
        taken
    }

    fn dispatch_idle(&mut self, now: Instant) {
        while let Some(&i) = self.idle.last() {
            if self.conns[i].state != State::Idle {
                self.idle.pop();
                continue;
            }
            match self.take_ticket(now) {
                Some(Ok(k)) => {
                    self.idle.pop();
                    self.send(i, k, now);
                }
                _ => break,
            }
        }
    }

    /// A connection became free: send on it now if a ticket is due, else park it.
    fn free(&mut self, i: usize, now: Instant) {
        self.conns[i].state = State::Idle;
        match self.take_ticket(now) {
            Some(Ok(k)) => self.send(i, k, now),
            _ => self.idle.push(i),
        }
    }

    fn send(&mut self, i: usize, ticket: u64, now: Instant) {
        let request = (ticket % self.shared.wire.len() as u64) as usize;
        let c = &mut self.conns[i];
        c.request = request;
        c.written = 0;
        // A fresh clock reading: `now` may be from before a batch of events.
        c.sent_at = Instant::now();
        c.deadline = now + self.shared.timeout;
        c.parser.start(self.shared.wire[request].is_head);
        c.state = State::Writing;
        self.tally.sent += 1;
        self.counters.sent.fetch_add(1, Relaxed);
        self.write(i, now);
    }

    fn write(&mut self, i: usize, now: Instant) {
        let shared = self.shared;
        let bytes = &shared.wire[self.conns[i].request].bytes;
        loop {
            let c = &mut self.conns[i];
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            match stream.write(&bytes[c.written..]) {
                Ok(n) => {
                    c.written += n;
                    self.tally.bytes_sent += n as u64;
                    if c.written == bytes.len() {
                        c.state = State::Reading;
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(i, request_failure(&e), now);
                    return;
                }
            }
        }
    }

    /// `peer_closed`: the event reports the peer's end of the stream (or an error).
    fn on_event(&mut self, i: usize, peer_closed: bool, now: Instant) {
        match self.conns[i].state {
            State::Backoff { .. } | State::Closed => {}
            State::Connecting => self.check_connected(i, now),
            State::Writing => {
                self.write(i, now);
                if self.conns[i].state == State::Reading {
                    self.read(i, peer_closed, now);
                }
            }
            State::Reading | State::Idle => self.read(i, peer_closed, now),
        }
    }

    fn connect(&mut self, i: usize, now: Instant) {
        match TcpStream::connect(self.shared.addr) {
            Ok(mut stream) => {
                let _ = stream.set_nodelay(true);
                if let Err(e) = self.poll.registry().register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    self.connect_failed(i, &e, now);
                    return;
                }
                let c = &mut self.conns[i];
                c.stream = Some(stream);
                c.state = State::Connecting;
                c.deadline = now + self.shared.timeout;
            }
            Err(e) => self.connect_failed(i, &e, now),
        }
    }

    fn check_connected(&mut self, i: usize, now: Instant) {
        let Some(stream) = self.conns[i].stream.as_ref() else {
            return;
        };
        match stream.take_error() {
            Ok(Some(e)) | Err(e) => return self.connect_failed(i, &e, now),
            Ok(None) => {}
        }
        match stream.peer_addr() {
            Ok(_) => self.connected(i, now),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => self.connect_failed(i, &e, now),
        }
    }

    fn connected(&mut self, i: usize, now: Instant) {
        self.tally.opened += 1;
        self.down_since = None;
        let c = &mut self.conns[i];
        c.served = 0;
        c.start = 0;
        c.end = 0;
        self.free(i, now);
    }

    fn connect_failed(&mut self, i: usize, e: &io::Error, now: Instant) {
        self.fail(i, connect_failure(e), now);
    }

    /// Counts a failure, drops the connection, and reconnects (after a back-off if it was the
    /// connect that failed).
    fn fail(&mut self, i: usize, kind: Failure, now: Instant) {
        let e = &mut self.tally.errors;
        let counter = match kind {
            Failure::ConnectRefused => &mut e.connect_refused,
            Failure::ConnectTimeout => &mut e.connect_timeout,
            Failure::ConnectOther | Failure::ClosedUnused => &mut e.connect_other,
            Failure::Reset => &mut e.reset,
            Failure::Closed => &mut e.closed,
            Failure::Timeout => &mut e.timeout,
            Failure::BadResponse => &mut e.bad_response,
            Failure::IoOther => &mut e.io_other,
        };
        *counter += 1;
        self.counters.errors.fetch_add(1, Relaxed);
        let connect = matches!(
            kind,
            Failure::ConnectRefused
                | Failure::ConnectTimeout
                | Failure::ConnectOther
                | Failure::ClosedUnused
        );
        if connect {
            if kind == Failure::ClosedUnused {
                self.refusing_since.get_or_insert(now);
            } else {
                self.down_since.get_or_insert(now);
            }
            let c = &mut self.conns[i];
            c.stream = None;
            c.connect_failures += 1;
            let backoff = BACKOFF_FIRST
                .saturating_mul(1 << c.connect_failures.min(8).saturating_sub(1))
                .min(BACKOFF_MAX);
            c.state = State::Backoff {
                until: now + backoff,
            };
        } else {
            self.reconnect(i, now);
        }
    }

    fn reconnect(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        if let Some(mut stream) = c.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        if self.exhausted {
            c.state = State::Closed;
        } else {
            c.state = State::Backoff { until: now };
            self.connect(i, now);
        }
    }

    /// Reads until the socket has nothing more (epoll is edge-triggered), with one shortcut:
    /// once a response is complete, its bytes ended the last read without filling the buffer,
    /// and the event did not report the peer closing, the next request has just been sent and
    /// any byte still to come arrives after this event, so it raises a new one. That saves a
    /// `read` returning `WouldBlock` per request.
    fn read(&mut self, i: usize, peer_closed: bool, now: Instant) {
        loop {
            let c = &mut self.conns[i];
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            if c.end == c.buf.len() {
                if c.start > 0 {
                    c.buf.copy_within(c.start..c.end, 0);
                    c.end -= c.start;
                    c.start = 0;
                } else {
                    // Only a response head can fill the buffer: grow it up to the head limit.
                    let grown = (c.buf.len() * 2).min(http::MAX_HEAD + READ_BUF);
                    c.buf.resize(grown, 0);
                }
            }
            let end = c.end;
            let space = c.buf.len() - end;
            match stream.read(&mut c.buf[end..]) {
                Ok(0) => return self.on_eof(i, now),
                Ok(n) => {
                    c.end += n;
                    self.tally.bytes_received += n as u64;
                    self.counters.bytes_received.fetch_add(n as u64, Relaxed);
                    if c.state != State::Reading {
                        // Bytes nobody asked for (an idle connection): start afresh.
                        return self.reconnect(i, now);
                    }
                    match self.parse(i, now) {
                        Parsed::Replaced => return,
                        Parsed::Completed if n < space && !peer_closed => return,
                        Parsed::Completed | Parsed::More => {}
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if c.state == State::Reading {
                        self.fail(i, request_failure(&e), now);
                    } else {
                        self.reconnect(i, now);
                    }
                    return;
                }
            }
        }
    }

    /// Parses what is buffered.
    fn parse(&mut self, i: usize, now: Instant) -> Parsed {
        let c = &mut self.conns[i];
        match c.parser.feed(&c.buf[c.start..c.end]) {
            Ok(Step::NeedMore { consumed }) => {
                c.start += consumed;
                if c.start == c.end {
                    c.start = 0;
                    c.end = 0;
                }
                Parsed::More
            }
            Ok(Step::Done { consumed }) => {
                c.start += consumed;
                let leftover = c.start != c.end;
                c.start = 0;
                c.end = 0;
                let keep_alive = c.parser.keep_alive && !leftover;
                self.complete(i);
                if keep_alive {
                    self.free(i, now);
                    Parsed::Completed
                } else {
                    self.reconnect(i, now);
                    Parsed::Replaced
                }
            }
            Err(_) => {
                self.fail(i, Failure::BadResponse, now);
                Parsed::Replaced
            }
        }
    }

    fn on_eof(&mut self, i: usize, now: Instant) {
        match self.conns[i].state {
            State::Reading => {
                if self.conns[i].parser.finish_at_eof() {
                    self.complete(i);
                    self.reconnect(i, now);
                } else {
                    self.fail(i, Failure::Closed, now);
                }
            }
            State::Writing => self.fail(i, Failure::Closed, now),
            // Closed before it carried any request: the server refuses work (count it, and back
            // off before trying again, as for a refused connect).
            State::Idle if self.conns[i].served == 0 => self.fail(i, Failure::ClosedUnused, now),
            // The server closed an idle keep-alive connection: not an error.
            _ => self.reconnect(i, now),
        }
    }

    /// Records a complete response.
    fn complete(&mut self, i: usize) {
        let c = &mut self.conns[i];
        c.served = c.served.saturating_add(1);
        // Back-offs start small again once the target answers.
        c.connect_failures = 0;
        let status = c.parser.status;
        self.tally.histogram.record_duration(c.sent_at.elapsed());
        self.tally.responses += 1;
        self.tally.statuses[usize::from(status)] += 1;
        self.counters.responses.fetch_add(1, Relaxed);
        if !(200..300).contains(&status) {
            self.tally.errors.non_2xx += 1;
            self.counters.errors.fetch_add(1, Relaxed);
        }
        self.down_since = None;
        self.refusing_since = None;
    }
}
