//! `plateau repro`, `compare` and `check` end to end: real services (fixtures/services) started
//! by plateau on a loopback port, loaded in bounded rounds, snapshotted without code changes
//! (Node inspector, jcmd, tracemalloc), diffed, judged.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{fixture, plateau, stderr, stdout};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plateau-repro-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repro(out: &Path, load: &[&str], command: &[&str]) -> (i32, Value, String) {
    let out_s = out.to_str().unwrap();
    let mut args = vec!["repro", "--json", "--cooldown", "1s", "-o", out_s];
    args.extend_from_slice(load);
    args.push("--");
    args.extend_from_slice(command);
    let output = plateau(&args);
    let err = stderr(&output);
    let doc = serde_json::from_str(&stdout(&output)).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), doc, err)
}

const NODE_LOAD: &[&str] = &[
    "--url",
    "http://127.0.0.1:{port}/login",
    "--warmup",
    "300",
    "--rounds",
    "3",
    "--requests",
    "1500",
];

#[test]
fn node_leak_is_named_and_the_fix_is_shown_to_plateau() {
    let leaky_dir = temp_dir("node-leaky");
    let (code, doc, err) = repro(
        &leaky_dir,
        NODE_LOAD,
        &["node", &fixture("services/node/leaky.js")],
    );
    assert_eq!(code, 1, "{err}\n{doc:#}");
    assert_eq!(doc["verdict"], "leak");
    assert_eq!(doc["runtime"], "node");
    let top = &doc["suspects"][0];
    assert_eq!(top["pattern"], "unbounded-cache");
    assert!(
        top["path"]
            .as_str()
            .unwrap()
            .ends_with("sessions > cache (Map)"),
        "{top:#}"
    );
    assert_eq!(doc["snapshots"].as_array().unwrap().len(), 4);
    for s in doc["snapshots"].as_array().unwrap() {
        let head = std::fs::read(s.as_str().unwrap()).unwrap();
        assert!(head.starts_with(b"{\"snapshot\":{\"meta\":"), "{s}");
    }
    let memory = &doc["memory"];
    assert_eq!(memory["boundaries"].as_array().unwrap().len(), 5);
    assert_eq!(memory["returned_to_baseline"], false);
    // ~700 B of session per request (a 512-char token and its record).
    let per_request = memory["bytes_per_request"].as_f64().unwrap();
    assert!((300.0..3000.0).contains(&per_request), "{per_request}");
    let rounds = doc["load"].as_array().unwrap();
    assert_eq!(rounds.len(), 4);
    assert_eq!(rounds[1]["report"]["requests"], 1500, "bounded by count");
    assert!(leaky_dir.join("run.json").exists() && leaky_dir.join("memory.series").exists());

    let fixed_dir = temp_dir("node-fixed");
    let (code, doc, err) = repro(
        &fixed_dir,
        NODE_LOAD,
        &["node", &fixture("services/node/fixed.js")],
    );
    assert_eq!(code, 0, "{err}\n{doc:#}");
    assert_eq!(doc["verdict"], "no-leak");
    assert_eq!(doc["suspects"].as_array().unwrap().len(), 0);

    let out = plateau(&[
        "compare",
        leaky_dir.to_str().unwrap(),
        fixed_dir.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cmp: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(cmp["verdict"], "fixed");
    assert_eq!(cmp["suspects_gone"].as_array().unwrap().len(), 1);
    // The other way round: the "fix" leaks.
    let out = plateau(&[
        "compare",
        fixed_dir.to_str().unwrap(),
        leaky_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&leaky_dir);
    let _ = std::fs::remove_dir_all(&fixed_dir);
}

#[test]
fn java_leak_is_named_through_jcmd_dumps() {
    let dir = temp_dir("java");
    let (code, doc, err) = repro(
        &dir,
        &[
            "--url",
            "http://127.0.0.1:{port}/login",
            "--warmup",
            "300",
            "--rounds",
            "3",
            "--requests",
            "1500",
        ],
        &["java", &fixture("services/java/Leaky.java")],
    );
    assert_eq!(code, 1, "{err}\n{doc:#}");
    assert_eq!(doc["runtime"], "java");
    let top = &doc["suspects"][0];
    assert!(
        top["path"]
            .as_str()
            .unwrap()
            .ends_with("class Leaky > static SESSIONS (java.util.concurrent.ConcurrentHashMap)"),
        "{top:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn python_leak_is_named_through_tracemalloc_snapshots() {
    let dir = temp_dir("python");
    let (code, doc, err) = repro(
        &dir,
        &[
            "--url",
            "http://127.0.0.1:{port}/job/7",
            "--warmup",
            "20",
            "--rounds",
            "3",
            "--requests",
            "60",
        ],
        &["python3", &fixture("series/python/leaky_worker.py")],
    );
    assert_eq!(code, 1, "{err}\n{doc:#}");
    assert_eq!(doc["runtime"], "python");
    let top = &doc["suspects"][0];
    assert_eq!(top["pattern"], "growing-allocation-site");
    assert!(
        top["class"]
            .as_str()
            .unwrap()
            .contains("leaky_worker.py:16"),
        "HISTORY.append: {top:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_service_that_fails_to_start_is_reported_with_its_output() {
    let dir = temp_dir("no-start");
    let (code, _, err) = repro(
        &dir,
        &[
            "--url",
            "http://127.0.0.1:{port}/",
            "--ready-timeout",
            "10s",
        ],
        &[
            "node",
            "-e",
            "console.error('boom: config missing'); process.exit(3)",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exited with code 3"), "{err}");
    assert!(
        err.contains("boom: config missing"),
        "its last output: {err}"
    );
    assert!(dir.join("run.json").exists(), "what was collected is kept");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_service_that_dies_mid_run_keeps_what_was_collected() {
    let dir = temp_dir("dies");
    // Serves 200 requests, then exits.
    let script = "let n=0; require('http').createServer((q,s)=>{s.end('ok'); if(++n==200){console.log('bye after', n); process.exit(0)}}).listen(+process.env.PORT,'127.0.0.1')";
    let (code, _, err) = repro(
        &dir,
        &[
            "--url",
            "http://127.0.0.1:{port}/",
            "--warmup",
            "50",
            "--requests",
            "500",
        ],
        &["node", "-e", script],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exited with code 0"), "{err}");
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["verdict"], "inconclusive");
    assert!(
        !run["snapshots"].as_array().unwrap().is_empty(),
        "the warm-up snapshot is kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_program_and_a_remote_url_are_clear_errors() {
    let dir = temp_dir("missing");
    let (code, _, err) = repro(
        &dir,
        &["--url", "http://127.0.0.1:{port}/"],
        &["/nonexistent/plateau-service"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/plateau-service"), "{err}");
    let (code, _, err) = repro(
        &dir,
        &[
            "--url",
            "http://10.1.2.3:{port}/",
            "--ready-timeout",
            "5s",
            "--warmup",
            "1",
        ],
        &[
            "node",
            "-e",
            "require('http').createServer((q,s)=>s.end()).listen(+process.env.PORT,'127.0.0.1')",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("10.1.2.3") && err.contains("loopback"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_gates_scenarios_from_a_config_and_writes_junit() {
    let dir = temp_dir("check");
    let config = dir.join("plateau.toml");
    std::fs::write(
        &config,
        format!(
            r#"[defaults]
warmup = 200
rounds = 3
requests = 1000
cooldown = "1s"
url = "http://127.0.0.1:{{port}}/login"

[[scenario]]
name = "fixed"
command = ["node", "{fixed}"]
max_bytes_per_request = 5000

[[scenario]]
name = "leaky"
command = ["node", "{leaky}"]
"#,
            fixed = fixture("services/node/fixed.js"),
            leaky = fixture("services/node/leaky.js"),
        ),
    )
    .unwrap();
    let junit = dir.join("junit.xml");
    let out = plateau(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "-o",
        dir.join("runs").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (doc["passed"].as_u64(), doc["failed"].as_u64()),
        (Some(1), Some(1)),
        "{doc:#}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"plateau check\" tests=\"2\" failures=\"1\" errors=\"0\""),
        "{xml}"
    );
    assert!(xml.contains("<testcase classname=\"plateau.memory\" name=\"leaky\""));
    assert!(xml.contains("type=\"memory-leak\""), "{xml}");
    assert!(dir.join("runs/leaky/run.json").exists() && dir.join("runs/fixed/run.json").exists());

    // Only the fixed scenario, with a threshold it cannot meet: fails on the threshold alone.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap().replace(
            "max_bytes_per_request = 5000",
            "max_bytes_per_request = 0.001",
        ),
    )
    .unwrap();
    let out = plateau(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--scenario",
        "fixed",
        "-o",
        dir.join("runs").to_str().unwrap(),
    ]);
    let text = stdout(&out);
    match out.status.code() {
        // The warm-up fills the bounded cache, so some growth per request is always seen.
        Some(1) => assert!(text.contains("above max_bytes_per_request"), "{text}"),
        other => panic!("exit {other:?}: {text} {}", stderr(&out)),
    }

    // A broken config is an error naming the file.
    std::fs::write(&config, "[[scenario]]\nname = 3\n").unwrap();
    let out = plateau(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("plateau.toml"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_external_load_command_drives_the_rounds() {
    let dir = temp_dir("load-cmd");
    // 300 keep-alive-less GETs per phase, four at a time, from a node one-liner.
    let load = "node -e \"const h=require('http');let n=0;const go=()=>{if(n++>=300)return;h.get('http://127.0.0.1:{port}/login',r=>{r.resume();r.on('end',go)})};for(let i=0;i<4;i++)go()\"";
    let (code, doc, err) = repro(
        &dir,
        &["--load-cmd", load, "--rounds", "3"],
        &["node", &fixture("services/node/leaky.js")],
    );
    assert_eq!(code, 1, "{err}\n{doc:#}");
    assert_eq!(doc["verdict"], "leak");
    let phase = &doc["load"][1]["report"];
    assert_eq!(phase["exit_code"], 0, "{phase:#}");
    assert!(doc["suspects"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("sessions > cache (Map)"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_capture_that_cannot_work_stops_the_run_with_what_was_collected() {
    let dir = temp_dir("bad-capture");
    // jcmd cannot attach to node: refused before any signal is sent.
    let (code, _, err) = repro(
        &dir,
        &[
            "--url",
            "http://127.0.0.1:{port}/login",
            "--runtime",
            "java",
            "--warmup",
            "50",
        ],
        &["node", &fixture("services/node/fixed.js")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the snapshot after warm-up failed"), "{err}");
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["verdict"], "inconclusive");
    assert_eq!(
        run["load"][0]["report"]["requests"], 50,
        "the warm-up is kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_the_run_and_the_service_with_it() {
    let dir = temp_dir("ctrl-c");
    let marker = format!("plateau-ctrl-c-{}", std::process::id());
    let script =
        "require('http').createServer((q,s)=>s.end('ok')).listen(+process.env.PORT,'127.0.0.1')";
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args([
            "repro",
            "--url",
            "http://127.0.0.1:{port}/",
            "--rate",
            "50",
            "--warmup",
            "100000",
            "--runtime",
            "none",
            "-o",
            dir.to_str().unwrap(),
            "--",
            "node",
            "-e",
            script,
            &marker,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let service_running = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains(&marker) && c.starts_with("node")
                })
                .unwrap_or(false)
        })
    };
    let started = std::time::Instant::now();
    while !service_running() && started.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(service_running(), "the service started");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!service_running(), "the service is gone after Ctrl-C");
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["verdict"], "inconclusive");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_port_already_in_use_is_reported_with_the_services_own_error() {
    let dir = temp_dir("port-in-use");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    // A service that ignores $PORT and binds a port someone else holds.
    let script =
        "require('http').createServer((q,s)=>s.end()).listen(+process.argv[1],'127.0.0.1')";
    let (code, _, err) = repro(
        &dir,
        &[
            "--url",
            "http://127.0.0.1:{port}/",
            "--ready-timeout",
            "10s",
        ],
        &["node", "-e", script, &port],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("EADDRINUSE"), "the service's own words: {err}");
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The pprof path end to end: a stand-in for a Go service's `/debug/pprof/heap` that serves
/// the real Go heap profiles of fixtures/pprof/go-leaky in turn (h0 after the warm-up, h1, h2
/// after the rounds).
#[test]
fn pprof_profiles_are_fetched_between_rounds_and_the_growing_site_named() {
    let dir = temp_dir("pprof");
    let profiles = fixture("pprof/go-leaky");
    let script = "const fs=require('fs');let k=0;require('http').createServer((q,s)=>{if(q.url.startsWith('/debug/pprof/heap')){const f=process.argv[1]+'/h'+Math.min(k++,2)+'.pb.gz';s.writeHead(200,{'content-type':'application/octet-stream'});s.end(fs.readFileSync(f));return}s.end('ok')}).listen(+process.env.PORT,'127.0.0.1')";
    let (code, doc, err) = repro(
        &dir,
        &[
            "--url",
            "http://127.0.0.1:{port}/",
            "--pprof-url",
            "http://127.0.0.1:{port}/debug/pprof/heap?gc=1",
            "--rounds",
            "2",
            "--warmup",
            "50",
            "--requests",
            "100",
        ],
        &["node", "-e", script, &profiles],
    );
    assert_eq!(code, 1, "{err}\n{doc:#}");
    assert_eq!(doc["runtime"], "pprof");
    assert_eq!(doc["snapshots"].as_array().unwrap().len(), 3);
    assert_eq!(doc["suspects"][0]["class"], "main.newSession", "{doc:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--pid`: a service already running (started here, not by plateau) is loaded, its
/// inspector opened with SIGUSR1, snapshotted, and left running.
#[test]
fn a_running_node_service_is_attached_to_by_pid_and_left_running() {
    let dir = temp_dir("attach");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut service = std::process::Command::new("node")
        .arg(fixture("services/node/leaky.js"))
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_err()
        && started.elapsed() < std::time::Duration::from_secs(20)
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let url = format!("http://127.0.0.1:{port}/login");
    let pid = service.id().to_string();
    let out = plateau(&[
        "repro",
        "--pid",
        &pid,
        "--url",
        &url,
        "--warmup",
        "300",
        "--requests",
        "1500",
        "--cooldown",
        "1s",
        "-o",
        dir.to_str().unwrap(),
        "--json",
    ]);
    let alive = service.try_wait().unwrap().is_none();
    // {port} makes no sense with --pid: plateau does not pick the port of a running service.
    let wrong = plateau(&["repro", "--pid", &pid, "--url", "http://127.0.0.1:{port}/"]);
    let _ = service.kill();
    let _ = service.wait();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["runtime"], "node");
    assert!(
        doc["suspects"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("sessions > cache (Map)"),
        "{doc:#}"
    );
    assert!(alive, "an attached service is left running");
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("with --pid"), "{}", stderr(&wrong));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real ThreadLocal leak on pooled threads: one suspect, named as such, held under the
/// threads' `threadLocals` (the growing byte[] class is folded into it).
#[test]
fn a_java_threadlocal_leak_is_named_as_one() {
    let dir = temp_dir("threadlocal");
    let (code, doc, err) = repro(
        &dir,
        &[
            "--url",
            "http://127.0.0.1:{port}/audit",
            "--warmup",
            "300",
            "--rounds",
            "3",
            "--requests",
            "1500",
        ],
        &["java", &fixture("services/java/ThreadLocalLeak.java")],
    );
    assert_eq!(code, 1, "{err}\n{doc:#}");
    let suspects = doc["suspects"].as_array().unwrap();
    assert_eq!(suspects.len(), 1, "{doc:#}");
    assert_eq!(suspects[0]["pattern"], "threadlocal-leak");
    assert!(
        suspects[0]["path"]
            .as_str()
            .unwrap()
            .contains("> threadLocals (java.lang.ThreadLocal$ThreadLocalMap)"),
        "{doc:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
