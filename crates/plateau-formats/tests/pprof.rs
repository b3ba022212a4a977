//! Integration tests of the pprof reader: real Go 1.19 heap and allocs profiles against
//! `go tool pprof` itself (`-top` for totals, flat and cum per function, `-raw` for every
//! sample, `-top -base` for differences; the outputs are committed next to the profiles,
//! see `fixtures/pprof/README.md`), hand-written profiles for what Go never writes (inlined
//! and unsymbolized frames, other producers, sparse ids, unpacked fields), every way a file
//! can be cut or corrupted, and a stable-toolchain stand-in for the fuzz target. One file,
//! organised in modules as `tests/hprof.rs` is.

#[path = "support/mutate.rs"]
mod mutate;

mod common {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::OnceLock;

    use plateau_formats::pprof::{read, PprofOptions, PprofProfile};
    use plateau_formats::{FormatError, Parsed};
    use plateau_profile::AllocProfile;

    pub fn fixture_path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/pprof/go-leaky")
            .join(name)
    }

    pub fn fixture_bytes(name: &str) -> Vec<u8> {
        std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// A fixture gunzipped: the protobuf Go wrote.
    pub fn plain_fixture(name: &str) -> Vec<u8> {
        use std::io::Read;
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&fixture_bytes(name)[..])
            .read_to_end(&mut plain)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        plain
    }

    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// The profiles (file stem).
    pub const PROFILES: [&str; 4] = ["h0", "h1", "h2", "allocs"];
    pub const SAMPLE_TYPES: [&str; 4] = [
        "alloc_objects",
        "alloc_space",
        "inuse_objects",
        "inuse_space",
    ];

    pub fn parse_bytes(bytes: &[u8]) -> Result<Parsed<PprofProfile>, FormatError> {
        read(bytes, &PprofOptions::default(), &mut |_| {})
    }

    pub fn parse_ok(bytes: &[u8]) -> Parsed<PprofProfile> {
        parse_bytes(bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A fixture read once per test run (tests share it).
    pub fn parse_fixture(stem: &str) -> &'static Parsed<PprofProfile> {
        static CACHE: [OnceLock<Parsed<PprofProfile>>; PROFILES.len()] =
            [const { OnceLock::new() }; PROFILES.len()];
        let i = PROFILES
            .iter()
            .position(|p| *p == stem)
            .unwrap_or_else(|| panic!("{stem} is not a fixture"));
        CACHE[i].get_or_init(|| {
            let file = std::fs::File::open(fixture_path(&format!("{stem}.pb.gz"))).unwrap();
            read(
                std::io::BufReader::new(file),
                &PprofOptions::default(),
                &mut |_| {},
            )
            .unwrap_or_else(|e| panic!("{stem}: {e}"))
        })
    }

    /// Flat and cum of value `index` per function name, the way pprof's `-top` computes
    /// them at its default granularity (functions): flat goes to the function of a
    /// sample's first frame (the inlined callee of its leaf location), cum to every
    /// function on the stack, once per sample; samples whose value is 0 are skipped.
    pub fn by_function(p: &AllocProfile, index: usize) -> HashMap<String, (i64, i64)> {
        by_node(p, index, |f| f.function.clone())
    }

    /// The same with pprof's node names for unsymbolized frames: pprof drops addresses at
    /// function granularity, so every address frame of one mapping is the node
    /// `[libc.so.6]` (the mapping file's base name).
    pub fn by_function_or_mapping(p: &AllocProfile, index: usize) -> HashMap<String, (i64, i64)> {
        by_node(p, index, |f| {
            if f.function.starts_with("0x") && f.line == 0 {
                format!("[{}]", f.file.rsplit('/').next().unwrap_or(""))
            } else {
                f.function.clone()
            }
        })
    }

    fn by_node(
        p: &AllocProfile,
        index: usize,
        node: impl Fn(&plateau_profile::Frame) -> String,
    ) -> HashMap<String, (i64, i64)> {
        let mut out: HashMap<String, (i64, i64)> = HashMap::new();
        for (s, sample) in p.samples().iter().enumerate() {
            let v = p.values(s)[index];
            if v == 0 {
                continue;
            }
            let stack = p.stack(sample.stack);
            if let Some(&leaf) = stack.first() {
                out.entry(node(p.frame(leaf))).or_default().0 += v;
            }
            let mut seen: Vec<String> = Vec::new();
            for &f in stack {
                let name = node(p.frame(f));
                if !seen.contains(&name) {
                    out.entry(name.clone()).or_default().1 += v;
                    seen.push(name);
                }
            }
        }
        out
    }

    // ---------------------------------------------------------------- pprof's number format

    /// pprof's byte units (internal/measurement): name and log2 of the factor.
    const BYTE_UNITS: [(&str, u32); 6] = [
        ("B", 0),
        ("kB", 10),
        ("MB", 20),
        ("GB", 30),
        ("TB", 40),
        ("PB", 50),
    ];

    fn is_bytes(unit: &str) -> bool {
        // measurement.sniffUnit: lower case, a trailing "s" dropped, then the aliases.
        let u = unit.to_ascii_lowercase();
        let u = if u.len() > 2 {
            u.strip_suffix('s').unwrap_or(&u).to_string()
        } else {
            u
        };
        u == "b" || u == "byte"
    }

    /// `measurement.Scale(v, unit, "minimum")`'s unit: for bytes the largest unit that
    /// keeps |v| >= 1 (B for 0); for counts none ("").
    pub fn auto_unit(v: i64, sample_unit: &str) -> &'static str {
        if !is_bytes(sample_unit) {
            return "";
        }
        let v = v.unsigned_abs();
        BYTE_UNITS
            .iter()
            .rev()
            .find(|(_, shift)| v >> shift >= 1)
            .map_or("B", |(name, _)| name)
    }

    /// `measurement.ScaledLabel(v, sample_unit, output_unit)`, exactly: the value scaled to
    /// `output_unit` (a power of two for bytes, so the float Go formats is exact), printed
    /// with `%.2f` (correctly rounded, ties to even, as Go's strconv does), ".00" dropped,
    /// "0" for anything that rounds to zero, then the unit.
    pub fn scaled_label(v: i64, sample_unit: &str, output_unit: &str) -> String {
        let (shift, suffix) = if is_bytes(sample_unit) {
            BYTE_UNITS
                .iter()
                .find(|(name, _)| *name == output_unit)
                .map_or((0, "B"), |&(name, shift)| (shift, name))
        } else {
            (0, "")
        };
        let num = v.unsigned_abs() as u128 * 100;
        let mut hundredths = num >> shift;
        let rest = num - (hundredths << shift);
        if shift > 0 {
            let half = 1u128 << (shift - 1);
            if rest > half || (rest == half && hundredths % 2 == 1) {
                hundredths += 1;
            }
        }
        if hundredths == 0 {
            return "0".to_string();
        }
        let digits = format!("{}.{:02}", hundredths / 100, hundredths % 100);
        let digits = digits.strip_suffix(".00").unwrap_or(&digits);
        let sign = if v < 0 { "-" } else { "" };
        format!("{sign}{digits}{suffix}")
    }

    /// `report.selectOutputUnit`: one unit for the whole report, from the smallest nonzero
    /// node (|flat|, or |cum| when flat is 0) and the total.
    pub fn output_unit(rows: &[(i64, i64)], total: i64, sample_unit: &str) -> String {
        let mut min = 0i64;
        for &(flat, cum) in rows {
            let v = if flat != 0 { flat.abs() } else { cum.abs() };
            if v > 0 && (min == 0 || v < min) {
                min = v;
            }
        }
        let max = total;
        if min == 0 {
            min = max;
        }
        let min_unit = auto_unit(min, sample_unit);
        let max_unit = auto_unit(max, sample_unit);
        let mut unit = min_unit;
        if min_unit != max_unit && min.saturating_mul(100) < max {
            unit = auto_unit(min.saturating_mul(100), sample_unit);
        }
        if unit.is_empty() {
            sample_unit.to_string()
        } else {
            unit.to_string()
        }
    }

    // ---------------------------------------------------------------- pprof's outputs

    /// One `go tool pprof -top` output.
    #[derive(Debug)]
    pub struct Top {
        pub sample_type: String,
        /// "Showing nodes accounting for X, P% of Z total": X and Z as printed.
        pub shown: String,
        pub total: String,
        /// (function, flat, cum) as printed, in order.
        pub rows: Vec<(String, String, String)>,
    }

    /// An oracle output of fixtures/pprof/DIR/oracle/.
    pub fn oracle_text_in(dir: &str, name: &str) -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/pprof")
            .join(dir)
            .join("oracle")
            .join(name);
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn oracle_text(name: &str) -> String {
        oracle_text_in("go-leaky", name)
    }

    pub fn parse_top(name: &str) -> Top {
        parse_top_text(name, &oracle_text(name))
    }

    pub fn parse_top_text(name: &str, text: &str) -> Top {
        let mut top = Top {
            sample_type: String::new(),
            shown: String::new(),
            total: String::new(),
            rows: Vec::new(),
        };
        let mut in_rows = false;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some(t) = line.strip_prefix("Type: ") {
                top.sample_type = t.to_string();
            } else if let Some(rest) = line.strip_prefix("Showing nodes accounting for ") {
                // "3.82MB, 99.30% of 3.84MB total"
                let (shown, rest) = rest.split_once(", ").unwrap();
                let total = rest.split(" of ").nth(1).unwrap();
                top.shown = shown.to_string();
                top.total = total.strip_suffix(" total").unwrap().to_string();
            } else if line.trim_start().starts_with("flat  flat%") {
                in_rows = true;
            } else if in_rows {
                let f: Vec<&str> = line.split_whitespace().collect();
                assert!(f.len() >= 6, "{name}: row {line:?}");
                let mut function = f[5..].join(" ");
                for suffix in [" (inline)", " (partial-inline)"] {
                    if let Some(s) = function.strip_suffix(suffix) {
                        function = s.to_string();
                    }
                }
                top.rows
                    .push((function, f[0].to_string(), f[3].to_string()));
            }
        }
        assert!(
            !top.rows.is_empty() && !top.total.is_empty(),
            "{name}: no rows"
        );
        top
    }

    /// A frame as `-raw` prints it: function, file, line.
    pub type RawFrame = (String, String, i64);

    /// One `go tool pprof -raw` output.
    #[derive(Debug, Default)]
    pub struct Raw {
        pub comments: Vec<String>,
        pub period_type: Option<(String, String)>,
        pub period: i64,
        pub time: Option<String>,
        /// "alloc_objects/count", with "[dflt]" on the default.
        pub sample_types: Vec<String>,
        /// Values and location ids, in file order.
        pub samples: Vec<(Vec<i64>, Vec<u64>)>,
        /// Numeric `bytes` labels seen.
        pub labels: usize,
        pub locations: HashMap<u64, Vec<RawFrame>>,
        /// id, start, limit, offset, file, flags.
        pub mappings: Vec<(u64, u64, u64, u64, String, String)>,
    }

    fn hex(s: &str) -> u64 {
        u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
    }

    /// `func file:line s=N[(system name)]` of a location line.
    fn raw_frame(text: &str) -> RawFrame {
        let f: Vec<&str> = text.split_whitespace().collect();
        let n = f.len();
        assert!(n >= 3 && f[n - 1].starts_with("s="), "{text:?}");
        let (file, line) = f[n - 2].rsplit_once(':').unwrap();
        (
            f[..n - 2].join(" "),
            file.to_string(),
            line.parse().unwrap(),
        )
    }

    pub fn parse_raw(name: &str) -> Raw {
        parse_raw_text(name, &oracle_text(name))
    }

    pub fn parse_raw_text(name: &str, text: &str) -> Raw {
        let mut raw = Raw::default();
        let mut section = "";
        let mut last_location = 0u64;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            match line {
                "Samples:" | "Locations" | "Mappings" => {
                    section = line;
                    continue;
                }
                _ => {}
            }
            match section {
                "" => {
                    if let Some(c) = line.strip_prefix("Comment: ") {
                        raw.comments.push(c.to_string());
                    } else if let Some(p) = line.strip_prefix("PeriodType: ") {
                        let (t, u) = p.split_once(' ').unwrap();
                        raw.period_type = Some((t.to_string(), u.to_string()));
                    } else if let Some(p) = line.strip_prefix("Period: ") {
                        raw.period = p.parse().unwrap();
                    } else if let Some(t) = line.strip_prefix("Time: ") {
                        raw.time = Some(t.to_string());
                    }
                }
                "Samples:" => {
                    if raw.sample_types.is_empty() {
                        raw.sample_types = line.split_whitespace().map(str::to_string).collect();
                    } else if let Some((values, locations)) = line.split_once(": ") {
                        if values
                            .trim()
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
                        {
                            raw.samples.push((
                                values
                                    .split_whitespace()
                                    .map(|v| v.parse().unwrap())
                                    .collect(),
                                locations
                                    .split_whitespace()
                                    .map(|v| v.parse().unwrap())
                                    .collect(),
                            ));
                            continue;
                        }
                        panic!("{name}: sample line {line:?}");
                    } else if line.trim_start().starts_with("bytes:[") {
                        raw.labels += 1;
                    } else if !line.trim().is_empty() {
                        panic!("{name}: sample line {line:?}");
                    }
                }
                "Locations" => {
                    let t = line.trim_start();
                    let new_location =
                        t.starts_with(|c: char| c.is_ascii_digit()) && t.contains(": 0x");
                    if !new_location {
                        raw.locations
                            .get_mut(&last_location)
                            .unwrap()
                            .push(raw_frame(line));
                    } else {
                        // "     1: 0x4b5a3b M=1 func file:line s=0"
                        let (id, rest) = line.trim_start().split_once(": ").unwrap();
                        let id: u64 = id.parse().unwrap();
                        let rest: Vec<&str> = rest.split_whitespace().collect();
                        let mut skip = 1; // the address
                        while rest
                            .get(skip)
                            .is_some_and(|t| t.starts_with("M=") || *t == "[F]")
                        {
                            skip += 1;
                        }
                        let frames = if rest.len() > skip {
                            vec![raw_frame(&rest[skip..].join(" "))]
                        } else {
                            Vec::new()
                        };
                        raw.locations.insert(id, frames);
                        last_location = id;
                    }
                }
                "Mappings" => {
                    // "1: 0x400000/0x4b7000/0x0 /path/leaky  [FN]"
                    let (id, rest) = line.split_once(": ").unwrap();
                    let f: Vec<&str> = rest.split_whitespace().collect();
                    let a: Vec<&str> = f[0].split('/').collect();
                    raw.mappings.push((
                        id.parse().unwrap(),
                        hex(a[0]),
                        hex(a[1]),
                        hex(a[2]),
                        f.get(1).unwrap_or(&"").to_string(),
                        f.get(2..).map(|x| x.join(" ")).unwrap_or_default(),
                    ));
                }
                _ => unreachable!(),
            }
        }
        raw
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }

    /// Go's `time.Time.String()` in UTC ("2026-11-24 13:57:16.618367871 +0000 UTC") as
    /// nanoseconds since the epoch.
    pub fn go_time_nanos(t: &str) -> i64 {
        let (date, rest) = t.split_once(' ').unwrap();
        let clock = rest.split(' ').next().unwrap();
        assert!(rest.ends_with("+0000 UTC"), "{t}");
        let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
        let c: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
        let nanos: i64 = format!("{frac:0<9}").parse().unwrap();
        let secs = days_from_civil(d[0], d[1], d[2]) * 86400 + c[0] * 3600 + c[1] * 60 + c[2];
        secs * 1_000_000_000 + nanos
    }
}

