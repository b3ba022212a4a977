//! The load generator against a real (in-test) HTTP/1.1 server on loopback.

mod support;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use plateau_load::{
    parse_requests, run, LoadError, LoadPlan, LoadReport, RequestSpec, StopReason, Target, Url,
};
use support::{Reply, Server};

fn plan(server: &Server) -> LoadPlan {
    let mut plan = LoadPlan::from_url(&format!("http://{}/hello", server.addr), false).unwrap();
    plan.timeout = Duration::from_secs(5);
    plan
}

fn go(plan: &LoadPlan) -> LoadReport {
    let cancel = AtomicBool::new(false);
    let report = run(plan, &cancel, &mut |_| {}).unwrap();
    assert_accounted(&report);
    report
}

/// Every request sent is answered, failed, or abandoned at the stop.
fn assert_accounted(r: &LoadReport) {
    assert_eq!(
        r.requests_sent,
        r.responses + r.errors.failed_requests() + r.abandoned,
        "{r:#?}"
    );
    assert_eq!(r.statuses.values().sum::<u64>(), r.responses);
    assert_eq!(r.latency.count, r.responses);
}

#[test]
fn sends_exactly_max_requests() {
    let server = Server::hello();
    let mut plan = plan(&server);
    plan.connections = 8;
    plan.max_requests = Some(1_000);
    let r = go(&plan);
    assert_eq!(r.requests_sent, 1_000);
    assert_eq!(r.responses, 1_000);
    assert_eq!(r.errors.total(), 0, "{:?}", r.errors);
    assert_eq!(r.statuses.get(&200), Some(&1_000));
    assert_eq!(r.stopped, StopReason::MaxRequests);
    assert_eq!(server.arrived.load(SeqCst), 1_000);
    assert_eq!(r.connections_opened, 8);
    assert!(r.latency.p50 > Duration::ZERO && r.latency.p50 <= r.latency.p99);
    assert!(r.latency.p99 <= r.latency.max);
    // "HTTP/1.1 200 Test\r\nContent-Length: 5\r\n\r\nhello" is 45 bytes.
    assert_eq!(r.bytes_received, 1_000 * 45);
}

#[test]
fn fewer_requests_than_connections() {
    let server = Server::hello();
    let mut plan = plan(&server);
    plan.connections = 16;
    plan.max_requests = Some(3);
    let r = go(&plan);
    assert_eq!((r.requests_sent, r.responses), (3, 3));
    assert_eq!(server.arrived.load(SeqCst), 3);
}

#[test]
fn stops_at_max_duration() {
    let server = Server::hello();
    let mut plan = plan(&server);
    plan.connections = 4;
    plan.max_duration = Some(Duration::from_millis(300));
    let r = go(&plan);
    assert_eq!(r.stopped, StopReason::MaxDuration);
    assert!(r.duration >= Duration::from_millis(300), "{:?}", r.duration);
    // Slack for a loaded CI machine; unbounded, the run would never end.
    assert!(r.duration < Duration::from_millis(1500), "{:?}", r.duration);
    assert!(r.responses > 50, "{}", r.responses);
    assert!(r.rps > 0.0);
}

#[test]
fn max_requests_and_duration_whichever_first() {
    let server = Server::start(None, |_, _| Reply {
        delay: Duration::from_millis(20),
        ..Reply::ok("slow")
    });
    let mut plan = plan(&server);
    plan.connections = 2;
    plan.max_requests = Some(1_000_000);
    plan.max_duration = Some(Duration::from_millis(200));
    let r = go(&plan);
    assert_eq!(r.stopped, StopReason::MaxDuration);
    assert!(r.requests_sent < 40, "{}", r.requests_sent);
}

#[test]
fn keeps_a_constant_rate() {
    let server = Server::hello();
    let mut plan = plan(&server);
    plan.connections = 4;
    plan.rate = Some(200.0);
    plan.max_duration = Some(Duration::from_secs(1));
    let r = go(&plan);
    assert!(
        (180..=220).contains(&r.requests_sent),
        "{} requests in {:?}",
        r.requests_sent,
        r.duration
    );
    assert_eq!(r.errors.total(), 0);
    assert!((180.0..=220.0).contains(&r.rps), "{}", r.rps);
}

