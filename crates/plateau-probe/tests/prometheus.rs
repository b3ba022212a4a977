//! The exposition parser and memory figures on real scrapes (`fixtures/prometheus/`, recorded by
//! `fixtures/prometheus/gen/record.sh`), hand-checked JVM and Go samples, and `fetch_metrics`
//! against a local one-connection HTTP server.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use plateau_probe::prometheus::{
    fetch_metrics, memory_metrics, parse_exposition, FetchError, MemoryMetrics, MetricSample,
};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/prometheus")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn find<'a>(samples: &'a [MetricSample], name: &str, labels: &[(&str, &str)]) -> &'a MetricSample {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
}

const ESCAPED_NOTE: &str = "a \"quoted\" C:\\path\nsecond line";

#[test]
fn node_prom_client() {
    let samples = parse_exposition(&fixture("node-prom-client.txt")).unwrap();
    assert_eq!(samples.len(), 73);
    let escaped = find(&samples, "app_requests_total", &[("route", "/search")]);
    assert_eq!(escaped.label("note"), Some(ESCAPED_NOTE));
    assert_eq!(escaped.labels[0], ("route".into(), "/search".into()));
    assert_eq!(escaped.value, 1.0);
    assert_eq!(escaped.timestamp_ms, None);
    let inf = find(&samples, "app_request_seconds_bucket", &[("le", "+Inf")]);
    assert_eq!(inf.value, 4.0);
    assert_eq!(
        find(&samples, "nodejs_version_info", &[]).label("version"),
        Some("v20.20.2")
    );

    let m = memory_metrics(&samples);
    assert_eq!(
        m,
        MemoryMetrics {
            resident: Some(62_730_240),
            heap_used: Some(11_142_904),
            heap_limit: None,
            working_set: None,
            process_start_time_s: Some(1_795_507_731.0),
            source_metrics: vec![
                "process_resident_memory_bytes".into(),
                "nodejs_heap_size_used_bytes".into(),
                "process_start_time_seconds".into(),
            ],
        }
    );
}

#[test]
fn python_prometheus_client_text() {
    let samples = parse_exposition(&fixture("python-prometheus-client.txt")).unwrap();
    assert_eq!(samples.len(), 25);
    assert!(find(&samples, "app_queue_depth", &[]).value.is_nan());
    assert_eq!(
        find(&samples, "app_budget_remaining", &[]).value,
        f64::INFINITY
    );
    let escaped = find(&samples, "app_requests_total", &[("route", "/search")]);
    assert_eq!(escaped.label("note"), Some(ESCAPED_NOTE));

    let m = memory_metrics(&samples);
    assert_eq!(m.resident, Some(29_667_328)); // 2.9667328e+07
    assert_eq!(m.heap_used, None);
    assert_eq!(m.heap_limit, None);
    assert_eq!(m.process_start_time_s, Some(1.79550773638e9));
    assert_eq!(
        m.source_metrics,
        [
            "process_resident_memory_bytes",
            "process_start_time_seconds"
        ]
    );
}

#[test]
fn python_prometheus_client_openmetrics() {
    let samples = parse_exposition(&fixture("python-prometheus-client.openmetrics.txt")).unwrap();
    assert_eq!(samples.len(), 25);
    let created = find(&samples, "app_requests_created", &[("route", "/api/items")]);
    assert_eq!(created.value, 1.7955077368380756e9);
    let m = memory_metrics(&samples);
    assert_eq!(m.resident, Some(29_798_400)); // 2.97984e+07
    assert_eq!(m.process_start_time_s, Some(1.79550773638e9));
}