/// A protobuf writer for hand-made profiles.
mod pb {
    #[derive(Clone, Default, Debug)]
    pub struct Msg(pub Vec<u8>);

    pub fn varint_bytes(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            if v < 0x80 {
                out.push(v as u8);
                return out;
            }
            out.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
    }

    impl Msg {
        pub fn key(&mut self, field: u64, wire: u64) -> &mut Self {
            self.0.extend(varint_bytes(field << 3 | wire));
            self
        }
        pub fn varint(&mut self, field: u64, v: u64) -> &mut Self {
            self.key(field, 0);
            self.0.extend(varint_bytes(v));
            self
        }
        pub fn int(&mut self, field: u64, v: i64) -> &mut Self {
            self.varint(field, v as u64)
        }
        pub fn bytes(&mut self, field: u64, b: &[u8]) -> &mut Self {
            self.key(field, 2);
            self.0.extend(varint_bytes(b.len() as u64));
            self.0.extend_from_slice(b);
            self
        }
        pub fn msg(&mut self, field: u64, m: &Msg) -> &mut Self {
            self.bytes(field, &m.0)
        }
        pub fn packed(&mut self, field: u64, vs: &[u64]) -> &mut Self {
            let mut body = Vec::new();
            for &v in vs {
                body.extend(varint_bytes(v));
            }
            self.bytes(field, &body)
        }
        pub fn raw(&mut self, b: &[u8]) -> &mut Self {
            self.0.extend_from_slice(b);
            self
        }
    }

