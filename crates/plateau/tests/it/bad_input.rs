//! Bad input: one clear line on stderr naming the file, exit code 2, never a panic.

use std::io::{Read, Write};

use crate::{plateau, scratch_file, stderr};

fn run_on_bytes(name: &str, bytes: &[u8]) -> (i32, String) {
    let path = scratch_file(name, bytes);
    let out = plateau(&["analyze", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(name), "names the file: {err}");
    (out.status.code().unwrap(), err)
}

#[test]
fn empty_file() {
    let (code, err) = run_on_bytes("empty.heapsnapshot", b"");
    assert_eq!(code, 2);
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn not_json() {
    let (code, err) = run_on_bytes("notes.heapsnapshot", b"hello, world\n");
    assert_eq!(code, 2, "{err}");
}

#[test]
fn json_of_another_shape() {
    let (code, err) = run_on_bytes(
        "other.heapsnapshot",
        br#"{"name": "package", "version": 1}"#,
    );
    assert_eq!(code, 2, "{err}");
}

#[test]
fn truncated_snapshot() {
    let mut tiny = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(crate::fixture("v8/tiny.heapsnapshot.gz")).unwrap(),
    )
    .read_to_end(&mut tiny)
    .unwrap();
    let (code, err) = run_on_bytes("cut.heapsnapshot", &tiny[..tiny.len() / 2]);
    assert_eq!(code, 2);
    assert!(err.contains("byte"), "names the offset: {err}");
}

#[test]
fn a_truncated_hprof_header_names_the_offset() {
    let (code, err) = run_on_bytes("dump.hprof", b"JAVA PROFILE 1.0.2\0\0\0\0\x08");
    assert_eq!(code, 2);
    assert!(
        err.contains("HPROF header") && err.contains("byte 23"),
        "{err}"
    );
}

#[test]
fn missing_file() {
    let out = plateau(&["analyze", "/nonexistent/x.heapsnapshot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/x.heapsnapshot"));
}

#[test]
fn truncated_gzip() {
    let gz = std::fs::read(crate::fixture("v8/tiny.heapsnapshot.gz")).unwrap();
    let (code, err) = run_on_bytes("cut.heapsnapshot.gz", &gz[..gz.len() / 3]);
    assert_eq!(code, 2);
    assert!(err.contains("byte"), "names the offset: {err}");
    let cause = "incomplete deflate stream";
    assert!(err.matches(cause).count() <= 1, "each cause once: {err}");
}

/// `pickle.dumps(Evil(), 2)` where `Evil.__reduce__` returns `(os.system, ('touch ...',))`:
/// refused before anything could run.
#[test]
fn a_pickle_that_would_run_code_is_refused() {
    const EVIL: &[u8] = b"\x80\x02cposix\nsystem\nq\x00X$\x00\x00\x00touch \
        /tmp/plateau-tracemalloc-pwnedq\x01\x85q\x02Rq\x03.";
    let (code, err) = run_on_bytes("evil.tracemalloc", EVIL);
    assert_eq!(code, 2);
    assert!(err.contains("posix.system"), "{err}");
    assert!(
        err.contains("nothing was executed") || err.contains("not part of a tracemalloc"),
        "{err}"
    );
}

#[test]
fn a_protobuf_that_is_not_a_profile() {
    // A gzipped pprof-looking prefix cut short: period_type, then nothing.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&[0x5a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x60])
        .unwrap();
    let (code, err) = run_on_bytes("cut.pb.gz", &gz.finish().unwrap());
    assert_eq!(code, 2);
    assert!(err.contains("byte"), "names the offset: {err}");
}