#[test]
fn jvm_client_java_and_micrometer() {
    // client_java 1.x / simpleclient_hotspot shape: one series per area.
    let client_java = "\
# HELP jvm_memory_used_bytes Used bytes of a given JVM memory area.
# TYPE jvm_memory_used_bytes gauge
jvm_memory_used_bytes{area=\"heap\"} 4.5088768E7
jvm_memory_used_bytes{area=\"nonheap\"} 3.2e7
# TYPE jvm_memory_max_bytes gauge
jvm_memory_max_bytes{area=\"heap\"} 1.073741824E9
jvm_memory_max_bytes{area=\"nonheap\"} -1.0
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.1E8
";
    let m = memory_metrics(&parse_exposition(client_java).unwrap());
    assert_eq!(m.heap_used, Some(45_088_768));
    assert_eq!(m.heap_limit, Some(1 << 30));
    assert_eq!(m.resident, Some(210_000_000));

    // Micrometer: one series per pool; a pool without a maximum reports -1.
    let micrometer = "\
# TYPE jvm_memory_used_bytes gauge
jvm_memory_used_bytes{area=\"heap\",id=\"G1 Eden Space\",} 1.2582912E7
jvm_memory_used_bytes{area=\"heap\",id=\"G1 Old Gen\",} 2.097152E7
jvm_memory_used_bytes{area=\"heap\",id=\"G1 Survivor Space\",} 1048576.0
jvm_memory_used_bytes{area=\"nonheap\",id=\"Metaspace\",} 4.0E7
# TYPE jvm_memory_max_bytes gauge
jvm_memory_max_bytes{area=\"heap\",id=\"G1 Eden Space\",} -1.0
jvm_memory_max_bytes{area=\"heap\",id=\"G1 Old Gen\",} 5.36870912E8
jvm_memory_max_bytes{area=\"heap\",id=\"G1 Survivor Space\",} -1.0
";
    let m = memory_metrics(&parse_exposition(micrometer).unwrap());
    assert_eq!(m.heap_used, Some(12_582_912 + 20_971_520 + 1_048_576));
    assert_eq!(m.heap_limit, None);
    assert_eq!(m.source_metrics, ["jvm_memory_used_bytes"]);

    // simpleclient_hotspot's older names.
    let hotspot = "jvm_memory_bytes_used{area=\"heap\",} 1000.0\njvm_memory_bytes_max{area=\"heap\",} 4000.0\n";
    let m = memory_metrics(&parse_exposition(hotspot).unwrap());
    assert_eq!((m.heap_used, m.heap_limit), (Some(1000), Some(4000)));
}

#[test]
fn go_client_and_cadvisor() {
    let go = "\
# HELP go_memstats_heap_alloc_bytes Number of heap bytes allocated and still in use.
# TYPE go_memstats_heap_alloc_bytes gauge
go_memstats_heap_alloc_bytes 2.84736e+06
# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 4.308992e+06
";
    let m = memory_metrics(&parse_exposition(go).unwrap());
    assert_eq!(m.heap_used, Some(4_308_992));
    assert_eq!(m.source_metrics, ["go_memstats_heap_inuse_bytes"]);
    let alloc_only = memory_metrics(
        &parse_exposition(&go[..go.find("# HELP go_memstats_heap_inuse").unwrap()]).unwrap(),
    );
    assert_eq!(alloc_only.heap_used, Some(2_847_360));

    let one = "container_memory_working_set_bytes{container=\"api\",pod=\"api-0\"} 1.2345678e+08 1700000000000\n";
    assert_eq!(
        memory_metrics(&parse_exposition(one).unwrap()).working_set,
        Some(123_456_780)
    );
    let two =
        format!("{one}container_memory_working_set_bytes{{container=\"db\",pod=\"db-0\"}} 5e8\n");
    assert_eq!(
        memory_metrics(&parse_exposition(&two).unwrap()).working_set,
        None
    );
}

#[test]
fn format_details() {
    let text = "\
# A plain comment
#   TYPE   spaced gauge

spaced{a=\"1\" , b = \"2\",} 1.5e3 1700000000123
\tindented -Inf
negative_ts 0 -5
empty_labels{} 7
";
    let samples = parse_exposition(text).unwrap();
    assert_eq!(samples.len(), 4);
    assert_eq!(
        samples[0].labels,
        [("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    assert_eq!(samples[0].value, 1500.0);
    assert_eq!(samples[0].timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(samples[1].value, f64::NEG_INFINITY);
    assert_eq!(samples[2].timestamp_ms, Some(-5));
    assert!(samples[3].labels.is_empty());

    // OpenMetrics: seconds timestamps, exemplars skipped, nothing after # EOF.
    let om = "# TYPE foo counter\nfoo_total 3 1700000000.5 # {trace_id=\"x\"} 1.0\n# EOF\n";
    let samples = parse_exposition(om).unwrap();
    assert_eq!(samples[0].timestamp_ms, Some(1_700_000_000_500));
    let after_eof = parse_exposition("a 1\n# EOF\nb 2\n").unwrap_err();
    assert_eq!(after_eof.line, 3);

    assert!(parse_exposition("").unwrap().is_empty());
    assert!(parse_exposition("\n\r\n  \n").unwrap().is_empty());
}

#[test]
fn malformed_lines_name_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("ok 1\n9bad 1\n", 2, "a metric name"),
        ("ok 1\n\nno_value\n", 3, "a blank before the value"),
        ("x{a=\"1\"} one\n", 1, "a number"),
        ("x{a=1} 1\n", 1, "quoted label value"),
        ("x{a=\"1\" 1\n", 1, "',' or '}'"),
        ("x{a=\"unterminated} 1\n", 1, "closing '\"'"),
        ("x{a=\"bad \\t escape\"} 1\n", 1, "an escape"),
        ("x{a\"1\"} 1\n", 1, "'='"),
        ("x 1 2 3\n", 1, "end of line"),
        ("x 1 soon\n", 1, "a timestamp"),
        ("# TYPE x gauge\n# TYPE y histgram\n", 2, "a metric type"),
        ("# TYPE\n", 1, "a metric name after"),
        ("# HELP 0x help\n", 1, "a metric name after"),
        ("x{é=\"1\"} 1\n", 1, "a label name"),
    ];
    for (text, line, expected) in cases {
        let err = parse_exposition(text).unwrap_err();
        assert_eq!(err.line, *line, "{text:?}: {err}");
        assert!(err.expected.contains(expected), "{text:?}: {err}");
        assert!(err
            .to_string()
            .starts_with(&format!("line {line}: expected")));
    }
}

/// Serves one connection with `response`, and hands back the request it read.
fn serve_once(response: Vec<u8>) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            request.push_str(&line);
        }
        let mut stream: TcpStream = stream;
        // The client may give up early (error statuses); a broken pipe is fine then.
        let _ = stream.write_all(&response);
        let _ = tx.send(request);
    });
    (url, rx)
}

fn body_text() -> String {
    fixture("node-prom-client.txt")
}

#[test]
fn fetch_with_content_length() {
    let body = body_text();
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    response.extend_from_slice(b"garbage after the body is not read");
    let (url, request) = serve_once(response);
    assert_eq!(fetch_metrics(&url, Duration::from_secs(5)).unwrap(), body);
    let request = request.recv().unwrap();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    assert!(
        request.starts_with("GET /metrics HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains(&format!("\r\nHost: {addr}\r\n")),
        "{request}"
    );
    assert!(request.contains("\r\nConnection: close\r\n"), "{request}");
    assert!(
        !request.to_ascii_lowercase().contains("accept-encoding"),
        "{request}"
    );
}

#[test]
fn fetch_chunked() {
    let body = body_text();
    let mut response =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for (i, chunk) in body.as_bytes().chunks(1000).enumerate() {
        let ext = if i == 1 { ";name=value" } else { "" };
        response.extend_from_slice(format!("{:x}{ext}\r\n", chunk.len()).as_bytes());
        response.extend_from_slice(chunk);
        response.extend_from_slice(b"\r\n");
    }
    response.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
    let (url, _) = serve_once(response);
    let got = fetch_metrics(&url, Duration::from_secs(5)).unwrap();
    assert_eq!(got, body);
    let m = memory_metrics(&parse_exposition(&got).unwrap());
    assert_eq!(m.heap_used, Some(11_142_904));
}

#[test]
fn fetch_close_delimited() {
    let body = body_text();
    let mut response = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    response.extend_from_slice(body.as_bytes());
    let (url, _) = serve_once(response);
    assert_eq!(fetch_metrics(&url, Duration::from_secs(5)).unwrap(), body);
}

#[test]
fn fetch_error_status() {
    let response = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!".to_vec();
    let (url, _) = serve_once(response);
    let err = fetch_metrics(&url, Duration::from_secs(5)).unwrap_err();
    assert!(
        matches!(&err, FetchError::Status { status: 500, reason, .. } if reason == "Internal Server Error"),
        "{err:?}"
    );
    assert!(err.to_string().contains("500"), "{err}");
}

#[test]
fn fetch_times_out_on_a_silent_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    thread::spawn(move || {
        let (_stream, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_secs(3));
    });
    let start = Instant::now();
    let err = fetch_metrics(&url, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn fetch_refuses_bad_targets_and_oversized_bodies() {
    let err = fetch_metrics("https://example.com/metrics", Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, FetchError::UnsupportedScheme(_)), "{err:?}");
    assert!(err.to_string().contains("http://"), "{err}");
    for url in [
        "http://:80/",
        "http://host:port/",
        "http://user:pw@host/",
        "http://[::1/",
    ] {
        let err = fetch_metrics(url, Duration::from_secs(1)).unwrap_err();
        assert!(
            matches!(err, FetchError::InvalidUrl { .. }),
            "{url}: {err:?}"
        );
    }

    // Nothing listens on a port just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err =
        fetch_metrics(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");

    let (url, _) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n".to_vec());
    let err = fetch_metrics(&url, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");

    let (url, _) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort".to_vec());
    let err = fetch_metrics(&url, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, FetchError::BadResponse { .. }), "{err:?}");

    let (url, _) = serve_once(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec());
    let err = fetch_metrics(&url, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, FetchError::BadResponse { .. }), "{err:?}");
}

#[test]
fn every_prefix_of_every_real_line_is_survived() {
    // A scrape cut mid-line must give an error, never a panic.
    for name in [
        "node-prom-client.txt",
        "python-prometheus-client.txt",
        "python-prometheus-client.openmetrics.txt",
    ] {
        let text = fixture(name);
        for line in text.lines().chain(["x{a=\"\u{e9}\\\u{e9}\"} 1"]) {
            for (i, _) in line.char_indices() {
                let _ = parse_exposition(&line[..i]);
            }
        }
    }
}