    /// A profile under construction: fields in the order given, the string table last (as
    /// Go writes it).
    #[derive(Clone, Debug)]
    pub struct Profile {
        pub body: Msg,
        pub strings: Vec<String>,
    }

    impl Default for Profile {
        fn default() -> Self {
            Profile {
                body: Msg::default(),
                strings: vec![String::new()],
            }
        }
    }

    impl Profile {
        /// The index of `text` in the string table (added when new).
        pub fn s(&mut self, text: &str) -> i64 {
            if let Some(i) = self.strings.iter().position(|s| s == text) {
                return i as i64;
            }
            self.strings.push(text.to_string());
            (self.strings.len() - 1) as i64
        }
        fn value_type(&mut self, kind: &str, unit: &str) -> Msg {
            let (k, u) = (self.s(kind), self.s(unit));
            let mut m = Msg::default();
            m.int(1, k).int(2, u);
            m
        }
        pub fn sample_type(&mut self, kind: &str, unit: &str) -> &mut Self {
            let m = self.value_type(kind, unit);
            self.body.msg(1, &m);
            self
        }
        pub fn period_type(&mut self, kind: &str, unit: &str, period: i64) -> &mut Self {
            let m = self.value_type(kind, unit);
            self.body.msg(11, &m).int(12, period);
            self
        }
        pub fn function(&mut self, id: u64, name: &str, file: &str) -> &mut Self {
            let (n, f) = (self.s(name), self.s(file));
            let mut m = Msg::default();
            m.varint(1, id).int(2, n).int(3, n).int(4, f).int(5, 1);
            self.body.msg(5, &m);
            self
        }
        pub fn mapping(&mut self, id: u64, start: u64, limit: u64, file: &str) -> &mut Self {
            let f = self.s(file);
            let mut m = Msg::default();
            m.varint(1, id).varint(2, start).varint(3, limit).int(5, f);
            self.body.msg(3, &m);
            self
        }
        /// A location with (function id, line) lines, inlined callee first.
        pub fn location(
            &mut self,
            id: u64,
            mapping: u64,
            address: u64,
            lines: &[(u64, i64)],
        ) -> &mut Self {
            let mut m = Msg::default();
            m.varint(1, id).varint(2, mapping).varint(3, address);
            for &(f, line) in lines {
                let mut l = Msg::default();
                l.varint(1, f).int(2, line);
                m.msg(4, &l);
            }
            self.body.msg(4, &m);
            self
        }
        /// A sample with packed location ids and values.
        pub fn sample(&mut self, locations: &[u64], values: &[i64]) -> &mut Self {
            let mut m = Msg::default();
            m.packed(1, locations);
            m.packed(2, &values.iter().map(|&v| v as u64).collect::<Vec<_>>());
            self.body.msg(2, &m);
            self
        }
        /// The same, every id and value a field of its own (unpacked).
        pub fn sample_unpacked(&mut self, locations: &[u64], values: &[i64]) -> &mut Self {
            let mut m = Msg::default();
            for &l in locations {
                m.varint(1, l);
            }
            for &v in values {
                m.int(2, v);
            }
            self.body.msg(2, &m);
            self
        }
        /// A sample with a numeric and a string label.
        pub fn sample_labelled(
            &mut self,
            locations: &[u64],
            values: &[i64],
            num: (&str, i64, &str),
            text: (&str, &str),
        ) -> &mut Self {
            let (nk, nu, tk, tv) = (self.s(num.0), self.s(num.2), self.s(text.0), self.s(text.1));
            let mut m = Msg::default();
            m.packed(1, locations);
            m.packed(2, &values.iter().map(|&v| v as u64).collect::<Vec<_>>());
            let mut l = Msg::default();
            l.int(1, nk).int(3, num.1).int(4, nu);
            m.msg(3, &l);
            let mut l = Msg::default();
            l.int(1, tk).int(2, tv);
            m.msg(3, &l);
            self.body.msg(2, &m);
            self
        }
        pub fn bytes(&self) -> Vec<u8> {
            let mut out = self.body.clone();
            for s in &self.strings {
                out.bytes(6, s.as_bytes());
            }
            out.0
        }
    }

    /// A small Go-like heap profile: two sample types, an inlined frame, an unsymbolized
    /// location, a label; used by several tests and as a fuzz seed.
    pub fn small() -> Profile {
        let mut p = Profile::default();
        p.period_type("space", "bytes", 524288)
            .sample_type("inuse_objects", "count")
            .sample_type("inuse_space", "bytes");
        p.mapping(1, 0x400000, 0x500000, "/srv/app");
        p.function(1, "main.leak", "app/main.go")
            .function(2, "main.handler", "app/main.go")
            .function(3, "main.main", "app/main.go");
        // Location 10: main.leak inlined into main.handler.
        p.location(10, 1, 0x401000, &[(1, 20), (2, 31)])
            .location(11, 1, 0x402000, &[(3, 40)])
            .location(12, 1, 0x4a3f20, &[]);
        p.sample_labelled(
            &[10, 11],
            &[3, 300],
            ("bytes", 96, "bytes"),
            ("handler", "login"),
        )
        .sample(&[12, 11], &[1, 64])
        .sample_unpacked(&[10, 11], &[1, 100]);
        p.body.int(9, 1_700_000_000_000_000_000);
        p
    }
}

mod fixtures {
    use std::collections::HashMap;

    use plateau_formats::pprof::{read, PprofOptions};
    use plateau_formats::sniff::{sniff, Format};
    use plateau_profile::{Producer, ValueType};

    use crate::common::*;

    #[test]
    fn every_fixture_reads_without_warnings() {
        for stem in PROFILES {
            let parsed = parse_fixture(stem);
            assert!(parsed.warnings.is_empty(), "{stem}: {:?}", parsed.warnings);
            let p = &parsed.value.profile;
            assert_eq!(p.producer, Producer::GoPprof, "{stem}");
            assert_eq!(
                parsed.value.meta.producer_evidence, "function runtime.main",
                "{stem}"
            );
            let kinds: Vec<&str> = p.value_types.iter().map(|t| t.kind.as_str()).collect();
            assert_eq!(kinds, SAMPLE_TYPES, "{stem}");
            let units: Vec<&str> = p.value_types.iter().map(|t| t.unit.as_str()).collect();
            assert_eq!(units, ["count", "bytes", "count", "bytes"], "{stem}");
            // pprof's default: the last type, unless default_sample_type names one (the
            // allocs profile names alloc_space).
            let expected_default = if stem == "allocs" { 1 } else { 3 };
            assert_eq!(p.default_value, expected_default, "{stem}");
            assert_eq!(
                parsed.value.meta.default_sample_type.as_deref(),
                (stem == "allocs").then_some("alloc_space")
            );
            // MemProfileRate = 1.
            assert_eq!(
                p.period,
                Some((ValueType::new("space", "bytes"), 1)),
                "{stem}"
            );
            assert!(p.comments.is_empty());
            assert_eq!(parsed.value.meta.duration_nanos, None);
            assert_eq!(parsed.value.meta.unsymbolized_locations, 0);
        }
    }

    /// The "Showing nodes accounting for X, P% of Z total" line of every `-top` output: Z
    /// is plateau's total of that sample type, X the sum of the functions shown, both
    /// printed in the unit pprof picks for the report.
    #[test]
    fn totals_equal_the_pprof_top_header() {
        for stem in PROFILES {
            let p = &parse_fixture(stem).value.profile;
            for kind in SAMPLE_TYPES {
                let name = format!("{stem}.{kind}.top.txt");
                let top = parse_top(&name);
                assert_eq!(top.sample_type, kind, "{name}");
                let index = p.value_index(kind).unwrap();
                let unit = &p.value_types[index].unit;
                let functions = by_function(p, index);
                let rows: Vec<(i64, i64)> = top
                    .rows
                    .iter()
                    .map(|(f, _, _)| {
                        functions
                            .get(f)
                            .copied()
                            .unwrap_or_else(|| panic!("{name}: no function {f}"))
                    })
                    .collect();
                let total = p.total(index);
                let out = output_unit(&rows, total, unit);
                assert_eq!(
                    scaled_label(total, unit, &out),
                    top.total,
                    "{name}: total {total}"
                );
                let shown: i64 = rows.iter().map(|r| r.0).sum();
                assert_eq!(
                    scaled_label(shown, unit, &out),
                    top.shown,
                    "{name}: shown {shown}"
                );
            }
        }
    }

