//! `capture` against real runtimes on this machine (node, java with jcmd, python3; each test
//! is skipped with a message when its runtime is missing) and a loopback pprof server.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use plateau_probe::capture::{
    capture_java, capture_node, capture_pprof, capture_python, enable_inspector_by_signal,
    next_python_snapshot, parse_inspector_banner, python_capture_env, CaptureError, NodeInspector,
    INSPECTOR_SIGNAL_PORT,
};

/// Kills and reaps the child however the test ends.
struct Reaped(Child);

impl Reaped {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch directory removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("plateau-capture-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn have(program: &str, arg: &str) -> bool {
    let ok = Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: `{program}` is not installed");
    }
    ok
}

/// Every line of `stream`, from a thread that drains it to the end.
fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &Receiver<String>, what: impl Fn(&str) -> bool, timeout: Duration) -> String {
    let until = Instant::now() + timeout;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if what(&line) => return line,
            Ok(_) => {}
            Err(e) => panic!("the expected line did not come within {timeout:?}: {e}"),
        }
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Node

/// Keeps ~`objects` small objects alive and keeps allocating.
fn node_script(objects: usize) -> String {
    format!(
        "globalThis.keep = []; for (let i = 0; i < {objects}; i++) keep.push({{ i, s: 'item' + i }});\
         setInterval(() => {{ keep.push(new Array(8).fill(keep.length)); }}, 20);\
         console.log('ready');"
    )
}

/// `node --inspect=127.0.0.1:0 -e script` and its inspector URL from the banner.
fn node_with_inspector(script: &str) -> (Reaped, String) {
    let mut child = Command::new("node")
        .args(["--inspect=127.0.0.1:0", "-e", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let stderr = lines(child.stderr.take().unwrap());
    let stdout = lines(child.stdout.take().unwrap());
    let child = Reaped(child);
    let banner = wait_for(
        &stderr,
        |l| parse_inspector_banner(l).is_some(),
        Duration::from_secs(15),
    );
    wait_for(&stdout, |l| l == "ready", Duration::from_secs(15));
    (child, parse_inspector_banner(&banner).unwrap())
}

fn check_heapsnapshot(path: &Path) {
    let bytes = fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"{\"snapshot\":{\"meta\":"),
        "starts with {:?}",
        String::from_utf8_lossy(&bytes[..40.min(bytes.len())])
    );
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("complete JSON");
    let nodes = doc["snapshot"]["node_count"].as_u64().unwrap();
    assert!(nodes > 1000, "{nodes} nodes");
    assert_eq!(mode(path), 0o600);
}

#[test]
fn node_snapshot_through_the_banner_url_and_through_discovery() {
    if !have("node", "--version") {
        return;
    }
    let dir = Scratch::new("node");
    let (mut child, ws_url) = node_with_inspector(&node_script(20_000));

    let path = dir.join("a.heapsnapshot");
    let mut progress = Vec::new();
    let report = capture_node(&ws_url, &path, Duration::from_secs(30), |done, total| {
        progress.push((done, total))
    })
    .unwrap();
    assert_eq!(report.path, path);
    assert_eq!(report.bytes, fs::metadata(&path).unwrap().len());
    assert!(!progress.is_empty());
    assert!(progress.iter().all(|&(done, total)| done <= total));
    check_heapsnapshot(&path);

    // host:port -> GET /json/list -> the same process; then a session used by hand.
    let authority = ws_url
        .strip_prefix("ws://")
        .and_then(|r| r.split('/').next())
        .unwrap();
    let mut inspector = NodeInspector::connect(authority, Duration::from_secs(10)).unwrap();
    assert_eq!(inspector.url(), ws_url);
    assert_eq!(inspector.pid(Duration::from_secs(10)).unwrap(), child.pid());
    let path_b = dir.join("b.heapsnapshot");
    inspector
        .take_heap_snapshot(&path_b, Duration::from_secs(30), |_, _| {})
        .unwrap();
    inspector.close();
    check_heapsnapshot(&path_b);

    // Too short a timeout: an error, and nothing under either name.
    let path_c = dir.join("c.heapsnapshot");
    let err = capture_node(&ws_url, &path_c, Duration::from_millis(5), |_, _| {}).unwrap_err();
    assert!(matches!(err, CaptureError::Timeout { .. }), "{err}");
    assert!(!path_c.exists());

    assert!(leftovers(&dir.0).is_empty());
    assert!(child.alive(), "the service survives its captures");
}