#[test]
fn rate_with_max_requests_takes_the_expected_time() {
    let server = Server::hello();
    let mut plan = plan(&server);
    plan.connections = 2;
    plan.rate = Some(100.0);
    plan.max_requests = Some(30);
    let r = go(&plan);
    assert_eq!(r.requests_sent, 30);
    // Request 29 is due at 290 ms.
    assert!(r.duration >= Duration::from_millis(285), "{:?}", r.duration);
    assert!(r.duration < Duration::from_millis(400), "{:?}", r.duration);
}

#[test]
fn reads_chunked_content_length_head_204_304_and_until_close_bodies() {
    let big = "x".repeat(100_000);
    let server = Server::start(None, move |i, req| match req.path.as_str() {
        "/chunked" => Reply {
            chunked: true,
            ..Reply::ok(&format!("chunked body number {i}"))
        },
        "/big" => Reply::ok(&big),
        "/head" => Reply {
            no_body: true,
            ..Reply::ok("a body that is not sent")
        },
        "/204" => Reply {
            no_body: true,
            ..Reply::status(204)
        },
        "/304" => Reply {
            no_body: true,
            ..Reply::status(304)
        },
        "/http10" => Reply {
            until_close: true,
            ..Reply::ok("until the end")
        },
        _ => Reply::ok("plain"),
    });
    let mut plan = plan(&server);
    let spec = |method: &str, path: &str| RequestSpec {
        method: method.to_string(),
        ..RequestSpec::get(path)
    };
    plan.requests = vec![
        spec("GET", "/chunked"),
        spec("GET", "/big"),
        spec("HEAD", "/head"),
        spec("GET", "/204"),
        spec("GET", "/304"),
        spec("GET", "/http10"),
        spec("GET", "/plain"),
    ];
    plan.connections = 3;
    plan.max_requests = Some(7 * 30);
    plan.timeout = Duration::from_secs(2);
    let r = go(&plan);
    assert_eq!(r.responses, 210, "{:?}", r.errors);
    assert_eq!(r.errors.failed_requests(), 0, "{:?}", r.errors);
    assert_eq!(r.statuses.get(&204), Some(&30));
    assert_eq!(r.statuses.get(&304), Some(&30));
    assert_eq!(r.statuses.get(&200), Some(&150));
    assert_eq!(r.errors.non_2xx, 30, "304 is not 2xx");
    assert!(r.bytes_received > 30 * 100_000);
    // The HTTP/1.0 replies end their connections.
    assert!(r.connections_opened >= 30, "{}", r.connections_opened);
}

#[test]
fn reconnects_after_connection_close() {
    let server = Server::start(None, |_, _| Reply {
        close: true,
        ..Reply::ok("bye")
    });
    let mut plan = plan(&server);
    plan.connections = 4;
    plan.max_requests = Some(200);
    let r = go(&plan);
    assert_eq!(r.responses, 200);
    assert_eq!(r.errors.total(), 0, "{:?}", r.errors);
    assert!(r.connections_opened >= 200, "{}", r.connections_opened);
    assert!(server.accepted.load(SeqCst) >= 200);
}

#[test]
fn counts_resets_and_server_errors_by_kind() {
    let server = Server::start(Some(5), |i, _| {
        if i % 3 == 0 {
            Reply::status(500)
        } else {
            Reply::ok("fine")
        }
    });
    let mut plan = plan(&server);
    plan.connections = 4;
    plan.max_requests = Some(300);
    let r = go(&plan);
    assert_eq!(r.requests_sent, 300);
    let resets = server.resets.load(SeqCst);
    assert_eq!(resets, 60);
    // A reset request usually reads ECONNRESET; rarely the FIN wins and it reads as closed.
    assert_eq!(r.errors.reset + r.errors.closed, resets, "{:?}", r.errors);
    assert!(r.errors.reset > 0);
    let answered_500 = r.statuses.get(&500).copied().unwrap_or(0);
    assert!(answered_500 > 50, "{:?}", r.statuses);
    assert_eq!(r.errors.non_2xx, answered_500);
    assert_eq!(r.responses, 240);
    assert_eq!(r.errors.connect_errors(), 0);
}