    /// Every row of every `-top` output: flat and cum per function, as pprof prints them.
    #[test]
    fn flat_and_cum_per_function_equal_pprof_top() {
        let mut compared = 0;
        for stem in PROFILES {
            let p = &parse_fixture(stem).value.profile;
            for kind in SAMPLE_TYPES {
                let name = format!("{stem}.{kind}.top.txt");
                let top = parse_top(&name);
                let index = p.value_index(kind).unwrap();
                let unit = &p.value_types[index].unit;
                let functions = by_function(p, index);
                let rows: Vec<(i64, i64)> = top.rows.iter().map(|(f, _, _)| functions[f]).collect();
                let out = output_unit(&rows, p.total(index), unit);
                for ((function, flat, cum), (our_flat, our_cum)) in top.rows.iter().zip(&rows) {
                    assert_eq!(
                        (
                            &scaled_label(*our_flat, unit, &out),
                            &scaled_label(*our_cum, unit, &out)
                        ),
                        (flat, cum),
                        "{name}: {function} (plateau: flat {our_flat}, cum {our_cum} {unit})"
                    );
                    compared += 1;
                }
                // The rows pprof dropped are the small ones: nothing it shows is missing
                // from plateau and the functions it does not show are below its cut.
                assert!(top.rows.len() <= functions.len());
            }
        }
        assert!(compared > 150, "{compared} rows compared");
    }

    /// Every sample of `go tool pprof -raw`: values, stacks (each location expanded to its
    /// lines) and how many records each merged sample holds.
    #[test]
    fn samples_stacks_and_metadata_equal_pprof_raw() {
        for stem in PROFILES {
            let parsed = parse_fixture(stem);
            let (p, meta) = (&parsed.value.profile, &parsed.value.meta);
            let raw = parse_raw(&format!("{stem}.raw.txt"));
            assert_eq!(raw.period_type, Some(("space".into(), "bytes".into())));
            assert_eq!(raw.period, 1);
            assert_eq!(
                p.time_nanos,
                Some(go_time_nanos(raw.time.as_deref().unwrap())),
                "{stem}"
            );
            let dflt: Vec<String> = p
                .value_types
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mark = if meta.default_sample_type.is_some() && i == p.default_value {
                        "[dflt]"
                    } else {
                        ""
                    };
                    format!("{}/{}{mark}", t.kind, t.unit)
                })
                .collect();
            assert_eq!(raw.sample_types, dflt, "{stem}");
            // pprof merges samples with the same locations and labels (Go can write two:
            // stacks that differ only in the runtime frames it hides) and drops all-zero
            // ones (allocations after the last GC), so it lists at most as many.
            assert!(meta.raw_samples >= raw.samples.len() as u64, "{stem}");
            // It also drops the locations only those samples used.
            assert!(meta.locations >= raw.locations.len() as u64, "{stem}");
            // The numeric label Go puts on every sample that allocated: the size class.
            assert_eq!(meta.labels.len(), 1, "{stem}");
            let size = &meta.labels[0];
            assert_eq!(
                (size.key.as_str(), size.string_values, size.unit.as_str()),
                ("bytes", 0, "")
            );
            assert!(
                size.numeric_values >= raw.labels as u64 && size.numeric_values <= meta.raw_samples,
                "{stem}: {size:?}"
            );
            let ours: Vec<_> = meta
                .mappings
                .iter()
                .map(|m| {
                    (
                        m.id,
                        m.memory_start,
                        m.memory_limit,
                        m.file_offset,
                        m.filename.clone(),
                        m.has_functions,
                    )
                })
                .collect();
            let theirs: Vec<_> = raw
                .mappings
                .iter()
                .map(|m| (m.0, m.1, m.2, m.3, m.4.clone(), m.5.contains("[FN]")))
                .collect();
            // pprof lists only the mappings a location uses (Go also writes [vdso] and
            // [vsyscall]); those it lists are the file's.
            assert!(
                !theirs.is_empty() && theirs.iter().all(|m| ours.contains(m)),
                "{stem}: {ours:?}"
            );
            assert_eq!(ours[0].4.rsplit('/').next(), Some("leaky"));

            // pprof's samples merged by stack (frames as function, file, line).
            let mut expected: HashMap<Vec<RawFrame>, Vec<i64>> = HashMap::new();
            let mut inlined = 0;
            for (values, locations) in &raw.samples {
                let stack: Vec<RawFrame> = locations
                    .iter()
                    .flat_map(|l| raw.locations[l].iter().cloned())
                    .collect();
                inlined += locations
                    .iter()
                    .filter(|l| raw.locations[l].len() > 1)
                    .count();
                let e = expected.entry(stack).or_insert(vec![0; values.len()]);
                for (sum, v) in e.iter_mut().zip(values) {
                    *sum += v;
                }
            }
            assert!(inlined > 0, "{stem}: the fixture has inlined frames");
            let mut ours: HashMap<Vec<RawFrame>, Vec<i64>> = HashMap::new();
            let mut records = 0u64;
            for (i, s) in p.samples().iter().enumerate() {
                let stack: Vec<RawFrame> = p
                    .stack(s.stack)
                    .iter()
                    .map(|&f| {
                        let f = p.frame(f);
                        (f.function.clone(), f.file.clone(), f.line)
                    })
                    .collect();
                records += u64::from(s.records);
                if p.values(i).iter().all(|&v| v == 0) {
                    continue; // pprof drops these
                }
                assert!(
                    ours.insert(stack, p.values(i).to_vec()).is_none(),
                    "{stem}: a stack twice"
                );
            }
            assert_eq!(records, meta.raw_samples, "{stem}");
            assert_eq!(ours, expected, "{stem}");
        }
    }

    /// `go tool pprof -top -base h1 h2`: h1 is subtracted from h2, so flat and cum per
    /// function are plateau's h2 minus h1.
    #[test]
    fn differences_equal_pprof_top_base() {
        for (oracle, base, kind) in [
            ("h2-base-h1.top.txt", "h1", "inuse_space"),
            ("h2-base-h1.inuse_objects.top.txt", "h1", "inuse_objects"),
            ("h2-base-h0.top.txt", "h0", "inuse_space"),
        ] {
            let top = parse_top(oracle);
            assert_eq!(top.sample_type, kind);
            let new = &parse_fixture("h2").value.profile;
            let old = &parse_fixture(base).value.profile;
            let index = new.value_index(kind).unwrap();
            let unit = &new.value_types[index].unit;
            let (n, o) = (by_function(new, index), by_function(old, index));
            let rows: Vec<(i64, i64)> = top
                .rows
                .iter()
                .map(|(f, _, _)| {
                    let a = n.get(f).copied().unwrap_or_default();
                    let b = o.get(f).copied().unwrap_or_default();
                    (a.0 - b.0, a.1 - b.1)
                })
                .collect();
            // pprof's total of a difference is the sum of |value| over samples merged by
            // location and label (Go labels each sample with its size class), which the
            // model does not keep: it lies between the sum of |difference| per stack and
            // the sum of both profiles' totals. The report's unit is pprof's choice for that
            // total, read from the header.
            let mut by_stack: HashMap<Vec<(String, String, i64)>, i64> = HashMap::new();
            for (p, sign) in [(new, 1), (old, -1)] {
                for (i, s) in p.samples().iter().enumerate() {
                    let stack = p
                        .stack(s.stack)
                        .iter()
                        .map(|&f| {
                            let f = p.frame(f);
                            (f.function.clone(), f.file.clone(), f.line)
                        })
                        .collect();
                    *by_stack.entry(stack).or_default() += sign * p.values(i)[index];
                }
            }
            let low: i64 = by_stack.values().map(|v| v.abs()).sum();
            let high = new.total(index) + old.total(index);
            let digits = top
                .total
                .trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let out = &top.total[digits.len()..];
            let out = if out.is_empty() { unit.as_str() } else { out };
            let shown: f64 = digits.parse().unwrap();
            let scale = |v: i64| {
                scaled_label(v, unit, out)
                    .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                    .parse::<f64>()
                    .unwrap()
            };
            assert!(
                scale(low) <= shown && shown <= scale(high),
                "{oracle}: {low} <= {} <= {high}",
                top.total
            );
            assert_eq!(
                output_unit(&rows, low, unit),
                out,
                "{oracle}: the same unit from our lower bound"
            );
            for ((function, flat, cum), (our_flat, our_cum)) in top.rows.iter().zip(&rows) {
                assert_eq!(
                    (
                        &scaled_label(*our_flat, unit, out),
                        &scaled_label(*our_cum, unit, out)
                    ),
                    (flat, cum),
                    "{oracle}: {function}"
                );
            }
        }
    }

    /// What the fixtures were made to show: the session map grows by the same amount every
    /// round, the LRU and the pool do not.
    #[test]
    fn the_leak_grows_and_the_decoys_do_not() {
        let inuse = |stem: &str, function: &str| {
            let p = &parse_fixture(stem).value.profile;
            let i = p.value_index("inuse_space").unwrap();
            by_function(p, i).get(function).map_or(0, |v| v.0)
        };
        let sessions: Vec<i64> = ["h0", "h1", "h2"]
            .iter()
            .map(|s| inuse(s, "main.newSession"))
            .collect();
        // 500 sessions a round, each a 1 KiB payload, the struct, its tag slice and string.
        assert!(sessions[0] > 500 * 1024, "{sessions:?}");
        // Each round adds 500 sessions of ~1.1 KiB; the in-use accounting of a round's
        // last allocations can lag a GC cycle, so the steps agree to within 2%.
        let (a, b) = (sessions[1] - sessions[0], sessions[2] - sessions[1]);
        assert!(a > 500 * 1024 && (a - b).abs() * 50 < a, "{sessions:?}");
        // The pool is allocated once: constant to the byte.
        let pool: Vec<i64> = ["h0", "h1", "h2"]
            .iter()
            .map(|s| inuse(s, "main.newPool"))
            .collect();
        assert!(pool.iter().all(|&x| x == pool[0]), "{pool:?}");
        // The LRU holds 200 entries throughout; its map's buckets still creep up a little
        // under churn (Go maps do not shrink), far below the sessions' growth.
        let lru: Vec<i64> = ["h0", "h1", "h2"]
            .iter()
            .map(|s| inuse(s, "main.(*lru).put") + inuse(s, "container/list.(*List).insertValue"))
            .collect();
        assert!(lru[0] > 200 * 48 && (lru[2] - lru[0]) * 100 < a, "{lru:?}");
        assert_eq!(inuse("h2", "main.newPool"), 64 * (32 << 10) + 64 * 24);
    }

    #[test]
    fn gzip_plain_and_every_buffer_size_read_the_same() {
        let plain = plain_fixture("h1.pb.gz");
        let reference = &parse_fixture("h1").value;
        for buffer_size in [64, 100, 4096, 1 << 20] {
            for bytes in [plain.clone(), fixture_bytes("h1.pb.gz")] {
                let options = PprofOptions {
                    buffer_size,
                    ..PprofOptions::default()
                };
                let parsed = read(&bytes[..], &options, &mut |_| {}).unwrap();
                let p = &parsed.value.profile;
                assert_eq!(p.samples(), reference.profile.samples());
                assert_eq!(p.frames(), reference.profile.frames());
                for i in 0..4 {
                    assert_eq!(p.total(i), reference.profile.total(i));
                }
                assert_eq!(parsed.value.meta.bytes_read, plain.len() as u64);
            }
        }
    }

    #[test]
    fn progress_reports_bytes_taken_from_the_reader() {
        let gz = fixture_bytes("h2.pb.gz");
        let mut last = 0;
        read(&gz[..], &PprofOptions::default(), &mut |n| last = n).unwrap();
        assert_eq!(last, gz.len() as u64);
    }

    #[test]
    fn sniffing_recognises_the_gunzipped_profiles() {
        for stem in PROFILES {
            let gz = fixture_bytes(&format!("{stem}.pb.gz"));
            assert_eq!(sniff(&gz), Format::Gzip);
            let plain = plain_fixture(&format!("{stem}.pb.gz"));
            assert_eq!(sniff(&plain), Format::Pprof, "{stem}");
            assert!(plateau_formats::pprof::is_profile(&plain[..8]));
        }
    }
}