#[test]
fn node_exiting_mid_capture_is_an_error_and_leaves_no_file() {
    if !have("node", "--version") {
        return;
    }
    let dir = Scratch::new("node-exit");
    // Big enough that V8 is still walking the heap when the first progress report arrives.
    let (mut child, ws_url) = node_with_inspector(&node_script(300_000));
    let path = dir.join("gone.heapsnapshot");
    let started = Instant::now();
    let err = capture_node(&ws_url, &path, Duration::from_secs(30), |_, _| {
        let _ = child.0.kill();
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, CaptureError::Closed { .. }),
        "expected a closed connection: {text}"
    );
    assert!(text.contains("did the process exit"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!path.exists());
    assert!(leftovers(&dir.0).is_empty());
}

#[test]
fn nobody_listening_is_a_clear_fast_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = Scratch::new("refused");
    let started = Instant::now();
    for target in [
        format!("127.0.0.1:{port}"),
        format!("ws://127.0.0.1:{port}/x"),
    ] {
        let err = capture_node(
            &target,
            &dir.join("x.heapsnapshot"),
            Duration::from_secs(10),
            |_, _| {},
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, CaptureError::Connect { .. }), "{text}");
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("--inspect"), "{text}");
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(fs::read_dir(&dir.0).unwrap().next().is_none());
}

/// Tests that need 127.0.0.1:9229 take turns.
static PORT_9229: Mutex<()> = Mutex::new(());

fn port_9229_free() -> bool {
    let busy = TcpStream::connect_timeout(
        &([127, 0, 0, 1], INSPECTOR_SIGNAL_PORT).into(),
        Duration::from_millis(300),
    )
    .is_ok();
    if busy {
        eprintln!("skipped: 127.0.0.1:9229 is in use by another program");
    }
    !busy
}

#[test]
fn sigusr1_opens_the_inspector_of_a_running_node() {
    if !have("node", "--version") {
        return;
    }
    let _turn = PORT_9229.lock().unwrap_or_else(|e| e.into_inner());
    if !port_9229_free() {
        return;
    }
    let dir = Scratch::new("sigusr1");
    let mut child = Command::new("node")
        .args(["-e", &node_script(5_000)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let mut child = Reaped(child);
    wait_for(&stdout, |l| l == "ready", Duration::from_secs(15));
    let url = match enable_inspector_by_signal(child.pid(), Duration::from_secs(15)) {
        Err(CaptureError::InspectorPortTaken { other_pid, .. }) => {
            eprintln!("skipped: process {other_pid} took 127.0.0.1:9229 meanwhile");
            return;
        }
        other => other.unwrap(),
    };
    assert!(url.starts_with("ws://127.0.0.1:9229/"), "{url}");
    // Already open: found again without a second signal.
    assert_eq!(
        enable_inspector_by_signal(child.pid(), Duration::from_secs(15)).unwrap(),
        url
    );
    let path = dir.join("signalled.heapsnapshot");
    capture_node(&url, &path, Duration::from_secs(30), |_, _| {}).unwrap();
    check_heapsnapshot(&path);
    assert!(child.alive());
}

#[test]
fn sigusr1_is_not_sent_to_a_process_it_would_kill() {
    let _turn = PORT_9229.lock().unwrap_or_else(|e| e.into_inner());
    if !port_9229_free() {
        return;
    }
    let mut sleeper = Reaped(
        Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(50));
    let err = enable_inspector_by_signal(sleeper.pid(), Duration::from_secs(5)).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, CaptureError::SignalNotHandled { .. }),
        "{text}"
    );
    assert!(text.contains("SIGUSR1 would terminate it"), "{text}");
    assert!(sleeper.alive());
}

// ---------------------------------------------------------------------------------------------
// Java

const WAIT_JAVA: &str = r#"
import java.util.ArrayList;
import java.util.List;

public class Wait {
    static final List<String> KEEP = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < 10000; i++) KEEP.add("item-" + i);
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(120_000);
    }
}
"#;