#[test]
fn request_timeouts_are_counted() {
    let server = Server::start(None, |_, req| Reply {
        delay: if req.path == "/slow" {
            Duration::from_millis(400)
        } else {
            Duration::ZERO
        },
        ..Reply::ok("eventually")
    });
    let mut plan = plan(&server);
    plan.requests = vec![RequestSpec::get("/slow"), RequestSpec::get("/fast")];
    plan.connections = 2;
    plan.max_requests = Some(4);
    plan.timeout = Duration::from_millis(100);
    let r = go(&plan);
    assert_eq!(r.errors.timeout, 2, "{:?}", r.errors);
    assert_eq!(r.responses, 2);
}

#[test]
fn cycles_through_requests_in_order_with_bodies() {
    let server = Server::hello();
    let mut plan = plan(&server);
    plan.requests = parse_requests(
        "GET /a\n###\nPOST /b\nContent-Type: text/plain\n\nbody of b\n###\nDELETE /c\n",
        "test.http",
    )
    .unwrap();
    plan.connections = 1;
    plan.max_requests = Some(7);
    let r = go(&plan);
    assert_eq!(r.responses, 7);
    let log = server.log.lock().unwrap();
    let seen: Vec<_> = log
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        [
            "GET /a",
            "POST /b",
            "DELETE /c",
            "GET /a",
            "POST /b",
            "DELETE /c",
            "GET /a"
        ]
    );
    assert_eq!(log[1].body, b"body of b");
    let header = |name: &str| {
        log[1]
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("content-length").as_deref(), Some("9"));
    assert_eq!(header("content-type").as_deref(), Some("text/plain"));
    assert_eq!(
        header("host"),
        Some(format!("127.0.0.1:{}", server.addr.port()))
    );
}

#[test]
fn cancel_stops_promptly() {
    let server = Server::hello();
    let mut plan = plan(&server);
    plan.connections = 4;
    plan.max_duration = Some(Duration::from_secs(30));
    let cancel = AtomicBool::new(false);
    let mut progress_calls = 0;
    let mut cancelled_at = None;
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(250));
            cancel.store(true, SeqCst);
        });
        let r = run(&plan, &cancel, &mut |p| {
            progress_calls += 1;
            assert!(p.requests_sent >= p.responses);
        });
        cancelled_at = Some(Instant::now());
        r
    })
    .unwrap();
    assert_accounted(&report);
    assert_eq!(report.stopped, StopReason::Cancelled);
    // Checked every 50 ms; the rest is slack for a busy machine.
    assert!(
        report.duration < Duration::from_millis(250 + 1000),
        "{:?}",
        report.duration
    );
    assert!(progress_calls >= 2, "{progress_calls}");
    assert!(cancelled_at.is_some());
}

#[test]
fn cancel_stops_a_rate_limited_run_waiting_for_its_next_request() {
    let server = Server::hello();
    let mut plan = plan(&server);
    plan.rate = Some(0.5); // one request now, the next in two seconds
    plan.max_requests = Some(10);
    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            cancel.store(true, SeqCst);
        });
        run(&plan, &cancel, &mut |_| {})
    })
    .unwrap();
    assert_eq!(r.stopped, StopReason::Cancelled);
    assert_eq!(r.requests_sent, 1);
    // Cancelled at 100 ms; the next request was due at 2 s.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn refuses_a_remote_target_before_connecting() {
    let addr = "10.1.2.3:80".parse().unwrap();
    let target = Target {
        host: "10.1.2.3".to_string(),
        port: 80,
        addr,
    };
    let mut plan = LoadPlan::new(target, vec![RequestSpec::get("/")]);
    plan.max_requests = Some(1);
    let started = Instant::now();
    let err = run(&plan, &AtomicBool::new(false), &mut |_| {}).unwrap_err();
    assert!(matches!(err, LoadError::RemoteTarget { .. }), "{err}");
    assert!(err.to_string().contains("not a loopback address"), "{err}");
    assert!(started.elapsed() < Duration::from_millis(50));

    let err = LoadPlan::from_url("http://10.1.2.3:8080/", false).unwrap_err();
    assert!(matches!(err, LoadError::RemoteTarget { .. }), "{err}");
    assert!(Target::resolve("10.1.2.3", 80, true).is_ok());
    assert!(Target::resolve("127.0.0.2", 80, false).is_ok());
    assert!(Target::resolve("::1", 80, false).is_ok());
    assert!(Target::resolve("localhost", 80, false).is_ok());
}