/// A C program under gperftools' heap profiler, converted to profile.proto by pprof:
/// unsymbolized libc frames, C function names, pprof's drop_frames.
mod gperftools {
    use std::path::PathBuf;

    use plateau_profile::Producer;

    use crate::common::*;

    fn profile() -> plateau_formats::Parsed<plateau_formats::pprof::PprofProfile> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/pprof/gperftools/heap.pb.gz");
        parse_ok(&std::fs::read(path).unwrap())
    }

    #[test]
    fn reads_with_a_warning_about_drop_frames() {
        let parsed = profile();
        let (p, meta) = (&parsed.value.profile, &parsed.value.meta);
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        assert!(parsed.warnings[0].starts_with(
            "the profile asks readers to drop frames matching drop_frames (\"calloc|cfree|malloc|"
        ));
        assert!(meta
            .drop_frames
            .as_deref()
            .unwrap()
            .contains("tcmalloc::.*"));
        assert!(meta.keep_frames.is_some());
        // pprof keeps only the mappings locations use and gperftools' stacks start at the
        // caller of malloc: nothing says tcmalloc any more.
        assert_eq!(p.producer, Producer::Pprof);
        let kinds: Vec<&str> = p.value_types.iter().map(|t| t.kind.as_str()).collect();
        assert_eq!(kinds, SAMPLE_TYPES);
        assert_eq!(p.default_value, 3);
        assert!(meta.unsymbolized_locations > 0);
        let libc = p
            .frames()
            .iter()
            .find(|f| f.function.starts_with("0x"))
            .unwrap();
        assert!(libc.file.contains("libc.so"), "{libc:?}");
        let raw = parse_raw_text(
            "heap.raw.txt",
            &oracle_text_in("gperftools", "heap.raw.txt"),
        );
        assert_eq!(meta.raw_samples, raw.samples.len() as u64);
        assert_eq!(meta.locations, raw.locations.len() as u64);
    }

    /// Totals, flat and cum per function (unsymbolized frames as pprof's `[libc.so.6]`)
    /// equal `go tool pprof -top` for every sample type.
    #[test]
    fn equals_pprof_top() {
        let parsed = profile();
        let p = &parsed.value.profile;
        for kind in SAMPLE_TYPES {
            let name = format!("heap.{kind}.top.txt");
            let top = parse_top_text(&name, &oracle_text_in("gperftools", &name));
            let index = p.value_index(kind).unwrap();
            let unit = &p.value_types[index].unit;
            let nodes = by_function_or_mapping(p, index);
            assert_eq!(nodes.len(), top.rows.len(), "{name}: every node shown");
            let rows: Vec<(i64, i64)> = top.rows.iter().map(|(f, _, _)| nodes[f]).collect();
            let out = output_unit(&rows, p.total(index), unit);
            assert_eq!(
                scaled_label(p.total(index), unit, &out),
                top.total,
                "{name}"
            );
            for ((function, flat, cum), (f, c)) in top.rows.iter().zip(&rows) {
                assert_eq!(
                    (&scaled_label(*f, unit, &out), &scaled_label(*c, unit, &out)),
                    (flat, cum),
                    "{name}: {function}"
                );
            }
        }
        // The leak is the C program's too: 1,500 sessions of 1 KiB + 32 bytes.
        let i = p.value_index("inuse_space").unwrap();
        assert_eq!(by_function(p, i)["new_session"].0, 1500 * (1024 + 32));
    }
}

mod synthetic {
    use plateau_formats::pprof::{read, LabelKey, PprofOptions};
    use plateau_formats::sniff::{sniff, Format};
    use plateau_profile::{Frame, Producer, ValueType};

    use crate::common::*;
    use crate::pb::{self, Profile};

    fn frames(p: &plateau_profile::AllocProfile, sample: usize) -> Vec<Frame> {
        p.stack(p.samples()[sample].stack)
            .iter()
            .map(|&f| p.frame(f).clone())
            .collect()
    }

