//! `plateau classify`: the contract (CSV `timestamp,bytes`, JSON fields, exit codes) on
//! generated shapes, and bad input.

use std::fmt::Write as _;

use crate::{plateau, scratch_file, stderr, stdout, ScratchFile};

const MIB: f64 = 1024.0 * 1024.0;

fn write_temp(name: &str, text: &str) -> ScratchFile {
    scratch_file(name, text.as_bytes())
}

/// Two hours at 5 s: a GC sawtooth of 90 s over `f(t)`, with a deterministic wobble.
fn csv(f: impl Fn(f64) -> f64) -> String {
    let mut out = String::from("timestamp,bytes\n");
    for i in 0..1440 {
        let t = i as f64 * 5.0;
        let wobble = ((i as f64 * 12.9898).sin() * 43_758.545).fract() * 2.0 - 1.0;
        let v = f(t) + 40.0 * MIB * (t / 90.0).fract() + 2.0 * MIB * wobble;
        writeln!(out, "{:.1},{}", 1_732_430_000.0 + t, v as u64).unwrap();
    }
    out
}

fn json_of(path: &std::path::Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["classify", path.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = plateau(&args);
    let doc = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap(), doc)
}

#[test]
fn a_leak_exits_1_with_slope_and_time_to_limit() {
    let path = write_temp("leak.csv", &csv(|t| 300.0 * MIB + 20.0 * MIB / 3600.0 * t));
    let (code, doc) = json_of(&path, &["--limit", "2G"]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(doc["verdict"], "leak");
    assert_eq!(doc["schema_version"], 1);
    let slope = doc["slope_bytes_per_s"].as_f64().unwrap() * 3600.0 / MIB;
    assert!((slope - 20.0).abs() < 3.0, "{slope} MiB/h");
    assert!(doc["time_to_limit_s"].as_f64().unwrap() > 0.0);
    assert!(doc["confidence"].as_f64().unwrap() > 0.9);
    assert!(doc["evidence"].as_array().unwrap().len() >= 3);
    // Without a limit there is no time to it.
    let (code, doc) = json_of(&path, &[]);
    assert_eq!(code, 1);
    assert!(doc["time_to_limit_s"].is_null());

    let out = plateau(&["classify", path.to_str().unwrap(), "--limit", "2G"]);
    let text = stdout(&out);
    assert!(text.starts_with("LEAK  memory grows"), "{text}");
    assert!(text.contains("reaches the 2.0 GiB limit in"), "{text}");
}

#[test]
fn flat_exits_0() {
    let path = write_temp("flat.csv", &csv(|_| 300.0 * MIB));
    let (code, doc) = json_of(&path, &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["verdict"], "stable");
    assert!(doc["time_to_limit_s"].is_null());
    let (_, doc) = json_of(&path, &["--limit", "400Mi"]);
    assert_eq!(doc["verdict"], "plateau", "{doc:#}");
}

#[test]
fn one_reading_is_insufficient_data_not_an_error() {
    let path = write_temp("one.csv", "timestamp,bytes\n1.0,100\n");
    let (code, doc) = json_of(&path, &[]);
    assert_eq!(code, 0);
    assert_eq!(doc["verdict"], "insufficient-data");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for (name, text, expected) in [
        ("empty.csv", "", "empty file"),
        (
            "header.csv",
            "time,value\n1,2\n",
            "expected the CSV header `timestamp,bytes`",
        ),
        ("only-header.csv", "timestamp,bytes\n", "no usable readings"),
        (
            "words.csv",
            "timestamp,bytes\n1,abc\n2,def\n",
            "line 2: bytes `abc` is not an integer",
        ),
    ] {
        let path = write_temp(name, text);
        let out = plateau(&["classify", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains(name) && err.contains(expected),
            "{name}: {err}"
        );
    }
    // A heap dump where a series was expected: the command that reads it is named.
    let snapshot = crate::fixture("v8/tiny.heapsnapshot.gz");
    let out = plateau(&["classify", &snapshot]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("found binary data") && err.contains("plateau analyze"),
        "{err}"
    );
    let out = plateau(&["classify", "/nonexistent/series.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let out = plateau(&["classify", "x.csv", "--limit", "12 parsecs"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn some_bad_lines_are_skipped_and_reported() {
    let mut text = csv(|_| 300.0 * MIB);
    text.push_str("oops,12\n");
    let path = write_temp("mostly-good.csv", &text);
    let (code, doc) = json_of(&path, &[]);
    assert_eq!(code, 0);
    assert_eq!(doc["skipped_lines"], 1);
    assert!(doc["warnings"][0].as_str().unwrap().contains("line 1442"));
}