#[test]
fn target_not_listening_is_an_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut plan = LoadPlan::from_url(&format!("http://127.0.0.1:{port}/"), false).unwrap();
    plan.max_requests = Some(1);
    let err = run(&plan, &AtomicBool::new(false), &mut |_| {}).unwrap_err();
    assert!(matches!(err, LoadError::Connect { .. }), "{err}");
    assert!(
        err.to_string().contains("could not connect to 127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn a_target_that_goes_away_ends_the_run() {
    let server = Server::start(None, |_, _| Reply {
        close: true,
        ..Reply::ok("last words")
    });
    let mut plan = plan(&server);
    plan.connections = 2;
    plan.max_requests = Some(1_000_000);
    plan.timeout = Duration::from_millis(200);
    let addr = server.addr;
    let cancel = AtomicBool::new(false);
    let r = std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(server); // stops accepting; the listener closes
        });
        run(&plan, &cancel, &mut |_| {})
    })
    .unwrap();
    assert_eq!(r.stopped, StopReason::TargetDown, "{:?} {addr}", r.errors);
    assert!(r.errors.connect_refused > 0, "{:?}", r.errors);
    assert!(r.duration < Duration::from_secs(5), "{:?}", r.duration);
}

#[test]
fn a_server_closing_new_connections_is_retried_with_backoff() {
    // Accepts, then closes each connection at once (after the first, kept for the start check).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, SeqCst);
            drop(stream);
        }
    });
    let mut plan = LoadPlan::from_url(&format!("http://{addr}/"), false).unwrap();
    plan.connections = 2;
    plan.rate = Some(1.0);
    plan.max_duration = Some(Duration::from_millis(300));
    let r = go(&plan);
    // Whether the close is seen before the request is written (a failed connection) or after
    // (a closed one) is a race with the server thread; either is counted, nothing answered.
    let e = &r.errors;
    assert!(e.connect_other + e.closed + e.reset > 0, "{e:?}");
    assert_eq!(r.responses, 0);
    // Back-off from 5 ms doubling: a handful of attempts per connection, not a busy loop.
    assert!(accepted.load(SeqCst) < 30, "{}", accepted.load(SeqCst));

    // Refusing work for longer than the timeout ends the run.
    plan.timeout = Duration::from_millis(150);
    plan.max_duration = Some(Duration::from_secs(10));
    let r = go(&plan);
    // It ends as TargetDown, not at max_duration (10 s). How soon depends on when the closes
    // are seen at one request a second: 1-5 s in CI runs, so no tighter bound is asserted.
    assert_eq!(r.stopped, StopReason::TargetDown, "{:?}", r.errors);
    assert!(r.duration < Duration::from_secs(10), "{:?}", r.duration);
}

#[test]
fn plan_validation() {
    let server = Server::hello();
    let plan = plan(&server);
    let err = plan.validate().unwrap_err().to_string();
    assert!(err.contains("no bound"), "{err}");
    let mut p = plan.clone();
    p.max_requests = Some(1);
    p.connections = 0;
    assert!(p.validate().is_err());
    let mut p = plan.clone();
    p.max_requests = Some(1);
    p.rate = Some(0.0);
    assert!(p.validate().is_err());
    let mut p = plan.clone();
    p.max_requests = Some(1);
    p.requests[0]
        .headers
        .push(("X-Bad".into(), "a\r\nInjected: 1".into()));
    assert!(p.validate().unwrap_err().to_string().contains("line break"));
}

#[test]
fn url_parsing() {
    let u = Url::parse("http://127.0.0.1:8080/api/items?page=2#top").unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.path.as_str()),
        ("127.0.0.1", 8080, "/api/items?page=2")
    );
    let u = Url::parse("HTTP://localhost").unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.path.as_str()),
        ("localhost", 80, "/")
    );
    let u = Url::parse("http://[::1]:9000?x=1").unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.path.as_str()),
        ("::1", 9000, "/?x=1")
    );

    let err = Url::parse("https://127.0.0.1/").unwrap_err();
    assert!(matches!(err, LoadError::HttpsUnsupported { .. }));
    assert!(
        err.to_string().starts_with("https is not supported; "),
        "{err}"
    );
    for bad in [
        "127.0.0.1:8080/",
        "ftp://host/",
        "http://:80/",
        "http://host:0/",
        "http://host:99999/",
        "http://user:pw@host/",
        "http://host/a b",
        "http://[::1/",
    ] {
        assert!(
            matches!(Url::parse(bad), Err(LoadError::InvalidUrl { .. })),
            "{bad}"
        );
    }
}