    #[test]
    fn inlined_lines_expand_leaf_first_and_addresses_name_unsymbolized_frames() {
        let parsed = parse_ok(&pb::small().bytes());
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let (p, meta) = (&parsed.value.profile, &parsed.value.meta);
        assert_eq!(
            p.samples().len(),
            2,
            "the unpacked sample merges with the first"
        );
        assert_eq!(
            frames(p, 0),
            [
                Frame::new("main.leak", "app/main.go", 20),
                Frame::new("main.handler", "app/main.go", 31),
                Frame::new("main.main", "app/main.go", 40),
            ]
        );
        assert_eq!(p.values(0), &[4, 400]);
        assert_eq!(p.samples()[0].records, 2);
        assert_eq!(
            frames(p, 1),
            [
                Frame::new("0x4a3f20", "/srv/app", 0),
                Frame::new("main.main", "app/main.go", 40),
            ]
        );
        assert_eq!(meta.unsymbolized_locations, 1);
        assert_eq!(p.time_nanos, Some(1_700_000_000_000_000_000));
        assert_eq!(p.period, Some((ValueType::new("space", "bytes"), 524288)));
        assert_eq!(p.default_value, 1);
        assert_eq!(p.producer, Producer::GoPprof);
        assert_eq!(meta.producer_evidence, "source file app/main.go");
        assert_eq!(
            meta.labels,
            [
                LabelKey {
                    key: "bytes".into(),
                    string_values: 0,
                    numeric_values: 1,
                    unit: "bytes".into()
                },
                LabelKey {
                    key: "handler".into(),
                    string_values: 1,
                    numeric_values: 0,
                    unit: String::new()
                },
            ]
        );
        assert_eq!(meta.mappings.len(), 1);
        assert_eq!(meta.mappings[0].filename, "/srv/app");
        // Gzipped, it reads the same; plain, it sniffs as pprof.
        let gz = parse_ok(&gzip(&pb::small().bytes()));
        assert_eq!(gz.value.profile.samples(), p.samples());
        assert_eq!(sniff(&pb::small().bytes()), Format::Pprof);
    }

    /// pprof's own writer (`go tool pprof -proto`) puts fields in schema order: sample types
    /// first, ids anywhere, default_sample_type, comments, drop_frames.
    #[test]
    fn pprof_written_order_sparse_ids_and_header_fields() {
        let mut p = Profile::default();
        p.sample_type("alloc_space", "bytes")
            .sample_type("inuse_space", "bytes");
        p.sample(&[900_000_007], &[10, 5])
            .sample(&[900_000_007, 42], &[1, 1]);
        p.location(900_000_007, 0, 0x10, &[(77, 5)])
            .location(42, 0, 0x20, &[(1 << 40, 9)]);
        p.function(77, "alloc", "a.c")
            .function(1 << 40, "caller", "a.c");
        let (d, c, f) = (p.s("alloc_space"), p.s("a remark"), p.s("malloc|calloc"));
        p.body
            .int(7, f)
            .int(10, 5_000_000_000)
            .int(13, c)
            .int(14, d);
        let bytes = p.bytes();
        assert_eq!(bytes[0], 0x0a);
        assert_eq!(sniff(&bytes), Format::Pprof);
        let parsed = parse_ok(&bytes);
        assert_eq!(
            parsed.warnings,
            [
                "the profile asks readers to drop frames matching drop_frames (\"malloc|calloc\", \
              pprof's allocator list when it converted a legacy heap profile); plateau keeps \
              every frame, so an allocator frame can be a sample's leaf where pprof shows its \
              caller"
            ]
        );
        let (prof, meta) = (&parsed.value.profile, &parsed.value.meta);
        assert_eq!(prof.default_value, 0, "default_sample_type alloc_space");
        assert_eq!(prof.comments, ["a remark"]);
        assert_eq!(meta.drop_frames.as_deref(), Some("malloc|calloc"));
        assert_eq!(meta.duration_nanos, Some(5_000_000_000));
        assert_eq!(prof.period, None);
        assert_eq!(prof.time_nanos, None);
        assert_eq!(prof.producer, Producer::Pprof);
        assert_eq!(prof.total(0), 11);
        assert_eq!(
            frames(prof, 1),
            [
                Frame::new("alloc", "a.c", 5),
                Frame::new("caller", "a.c", 9)
            ]
        );
    }

    fn producer_of(function: &str, mapping: &str) -> (Producer, String) {
        let mut p = Profile::default();
        p.sample_type("inuse_space", "bytes");
        p.mapping(1, 0x1000, 0x2000, mapping);
        p.function(1, function, "").function(2, "main", "server.cc");
        p.location(1, 1, 0x1100, &[(1, 0)])
            .location(2, 1, 0x1200, &[(2, 12)]);
        p.sample(&[1, 2], &[64]);
        let parsed = parse_ok(&p.bytes());
        (
            parsed.value.profile.producer,
            parsed.value.meta.producer_evidence.clone(),
        )
    }

    #[test]
    fn producers() {
        assert_eq!(
            producer_of("je_prof_backtrace", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            (Producer::Jemalloc, "function je_prof_backtrace".to_string())
        );
        assert_eq!(
            producer_of("_rjem_malloc", "/srv/app").0,
            Producer::Jemalloc
        );
        assert_eq!(
            producer_of("Arena::alloc", "/usr/lib/libjemalloc.so.2"),
            (
                Producer::Jemalloc,
                "mapping /usr/lib/libjemalloc.so.2".to_string()
            )
        );
        assert_eq!(
            producer_of("tcmalloc::allocate_full_malloc_oom", "/srv/app").0,
            Producer::Gperftools
        );
        assert_eq!(
            producer_of("MallocHook::InvokeNewHookSlow", "/srv/app").0,
            Producer::Gperftools
        );
        assert_eq!(
            producer_of("operator new", "/usr/lib/libtcmalloc.so.4").0,
            Producer::Gperftools
        );
        assert_eq!(
            producer_of("runtime.mallocgc", "/srv/app").0,
            Producer::GoPprof
        );
        assert_eq!(producer_of("operator new", "/srv/app").0, Producer::Pprof);
        // Go's heap sample types alone (a stripped profile: addresses only).
        let mut p = Profile::default();
        for t in [
            "alloc_objects",
            "alloc_space",
            "inuse_objects",
            "inuse_space",
        ] {
            p.sample_type(
                t,
                if t.ends_with("space") {
                    "bytes"
                } else {
                    "count"
                },
            );
        }
        p.location(1, 0, 0xabc, &[]);
        p.sample(&[1], &[1, 2, 3, 4]);
        let parsed = parse_ok(&p.bytes());
        assert_eq!(parsed.value.profile.producer, Producer::GoPprof);
        assert_eq!(
            parsed.value.meta.producer_evidence,
            "sample types alloc_objects, alloc_space, inuse_objects, inuse_space (Go's heap profile)"
        );
        assert_eq!(
            parsed.value.profile.frame(0),
            &Frame::new("0xabc", "", 0),
            "no mapping: no file"
        );
    }

    #[test]
    fn unknown_fields_are_skipped_with_a_warning() {
        let mut p = pb::small();
        // Profile field 20 (each wire type), Location field 9.
        p.body
            .varint(20, 5)
            .bytes(20, b"future")
            .key(21, 1)
            .raw(&[0; 8])
            .key(22, 5)
            .raw(&[0; 4]);
        let mut loc = pb::Msg::default();
        loc.varint(1, 99).varint(9, 1);
        p.body.msg(4, &loc);
        let parsed = parse_ok(&p.bytes());
        assert_eq!(
            parsed.warnings,
            [
                "skipped unknown protobuf fields (a newer profile.proto?): Location field 9 x1, \
              Profile field 20 x2, Profile field 21 x1, Profile field 22 x1"
            ]
        );
        assert_eq!(parsed.value.profile.total(1), 464);
    }

    #[test]
    fn an_unknown_default_sample_type_or_mapping_is_a_warning() {
        let mut p = pb::small();
        let i = p.s("nonesuch");
        p.body.int(14, i);
        p.location(13, 7, 0x5000, &[]);
        p.sample(&[13], &[1, 1]);
        let parsed = parse_ok(&p.bytes());
        assert_eq!(
            parsed.warnings,
            [
                "default_sample_type \"nonesuch\" is not one of the sample types; the last one, \
                 \"inuse_space\", is the default",
                "1 location(s) name a mapping_id that no mapping has (read without a mapping)"
            ]
        );
        assert_eq!(parsed.value.profile.default_value, 1);
    }

    #[test]
    fn deep_stacks_are_cut_to_the_limit() {
        let mut p = Profile::default();
        p.sample_type("inuse_space", "bytes");
        p.function(1, "f", "f.c");
        let lines: Vec<(u64, i64)> = (0..50).map(|l| (1, l)).collect();
        p.location(1, 0, 0, &lines);
        p.sample(&[1; 10], &[8]).sample(&[1], &[8]);
        let bytes = p.bytes();
        let options = PprofOptions {
            max_stack_depth: 120,
            ..PprofOptions::default()
        };
        let parsed = read(&bytes[..], &options, &mut |_| {}).unwrap();
        let prof = &parsed.value.profile;
        assert_eq!(prof.stack(prof.samples()[0].stack).len(), 120);
        assert_eq!(prof.stack(prof.samples()[1].stack).len(), 50);
        assert_eq!(prof.total(0), 16);
        assert_eq!(
            parsed.warnings,
            ["1 stack(s) deeper than 120 frames were cut to their 120 innermost frames"]
        );
    }

    #[test]
    fn invalid_utf8_strings_are_replaced_with_a_warning() {
        let mut p = pb::small();
        let i = p.s("main.leak");
        p.strings[i as usize] = String::from("main.le\u{fffd}k");
        let mut bytes = p.bytes();
        let needle = "main.le\u{fffd}".as_bytes();
        let at = bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap();
        // Replace the 3-byte U+FFFD with 0xff 0xfe 0xfd (not UTF-8).
        bytes[at + 7..at + 10].copy_from_slice(&[0xff, 0xfe, 0xfd]);
        let parsed = parse_ok(&bytes);
        assert_eq!(
            parsed.warnings,
            ["1 string(s) of the string table are not UTF-8 (invalid bytes replaced by U+FFFD)"]
        );
        assert!(parsed.value.profile.frames()[0]
            .function
            .starts_with("main.le\u{fffd}"));
    }

    #[test]
    fn sniffing_is_strict() {
        use plateau_formats::pprof::is_profile;
        let go_heap = [0x5a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x60, 0x01];
        assert!(is_profile(&go_heap));
        assert!(
            is_profile(&go_heap[..6]),
            "a prefix ending after the ValueType"
        );
        assert!(is_profile(b"\n\x04\x08\x01\x10\x02"));
        // A Go CPU profile: time_nanos, then sample_type.
        let mut cpu = vec![0x48];
        cpu.extend(pb::varint_bytes(1_700_000_000_000_000_000));
        cpu.extend([0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x0a]);
        assert!(is_profile(&cpu));
        assert_eq!(sniff(&cpu), Format::Pprof);
        for not in [
            &b""[..],
            b"\n",
            b"\n\n",
            b"\nhello world\n",
            b"Z\x04\x08\x01\x10",              // the ValueType is cut
            b"\n\x04\x08\x01\x08\x02\x60\x01", // type twice
            b"\n\x04\x08\x01\x18\x02\x60\x01", // field 3 in a ValueType
            b"\n\x04\x10\x01\x08\x02\x60\x01", // unit first
            b"\n\x04\x08\x01\x10\x02\x7b",     // then '{': field 15
            b"\n\x04\x08\x01\x10\x02\x62",     // then period (12) as bytes
            b"\n\x30\x08\x01\x10\x02",         // length 48: no ValueType is that long
            b"H\x01\n\x04\x08",                // time_nanos, then a cut ValueType
            b"{\"snapshot\":{}}",
            b"JAVA PROFILE 1.0.2\0",
            b"heap profile: 1: 2 [3: 4] @ heap/1048576\n",
            &[0x80, 0x05, 0x95],
            &[0x1f, 0x8b, 0x08],
        ] {
            assert!(!is_profile(not), "{not:?}");
        }
        assert_eq!(sniff(b"\nhello"), Format::Unknown);
        assert_eq!(sniff(b"\n{\"snapshot\":{}}"), Format::V8HeapSnapshot);
    }
}

mod errors {
    use crate::common::*;
    use crate::pb::{self, Msg, Profile};