#[test]
fn java_heap_dump_through_jcmd() {
    if !have("java", "-version") || !have("jcmd", "-h") {
        return;
    }
    let dir = Scratch::new("java");
    fs::write(dir.join("Wait.java"), WAIT_JAVA).unwrap();
    let mut child = Command::new("java")
        .args(["-Xmx64m", "-XX:TieredStopAtLevel=1", "Wait.java"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let mut child = Reaped(child);
    wait_for(&stdout, |l| l == "ready", Duration::from_secs(40));

    // A blank and an '=' the JVM's command parser must not split on.
    let path = dir.join("live heap=1.hprof");
    for _ in 0..2 {
        // The second run replaces the first (the JVM itself refuses existing files).
        let report = capture_java(child.pid(), &path, Duration::from_secs(40)).unwrap();
        assert_eq!(report.path, path);
        let mut head = [0u8; 19];
        fs::File::open(&path)
            .unwrap()
            .read_exact(&mut head)
            .unwrap();
        assert_eq!(&head, b"JAVA PROFILE 1.0.2\0");
        assert_eq!(report.bytes, fs::metadata(&path).unwrap().len());
        assert!(report.bytes > 100_000, "{} bytes", report.bytes);
        assert_eq!(mode(&path), 0o600);
    }
    assert!(leftovers(&dir.0).is_empty());
    assert!(child.alive());
}

#[test]
fn jcmd_on_a_dead_pid_or_a_non_jvm_is_refused() {
    let dir = Scratch::new("java-dead");
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let err = capture_java(pid, &dir.join("x.hprof"), Duration::from_secs(10)).unwrap_err();
    assert!(matches!(err, CaptureError::ProcessGone { .. }), "{err}");
    assert!(err.to_string().contains(&pid.to_string()));

    // jcmd's attach sends SIGQUIT, which would kill a process that is not a JVM.
    let mut sleeper = Reaped(Command::new("sleep").arg("30").spawn().unwrap());
    std::thread::sleep(Duration::from_millis(50));
    let err =
        capture_java(sleeper.pid(), &dir.join("x.hprof"), Duration::from_secs(10)).unwrap_err();
    assert!(err.to_string().contains("not a HotSpot JVM"), "{err}");
    assert!(sleeper.alive());
    assert!(fs::read_dir(&dir.0).unwrap().next().is_none());
}

// ---------------------------------------------------------------------------------------------
// Python

/// `python3 -c script` with `env`, and its stdout lines.
fn python(script: &str, env: &[(String, String)]) -> (Reaped, Receiver<String>) {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stdout = lines(child.stdout.take().unwrap());
    (Reaped(child), stdout)
}

#[test]
fn python_snapshots_on_signal_and_chains_the_users_sitecustomize() {
    if !have("python3", "--version") {
        return;
    }
    let scratch = Scratch::new("python");
    let helper = scratch.join("helper");
    let user = scratch.join("user");
    fs::create_dir_all(&user).unwrap();
    fs::write(user.join("sitecustomize.py"), "MARK = 'user-site'\n").unwrap();
    let mut env = python_capture_env(&helper).unwrap();
    env.push(("PLATEAU_TRACEMALLOC_FRAMES".into(), "10".into()));
    // As if the user's directory had been on PYTHONPATH already.
    for (k, v) in &mut env {
        if k == "PYTHONPATH" {
            *v = format!("{}:{}", v.split(':').next().unwrap(), user.display());
        }
    }
    let script = "import sitecustomize, time, tracemalloc\n\
                  print('ready', getattr(sitecustomize, 'MARK', None), tracemalloc.is_tracing(), flush=True)\n\
                  keep = []\n\
                  while True:\n    keep.append(bytearray(512))\n    del keep[:-2000]\n    time.sleep(0.005)\n";
    let (mut child, stdout) = python(script, &env);
    let ready = wait_for(&stdout, |l| l.starts_with("ready"), Duration::from_secs(15));
    assert_eq!(ready, "ready user-site True");

    for k in 1..=2 {
        assert_eq!(next_python_snapshot(&helper), k);
        let path = capture_python(child.pid(), &helper, k, Duration::from_secs(20)).unwrap();
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("snapshot-{k}.tracemalloc")
        );
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes[0], 0x80, "a pickle");
        assert_eq!(mode(&path), 0o600);
    }
    // Python reads its own snapshot back.
    let check = Command::new("python3")
        .args([
            "-c",
            "import sys, tracemalloc; s = tracemalloc.Snapshot.load(sys.argv[1]); \
             assert s.traceback_limit == 10, s.traceback_limit; print(len(s.traces) > 0)",
        ])
        .arg(helper.join("snapshot-2.tracemalloc"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "True",
        "{check:?}"
    );
    assert!(leftovers(&helper).is_empty());
    assert!(child.alive());
}

#[test]
fn python_that_blocks_the_signal_times_out_clearly() {
    if !have("python3", "--version") {
        return;
    }
    let scratch = Scratch::new("python-blocked");
    let helper = scratch.join("helper");
    let env = python_capture_env(&helper).unwrap();
    let script = "import signal, time\n\
                  signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})\n\
                  print('ready', flush=True)\n\
                  time.sleep(60)\n";
    let (mut child, stdout) = python(script, &env);
    wait_for(&stdout, |l| l == "ready", Duration::from_secs(15));
    let started = Instant::now();
    let err = capture_python(child.pid(), &helper, 1, Duration::from_millis(800)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, CaptureError::Timeout { .. }), "{text}");
    assert!(text.contains("blocks SIGUSR2"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(child.alive());
}

#[test]
fn python_without_the_handler_is_not_signalled() {
    if !have("python3", "--version") {
        return;
    }
    let scratch = Scratch::new("python-ignored");
    let helper = scratch.join("helper");
    let env = python_capture_env(&helper).unwrap();
    // Started with the helper, but the program then ignores the signal.
    let script = "import signal, time\n\
                  signal.signal(signal.SIGUSR2, signal.SIG_IGN)\n\
                  print('ready', flush=True)\n\
                  time.sleep(60)\n";
    let (mut ignoring, stdout) = python(script, &env);
    wait_for(&stdout, |l| l == "ready", Duration::from_secs(15));
    let err = capture_python(ignoring.pid(), &helper, 1, Duration::from_secs(5)).unwrap_err();
    assert!(err.to_string().contains("ignores SIGUSR2"), "{err}");
    assert!(ignoring.alive());

    // Started without it: SIGUSR2 would kill it.
    let (mut plain, stdout) = python(
        "import time\nprint('ready', flush=True)\ntime.sleep(60)\n",
        &[],
    );
    wait_for(&stdout, |l| l == "ready", Duration::from_secs(15));
    let err = capture_python(plain.pid(), &helper, 1, Duration::from_secs(5)).unwrap_err();
    assert!(
        err.to_string()
            .contains("not started with plateau's tracemalloc helper"),
        "{err}"
    );
    assert!(plain.alive());
}

// ---------------------------------------------------------------------------------------------
// pprof

/// Serves fixed responses by path until the test ends.
fn pprof_server(profile: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && s.read_exact(&mut byte).is_ok() {
                request.push(byte[0]);
            }
            let request = String::from_utf8_lossy(&request);
            let target = request.split_whitespace().nth(1).unwrap_or("");
            let mut response = Vec::new();
            match target {
                "/debug/pprof/heap?gc=1" => {
                    response.extend_from_slice(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                             Content-Length: {}\r\n\r\n",
                            profile.len()
                        )
                        .as_bytes(),
                    );
                    response.extend_from_slice(&profile);
                }
                "/chunked" => {
                    response.extend_from_slice(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                    );
                    for part in profile.chunks(7000) {
                        response.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                        response.extend_from_slice(part);
                        response.extend_from_slice(b"\r\n");
                    }
                    response.extend_from_slice(b"0\r\n\r\n");
                }
                "/html" => response.extend_from_slice(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n\
                      <!DOCTYPE html><html><body>Login required</body></html>",
                ),
                "/debug/pprof/heap?debug=1" => response.extend_from_slice(
                    b"HTTP/1.1 200 OK\r\n\r\nheap profile: 3: 4096 [5: 8192] @ heap/1048576\n",
                ),
                _ => response.extend_from_slice(
                    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n\
                      <html><body>404 page not found</body></html>",
                ),
            }
            let _ = s.write_all(&response);
        }
    });
    port
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn pprof_fetch_saves_gzip_and_refuses_anything_else() {
    // Incompressible enough to be a few hundred KB.
    let data: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let profile = gzip(&data);
    let port = pprof_server(profile.clone());
    let dir = Scratch::new("pprof");
    let base = format!("http://127.0.0.1:{port}");
    let timeout = Duration::from_secs(10);

    for (url, name) in [
        (format!("{base}/debug/pprof/heap?gc=1"), "heap.pb.gz"),
        (format!("{base}/chunked"), "chunked.pb.gz"),
    ] {
        let path = dir.join(name);
        let report = capture_pprof(&url, &path, timeout).unwrap();
        assert_eq!(report.bytes, profile.len() as u64);
        assert_eq!(fs::read(&path).unwrap(), profile);
        assert_eq!(mode(&path), 0o600);
    }

    let path = dir.join("bad.pb.gz");
    let err = capture_pprof(&format!("{base}/missing"), &path, timeout).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, CaptureError::HttpStatus { status: 404, .. }),
        "{text}"
    );
    assert!(
        text.contains("404 Not Found") && text.contains("<html>"),
        "{text}"
    );

    let err = capture_pprof(&format!("{base}/html"), &path, timeout).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, CaptureError::NotPprof { .. }), "{text}");
    assert!(text.contains("<!DOCTYPE html>"), "{text}");

    let err =
        capture_pprof(&format!("{base}/debug/pprof/heap?debug=1"), &path, timeout).unwrap_err();
    assert!(err.to_string().contains("drop ?debug=1"), "{err}");

    let err = capture_pprof("http://192.0.2.1:6060/debug/pprof/heap", &path, timeout).unwrap_err();
    assert!(matches!(err, CaptureError::NotLoopback { .. }), "{err}");

    assert!(!path.exists());
    assert!(leftovers(&dir.0).is_empty());
}
