//! Integration tests of the tracemalloc reader: real CPython dumps against Python's own
//! `statistics()` (the oracle in `fixtures/tracemalloc/`, see its README), synthetic pickles
//! for protocols and layouts no Python here writes, every way a file can be hostile, cut or
//! malformed, and a stable-toolchain stand-in for the fuzz target. One file, organised in
//! modules as `tests/hprof.rs` is.

#[path = "support/mutate.rs"]
mod mutate;

mod common {
    use std::path::PathBuf;

    use plateau_formats::tracemalloc::{read, TracemallocDump, TracemallocOptions};
    use plateau_formats::{FormatError, Parsed};

    pub fn fixture_path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/tracemalloc")
            .join(name)
    }

    pub fn fixture_bytes(name: &str) -> Vec<u8> {
        std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn fixture_json(name: &str) -> serde_json::Value {
        serde_json::from_slice(&fixture_bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn fixture_jsonl(name: &str) -> Vec<serde_json::Value> {
        let text = String::from_utf8(fixture_bytes(name)).expect("utf-8");
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
            .collect()
    }

    pub fn parse(bytes: &[u8]) -> Result<Parsed<TracemallocDump>, FormatError> {
        read(bytes, &TracemallocOptions::default(), &mut |_| {})
    }

    pub fn parse_small_buffer(bytes: &[u8]) -> Result<Parsed<TracemallocDump>, FormatError> {
        read(bytes, &TracemallocOptions { buffer_size: 64 }, &mut |_| {})
    }

    pub fn parse_ok(bytes: &[u8]) -> Parsed<TracemallocDump> {
        parse(bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn err(bytes: &[u8]) -> String {
        match parse(bytes) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// A small pickle writer for hand-made inputs.
    #[derive(Clone)]
    pub struct P(pub Vec<u8>);

    impl P {
        pub fn proto(version: u8) -> P {
            P(vec![0x80, version])
        }

        pub fn op(mut self, code: u8) -> P {
            self.0.push(code);
            self
        }

        pub fn raw(mut self, bytes: &[u8]) -> P {
            self.0.extend_from_slice(bytes);
            self
        }

        pub fn s(mut self, text: &str) -> P {
            assert!(text.len() < 256);
            self.0.push(0x8c);
            self.0.push(text.len() as u8);
            self.0.extend_from_slice(text.as_bytes());
            self
        }

        pub fn int(mut self, v: i64) -> P {
            if (0..256).contains(&v) {
                self.0.extend_from_slice(&[b'K', v as u8]);
            } else if (0..65536).contains(&v) {
                self.0.push(b'M');
                self.0.extend_from_slice(&(v as u16).to_le_bytes());
            } else if i32::try_from(v).is_ok() {
                self.0.push(b'J');
                self.0.extend_from_slice(&(v as i32).to_le_bytes());
            } else {
                self.0.extend_from_slice(&[0x8a, 8]);
                self.0.extend_from_slice(&v.to_le_bytes());
            }
            self
        }

        pub fn global(self, module: &str, name: &str) -> P {
            self.s(module).s(name).op(0x93)
        }

        /// `(domain, size, ((file, line), ...), total_nframe)`.
        pub fn trace4(self, size: i64, frames: &[(&str, i64)], nframe: i64) -> P {
            self.op(b'(')
                .int(0)
                .int(size)
                .frames(frames)
                .int(nframe)
                .op(b't')
        }

        pub fn trace3(self, size: i64, frames: &[(&str, i64)]) -> P {
            self.int(0).int(size).frames(frames).op(0x87)
        }

        pub fn frames(self, frames: &[(&str, i64)]) -> P {
            let mut p = self.op(b'(');
            for (file, line) in frames {
                p = p.s(file).int(*line).op(0x86);
            }
            p.op(b't')
        }

        /// The snapshot's opening, up to the `_traces` value.
        pub fn snapshot_head(self) -> P {
            self.global("tracemalloc", "Snapshot")
                .op(b')')
                .op(0x81)
                .op(b'}')
                .op(b'(')
                .s("traces")
                .global("tracemalloc", "_Traces")
                .op(b')')
                .op(0x81)
                .op(b'}')
                .s("_traces")
        }

        /// After the `_traces` value: the rest of the snapshot and `STOP`.
        pub fn snapshot_tail(self, limit: i64) -> P {
            self.op(b's')
                .op(b'b')
                .s("traceback_limit")
                .int(limit)
                .op(b'u')
                .op(b'b')
                .op(b'.')
        }
    }

    /// A whole snapshot whose `_traces` list gets `traces` (the trace opcodes) by APPENDS.
    pub fn snapshot(traces: impl FnOnce(P) -> P, limit: i64) -> Vec<u8> {
        let p = P::proto(5).snapshot_head().op(b']').op(b'(');
        traces(p).op(b'e').snapshot_tail(limit).0
    }
}

/// Real dumps against Python's own statistics.
mod oracle {
    use std::collections::BTreeMap;

    use plateau_formats::tracemalloc::TraceLayout;
    use plateau_profile::AllocProfile;
    use serde_json::Value;

    use crate::common::*;

    /// (oracle dir, dump stem) of every real dump.
    const DUMPS: [(&str, &str, &str); 6] = [
        ("leaky-service/oracle", "leaky-service", "s0"),
        ("leaky-service/oracle", "leaky-service", "s1"),
        ("leaky-service/oracle", "leaky-service", "s2"),
        ("layouts/oracle/py36", "layouts", "py36"),
        ("layouts/oracle/py38", "layouts", "py38"),
        ("layouts/oracle/py313", "layouts", "py313"),
    ];

    type Groups<K> = BTreeMap<K, (i64, i64)>;

    fn frame(p: &AllocProfile, id: u32) -> (String, i64) {
        let f = p.frame(id);
        (f.file.clone(), f.line)
    }

    /// Sums over samples keyed by `key` of each sample's stack (several keys: cumulative).
    fn group<K: Ord>(p: &AllocProfile, key: impl Fn(&[u32]) -> Vec<K>) -> Groups<K> {
        let mut out = Groups::new();
        for (i, s) in p.samples().iter().enumerate() {
            let v = p.values(i);
            assert_eq!(v[1], s.records as i64, "count = traces merged");
            for k in key(p.stack(s.stack)) {
                let e = out.entry(k).or_insert((0, 0));
                e.0 += v[0];
                e.1 += v[1];
            }
        }
        out
    }

    fn oracle_groups<K: Ord>(name: &str, key: impl Fn(&Value) -> K) -> Groups<K> {
        let mut out = Groups::new();
        for r in fixture_jsonl(name) {
            let k = key(&r);
            let v = (r["size"].as_i64().unwrap(), r["count"].as_i64().unwrap());
            assert!(out.insert(k, v).is_none(), "{name}: duplicate key");
        }
        out
    }

    fn file_line(r: &Value) -> (String, i64) {
        (
            r["file"].as_str().unwrap().to_string(),
            r["line"].as_i64().unwrap(),
        )
    }

    #[test]
    fn totals_equal_python_statistics_totals() {
        for (oracle, dir, stem) in DUMPS {
            let summary = fixture_json(&format!("{oracle}/summary.json"));
            let dumps = summary["dumps"].as_array().unwrap();
            let want = dumps
                .iter()
                .find(|d| d["dump"] == format!("{stem}.tracemalloc"))
                .unwrap();
            let parsed = parse_ok(&fixture_bytes(&format!("{dir}/{stem}.tracemalloc")));
            assert!(parsed.warnings.is_empty(), "{stem}: {:?}", parsed.warnings);
            let d = &parsed.value;
            let p = &d.profile;
            assert_eq!(p.total(0), want["size"].as_i64().unwrap(), "{stem} size");
            assert_eq!(p.total(1), want["count"].as_i64().unwrap(), "{stem} count");
            assert_eq!(d.meta.traces, want["traces"].as_u64().unwrap(), "{stem}");
            assert_eq!(d.meta.total_size, want["size"].as_u64().unwrap());
            assert_eq!(
                p.samples().len() as u64,
                want["tracebacks"].as_u64().unwrap(),
                "{stem}: one sample per distinct traceback"
            );
            let limit = want["traceback_limit"].as_u64().unwrap() as u32;
            assert_eq!(d.meta.traceback_limit, limit);
            assert_eq!(p.traceback_limit, Some(limit));
            let layout = match want["trace_tuple_len"].as_u64() {
                Some(4) => TraceLayout::DomainSizeFramesNframe,
                Some(3) => TraceLayout::DomainSizeFrames,
                other => panic!("{stem}: {other:?}"),
            };
            assert_eq!(d.meta.layout, Some(layout), "{stem}");
            assert_eq!(p.default_value, 0);
            assert_eq!(p.value_types[0].kind, "size");
            assert_eq!(p.value_types[0].unit, "bytes");
            assert_eq!(p.value_types[1].kind, "count");
            assert_eq!(p.producer, plateau_profile::Producer::Tracemalloc);
            assert!(p.frames().iter().all(|f| f.function.is_empty()));
            let protocol = if stem == "py36" { 4 } else { 5 };
            assert_eq!(d.meta.protocol, protocol, "{stem}");
        }
    }

    #[test]
    fn leaf_frame_sums_equal_statistics_lineno() {
        for (oracle, dir, stem) in DUMPS {
            let p = parse_ok(&fixture_bytes(&format!("{dir}/{stem}.tracemalloc")))
                .value
                .profile;
            let ours = group(&p, |s| vec![frame(&p, s[0])]);
            let want = oracle_groups(
                &format!("{oracle}/statistics/{stem}.lineno.jsonl"),
                file_line,
            );
            assert_eq!(ours, want, "{stem}");
        }
    }

    #[test]
    fn stacks_equal_statistics_traceback_leaf_first() {
        for (oracle, dir, stem) in DUMPS {
            let p = parse_ok(&fixture_bytes(&format!("{dir}/{stem}.tracemalloc")))
                .value
                .profile;
            let ours = group(&p, |s| {
                vec![s.iter().map(|&f| frame(&p, f)).collect::<Vec<_>>()]
            });
            let want = oracle_groups(
                &format!("{oracle}/statistics/{stem}.traceback.jsonl"),
                |r| {
                    r["frames"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| (f[0].as_str().unwrap().to_string(), f[1].as_i64().unwrap()))
                        .collect::<Vec<_>>()
                },
            );
            assert_eq!(ours, want, "{stem}");
        }
    }

    #[test]
    fn file_and_cumulative_sums_equal_python() {
        for (oracle, dir, stem) in DUMPS {
            let p = parse_ok(&fixture_bytes(&format!("{dir}/{stem}.tracemalloc")))
                .value
                .profile;
            let stats = |key: &str| format!("{oracle}/statistics/{stem}.{key}.jsonl");
            let by_file = group(&p, |s| vec![(frame(&p, s[0]).0, 0)]);
            assert_eq!(
                by_file,
                oracle_groups(&stats("filename"), file_line),
                "{stem}"
            );
            // cumulative: every frame of the traceback, a repeated frame once per occurrence.
            let cum_line = group(&p, |s| s.iter().map(|&f| frame(&p, f)).collect());
            let want = oracle_groups(&stats("lineno-cumulative"), file_line);
            assert_eq!(cum_line, want, "{stem}");
            let cum_file = group(&p, |s| s.iter().map(|&f| (frame(&p, f).0, 0)).collect());
            let want = oracle_groups(&stats("filename-cumulative"), file_line);
            assert_eq!(cum_file, want, "{stem}");
        }
    }

    #[test]
    fn the_leak_grows_and_the_decoys_do_not() {
        // What the fixture was built to show, read from the profiles themselves.
        let line_size = |stem: &str, file: &str, line: i64| -> i64 {
            let p = parse_ok(&fixture_bytes(&format!("leaky-service/{stem}.tracemalloc")))
                .value
                .profile;
            (0..p.samples().len())
                .filter(|&i| {
                    let f = p.frame(p.stack(p.samples()[i].stack)[0]);
                    f.file == file && f.line == line
                })
                .map(|i| p.values(i)[0])
                .sum()
        };
        let token = |s| line_size(s, "gen/sessions_é.py", 10);
        let (a, b, c) = (token("s0"), token("s1"), token("s2"));
        assert!(a > 0 && b - a > 80_000 && c - b == b - a, "{a} {b} {c}");
        let pool = |s| line_size(s, "gen/leaky_service.py", 54);
        assert!(pool("s0") >= 1 << 20);
        assert_eq!(pool("s0"), pool("s2"));
    }

    #[test]
    fn gzip_reads_the_same_and_progress_counts_file_bytes() {
        let plain = fixture_bytes("leaky-service/s1.tracemalloc");
        let gz = gzip(&plain);
        let a = parse_ok(&plain).value;
        let mut last = 0;
        let b = plateau_formats::tracemalloc::read(&gz[..], &Default::default(), &mut |n| last = n)
            .unwrap()
            .value;
        assert_eq!(last, gz.len() as u64);
        assert_eq!(a.meta.traces, b.meta.traces);
        assert_eq!(a.profile.total(0), b.profile.total(0));
        assert_eq!(a.profile.samples(), b.profile.samples());
        assert_eq!(b.meta.bytes_read, plain.len() as u64);
        // A small buffer reads the same.
        let c = parse_small_buffer(&plain).unwrap().value;
        assert_eq!(a.profile.samples(), c.profile.samples());
        assert_eq!(a.profile.frames(), c.profile.frames());
    }
}

/// Synthetic pickles: older layouts, protocols 2 and 3, edge values.
mod synthetic {
    use std::collections::BTreeMap;

    use plateau_formats::tracemalloc::TraceLayout;

    use crate::common::*;

    #[test]
    fn every_synthetic_dump_holds_what_expected_json_says() {
        let expected = fixture_json("synthetic/expected.json");
        let mut seen = 0;
        for (name, want) in expected.as_object().unwrap() {
            if name == "python" {
                continue;
            }
            seen += 1;
            let parsed = parse_ok(&fixture_bytes(&format!("synthetic/{name}.tracemalloc")));
            assert!(parsed.warnings.is_empty(), "{name}: {:?}", parsed.warnings);
            let d = &parsed.value;
            let p = &d.profile;
            let n = |k: &str| want[k].as_u64().unwrap();
            assert_eq!(d.meta.traces, n("traces"), "{name}");
            assert_eq!(d.meta.total_size, n("size"), "{name}");
            assert_eq!(p.total(0) as u64, n("size"), "{name}");
            assert_eq!(
                d.meta.traceback_limit as u64,
                n("traceback_limit"),
                "{name}"
            );
            assert_eq!(p.samples().len() as u64, n("tracebacks"), "{name}");
            assert_eq!(d.meta.truncated_traces, n("truncated_traces"), "{name}");
            assert_eq!(
                d.meta.foreign_domain_traces,
                n("foreign_domain_traces"),
                "{name}"
            );
            assert_eq!(d.meta.protocol as u64, n("protocol"), "{name}");
            let layout = match want["trace_tuple_len"].as_u64() {
                None => None,
                Some(2) => Some(TraceLayout::SizeFrames),
                Some(3) => Some(TraceLayout::DomainSizeFrames),
                Some(4) => Some(TraceLayout::DomainSizeFramesNframe),
                Some(other) => panic!("{other}"),
            };
            assert_eq!(d.meta.layout, layout, "{name}");
            let mut ours: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
            for (i, s) in p.samples().iter().enumerate() {
                let f = p.frame(p.stack(s.stack)[0]);
                let e = ours.entry((f.file.clone(), f.line)).or_default();
                e.0 += p.values(i)[0];
                e.1 += p.values(i)[1];
            }
            let want_lines: BTreeMap<(String, i64), (i64, i64)> = want["lineno"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()),
                        (r[2].as_i64().unwrap(), r[3].as_i64().unwrap()),
                    )
                })
                .collect();
            assert_eq!(ours, want_lines, "{name}");
        }
        assert_eq!(seen, 6);
    }

    #[test]
    fn truncation_is_noted_in_the_profile_comments() {
        let p = parse_ok(&fixture_bytes("synthetic/edge-values.tracemalloc"))
            .value
            .profile;
        assert_eq!(
            p.comments,
            ["1 of 7 traces had deeper stacks than the traceback_limit of 4 frames kept"]
        );
    }

    #[test]
    fn layout2_stacks_keep_the_order_written_leaf_first() {
        let p = parse_ok(&fixture_bytes("synthetic/layout2-proto4.tracemalloc"))
            .value
            .profile;
        let first = p.stack(p.samples()[0].stack);
        let files: Vec<_> = first.iter().map(|&f| p.frame(f).file.as_str()).collect();
        assert_eq!(files, ["app/models.py", "app/views.py", "app/main.py"]);
        assert_eq!(p.values(0), &[128, 2]);
        assert_eq!(p.samples()[0].records, 2);
    }

    #[test]
    fn hand_made_protocol_variants_read() {
        // A frames tuple shared through the memo (MEMOIZE, BINGET), an empty frames tuple,
        // a GLOBAL opcode, PUT/GET text opcodes and a LONG_BINPUT far beyond the memo.
        let p = P::proto(2)
            .raw(b"ctracemalloc\nSnapshot\n")
            .op(b')')
            .op(0x81)
            .op(b'}')
            .op(b'(')
            .s("traces")
            .global("tracemalloc", "_Traces")
            .op(b')')
            .op(0x81)
            .op(b'}')
            .s("_traces")
            .op(b']')
            .op(b'(')
            .op(b'(')
            .int(0)
            .int(10)
            .frames(&[("a.py", 1), ("b.py", 2)])
            .raw(b"p7\n")
            .raw(b"r\xff\xff\xff\xf0")
            .int(2)
            .op(b't')
            .op(b'(')
            .int(0)
            .int(20)
            .raw(b"g7\n")
            .int(2)
            .op(b't')
            .op(b'(')
            .int(0)
            .int(30)
            .raw(b"j\xff\xff\xff\xf0")
            .int(2)
            .op(b't')
            .op(b'(')
            .int(0)
            .int(5)
            .op(b')')
            .int(0)
            .op(b't')
            .op(b'e')
            .snapshot_tail(2);
        let d = parse_ok(&p.0).value;
        assert_eq!(d.meta.traces, 4);
        assert_eq!(d.profile.samples().len(), 2);
        assert_eq!(d.profile.values(0), &[60, 3]);
        assert_eq!(d.profile.values(1), &[5, 1]);
        assert!(d.profile.stack(d.profile.samples()[1].stack).is_empty());
    }

    #[test]
    fn long_integers_of_every_width_read_as_python_does() {
        // LONG1 widths 0..=8 and LONG4; sizes are non-negative, line numbers any int.
        let cases: [(&[u8], i64); 6] = [
            (b"\x8a\x00", 0),
            (b"\x8a\x01\xff", -1),
            (b"\x8a\x02\xff\x00", 255),
            (b"\x8a\x05\x00\x00\x00\x80\x00", 1 << 31),
            (b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f", i64::MAX),
            (b"\x8b\x02\x00\x00\x00\x00\x01", 256),
        ];
        for (bytes, want) in cases {
            let dump = snapshot(
                |p| {
                    p.op(b'(')
                        .int(0)
                        .int(1)
                        .op(b'(')
                        .s("f.py")
                        .raw(bytes)
                        .op(0x86)
                        .op(b't')
                        .int(1)
                        .op(b't')
                },
                1,
            );
            let p = parse_ok(&dump).value.profile;
            assert_eq!(p.frames()[0].line, want, "{bytes:?}");
        }
    }
}

/// Hostile, foreign, cut and malformed input: always an error naming where and what.
mod errors {
    use plateau_formats::FormatError;

    use crate::common::*;

    const PWNED: &str = "/tmp/plateau-tracemalloc-pwned";

    /// `pickle.dumps(Evil(), protocol)` where `Evil.__reduce__` returns
    /// `(os.system, ('touch /tmp/plateau-tracemalloc-pwned',))`.
    const EVIL_P0: &[u8] =
        b"cposix\nsystem\np0\n(Vtouch /tmp/plateau-tracemalloc-pwned\np1\ntp2\nRp3\n.";
    const EVIL_P2: &[u8] = b"\x80\x02cposix\nsystem\nq\x00X$\x00\x00\x00touch \
        /tmp/plateau-tracemalloc-pwnedq\x01\x85q\x02Rq\x03.";
    const EVIL_P5: &[u8] = b"\x80\x05\x95?\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\
        \x8c\x06system\x94\x93\x94\x8c$touch /tmp/plateau-tracemalloc-pwned\x94\x85\x94R\x94.";
    /// A real snapshot whose traceback_limit attribute is that object.
    const EVIL_INSIDE: &[u8] = b"\x80\x05\x95\x9e\x00\x00\x00\x00\x00\x00\x00\x8c\x0b\
        tracemalloc\x94\x8c\x08Snapshot\x94\x93\x94)\x81\x94}\x94(\x8c\x06traces\x94h\x00\
        \x8c\x07_Traces\x94\x93\x94)\x81\x94}\x94\x8c\x07_traces\x94]\x94sb\x8c\x0f\
        traceback_limit\x94\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c$touch \
        /tmp/plateau-tracemalloc-pwned\x94\x85\x94R\x94ub.";
    /// `__reduce__` returning `(tracemalloc.Snapshot, ([], 1))`: an allowed class, REDUCE.
    const REDUCE_SNAPSHOT: &[u8] = b"\x80\x05\x95$\x00\x00\x00\x00\x00\x00\x00\x8c\x0b\
        tracemalloc\x94\x8c\x08Snapshot\x94\x93\x94]\x94K\x01\x86\x94R\x94.";

    #[test]
    fn a_pickle_calling_os_system_is_refused_and_nothing_runs() {
        let _ = std::fs::remove_file(PWNED);
        assert_eq!(
            err(EVIL_P5),
            "global posix.system at byte 28: not part of a tracemalloc snapshot (only \
             tracemalloc.Snapshot and tracemalloc._Traces are); nothing was imported or \
             executed"
        );
        assert!(err(EVIL_P2).starts_with("global posix.system at byte 2:"));
        assert!(err(EVIL_INSIDE).starts_with("global posix.system at byte "));
        // Protocol 0 does not even start like a snapshot.
        assert_eq!(
            err(EVIL_P0),
            "not a tracemalloc snapshot: byte 0 is 'c', expected 0x80 (the PROTO opcode \
             opening a pickle of protocol 2 to 5, as Snapshot.dump() writes)"
        );
        // Through gzip too.
        assert!(err(&gzip(EVIL_P5)).starts_with("global posix.system"));
        assert!(!std::path::Path::new(PWNED).exists(), "nothing may run");
    }

    #[test]
    fn reduce_is_refused_even_on_an_allowed_class() {
        let e = parse(REDUCE_SNAPSHOT).unwrap_err();
        assert!(matches!(
            e,
            FormatError::PickleOpcode {
                name: "REDUCE",
                code: 0x52,
                offset: 44
            }
        ));
        assert_eq!(
            e.to_string(),
            "opcode REDUCE (0x52) at byte 44: not part of a tracemalloc snapshot; nothing was \
             executed"
        );
    }

    #[test]
    fn every_opcode_outside_the_subset_is_named() {
        for (code, name) in [
            (b'R', "REDUCE"),
            (b'i', "INST"),
            (b'o', "OBJ"),
            (0x82, "EXT1"),
            (0x83, "EXT2"),
            (0x84, "EXT4"),
            (b'P', "PERSID"),
            (b'Q', "BINPERSID"),
            (0x92, "NEWOBJ_EX"),
            (b'U', "SHORT_BINSTRING"),
            (b'T', "BINSTRING"),
            (b'G', "BINFLOAT"),
            (b'B', "BINBYTES"),
            (0x96, "BYTEARRAY8"),
            (0x97, "NEXT_BUFFER"),
            (b'0', "POP"),
            (b'd', "DICT"),
            (0x8f, "EMPTY_SET"),
        ] {
            let bytes = P::proto(5).int(1).op(code).raw(b"\0\0\0\0\0\0\0\0.").0;
            assert_eq!(
                err(&bytes),
                format!(
                    "opcode {name} (0x{code:02x}) at byte 4: not part of a tracemalloc \
                     snapshot; nothing was executed"
                )
            );
        }
        assert_eq!(
            err(&P::proto(5).op(0xff).0),
            "not a tracemalloc snapshot: byte 2 is 0xff, which is not a pickle opcode"
        );
    }

    #[test]
    fn other_globals_are_refused_by_name() {
        for (module, name) in [
            ("builtins", "eval"),
            ("tracemalloc", "Filter"),
            ("tracemalloc", "_get_traces"),
            ("subprocess", "Popen"),
        ] {
            let bytes = P::proto(4).global(module, name).op(b'.').0;
            let offset = 2 + 2 + module.len() + 2 + name.len();
            assert!(
                err(&bytes).starts_with(&format!("global {module}.{name} at byte {offset}:")),
                "{}",
                err(&bytes)
            );
        }
    }

    #[test]
    fn empty_and_non_pickle_input() {
        assert_eq!(
            err(b""),
            "empty input: expected a Python tracemalloc snapshot (a pickle)"
        );
        assert_eq!(
            err(b"{\"snapshot\":{}}"),
            "not a tracemalloc snapshot: byte 0 is '{', expected 0x80 (the PROTO opcode \
             opening a pickle of protocol 2 to 5, as Snapshot.dump() writes)"
        );
        assert!(err(b"JAVA PROFILE 1.0.2\0").starts_with("not a tracemalloc snapshot: byte 0"));
        assert_eq!(
            err(b"\x80"),
            "truncated at byte 1 inside the pickle's PROTO opcode (its protocol byte)"
        );
        assert_eq!(
            err(b"\x80\x06."),
            "not a tracemalloc snapshot: byte 1: pickle protocol 6; tracemalloc snapshots are \
             pickles of protocol 2 to 5"
        );
        assert!(err(b"\x80\x01.").contains("pickle protocol 1"));
        assert!(err(&gzip(b"")).starts_with("empty input"));
    }

    #[test]
    fn pickles_of_something_else_are_not_snapshots() {
        // pickle.dumps({'a': 1}, protocol=5)
        let dict = b"\x80\x05\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.";
        assert_eq!(
            err(dict),
            "not a tracemalloc snapshot: the pickle (STOP at byte 20) holds a dict, expected \
             a tracemalloc.Snapshot object"
        );
        // pickle.dumps([1, 2], protocol=4)
        let list = b"\x80\x04\x95\t\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02e.";
        assert!(err(list).contains("holds a list, expected a tracemalloc.Snapshot object"));
        assert!(err(&P::proto(5).s("x").op(b'.').0).contains("holds a str (\"x\")"));
        // A _Traces object at the top.
        let traces = P::proto(5)
            .global("tracemalloc", "_Traces")
            .op(b')')
            .op(0x81)
            .op(b'.')
            .0;
        assert!(err(&traces).contains("holds a tracemalloc._Traces object"));
    }

    #[test]
    fn snapshots_of_the_wrong_shape() {
        let no_build = P::proto(5)
            .global("tracemalloc", "Snapshot")
            .op(b')')
            .op(0x81)
            .op(b'.')
            .0;
        assert!(err(&no_build).contains("has no state (no BUILD)"));
        let no_limit = P::proto(5)
            .snapshot_head()
            .op(b']')
            .op(b's')
            .op(b'b')
            .op(b'u')
            .op(b'b')
            .op(b'.')
            .0;
        assert_eq!(
            err(&no_limit),
            "not a tracemalloc snapshot: the tracemalloc.Snapshot has no \"traceback_limit\" \
             attribute"
        );
        let bad_limit = P::proto(5)
            .snapshot_head()
            .op(b']')
            .op(b's')
            .op(b'b')
            .s("traceback_limit")
            .s("25")
            .op(b'u')
            .op(b'b')
            .op(b'.')
            .0;
        assert!(err(&bad_limit).contains("traceback_limit is a str (\"25\")"));
        let ints = P::proto(5)
            .snapshot_head()
            .op(b']')
            .op(b'(')
            .int(1)
            .int(2)
            .op(b'e')
            .snapshot_tail(1)
            .0;
        assert_eq!(
            err(&ints),
            "not a tracemalloc snapshot: the snapshot's _traces list holds an int (1), \
             expected trace tuples"
        );
        let dict_traces = P::proto(5).snapshot_head().op(b'}').snapshot_tail(1).0;
        assert!(err(&dict_traces).contains("_traces is a dict, expected a list"));
        let args = P::proto(5)
            .global("tracemalloc", "Snapshot")
            .op(b']')
            .int(1)
            .op(0x86)
            .op(0x81)
            .op(b'.')
            .0;
        assert!(err(&args).contains("NEWOBJ creates a tracemalloc.Snapshot with arguments"));
    }

    #[test]
    fn traces_must_be_one_list_of_one_layout() {
        let mixed = snapshot(
            |p| p.trace4(8, &[("a.py", 1)], 1).trace3(8, &[("a.py", 1)]),
            1,
        );
        assert!(err(&mixed).contains(
            "a trace of layout (domain, size, frames) (Python 3.6-3.8) among traces of layout \
             (domain, size, frames, total_nframe) (Python 3.9+)"
        ));
        let then_int = snapshot(|p| p.trace4(8, &[("a.py", 1)], 1).int(3), 1);
        assert!(err(&then_int).contains("an int (3) is appended to the list of traces"));
        let int_then = snapshot(|p| p.int(3).trace4(8, &[("a.py", 1)], 1), 1);
        assert!(err(&int_then).contains("a trace is appended to a list of other values"));
        // Traces in another list, and an empty _traces.
        // Traces in a list left on the stack under the snapshot, whose _traces is empty.
        let elsewhere = P::proto(5)
            .op(b']')
            .op(b'(')
            .trace4(8, &[("a.py", 1)], 1)
            .op(b'e')
            .snapshot_head()
            .op(b']')
            .snapshot_tail(1);
        assert_eq!(
            err(&elsewhere.0),
            "not a tracemalloc snapshot: 1 traces were appended to a list that is not the \
             snapshot's _traces"
        );
        let two_lists = P::proto(5)
            .snapshot_head()
            .op(b']')
            .trace4(8, &[("a.py", 1)], 1)
            .op(b'a')
            .op(b']')
            .trace4(8, &[("a.py", 1)], 1)
            .op(b'a');
        assert!(err(&two_lists.0).contains("traces are appended to a second list"));
        let negative = snapshot(|p| p.trace4(-8, &[("a.py", 1)], 1), 1);
        assert!(err(&negative).contains("has a negative size (-8)"));
    }

    #[test]
    fn malformed_pickles_name_the_opcode_and_byte() {
        let cases: [(P, &str); 11] = [
            (
                P::proto(5).op(b't'),
                "malformed pickle at byte 2: TUPLE has no MARK to close",
            ),
            (
                P::proto(5).op(0x86),
                "malformed pickle at byte 2: TUPLE2 needs 2 values on the stack, found 0",
            ),
            (
                P::proto(5).int(1).op(b'(').op(0x85),
                "malformed pickle at byte 5: TUPLE1 needs 1 value above the last MARK, found 0",
            ),
            (
                P::proto(5).op(b'h').raw(b"\x07"),
                "malformed pickle at byte 2: BINGET reads memo entry 7, never stored",
            ),
            (
                P::proto(5).op(0x94),
                "malformed pickle at byte 2: MEMOIZE needs 1 value on the stack, found 0",
            ),
            (
                P::proto(5).op(b'}').int(1).op(b'a'),
                "malformed pickle at byte 5: APPEND needs a list, found a dict",
            ),
            (
                P::proto(5).op(b']').op(b'(').int(1).int(2).op(b'u'),
                "malformed pickle at byte 8: SETITEMS needs a dict, found a list",
            ),
            (
                P::proto(5).op(b'}').op(b'(').int(1).op(b'u'),
                "malformed pickle at byte 6: SETITEMS has an odd number of items (1) above its \
                 MARK: keys and values come in pairs",
            ),
            (
                P::proto(5).int(1).int(2).op(0x93),
                "malformed pickle at byte 6: STACK_GLOBAL needs two strings (module, name), \
                 found an int (1) and an int (2)",
            ),
            (
                P::proto(5).op(b'.'),
                "malformed pickle at byte 2: STOP needs 1 value on the stack, found 0",
            ),
            (
                P::proto(5).op(b'g').raw(b"x1\n"),
                "malformed pickle at byte 2: GET has index \"x1\", not a decimal",
            ),
        ];
        for (p, want) in cases {
            assert_eq!(err(&p.0), want);
        }
        // A value below a MARK is out of reach (Python's fence), even for STOP.
        assert_eq!(
            err(&P::proto(5).int(1).op(b'(').op(b'.').0),
            "malformed pickle at byte 5: STOP needs 1 value above the last MARK, found 0"
        );
        assert!(err(&P::proto(5).int(1).op(b'b').0).contains("BUILD needs 2 values"));
        assert!(err(&P::proto(5).int(1).op(b'}').op(b'b').0)
            .contains("BUILD sets the state of an int (1)"));
        assert!(err(&P::proto(5).raw(b"\x8a\x09").raw(&[0; 9]).op(b'.').0)
            .contains("LONG1 holds an integer of 9 bytes"));
        assert!(err(&P::proto(5).raw(b"\x8b\xff\xff\xff\xff").op(b'.').0)
            .contains("LONG4 has a byte count of -1"));
        assert!(err(&P::proto(5).raw(b"c").raw(&[b'a'; 2000]).0)
            .contains("GLOBAL has no module and name lines within 512 bytes each"));
    }

    #[test]
    fn huge_claimed_lengths_are_truncation_not_allocation() {
        let e = err(&P::proto(5)
            .raw(b"\x8d\xff\xff\xff\xff\xff\xff\xff\x7f")
            .s("x")
            .0);
        assert!(e.starts_with("truncated at byte"), "{e}");
        let e = err(&P::proto(5).raw(b"X\xff\xff\xff\x7fabc").0);
        assert_eq!(
            e,
            "truncated at byte 10 inside the BINUNICODE opcode at byte 2"
        );
        // A memo index far beyond the memo: stored sparsely, read back.
        let p = P::proto(2)
            .int(7)
            .raw(b"r\xfe\xff\xff\xff")
            .raw(b"j\xfe\xff\xff\xff")
            .op(b'.');
        assert!(err(&p.0).contains("holds an int (7)"));
    }

    #[test]
    fn every_prefix_of_a_real_dump_is_an_error() {
        let full = fixture_bytes("layouts/py313.tracemalloc");
        assert!(parse(&full).is_ok());
        for n in 0..full.len() {
            for result in [parse(&full[..n]), parse_small_buffer(&full[..n])] {
                match result {
                    Ok(_) => panic!("prefix of {n} bytes read as a snapshot"),
                    Err(e) => {
                        let msg = e.to_string();
                        assert!(
                            msg.starts_with("truncated at byte ") || msg.starts_with("empty input"),
                            "prefix {n}: {msg}"
                        );
                    }
                }
            }
        }
        // The larger leaky-service dump: its first and last 600 prefixes and every 11th.
        let full = fixture_bytes("leaky-service/s0.tracemalloc");
        let len = full.len();
        for n in (0..len).filter(|&n| n < 600 || n + 600 > len || n % 11 == 0) {
            let e = parse(&full[..n]).expect_err("prefix must not read");
            assert!(matches!(
                e,
                FormatError::Truncated { .. } | FormatError::EmptyInput(_)
            ));
        }
        // A cut gzip stream: an error, or (when only the end of the compressed stream is
        // missing and the pickle came out whole) a warning saying so.
        let gz = gzip(&full);
        for n in (0..gz.len()).filter(|&n| n % 7 == 0 || n + 64 > gz.len()) {
            match parse(&gz[..n]) {
                Err(_) => {}
                Ok(parsed) => assert_eq!(
                    parsed.warnings,
                    [format!(
                        "the compressed stream ends early (after {len} bytes of pickle), past \
                         the pickle's STOP: the snapshot itself is complete"
                    )],
                    "gzip prefix {n}"
                ),
            }
        }
        assert!(parse(&gz[..gz.len() - 1]).is_ok());
    }

    #[test]
    fn trailing_bytes_and_unknown_attributes_are_warnings() {
        let mut dump = fixture_bytes("layouts/py38.tracemalloc");
        let len = dump.len();
        dump.extend_from_slice(b"garbage");
        let parsed = parse_ok(&dump);
        assert_eq!(
            parsed.warnings,
            [format!(
                "bytes after the pickle's STOP opcode (from byte {len}) were ignored, as \
                 Python's Snapshot.load ignores them"
            )]
        );
        assert_eq!(parsed.value.meta.bytes_read, len as u64);
        let extra = P::proto(5)
            .snapshot_head()
            .op(b']')
            .op(b's')
            .op(b'b')
            .s("traceback_limit")
            .int(3)
            .s("note")
            .op(0x88)
            .op(b'u')
            .op(b'b')
            .op(b'.');
        let parsed = parse_ok(&extra.0);
        assert_eq!(
            parsed.warnings,
            [
                "the tracemalloc.Snapshot has an attribute \"note\" tracemalloc does not write; \
              ignored"
            ]
        );
        assert_eq!(parsed.value.meta.traces, 0);
    }

    #[test]
    fn build_copies_the_state_as_it_is_then_and_repeats_cost_nothing() {
        // Snapshot S built with its state dict D = {traces: ...}, then with D again 10,000
        // times (nothing is copied), then D gets traceback_limit *after* those BUILDs (D is
        // reached through a second state dict {holder: D}): as in Python, S never had it.
        let mut p = P::proto(5)
            .global("tracemalloc", "Snapshot")
            .op(b')')
            .op(0x81)
            .op(b'}')
            .raw(b"q\x00") // BINPUT 0: D
            .s("traces")
            .global("tracemalloc", "_Traces")
            .op(b')')
            .op(0x81)
            .op(b'}')
            .s("_traces")
            .op(b']')
            .op(b's')
            .op(b'b')
            .op(b's')
            .op(b'b');
        for _ in 0..10_000 {
            p = p.raw(b"h\x00b");
        }
        let late = p
            .clone()
            .op(b'}')
            .s("holder")
            .raw(b"h\x00")
            .s("traceback_limit")
            .int(5)
            .op(b's')
            .op(b's')
            .op(b'b')
            .op(b'.');
        assert_eq!(
            err(&late.0),
            "not a tracemalloc snapshot: the tracemalloc.Snapshot has no \"traceback_limit\" \
             attribute"
        );
        // Set before a BUILD, the same key is there.
        let early = p
            .raw(b"h\x00")
            .s("traceback_limit")
            .int(5)
            .op(b's')
            .op(b'b')
            .op(b'.');
        let parsed = parse_ok(&early.0);
        assert_eq!(parsed.value.meta.traceback_limit, 5);
        assert!(parsed.warnings.is_empty());
    }

    #[test]
    fn unknown_attributes_are_listed_once_and_capped() {
        let mut p = P::proto(5)
            .snapshot_head()
            .op(b']')
            .op(b's')
            .op(b'b')
            .s("traceback_limit")
            .int(1)
            .op(b'u')
            .op(b'b');
        // A second BUILD with 8 unknown keys, 7 distinct.
        p = p.op(b'}').op(b'(');
        for i in 0..8 {
            p = p.s(&format!("extra{}", i % 7)).int(i);
        }
        let parsed = parse_ok(&p.op(b'u').op(b'b').op(b'.').0);
        assert_eq!(parsed.warnings.len(), 6, "{:?}", parsed.warnings);
        assert!(parsed.warnings[0].contains("\"extra0\""));
        assert_eq!(
            parsed.warnings[5],
            "the tracemalloc.Snapshot has 2 more attributes tracemalloc does not write \
             (repeats included); ignored"
        );
    }

    #[test]
    fn sparse_memo_indices_allocate_only_their_entries() {
        // 2,000 entries 196,608 indices apart (a dense memo would need 6 GB): each is stored
        // and read back.
        let index = |i: u32| i.wrapping_mul(3 << 16).to_le_bytes();
        let mut p = P::proto(2).op(b']');
        for i in 0..2000u32 {
            p = p.int(i as i64).op(b'r').raw(&index(i)).op(b'a');
        }
        let p = p.op(b'j').raw(&index(1999)).op(b'.');
        assert_eq!(
            err(&p.0),
            "not a tracemalloc snapshot: the pickle (STOP at byte 17752) holds an int (1999), \
             expected a tracemalloc.Snapshot object"
        );
    }

    #[test]
    fn a_long_file_name_on_many_lines_hits_the_frame_name_budget() {
        let name = "n".repeat(512 << 10);
        let mut p = P::proto(5)
            .op(b'X')
            .raw(&(name.len() as u32).to_le_bytes())
            .raw(name.as_bytes());
        p = p.raw(b"\x94").op(b']');
        for line in 0..300 {
            p = p.raw(b"h\x00").int(line).op(0x86).op(b'a');
        }
        let e = err(&p.op(b'.').0);
        assert!(
            e.starts_with("snapshot too large: the file names of the distinct (filename, lineno) frames add up to more than"),
            "{e}"
        );
    }

    #[test]
    fn invalid_utf8_file_names_read_lossily_with_a_warning() {
        // Python writes an undecodable file-name byte as a lone surrogate (surrogatepass).
        let dump = snapshot(
            |p| {
                p.op(b'(')
                    .int(0)
                    .int(8)
                    .raw(b"\x8c\x06a\xed\xb3\xbf.p")
                    .int(1)
                    .op(0x86)
                    .op(0x85)
                    .int(1)
                    .op(b't')
            },
            1,
        );
        let parsed = parse_ok(&dump);
        assert_eq!(
            parsed.value.profile.frames()[0].file,
            "a\u{fffd}\u{fffd}\u{fffd}.p"
        );
        assert!(parsed.warnings[0].starts_with("1 string(s) were not valid UTF-8"));
    }
}

/// A stable-toolchain stand-in for `fuzz/fuzz_targets/tracemalloc_reader.rs`.
mod fuzz_smoke {
    use crate::common::*;
    use crate::mutate::{mutate, Rng};

    const TOKENS: &[&[u8]] = &[
        b"(",
        b"t",
        b"e",
        b"a",
        b"s",
        b"u",
        b"b",
        b".",
        b")",
        b"]",
        b"}",
        b"\x81",
        b"\x85",
        b"\x86",
        b"\x87",
        b"\x93",
        b"\x94",
        b"h\x00",
        b"h\xff",
        b"j\xff\xff\xff\xff",
        b"r\xff\xff\xff\xff",
        b"q\x00",
        b"g0\n",
        b"p99999999999999999999\n",
        b"\x8a\x09",
        b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x8b\xff\xff\xff\x7f",
        b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff",
        b"X\xff\xff\xff\xff",
        b"\x8c\x0btracemalloc\x8c\x08Snapshot\x93",
        b"\x8c\x0btracemalloc\x8c\x07_Traces\x93",
        b"ctracemalloc\nSnapshot\n",
        b"R",
        b"\x95\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x80\x05",
        b"\xed\xa0\x80",
    ];

    #[test]
    fn mutations_of_real_and_synthetic_dumps_never_panic() {
        let seeds = [
            fixture_bytes("layouts/py313.tracemalloc"),
            fixture_bytes("layouts/py36.tracemalloc"),
            fixture_bytes("synthetic/edge-values.tracemalloc"),
            fixture_bytes("synthetic/layout2-proto4.tracemalloc"),
            fixture_bytes("synthetic/layout4-proto2.tracemalloc")[..4000].to_vec(),
        ];
        let mut rng = Rng(0x7ac3_11a1);
        let (mut ok, mut failed) = (0, 0);
        for i in 0..4000 {
            let seed = &seeds[i % seeds.len()];
            let data = mutate(&mut rng, seed, TOKENS, &[]);
            let result = if i % 2 == 0 {
                parse(&data)
            } else {
                parse_small_buffer(&data)
            };
            match result {
                Ok(p) => {
                    ok += 1;
                    let profile = &p.value.profile;
                    assert_eq!(profile.total(1) as u64, p.value.meta.traces);
                    for s in profile.samples() {
                        for &f in profile.stack(s.stack) {
                            let _ = profile.frame(f);
                        }
                    }
                }
                Err(e) => {
                    failed += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
            if i % 7 == 0 {
                let _ = parse(&gzip(&data));
            }
        }
        assert!(ok > 0 && failed > 0, "{ok} read, {failed} refused");
    }
}