    fn error_of(bytes: &[u8]) -> String {
        match parse_bytes(bytes) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    /// The byte offset of `needle` in `bytes` (the first occurrence).
    fn offset_of(bytes: &[u8], needle: &[u8]) -> usize {
        bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    }

    #[test]
    fn not_a_profile() {
        let not = "not a pprof profile (profile.proto, optionally gzipped): ";
        assert_eq!(error_of(b""), format!("{not}the input is empty"));
        assert_eq!(error_of(&gzip(b"")), format!("{not}the input is empty"));
        assert_eq!(
            error_of(b"hello, world"),
            format!("{not}it starts with text (\"hello, world\"...), not protobuf")
        );
        assert_eq!(
            error_of(b"{\"snapshot\":{\"meta\":{}}}"),
            format!(
                "{not}it starts with text ({:?}...), not protobuf; this looks like JSON",
                "{\"snapshot\":{\"meta\":{}}}"
            )
        );
        // Not text, not a field: the first byte says so.
        assert_eq!(
            error_of(&[0x7b, 0x01, 0x02, 0xff]),
            format!(
                "{not}it starts with byte 0x7b ('{{'), which does not open a profile.proto field \
                 (a Go heap profile starts with 0x5a, period_type; pprof's own output with 0x0a, \
                 sample_type); this looks like JSON"
            )
        );
        let hprof = error_of(&fixture_bytes("../../hprof/tiny.hprof.gz"));
        assert!(hprof.ends_with("this is a Java HPROF heap dump"), "{hprof}");
        let legacy = error_of(b"heap profile: 12: 3456 [78: 9012] @ heap/1048576\n");
        assert!(
            legacy.starts_with(&format!(
                "{not}it starts with text (\"heap profile: 12: 3456 ["
            )) && legacy.ends_with(
                "this is a legacy text heap profile (Go's debug=1, gperftools, jemalloc): \
                     fetch /debug/pprof/heap without debug=1, or convert it with `go tool pprof \
                     -proto`"
            ),
            "{legacy}"
        );
        assert_eq!(
            error_of(&[0x80, 0x05, 0x95, 0x10]),
            format!("{not}it starts with byte 0x80, which does not open a profile.proto field (a Go heap profile starts with 0x5a, period_type; pprof's own output with 0x0a, sample_type)")
        );
        // Protobuf, but nothing of a profile in it.
        assert_eq!(
            error_of(&[0x48, 0x01]),
            format!("{not}2 bytes decode as protobuf but hold no sample_type and no string table")
        );
    }

    #[test]
    fn a_string_index_out_of_range() {
        let mut p = pb::small();
        // A function whose name is string 99.
        let mut f = Msg::default();
        f.varint(1, 9).int(2, 99);
        p.body.msg(5, &f);
        let bytes = p.bytes();
        let at = offset_of(&bytes, &[0x08, 0x09, 0x10, 99]);
        assert_eq!(
            error_of(&bytes),
            format!(
                "invalid profile: Profile.function[3].name at byte {at}: string index 99 is past \
                 the end of the string table ({} strings)",
                p.strings.len()
            )
        );
        // Negative, in a sample type.
        let mut p = Profile::default();
        let mut vt = Msg::default();
        vt.int(1, -1);
        p.body.msg(1, &vt);
        assert_eq!(
            error_of(&p.bytes()),
            "invalid profile: Profile.sample_type[0].type at byte 2: string index -1 is negative"
        );
        // In a label.
        let mut p = pb::small();
        let mut s = Msg::default();
        let mut l = Msg::default();
        l.int(1, 1000);
        s.packed(1, &[11]).packed(2, &[1, 1]).msg(3, &l);
        p.body.msg(2, &s);
        let e = error_of(&p.bytes());
        assert!(
            e.starts_with("invalid profile: Profile.sample[3].label[0].key at byte ")
                && e.ends_with(&format!(
                    "string index 1000 is past the end of the string table ({} strings)",
                    p.strings.len()
                )),
            "{e}"
        );
    }

    #[test]
    fn a_sample_naming_a_missing_location() {
        let mut p = pb::small();
        p.sample(&[11, 404], &[1, 1]);
        let bytes = p.bytes();
        let at = offset_of(&bytes, &[0x0a, 0x03, 0x0b, 0x94, 0x03]);
        assert_eq!(
            error_of(&bytes),
            format!(
                "invalid profile: Profile.sample[3].location_id at byte {at}: 404 is not the id of \
                 any location (3 locations)"
            )
        );
    }

    #[test]
    fn a_line_naming_a_missing_function() {
        let mut p = pb::small();
        p.location(13, 1, 0x9000, &[(3, 1), (55, 2)]);
        let e = error_of(&p.bytes());
        assert!(
            e.starts_with("invalid profile: Profile.location[3].line[1] at byte ")
                && e.ends_with("function_id 55 is not the id of any function (3 functions)"),
            "{e}"
        );
        let mut p = pb::small();
        p.location(13, 1, 0x9000, &[(0, 1)]);
        assert!(error_of(&p.bytes()).ends_with("function_id 0: a line must name a function"));
    }

    #[test]
    fn a_wrong_value_count() {
        let mut p = pb::small();
        p.sample(&[11], &[1, 2, 3]);
        let bytes = p.bytes();
        let at = offset_of(&bytes, &[0x0a, 0x01, 0x0b, 0x12, 0x03, 1, 2, 3]);
        assert_eq!(
            error_of(&bytes),
            format!(
                "invalid profile: Profile.sample[3] at byte {at}: value count 3, expected 2 (one \
                 per sample_type)"
            )
        );
    }

    #[test]
    fn ids_must_be_nonzero_and_unique() {
        let mut p = pb::small();
        p.function(2, "again", "x.go");
        let e = error_of(&p.bytes());
        assert!(
            e.starts_with("invalid profile: Profile.function[3] at byte ")
                && e.ends_with("id 2 is also the id of Profile.function[1]"),
            "{e}"
        );
        let mut p = pb::small();
        p.location(0, 1, 0, &[]);
        assert!(error_of(&p.bytes()).ends_with("id 0, which is reserved (ids are nonzero)"));
        let mut p = pb::small();
        p.mapping(1, 0, 0, "again");
        assert!(error_of(&p.bytes()).contains("Profile.mapping[1]"));
    }

    #[test]
    fn the_string_table_and_sample_types() {
        let mut p = pb::small();
        p.strings[0] = "oops".into();
        let bytes = p.bytes();
        let at = offset_of(&bytes, b"oops");
        assert_eq!(
            error_of(&bytes),
            format!("invalid profile: Profile.string_table[0] at byte {at}: is \"oops\", expected the empty string")
        );
        let no_strings = pb::small().body.0;
        assert_eq!(
            error_of(&no_strings),
            format!(
                "invalid profile: Profile.string_table at byte {}: missing (the profile ends \
                 without one): every profile has at least the empty string at index 0",
                no_strings.len()
            )
        );
        let mut p = Profile::default();
        p.function(1, "f", "f.go");
        let bytes = p.bytes();
        assert_eq!(
            error_of(&bytes),
            format!(
                "invalid profile: Profile.sample_type at byte {}: missing: without a sample_type \
                 (field 1) nothing says what the sample values measure",
                bytes.len()
            )
        );
    }

    #[test]
    fn encoding_errors_name_the_field_path() {
        // A label's num as bytes.
        let mut p = pb::small();
        let mut s = Msg::default();
        let mut l = Msg::default();
        l.bytes(3, b"x");
        s.packed(1, &[11]).packed(2, &[1, 1]).msg(3, &l);
        p.body.msg(2, &s);
        let e = error_of(&p.bytes());
        assert!(
            e.starts_with("invalid protobuf at byte ")
                && e.ends_with(
                    "inside Profile.sample[3].label[0]: field 3 (num) has wire type 2 \
                     (length-delimited), expected wire type 0 (varint)"
                ),
            "{e}"
        );
        // A group in a location.
        let mut p = pb::small();
        let mut loc = Msg::default();
        loc.varint(1, 50).key(4, 3);
        p.body.msg(4, &loc);
        assert!(error_of(&p.bytes()).ends_with(
            "inside Profile.location[3]: field 4 has wire type 3 (a group), which profile.proto never uses"
        ));
        // A sub-message longer than its parent.
        let mut p = pb::small();
        let mut s = Msg::default();
        s.key(1, 2).raw(&[0x7f, 1]);
        p.body.msg(2, &s);
        assert!(error_of(&p.bytes())
            .ends_with("inside Profile.sample[3].location_id: a length of 127 bytes runs past the end of its message (1 left)"));
        // A varint that never ends inside a packed run.
        let mut p = pb::small();
        let mut s = Msg::default();
        s.bytes(1, &[0x80, 0x80]);
        p.body.msg(2, &s);
        assert!(error_of(&p.bytes()).ends_with(
            "inside Profile.sample[3].location_id: a varint runs past the end of its message"
        ));
        // Location ids as 32-bit values.
        let mut p = pb::small();
        let mut s = Msg::default();
        s.key(1, 5).raw(&[1, 0, 0, 0]);
        p.body.msg(2, &s);
        assert!(error_of(&p.bytes()).ends_with(
            "inside Profile.sample[3].location_id: field 1 (location_id) has wire type 5 \
             (32-bit), expected wire type 0 (varint) or 2 (packed varints)"
        ));
        // A top-level scalar with the wrong wire type, and an 11-byte varint.
        let mut p = pb::small();
        p.body.bytes(9, b"x");
        assert!(error_of(&p.bytes()).ends_with(
            "inside Profile.time_nanos[1]: field 9 (time_nanos) has wire type 2 (length-delimited), expected wire type 0 (varint)"
        ));
        let mut p = pb::small();
        p.body.key(12, 0).raw(&[0xff; 10]).raw(&[1]);
        assert!(error_of(&p.bytes())
            .ends_with("inside Profile.period[1]: a varint longer than 64 bits"));
    }

    /// Every prefix of a real profile (plain and gzipped) is an error, never a panic and never
    /// a smaller profile: Go writes the string table last.
    #[test]
    fn every_truncation_is_an_error() {
        let plain = plain_fixture("h0.pb.gz");
        for cut in 0..plain.len() {
            let e = error_of(&plain[..cut]);
            assert!(
                e.starts_with("truncated at byte ")
                    || e.starts_with("invalid profile: ")
                    || e.starts_with("not a pprof profile"),
                "cut at {cut}: {e}"
            );
        }
        let gz = fixture_bytes("h0.pb.gz");
        for cut in 0..gz.len() {
            assert!(parse_bytes(&gz[..cut]).is_err(), "gzip cut at {cut}");
        }
        let small = pb::small().bytes();
        for cut in 0..small.len() {
            assert!(parse_bytes(&small[..cut]).is_err(), "cut at {cut}");
        }
        // Mid-field, the message says which field and how much of it arrived.
        let cut = offset_of(&plain, &[0x12]) + 5;
        let e = error_of(&plain[..cut]);
        assert!(
            e.starts_with(&format!(
                "truncated at byte {cut} inside Profile.sample[0] (a "
            )),
            "{e}"
        );
        let e = error_of(&gz[..gz.len() - 4]);
        assert!(
            e.starts_with("truncated at byte ") && e.contains("the gzip stream"),
            "{e}"
        );
    }
}

mod fuzz_smoke {
    use crate::mutate::{mutate, Rng};
    use plateau_formats::pprof::{read, PprofOptions};

    use crate::common::plain_fixture;
    use crate::pb;

    /// Bytes that mean something in profile.proto: tags of every Profile field, long and
    /// never-ending varints, large lengths.
    const TOKENS: &[&[u8]] = &[
        &[0x0a],
        &[0x12],
        &[0x1a],
        &[0x22],
        &[0x2a],
        &[0x32, 0x00],
        &[0x5a, 0x04, 0x08, 0x01, 0x10, 0x02],
        &[0x08, 0x00],
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        &[0x80, 0x80, 0x80, 0x80],
        &[0x0b],
        &[0x7f],
        &[0xff, 0xff, 0xff, 0x0f],
        &[0x01],
    ];

    /// What the fuzz target does with one input: read it (the first byte picks the buffer
    /// size and a small stack limit) and, when it reads, use every sample.
    fn fuzz_one(data: &[u8]) -> bool {
        let first = data.first().map_or(0, |&b| b as usize);
        let options = PprofOptions {
            buffer_size: 64 + first,
            max_stack_depth: 1 + first * 4,
        };
        match read(data, &options, &mut |_| {}) {
            Ok(parsed) => {
                let p = &parsed.value.profile;
                assert!(p.default_value < p.value_types.len());
                for (i, s) in p.samples().iter().enumerate() {
                    assert_eq!(p.values(i).len(), p.value_types.len());
                    for &f in p.stack(s.stack) {
                        let _ = p.frame(f);
                    }
                }
                for v in 0..p.value_types.len() {
                    let _ = p.total(v);
                }
                true
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                false
            }
        }
    }

    #[test]
    fn mutated_profiles_never_panic() {
        let seeds = [pb::small().bytes(), plain_fixture("h0.pb.gz")];
        for seed in &seeds {
            assert!(fuzz_one(seed), "every seed must read");
        }
        let mut rng = Rng(0x0070_7072_6f66);
        let runs: usize = std::env::var("FUZZ_SMOKE_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(6000);
        let mut ok = 0;
        for i in 0..runs {
            let data = mutate(&mut rng, &seeds[i % seeds.len()], TOKENS, &[]);
            match std::panic::catch_unwind(|| fuzz_one(&data)) {
                Ok(true) => ok += 1,
                Ok(false) => {}
                Err(_) => panic!("panic on input {i}: {data:?}"),
            }
        }
        eprintln!("{ok} of {runs} mutations still read");
    }

    #[test]
    fn every_byte_of_the_small_seed_changed_never_panics() {
        let seed = pb::small().bytes();
        for i in 0..seed.len() {
            for v in [0u8, 0x7f, 0x80, 0xff, seed[i] ^ 1] {
                let mut data = seed.clone();
                data[i] = v;
                let _ = fuzz_one(&data);
            }
        }
    }
}
