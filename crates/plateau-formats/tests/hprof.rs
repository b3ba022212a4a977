//! Integration tests of the HPROF reader: real Java 17 dumps against the JVM's own class
//! histogram (`jcmd GC.class_histogram` taken right after each dump, see
//! `fixtures/hprof/README.md`), Java semantics (reference rule, roots, names), hand-written
//! dumps for what HotSpot never writes (Android 1.0.3, 4-byte ids, classes dumped after their
//! instances), every way a file can be cut or corrupted, and a stable-toolchain stand-in for
//! a fuzz target. One file, organised in modules as `tests/it/` is for V8.

#[path = "support/mutate.rs"]
mod mutate;

mod common {
    use std::collections::{BTreeMap, HashSet};
    use std::path::PathBuf;
    use std::sync::OnceLock;

    use plateau_formats::hprof::{java_class_name, read, HprofDump, HprofOptions};
    use plateau_formats::{FormatError, Parsed};
    use plateau_graph::{EdgeId, HeapGraph, NodeId, NodeKind};

    pub fn fixture_path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/hprof")
            .join(name)
    }

    pub fn fixture_bytes(name: &str) -> Vec<u8> {
        std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// A gzipped fixture's HPROF bytes (the plain dump `jcmd` wrote before it was gzipped).
    pub fn plain_fixture(name: &str) -> Vec<u8> {
        use std::io::Read;
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&fixture_bytes(name)[..])
            .read_to_end(&mut plain)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        plain
    }

    /// The fixtures: (dump, histogram taken right after it).
    pub const FIXTURES: [(&str, &str); 5] = [
        ("tiny.hprof.gz", "tiny.histo.txt"),
        ("tiny-nocoops.hprof.gz", "tiny-nocoops.histo.txt"),
        ("token-store/s0.hprof.gz", "token-store/s0.histo.txt"),
        ("token-store/s1.hprof.gz", "token-store/s1.histo.txt"),
        ("token-store/s2.hprof.gz", "token-store/s2.histo.txt"),
    ];

    pub fn parse_bytes(bytes: &[u8]) -> Result<Parsed<HprofDump>, FormatError> {
        read(bytes, &HprofOptions::default(), &mut |_| {})
    }

    pub fn parse_with(bytes: &[u8], options: &HprofOptions) -> Parsed<HprofDump> {
        read(bytes, options, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A fixture read once per test run (tests share it).
    pub fn parse_fixture(name: &str) -> &'static Parsed<HprofDump> {
        static CACHE: [OnceLock<Parsed<HprofDump>>; FIXTURES.len()] =
            [const { OnceLock::new() }; FIXTURES.len()];
        let i = FIXTURES
            .iter()
            .position(|(dump, _)| *dump == name)
            .unwrap_or_else(|| panic!("{name} is not a fixture"));
        CACHE[i].get_or_init(|| {
            let file = std::fs::File::open(fixture_path(name)).unwrap();
            read(
                std::io::BufReader::new(file),
                &HprofOptions::default(),
                &mut |_| {},
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"))
        })
    }

    /// Rows of a `jcmd GC.class_histogram`, summed by class name (the JVM lists a name once
    /// per class loader), names as plateau spells them: (count, bytes).
    pub fn histogram(name: &str) -> BTreeMap<String, (u64, u64)> {
        let text = std::fs::read_to_string(fixture_path(name)).unwrap();
        let mut rows: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let numbered = f
                .first()
                .and_then(|n| n.strip_suffix(':'))
                .is_some_and(|n| n.parse::<u64>().is_ok());
            if f.len() >= 4 && numbered {
                let row = rows.entry(java_class_name(f[3])).or_default();
                row.0 += f[1].parse::<u64>().unwrap();
                row.1 += f[2].parse::<u64>().unwrap();
            }
        }
        assert!(rows.len() > 100, "{name}: {} rows", rows.len());
        rows
    }

    /// plateau's per-class totals over every object node: (count, shallow bytes).
    pub fn plateau_histogram(graph: &HeapGraph) -> BTreeMap<String, (u64, u64)> {
        let mut rows: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for n in graph.nodes() {
            if graph.kind(n) == NodeKind::Synthetic {
                continue;
            }
            let row = rows.entry(graph.class_name_of(n).to_string()).or_default();
            row.0 += 1;
            row.1 += graph.self_size(n);
        }
        rows
    }

    pub fn nodes_named<'g>(
        graph: &'g HeapGraph,
        name: &'g str,
    ) -> impl Iterator<Item = NodeId> + 'g {
        graph.nodes().filter(move |&n| graph.name(n) == name)
    }

    /// The one node named `name` that is not an instance of a class of that name: a
    /// class object (named after its class) or a synthetic root group, not a string of
    /// that text.
    pub fn node_named(graph: &HeapGraph, name: &str) -> NodeId {
        let found: Vec<NodeId> = nodes_named(graph, name)
            .filter(|&n| graph.class_name_of(n) != name && !graph.kind(n).is_string())
            .collect();
        assert_eq!(found.len(), 1, "{} nodes named {name:?}", found.len());
        found[0]
    }

    pub fn edge_named(graph: &HeapGraph, from: NodeId, label: &str) -> Option<EdgeId> {
        graph.edges(from).find(|&e| graph.edge_label(e) == label)
    }

    pub fn follow(graph: &HeapGraph, from: NodeId, label: &str) -> NodeId {
        let e = edge_named(graph, from, label).unwrap_or_else(|| {
            let labels: Vec<String> = graph.edges(from).map(|e| graph.edge_label(e)).collect();
            panic!("{} has no edge {label:?}: {labels:?}", graph.name(from))
        });
        graph.edge_target(e)
    }

    pub fn assert_same(a: &HeapGraph, b: &HeapGraph, what: &str) {
        assert_eq!(a.node_count(), b.node_count(), "{what}");
        assert_eq!(a.edge_count(), b.edge_count(), "{what}");
        for n in a.nodes() {
            assert_eq!(a.name(n), b.name(n), "{what}");
            assert_eq!(a.kind(n), b.kind(n), "{what}");
            assert_eq!(a.self_size(n), b.self_size(n), "{what}");
            assert_eq!(a.object_id(n), b.object_id(n), "{what}");
            assert_eq!(a.class_name_of(n), b.class_name_of(n), "{what}");
            let ea: Vec<_> = a
                .edges(n)
                .map(|e| {
                    (
                        a.edge_kind(e),
                        a.edge_label(e),
                        a.edge_target(e),
                        a.retains(e),
                    )
                })
                .collect();
            let eb: Vec<_> = b
                .edges(n)
                .map(|e| {
                    (
                        b.edge_kind(e),
                        b.edge_label(e),
                        b.edge_target(e),
                        b.retains(e),
                    )
                })
                .collect();
            assert_eq!(ea, eb, "{what}: edges of {}", a.name(n));
        }
        assert_eq!(a.root(), b.root(), "{what}");
        assert_eq!(a.user_roots(), b.user_roots(), "{what}");
    }

    /// One record of a real dump, found by walking it independently of the reader.
    #[derive(Clone, Copy, Debug)]
    pub struct Rec {
        pub tag: u8,
        pub start: u64,
        pub end: u64,
        /// For a sub-record, the offset of its heap-dump record.
        pub parent: Option<(u8, u64)>,
    }

    fn be(bytes: &[u8], at: usize, n: usize) -> u64 {
        bytes[at..at + n]
            .iter()
            .fold(0u64, |v, &b| (v << 8) | b as u64)
    }

    /// Every top-level record and every heap-dump sub-record of a (well-formed) dump.
    pub fn walk(bytes: &[u8]) -> (Vec<Rec>, Vec<Rec>) {
        let nul = bytes.iter().position(|&b| b == 0).unwrap();
        let id = be(bytes, nul + 1, 4) as usize;
        let size = |t: u8| match t {
            2 => id,
            4 | 8 => 1,
            5 | 9 => 2,
            6 | 10 => 4,
            7 | 11 => 8,
            _ => panic!("type {t}"),
        };
        let mut pos = nul + 13;
        let (mut top, mut subs) = (Vec::new(), Vec::new());
        while pos < bytes.len() {
            let tag = bytes[pos];
            let len = be(bytes, pos + 5, 4) as usize;
            let body = pos + 9;
            top.push(Rec {
                tag,
                start: pos as u64,
                end: (body + len) as u64,
                parent: None,
            });
            if tag == 0x0C || tag == 0x1C {
                let mut q = body;
                while q < body + len {
                    let (st, s0) = (bytes[q], q);
                    q += 1;
                    q += match st {
                        0xFF | 0x05 | 0x07 => id,
                        0x01 => 2 * id,
                        0x02 | 0x03 | 0x08 => id + 8,
                        0x04 | 0x06 => id + 4,
                        0x20 => {
                            let mut r = q + 7 * id + 8;
                            let n_cp = be(bytes, r, 2);
                            r += 2;
                            for _ in 0..n_cp {
                                r += 3 + size(bytes[r + 2]);
                            }
                            let n = be(bytes, r, 2);
                            r += 2;
                            for _ in 0..n {
                                r += id + 1 + size(bytes[r + id]);
                            }
                            let n = be(bytes, r, 2) as usize;
                            r += 2 + n * (id + 1);
                            r - q
                        }
                        0x21 => 2 * id + 8 + be(bytes, q + 2 * id + 4, 4) as usize,
                        0x22 => 2 * id + 8 + be(bytes, q + id + 4, 4) as usize * id,
                        0x23 => {
                            id + 9 + be(bytes, q + id + 4, 4) as usize * size(bytes[q + id + 8])
                        }
                        _ => panic!("sub-record 0x{st:02x} at {s0}"),
                    };
                    subs.push(Rec {
                        tag: st,
                        start: s0 as u64,
                        end: q as u64,
                        parent: Some((tag, pos as u64)),
                    });
                }
                assert_eq!(q, body + len);
            }
            pos = body + len;
        }
        (top, subs)
    }

    /// The dump without the `UTF8` records no other record refers to (HotSpot writes every
    /// symbol of the JVM; a few thousand name classes, fields and frames). Everything else
    /// is the dump's own bytes, so it reads to the same graph, faster.
    pub fn strip_unused_symbols(bytes: &[u8]) -> Vec<u8> {
        let nul = bytes.iter().position(|&b| b == 0).unwrap();
        let id = be(bytes, nul + 1, 4) as usize;
        let size = |t: u8| {
            if t == 2 {
                id
            } else {
                [0, 0, 0, 0, 1, 2, 4, 8, 1, 2, 4, 8][t as usize]
            }
        };
        let (top, subs) = walk(bytes);
        let mut used: HashSet<u64> = HashSet::new();
        for r in &top {
            let body = r.start as usize + 9;
            match r.tag {
                0x02 => {
                    used.insert(be(bytes, body + 8 + id, id));
                }
                0x04 => {
                    for k in 1..4 {
                        used.insert(be(bytes, body + k * id, id));
                    }
                }
                _ => {}
            }
        }
        for r in subs.iter().filter(|r| r.tag == 0x20) {
            let mut q = r.start as usize + 1 + 7 * id + 8;
            let n_cp = be(bytes, q, 2);
            q += 2;
            for _ in 0..n_cp {
                q += 3 + size(bytes[q + 2]);
            }
            let n_static = be(bytes, q, 2);
            q += 2;
            for _ in 0..n_static {
                used.insert(be(bytes, q, id));
                q += id + 1 + size(bytes[q + id]);
            }
            let n_fields = be(bytes, q, 2);
            q += 2;
            for _ in 0..n_fields {
                used.insert(be(bytes, q, id));
                q += id + 1;
            }
        }
        let mut out = bytes[..nul + 13].to_vec();
        for r in &top {
            let (s, e) = (r.start as usize, r.end as usize);
            if r.tag != 0x01 || used.contains(&be(bytes, s + 9, id)) {
                out.extend_from_slice(&bytes[s..e]);
            }
        }
        out
    }

    /// `cap` items spread evenly over `items`, always including the first and last `ends`.
    pub fn spread<T: Copy>(items: &[T], ends: usize, cap: usize) -> Vec<T> {
        if items.len() <= 2 * ends + cap {
            return items.to_vec();
        }
        let mut out: Vec<T> = items[..ends].to_vec();
        let middle = &items[ends..items.len() - ends];
        let step = middle.len().div_ceil(cap);
        out.extend(middle.iter().step_by(step).copied());
        out.extend_from_slice(&items[items.len() - ends..]);
        out
    }
}

/// A small HPROF writer for hand-made dumps.
mod writer {
    pub struct Hprof {
        pub id: usize,
        pub out: Vec<u8>,
    }

    pub struct Body {
        pub id: usize,
        pub b: Vec<u8>,
    }

    impl Body {
        pub fn u1(&mut self, v: u8) -> &mut Self {
            self.b.push(v);
            self
        }
        pub fn u2(&mut self, v: u16) -> &mut Self {
            self.b.extend_from_slice(&v.to_be_bytes());
            self
        }
        pub fn u4(&mut self, v: u32) -> &mut Self {
            self.b.extend_from_slice(&v.to_be_bytes());
            self
        }
        pub fn id(&mut self, v: u64) -> &mut Self {
            if self.id == 8 {
                self.b.extend_from_slice(&v.to_be_bytes());
            } else {
                self.b.extend_from_slice(&(v as u32).to_be_bytes());
            }
            self
        }
        pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
            self.b.extend_from_slice(v);
            self
        }

        /// CLASS_DUMP: statics are (name, type, value), fields (name, type).
        pub fn class_dump(
            &mut self,
            class: u64,
            super_id: u64,
            loader: u64,
            statics: &[(u64, u8, u64)],
            fields: &[(u64, u8)],
        ) -> &mut Self {
            self.u1(0x20).id(class).u4(1).id(super_id).id(loader);
            self.id(0).id(0).id(0).id(0).u4(0).u2(0);
            self.u2(statics.len() as u16);
            for &(name, t, value) in statics {
                self.id(name).u1(t);
                match t {
                    2 => {
                        self.id(value);
                    }
                    4 | 8 => {
                        self.u1(value as u8);
                    }
                    5 | 9 => {
                        self.u2(value as u16);
                    }
                    6 | 10 => {
                        self.u4(value as u32);
                    }
                    _ => {
                        self.bytes(&value.to_be_bytes());
                    }
                }
            }
            self.u2(fields.len() as u16);
            for &(name, t) in fields {
                self.id(name).u1(t);
            }
            self
        }

        /// INSTANCE_DUMP with field bytes built by `fill`.
        pub fn instance(
            &mut self,
            obj: u64,
            class: u64,
            fill: impl FnOnce(&mut Body),
        ) -> &mut Self {
            let mut fields = Body {
                id: self.id,
                b: Vec::new(),
            };
            fill(&mut fields);
            self.u1(0x21)
                .id(obj)
                .u4(1)
                .id(class)
                .u4(fields.b.len() as u32);
            self.bytes(&fields.b)
        }

        pub fn object_array(&mut self, obj: u64, class: u64, elements: &[u64]) -> &mut Self {
            self.u1(0x22)
                .id(obj)
                .u4(1)
                .u4(elements.len() as u32)
                .id(class);
            for &e in elements {
                self.id(e);
            }
            self
        }

        pub fn primitive_array(&mut self, obj: u64, t: u8, len: u32, data: &[u8]) -> &mut Self {
            self.u1(0x23).id(obj).u4(1).u4(len).u1(t).bytes(data)
        }
    }

    impl Hprof {
        pub fn new(version: &str, id: usize) -> Hprof {
            let mut out = format!("JAVA PROFILE {version}\0").into_bytes();
            out.extend_from_slice(&(id as u32).to_be_bytes());
            out.extend_from_slice(&[0, 0, 1, 0x9a, 0x12, 0x34, 0x56, 0x78]);
            Hprof { id, out }
        }

        pub fn record(&mut self, tag: u8, fill: impl FnOnce(&mut Body)) -> &mut Self {
            let mut body = Body {
                id: self.id,
                b: Vec::new(),
            };
            fill(&mut body);
            self.out.push(tag);
            self.out.extend_from_slice(&0u32.to_be_bytes());
            self.out
                .extend_from_slice(&(body.b.len() as u32).to_be_bytes());
            self.out.extend_from_slice(&body.b);
            self
        }

        pub fn utf8(&mut self, id: u64, text: &str) -> &mut Self {
            self.record(0x01, |b| {
                b.id(id).bytes(text.as_bytes());
            })
        }

        pub fn load_class(&mut self, serial: u32, class: u64, name: u64) -> &mut Self {
            self.record(0x02, |b| {
                b.u4(serial).id(class).u4(1).id(name);
            })
        }

        pub fn bytes(&self) -> Vec<u8> {
            self.out.clone()
        }
    }
}

mod fixtures {
    use plateau_formats::hprof::HprofOptions;
    use plateau_graph::{Dominators, NodeKind};

    use crate::common::*;

    #[test]
    fn every_fixture_reads_with_its_expected_warnings_only() {
        for (dump, _) in FIXTURES {
            let parsed = parse_fixture(dump);
            let meta = &parsed.value.meta;
            let graph = &parsed.value.graph;
            // With CDS (the default) the dump skips the archived mirrors of classes never
            // loaded, which one archived Object[] still references (see the README).
            let cds = !dump.starts_with("tiny-nocoops");
            for w in &parsed.warnings {
                assert!(
                    cds && w
                        .ends_with("references point to ids the dump holds no object for: dropped"),
                    "{dump}: unexpected warning {w:?}"
                );
            }
            assert_eq!(parsed.warnings.len(), cds as usize, "{dump}");
            assert_eq!(meta.version, "1.0.2", "{dump}");
            assert_eq!(meta.id_size, 8, "{dump}");
            assert_eq!(meta.compressed_oops, cds, "{dump}");
            assert_eq!(meta.reference_size, if cds { 4 } else { 8 }, "{dump}");
            assert_eq!(meta.header_size, if cds { 12 } else { 16 }, "{dump}");
            assert_eq!(meta.object_alignment, 8, "{dump}");
            assert!(meta.heap_dump_end, "{dump}");
            assert!(meta.heap_dump_records >= 2, "{dump}");
            assert!(
                meta.duplicate_load_class > 0,
                "{dump}: JDK 17 repeats LOAD_CLASS"
            );
            assert_eq!(
                meta.deferred_instances, 0,
                "{dump}: HotSpot dumps classes first"
            );
            assert!(
                meta.timestamp_ms > 1_700_000_000_000,
                "{dump}: {}",
                meta.timestamp_ms
            );
            let objects =
                meta.instances + meta.object_arrays + meta.primitive_arrays + meta.class_dumps;
            let synthetic = graph
                .nodes()
                .filter(|&n| graph.kind(n) == NodeKind::Synthetic)
                .count();
            assert_eq!(
                graph.node_count() as u64,
                objects + synthetic as u64,
                "{dump}"
            );
            assert_eq!(graph.total_size(), meta.total_size, "{dump}");
            // Everything in a dump taken after a full GC is alive: the root reaches all of
            // it through retaining edges, except what a Reference's referent holds (soft
            // caches of lambda forms) or a hidden class the JVM may unload.
            let dom = Dominators::compute(graph);
            let weak_only: Vec<_> = graph
                .nodes()
                .filter(|&n| !dom.is_strongly_reachable(n))
                .collect();
            let mut explained = vec![false; graph.node_count()];
            let mut stack: Vec<_> = graph
                .nodes()
                .flat_map(|n| graph.edges(n))
                .filter(|&e| graph.edge_kind(e) == plateau_graph::EdgeKind::Weak)
                .map(|e| graph.edge_target(e))
                .chain(
                    weak_only
                        .iter()
                        .copied()
                        .filter(|&n| graph.name(n).contains("/0x")),
                )
                .collect();
            while let Some(n) = stack.pop() {
                if dom.is_strongly_reachable(n) || explained[n.index()] {
                    continue;
                }
                explained[n.index()] = true;
                stack.extend(graph.edges(n).map(|e| graph.edge_target(e)));
            }
            // The rest is held by VM-internal roots HotSpot does not write (the Thread objects
            // of hidden compiler threads, strings and arrays the VM keeps): a few hundred
            // objects, see the README. MAT drops them as "unreachable objects"; plateau keeps
            // them under the root.
            let unexplained: Vec<_> = weak_only.iter().filter(|n| !explained[n.index()]).collect();
            let unexplained_bytes: u64 = unexplained.iter().map(|&&n| graph.self_size(n)).sum();
            eprintln!(
                "{dump}: {} objects not strongly reachable ({} held by a referent or a hidden \
                 class); {} objects, {unexplained_bytes} B held only by VM-internal roots",
                weak_only.len(),
                weak_only.len() - unexplained.len(),
                unexplained.len()
            );
            assert!(unexplained.len() * 100 < graph.node_count(), "{dump}");
            assert!(unexplained_bytes * 50 < graph.total_size(), "{dump}");
        }
    }

    /// The JVM's own histogram, taken right after each dump, is the oracle for counts.
    #[test]
    fn instance_counts_equal_the_jvm_class_histogram() {
        for (dump, histo) in FIXTURES {
            let parsed = parse_fixture(dump);
            let graph = &parsed.value.graph;
            let theirs = histogram(histo);
            let ours = plateau_histogram(graph);
            let cds = !dump.starts_with("tiny-nocoops");
            for (class, &(count, _)) in &theirs {
                let mine = ours.get(class).map_or(0, |r| r.0);
                if class == "java.lang.Class" && cds {
                    // The histogram also counts the mirrors of classes in the CDS archive
                    // that were never loaded; HotSpot's dumper skips those dormant archived
                    // objects. Loaded classes and the 9 primitive-type mirrors are dumped.
                    let meta = &parsed.value.meta;
                    assert_eq!(mine, meta.class_dumps + 9, "{dump}: {class}");
                    assert!(mine < count, "{dump}: {class}: {mine} vs {count}");
                    continue;
                }
                assert_eq!(mine, count, "{dump}: instances of {class}");
            }
            for class in ours.keys() {
                assert!(
                    theirs.contains_key(class),
                    "{dump}: {class} is not in the histogram"
                );
            }
        }
    }

    /// Why MAT's rules (which plateau follows) and the JVM disagree on a class's shallow
    /// size. `Smaller`: plateau's figure is below the JVM's; `Larger`: above.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Why {
        /// The JVM injects fields the dump does not list (`Module.module_entry`,
        /// `MemberName.vmindex`, `ResolvedMethodName.vmtarget`/`vmholder`,
        /// `ClassLoader.loader_data`): plateau is smaller.
        Injected,
        /// `@Contended` fields padded by 128 bytes on each side (`Thread`'s
        /// `threadLocalRandom*`): plateau is smaller.
        Contended,
        /// JDK 15+ lays a subclass's fields into gaps its superclass left (JDK-8237767);
        /// MAT pads every class's fields to the reference size: plateau is larger.
        Packed,
        /// `java.lang.Class`: MAT counts a class object's static fields only.
        ClassObject,
    }

    const SIZE_EXPLAINED: &[(&str, Why)] = &[
        ("java.lang.Class", Why::ClassObject),
        ("java.lang.Module", Why::Injected),
        ("java.lang.invoke.MemberName", Why::Injected),
        ("java.lang.invoke.ResolvedMethodName", Why::Injected),
        (
            "jdk.internal.loader.ClassLoaders$AppClassLoader",
            Why::Injected,
        ),
        (
            "jdk.internal.loader.ClassLoaders$BootClassLoader",
            Why::Injected,
        ),
        (
            "jdk.internal.loader.ClassLoaders$PlatformClassLoader",
            Why::Injected,
        ),
        ("java.lang.Thread", Why::Contended),
        ("java.lang.ref.Finalizer$FinalizerThread", Why::Contended),
        ("java.lang.ref.Reference$ReferenceHandler", Why::Contended),
        ("jdk.internal.misc.InnocuousThread", Why::Contended),
        ("java.lang.invoke.DirectMethodHandle", Why::Packed),
        ("java.lang.invoke.DirectMethodHandle$Accessor", Why::Packed),
        (
            "java.lang.invoke.DirectMethodHandle$Constructor",
            Why::Packed,
        ),
        ("java.lang.reflect.Constructor", Why::Packed),
        ("java.lang.reflect.Method", Why::Packed),
        ("java.security.BasicPermissionCollection", Why::Packed),
        ("java.security.Permissions", Why::Packed),
        (
            "sun.security.util.LazyCodeSourcePermissionCollection",
            Why::Packed,
        ),
        // Only without compressed oops (8-byte references leave bigger gaps).
        ("Tiny$Child", Why::Packed),
        ("java.io.BufferedOutputStream", Why::Packed),
        ("java.io.PrintStream", Why::Packed),
        ("java.lang.NullPointerException", Why::Packed),
        ("java.lang.invoke.LambdaForm$BasicType", Why::Packed),
        (
            "java.lang.invoke.MethodHandles$Lookup$ClassOption",
            Why::Packed,
        ),
        ("java.lang.invoke.VarHandle$AccessType", Why::Packed),
        ("java.util.ArrayList", Why::Packed),
    ];

    /// Shallow bytes: every array class and every other class equal the JVM's figure,
    /// except the classes above, each on the side its reason predicts.
    #[test]
    fn shallow_bytes_equal_the_jvm_class_histogram_or_are_explained() {
        for (dump, histo) in FIXTURES {
            let parsed = parse_fixture(dump);
            let theirs = histogram(histo);
            let ours = plateau_histogram(&parsed.value.graph);
            let (mut equal, mut explained) = (0, Vec::new());
            let (mut total_theirs, mut total_ours) = (0u64, 0u64);
            for (class, &(count, bytes)) in &theirs {
                let (mine_count, mine) = ours.get(class).copied().unwrap_or_default();
                total_theirs += bytes;
                total_ours += mine;
                if mine == bytes {
                    equal += 1;
                    continue;
                }
                let why = SIZE_EXPLAINED.iter().find(|(c, _)| c == class).map(|e| e.1);
                assert!(
                    !class.ends_with("[]"),
                    "{dump}: array class {class}: plateau {mine} B, JVM {bytes} B"
                );
                let why = why.unwrap_or_else(|| {
                    panic!("{dump}: {class}: plateau {mine} B, JVM {bytes} B, not explained")
                });
                match why {
                    Why::Injected | Why::Contended => assert!(mine < bytes, "{dump}: {class}"),
                    Why::Packed => assert!(mine > bytes, "{dump}: {class}"),
                    Why::ClassObject => {}
                }
                if why != Why::ClassObject {
                    assert_eq!(mine_count, count, "{dump}: {class}");
                }
                explained.push(format!("{class} ({why:?}): {mine} vs {bytes}"));
            }
            assert!(explained.len() < theirs.len() / 8, "{dump}: {explained:?}");
            eprintln!(
                "{dump}: {equal} of {} classes equal in shallow bytes; total plateau {total_ours} B, \
                 JVM {total_theirs} B; explained: {explained:?}",
                theirs.len()
            );
        }
    }

    #[test]
    fn class_and_edge_names_are_java_names() {
        let parsed = parse_fixture("token-store/s2.hprof.gz");
        let graph = &parsed.value.graph;
        let store = node_named(graph, "TokenStore");
        assert_eq!(graph.class_name_of(store), "java.lang.Class");
        let tokens = follow(graph, store, "static TOKENS");
        assert_eq!(graph.class_name_of(tokens), "java.util.HashMap");
        assert_eq!(graph.name(tokens), "java.util.HashMap");
        let table = follow(graph, tokens, "table");
        assert_eq!(graph.class_name_of(table), "java.util.HashMap$Node[]");
        assert_eq!(graph.kind(table), NodeKind::Array);
        let first = graph
            .edges(table)
            .find(|&e| graph.edge_label(e).starts_with('['))
            .unwrap();
        let node = graph.edge_target(first);
        assert_eq!(graph.class_name_of(node), "java.util.HashMap$Node");
        let token = follow(graph, node, "value");
        assert_eq!(graph.class_name_of(token), "TokenStore$AuthToken");
        let key = follow(graph, token, "token");
        assert_eq!(graph.class_name_of(key), "java.lang.String");
        assert_eq!(
            follow(graph, node, "key"),
            key,
            "the map key is the token's string"
        );
        let value = follow(graph, key, "value");
        assert_eq!(graph.class_name_of(value), "byte[]");
        // AuthToken: header 12 + token, user, secret (4 each) + issuedAt 8 + uses 4 = 36 -> 40.
        assert_eq!(graph.self_size(token), 40);
        // "tok-" and 16 hex digits in a Latin-1 byte[]: 16 + 20 -> 40.
        assert_eq!(graph.self_size(value), 40);
        let secret = follow(graph, token, "secret");
        assert_eq!(graph.self_size(secret), 48, "byte[32]: 16 + 32");
        // Every instance links to its class (an instance keeps its class loaded); so do
        // object arrays.
        let class_edge = edge_named(graph, token, "<class>").unwrap();
        assert!(graph.retains(class_edge));
        assert_eq!(
            graph.name(graph.edge_target(class_edge)),
            "TokenStore$AuthToken"
        );
        assert_eq!(
            graph.name(follow(graph, table, "<class>")),
            "java.util.HashMap$Node[]"
        );
        // The link comes first; primitive arrays and class objects have none.
        assert_eq!(graph.edges(token).next(), Some(class_edge));
        assert!(edge_named(graph, value, "<class>").is_none());
        // Class objects: super, loader, statics.
        let auth = node_named(graph, "TokenStore$AuthToken");
        assert!(edge_named(graph, auth, "<class>").is_none());
        assert_eq!(
            graph.name(follow(graph, auth, "<super>")),
            "java.lang.Object"
        );
        assert_eq!(
            graph.class_name_of(follow(graph, auth, "<classloader>")),
            "jdk.internal.loader.ClassLoaders$AppClassLoader"
        );
        for name in [
            "int[]",
            "java.lang.String[]",
            "java.lang.Object[][]",
            "byte[]",
        ] {
            assert!(nodes_named(graph, name).count() > 0, "{name}");
        }
        // The hidden lambda classes keep their external names.
        assert!(graph
            .nodes()
            .any(|n| graph.name(n).starts_with("TokenStore$$Lambda$2/0x")));
    }

    #[test]
    fn mat_sizes_without_compressed_oops() {
        // Formats.md 2.6/2.9: the Child of Tiny, 16-byte headers, 8-byte references.
        let parsed = parse_fixture("tiny-nocoops.hprof.gz");
        let graph = &parsed.value.graph;
        let child = graph
            .nodes()
            .find(|&n| graph.class_name_of(n) == "Tiny$Child")
            .unwrap();
        // Base: align(16 + 8 + 8 + 4, 8) = 40; Child: align(40 + 8 + 8 + 8 + 4 + 2 + 2 + 1 + 1, 8) = 80.
        assert_eq!(graph.self_size(child), 80);
        let numbers = follow(graph, node_named(graph, "Tiny"), "static NUMBERS");
        assert_eq!(graph.self_size(numbers), 32, "int[2]: 24 + 8");
        let longs = follow(graph, node_named(graph, "Tiny"), "static LONGS");
        assert_eq!(graph.self_size(longs), 104, "long[10]: 24 + 80");
        let names = follow(graph, node_named(graph, "Tiny"), "static NAMES");
        assert_eq!(graph.self_size(names), 40, "String[2]: align(20 + 16, 8)");

        let parsed = parse_fixture("tiny.hprof.gz");
        let graph = &parsed.value.graph;
        let child = graph
            .nodes()
            .find(|&n| graph.class_name_of(n) == "Tiny$Child")
            .unwrap();
        assert_eq!(graph.self_size(child), 56, "formats.md: Child 56");
        let tiny = node_named(graph, "Tiny");
        assert_eq!(graph.self_size(follow(graph, tiny, "static NUMBERS")), 24);
        assert_eq!(graph.self_size(follow(graph, tiny, "static LONGS")), 96);
        assert_eq!(graph.self_size(follow(graph, tiny, "static NAMES")), 24);
        // The class object: 6 reference statics of 4 bytes (and `<resolved_references>`).
        assert_eq!(graph.self_size(tiny), 32);
    }

    #[test]
    fn weak_soft_and_final_references_never_retain() {
        // Tiny.WEAK's referent is also held by main's frame.
        let parsed = parse_fixture("tiny.hprof.gz");
        let graph = &parsed.value.graph;
        let dom = Dominators::compute(graph);
        let weak = follow(graph, node_named(graph, "Tiny"), "static WEAK");
        assert_eq!(graph.class_name_of(weak), "java.lang.ref.WeakReference");
        let e = edge_named(graph, weak, "referent").unwrap();
        assert_eq!(graph.edge_kind(e), plateau_graph::EdgeKind::Weak);
        assert!(!graph.retains(e));
        let child = graph.edge_target(e);
        assert_eq!(graph.class_name_of(child), "Tiny$Child");
        assert!(!dom.dominates(weak, child));
        assert_eq!(dom.retained_size(weak), graph.self_size(weak));

        let parsed = parse_fixture("token-store/s1.hprof.gz");
        let graph = &parsed.value.graph;
        let dom = Dominators::compute(graph);
        let store = node_named(graph, "TokenStore");
        // SOFT: a 100,000-byte array nothing else holds. Kept by the JVM (soft), but no
        // object retains it: it hangs off the root, weakly reachable.
        let soft = follow(graph, store, "static SOFT");
        let e = edge_named(graph, soft, "referent").unwrap();
        assert!(!graph.retains(e));
        let buffer = graph.edge_target(e);
        assert_eq!(graph.self_size(buffer), 100_016);
        assert!(!dom.is_strongly_reachable(buffer));
        assert_eq!(dom.idom(buffer), graph.root());
        assert_eq!(dom.retained_size(soft), graph.self_size(soft));
        // KEPT has a finalizer: a java.lang.ref.Finalizer refers to it, weakly.
        let kept = follow(graph, store, "static KEPT");
        let finalizers: Vec<_> = graph
            .nodes()
            .filter(|&n| graph.class_name_of(n) == "java.lang.ref.Finalizer")
            .filter(|&n| {
                graph
                    .edges(n)
                    .any(|e| graph.edge_target(e) == kept && !graph.retains(e))
            })
            .collect();
        assert_eq!(finalizers.len(), 1);
        assert!(
            dom.dominates(store, kept),
            "the class's static holds it, not the Finalizer"
        );
        // RECENT: WeakReference<Session>; no session is dominated by a WeakReference.
        let mut alive = 0;
        for n in graph.nodes() {
            if graph.class_name_of(n) != "java.lang.ref.WeakReference" {
                continue;
            }
            for e in graph.edges(n) {
                if graph.edge_label(e) == "referent" {
                    assert!(!graph.retains(e));
                    let target = graph.edge_target(e);
                    if graph.class_name_of(target) == "TokenStore$Session" {
                        alive += 1;
                        assert_ne!(dom.idom(target), n);
                    }
                }
            }
        }
        assert!(alive > 0, "some recent sessions are still in the LRU");
    }

    #[test]
    fn root_groups_threads_and_their_locals() {
        let parsed = parse_fixture("token-store/s0.hprof.gz");
        let dump = &parsed.value;
        let graph = &dump.graph;
        let root = graph.root();
        assert_eq!(graph.kind(root), NodeKind::Synthetic);
        let groups: Vec<&str> = graph
            .edges(root)
            .map(|e| graph.name(graph.edge_target(e)))
            .collect();
        for expected in [
            "Thread \"main\"",
            "Thread \"token-worker\"",
            "Thread \"Reference Handler\"",
            "Thread \"Finalizer\"",
            "System class",
            "JNI global",
        ] {
            assert!(groups.contains(&expected), "{expected} not in {groups:?}");
        }
        // Every stack root found its thread: no group of unattached locals.
        assert!(!groups.contains(&"Java local"), "{groups:?}");
        assert_eq!(dump.threads.len(), 8);
        let thread_groups: Vec<_> = dump.threads.iter().map(|t| t.group).collect();
        assert_eq!(graph.user_roots(), &thread_groups[..]);
        let worker = dump
            .threads
            .iter()
            .find(|t| t.name.as_deref() == Some("token-worker"))
            .unwrap();
        assert_eq!(graph.name(worker.group), "Thread \"token-worker\"");
        let thread = worker.node.unwrap();
        assert_eq!(follow(graph, worker.group, "<thread>"), thread);
        assert_eq!(graph.class_name_of(thread), "java.lang.Thread");
        assert!(
            worker.frames[0].starts_with("java.lang.Object.wait("),
            "{:?}",
            worker.frames
        );
        assert!(worker
            .frames
            .iter()
            .any(|f| f.starts_with("TokenStore.lambda$main$")));
        // The worker's local List of 16 tokens hangs off its thread object.
        let held: Vec<_> = graph
            .edges(thread)
            .filter(|&e| {
                graph
                    .edge_label(e)
                    .starts_with("<local in TokenStore.lambda$main$")
            })
            .map(|e| graph.edge_target(e))
            .filter(|&t| graph.class_name_of(t) == "java.util.ArrayList")
            .collect();
        assert_eq!(held.len(), 1);
        let list = held[0];
        let elements = follow(graph, list, "elementData");
        let tokens = graph
            .edges(elements)
            .filter(|&e| graph.class_name_of(graph.edge_target(e)) == "TokenStore$AuthToken")
            .count();
        assert_eq!(tokens, 16);
        // System classes and JNI globals are there too.
        let system = graph
            .edges(root)
            .map(|e| graph.edge_target(e))
            .find(|&g| graph.name(g) == "System class")
            .unwrap();
        assert!(graph
            .edges(system)
            .any(|e| graph.name(graph.edge_target(e)) == "java.lang.String"));
        let main = dump
            .threads
            .iter()
            .find(|t| t.name.as_deref() == Some("main"))
            .unwrap();
        assert!(main
            .frames
            .last()
            .unwrap()
            .starts_with("TokenStore.main(TokenStore.java:"));
        let meta = &dump.meta;
        for kind in ["JNI global", "System class", "Thread", "Java local"] {
            assert!(
                meta.roots.iter().any(|(k, n)| *k == kind && *n > 0),
                "{kind}"
            );
        }
    }

    /// Logical sizes read from the collections' own fields, against what the program put
    /// in them (TokenStore.java): the leak's map, the LRU, the pool's deque, the weak list.
    #[test]
    fn collection_sizes_come_from_their_fields() {
        use plateau_graph::{CollectionShape, NodeId};
        for (round, dump) in ["s0", "s1", "s2"].iter().enumerate() {
            let parsed = parse_fixture(&format!("token-store/{dump}.hprof.gz"));
            let graph = &parsed.value.graph;
            let stored = graph.stored_collections();
            let of = |node: NodeId| {
                stored
                    .iter()
                    .find(|c| c.node == node)
                    .unwrap_or_else(|| panic!("{dump}: {} not counted", graph.class_name_of(node)))
            };
            let store = node_named(graph, "TokenStore");
            let tokens = of(follow(graph, store, "static TOKENS"));
            assert_eq!(tokens.shape, CollectionShape::Map);
            assert_eq!(tokens.length(), 2000 * (round as u64 + 1), "{dump}");
            // HashMap doubles its table past 0.75 load: 4096 for 2,000, 8192 for 4,000+.
            assert_eq!(tokens.capacity(), Some([4096, 8192, 8192][round]), "{dump}");
            // The LRU is an anonymous LinkedHashMap subclass: still a map, full at 256.
            let sessions = of(follow(graph, store, "static SESSIONS"));
            assert_eq!(
                (sessions.shape, sessions.length()),
                (CollectionShape::Map, 256)
            );
            let pool = follow(graph, store, "static POOL");
            let free = of(follow(graph, pool, "free"));
            assert_eq!((free.shape, free.length()), (CollectionShape::Queue, 48));
            let recent = of(follow(graph, store, "static RECENT"));
            assert_eq!((recent.shape, recent.length()), (CollectionShape::List, 64));
            assert!(recent.capacity().unwrap() >= 64);
            // Every collection is counted once, by node order.
            assert!(stored.windows(2).all(|w| w[0].node < w[1].node));
            // A set is as long as its map: HashSets in the JDK's own statics.
            let sets = stored.iter().filter(|c| c.shape == CollectionShape::Set);
            for set in sets {
                let map = follow(graph, set.node, "map");
                assert_eq!(set.length(), of(map).length());
            }
        }
    }

    /// `String`s are string nodes named by their text, in both encodings.
    #[test]
    fn strings_are_named_by_their_text() {
        let parsed = parse_fixture("tiny.hprof.gz");
        let graph = &parsed.value.graph;
        let tiny = node_named(graph, "Tiny");
        let names = follow(graph, tiny, "static NAMES");
        let first = follow(graph, names, "[0]");
        assert_eq!(graph.kind(first), NodeKind::String);
        assert_eq!(graph.class_name_of(first), "java.lang.String");
        assert_eq!(graph.name(first), "A\u{20ac}B");
        assert_eq!(graph.name(follow(graph, names, "[1]")), "plain");
    }

    /// The leak grows by 2,000 tokens a round; the decoys do not grow.
    #[test]
    fn the_token_leak_grows_and_the_decoys_do_not() {
        let mut previous: Option<(u64, u64, u64, u64)> = None;
        for (k, dump) in ["s0", "s1", "s2"].iter().enumerate() {
            let parsed = parse_fixture(&format!("token-store/{dump}.hprof.gz"));
            let graph = &parsed.value.graph;
            let dom = Dominators::compute(graph);
            let store = node_named(graph, "TokenStore");
            let tokens = graph
                .nodes()
                .filter(|&n| graph.class_name_of(n) == "TokenStore$AuthToken")
                .count() as u64;
            assert_eq!(tokens, 2000 * (k as u64 + 1));
            let map = follow(graph, store, "static TOKENS");
            let leak = dom.retained_size(map);
            let pool = dom.retained_size(follow(graph, store, "static POOL"));
            let lru = dom.retained_size(follow(graph, store, "static SESSIONS"));
            // 48 buffers of 32 KiB.
            assert!(pool > 48 * 32 * 1024, "{pool}");
            if let Some((t0, leak0, pool0, lru0)) = previous {
                assert_eq!(tokens - t0, 2000);
                assert!(leak > leak0 + 2000 * 100, "{leak} vs {leak0}");
                assert_eq!(pool, pool0);
                // The LRU holds 256 sessions each time; only its ordering changes.
                assert!(lru.abs_diff(lru0) < lru0 / 10, "{lru} vs {lru0}");
            }
            previous = Some((tokens, leak, pool, lru));
        }
    }

    #[test]
    fn gzip_plain_and_every_buffer_size_read_the_same() {
        let plain = plain_fixture("tiny.hprof.gz");
        let reference = parse_bytes(&plain).unwrap();
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            enc.write_all(&plain[..plain.len() / 3]).unwrap();
            enc.finish().unwrap();
            // A second gzip member, as `jcmd GC.heap_dump -gz` writes many.
            let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            enc.write_all(&plain[plain.len() / 3..]).unwrap();
            enc.finish().unwrap();
        }
        let from_gz = parse_bytes(&gz).unwrap();
        assert_same(&reference.value.graph, &from_gz.value.graph, "gzip");
        assert_eq!(reference.warnings, from_gz.warnings);
        for buffer_size in [64, 100, 4099] {
            let options = HprofOptions {
                buffer_size,
                ..HprofOptions::default()
            };
            let other = parse_with(&plain, &options);
            assert_same(
                &reference.value.graph,
                &other.value.graph,
                &format!("buffer {buffer_size}"),
            );
        }
        let without = parse_with(
            &plain,
            &HprofOptions {
                class_edges: false,
                ..HprofOptions::default()
            },
        );
        let graph = &without.value.graph;
        assert!(graph
            .nodes()
            .all(|n| edge_named(graph, n, "<class>").is_none()));
        assert_eq!(graph.total_size(), reference.value.graph.total_size());
        // MAT's option: class objects include a java.lang.Class instance.
        let with_class = parse_with(
            &plain,
            &HprofOptions {
                class_instance_size: true,
                ..HprofOptions::default()
            },
        );
        let g = &with_class.value.graph;
        let tiny = node_named(g, "Tiny");
        assert!(
            g.self_size(tiny)
                > reference
                    .value
                    .graph
                    .self_size(node_named(&reference.value.graph, "Tiny"))
        );
    }

    #[test]
    fn progress_reports_bytes_taken_from_the_reader() {
        let bytes = fixture_bytes("token-store/s0.hprof.gz");
        let mut seen = Vec::new();
        plateau_formats::hprof::read(&bytes[..], &HprofOptions::default(), &mut |n| seen.push(n))
            .unwrap();
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(*seen.last().unwrap(), bytes.len() as u64);
    }

    /// Heap-dump segments decoded on a second thread give the single pass's graph, metadata
    /// and warnings, for whole dumps, dumps cut inside a segment, and a segment whose records
    /// only the single pass can read (a tag it rejects, an instance of a class never dumped).
    #[test]
    fn segments_on_two_threads_read_as_the_single_pass() {
        let single = HprofOptions {
            parallel: false,
            ..HprofOptions::default()
        };
        let same = |bytes: &[u8], what: &str| {
            let a = plateau_formats::hprof::read(bytes, &single, &mut |_| {});
            let b = parse_bytes(bytes);
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    assert_same(&a.value.graph, &b.value.graph, what);
                    assert_eq!(
                        format!("{:?}", a.value.meta),
                        format!("{:?}", b.value.meta),
                        "{what}"
                    );
                    assert_eq!(a.warnings, b.warnings, "{what}");
                    assert_eq!(
                        a.value.graph.stored_collections(),
                        b.value.graph.stored_collections(),
                        "{what}"
                    );
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
                (a, b) => panic!("{what}: {:?} vs {:?}", a.err(), b.err()),
            }
        };
        for (name, _) in FIXTURES {
            let plain = plain_fixture(name);
            same(&plain, name);
            for cut in [plain.len() / 2 + 7, plain.len() - 4099] {
                same(&plain[..cut], &format!("{name} cut at {cut}"));
            }
        }
        // The last instance of a dump: the first sub-record of its segment given a tag no
        // sub-record has, then the instance's class id one no class has.
        let plain = plain_fixture("token-store/s0.hprof.gz");
        let (_, subs) = walk(&plain);
        let instance = subs.iter().rfind(|s| s.tag == 0x21).unwrap();
        let (_, segment) = instance.parent.unwrap();
        let mut broken = plain.clone();
        broken[segment as usize + 9] = 0x77;
        same(&broken, "unknown sub-record tag");
        let mut unknown_class = plain.clone();
        let class_at = instance.start as usize + 1 + 8 + 4;
        unknown_class[class_at..class_at + 8].copy_from_slice(&0x7777_7770u64.to_be_bytes());
        same(&unknown_class, "instance of an undefined class");
    }
}

mod synthetic {
    use plateau_formats::hprof::HprofOptions;
    use plateau_graph::{Dominators, EdgeKind, NodeKind};

    use crate::common::*;
    use crate::writer::Hprof;

    // Symbol ids.
    const S_OBJECT: u64 = 1;
    const S_NODE: u64 = 2;
    const S_NEXT: u64 = 3;
    const S_VALUE: u64 = 4;
    const S_COUNT: u64 = 5;
    const S_STRING: u64 = 6;
    const S_CHARS: u64 = 7;
    const S_THREAD: u64 = 8;
    const S_NAME: u64 = 9;
    const S_REFERENCE: u64 = 10;
    const S_REFERENT: u64 = 11;
    const S_WEAK: u64 = 12;
    const S_NODES: u64 = 13;
    const S_APP: u64 = 14;
    const S_CACHE: u64 = 15;
    const S_CLASS: u64 = 16;
    const S_MAIN: u64 = 17;
    const S_RUN: u64 = 18;
    const S_FILE: u64 = 19;

    // Class ids and object ids (8-aligned addresses).
    const C_OBJECT: u64 = 0x1000;
    const C_NODE: u64 = 0x1010;
    const C_STRING: u64 = 0x1020;
    const C_CHARS: u64 = 0x1030;
    const C_THREAD: u64 = 0x1040;
    const C_REFERENCE: u64 = 0x1050;
    const C_WEAK: u64 = 0x1060;
    const C_NODES: u64 = 0x1070;
    const C_CLASS: u64 = 0x1080;
    const O_A: u64 = 0x2000;
    const O_B: u64 = 0x2018;
    const O_NAME: u64 = 0x2030;
    const O_CHARS: u64 = 0x2048;
    const O_THREAD: u64 = 0x2060;
    const O_WEAK: u64 = 0x2078;
    const O_ARRAY: u64 = 0x2090;
    const O_NODATA: u64 = 0x20a8;
    const O_LOST: u64 = 0x20c0;

    /// An Android-style dump (1.0.3, 4-byte ids, heap info, extra root kinds), with the
    /// instances written before their classes when `classes_last`.
    pub fn android(classes_last: bool) -> Vec<u8> {
        let mut h = Hprof::new("1.0.3", 4);
        for (id, text) in [
            (S_OBJECT, "java/lang/Object"),
            (S_NODE, "Node"),
            (S_NEXT, "next"),
            (S_VALUE, "value"),
            (S_COUNT, "count"),
            (S_STRING, "java/lang/String"),
            (S_CHARS, "[C"),
            (S_THREAD, "java/lang/Thread"),
            (S_NAME, "name"),
            (S_REFERENCE, "java/lang/ref/Reference"),
            (S_REFERENT, "referent"),
            (S_WEAK, "java/lang/ref/WeakReference"),
            (S_NODES, "[LNode;"),
            (S_APP, "app"),
            (S_CACHE, "CACHE"),
            (S_CLASS, "java/lang/Class"),
            (S_MAIN, "main"),
            (S_RUN, "run"),
            (S_FILE, "Main.java"),
        ] {
            h.utf8(id, text);
        }
        for (serial, class, name) in [
            (1, C_OBJECT, S_OBJECT),
            (2, C_NODE, S_NODE),
            (3, C_STRING, S_STRING),
            (4, C_CHARS, S_CHARS),
            (5, C_THREAD, S_THREAD),
            (6, C_REFERENCE, S_REFERENCE),
            (7, C_WEAK, S_WEAK),
            (8, C_NODES, S_NODES),
            (9, C_CLASS, S_CLASS),
        ] {
            h.load_class(serial, class, name);
        }
        h.record(0x04, |b| {
            b.id(0x77).id(S_RUN).id(0).id(S_FILE).u4(5).u4(42);
        });
        h.record(0x05, |b| {
            b.u4(5).u4(1).u4(1).id(0x77);
        });
        let classes = |b: &mut crate::writer::Body| {
            b.class_dump(C_OBJECT, 0, 0, &[], &[]);
            b.class_dump(C_CLASS, C_OBJECT, 0, &[], &[]);
            b.class_dump(
                C_NODE,
                C_OBJECT,
                0,
                &[(S_CACHE, 2, O_ARRAY), (S_COUNT, 10, 7)],
                &[(S_NEXT, 2), (S_VALUE, 2), (S_COUNT, 10)],
            );
            b.class_dump(C_STRING, C_OBJECT, 0, &[], &[(S_VALUE, 2), (S_COUNT, 10)]);
            b.class_dump(C_THREAD, C_OBJECT, 0, &[], &[(S_NAME, 2)]);
            b.class_dump(C_REFERENCE, C_OBJECT, 0, &[], &[(S_REFERENT, 2)]);
            b.class_dump(C_WEAK, C_REFERENCE, 0, &[], &[]);
            b.class_dump(C_NODES, C_OBJECT, 0, &[], &[]);
            b.class_dump(C_CHARS, C_OBJECT, 0, &[], &[]);
        };
        let objects = |b: &mut crate::writer::Body| {
            b.u1(0xFE).u4(0x41).id(S_APP);
            b.instance(O_A, C_NODE, |f| {
                f.id(O_B).id(O_NAME).u4(1);
            });
            b.instance(O_B, C_NODE, |f| {
                f.id(0).id(O_LOST).u4(2);
            });
            b.instance(O_NAME, C_STRING, |f| {
                f.id(O_CHARS).u4(0);
            });
            b.primitive_array(O_CHARS, 5, 4, &[0, b'm', 0, b'a', 0, b'i', 0, b'n']);
            b.instance(O_THREAD, C_THREAD, |f| {
                f.id(O_NAME);
            });
            b.instance(O_WEAK, C_WEAK, |f| {
                f.id(O_B);
            });
            b.object_array(O_ARRAY, C_NODES, &[O_A, 0, O_B]);
            // Android's no-data primitive array: a length, no elements.
            b.u1(0xC3).id(O_NODATA).u4(1).u4(1000).u1(10);
        };
        h.record(0x1C, |b| {
            if classes_last {
                objects(b);
                classes(b);
            } else {
                classes(b);
                objects(b);
            }
        });
        h.record(0x1C, |b| {
            b.u1(0x08).id(O_THREAD).u4(1).u4(5);
            b.u1(0x03).id(O_A).u4(1).u4(0);
            b.u1(0x8E).id(O_WEAK).u4(1).u4(0);
            b.u1(0x05).id(C_NODE);
            b.u1(0x89).id(O_NAME);
            b.u1(0x8D).id(O_ARRAY);
            b.u1(0x8B).id(O_NODATA);
            b.u1(0x8A).id(O_B);
            b.u1(0x8C).id(O_B);
            b.u1(0xFF).id(O_B);
            b.u1(0x90).id(O_WEAK);
            b.u1(0x03).id(O_B).u4(99).u4(0);
            b.u1(0x01).id(O_B).id(0x99);
            b.u1(0x07).id(O_B);
            b.u1(0x04).id(O_B).u4(1);
            b.u1(0x06).id(O_B).u4(1);
            b.u1(0x02).id(O_B).u4(1).u4(0);
        });
        h.record(0x2C, |_| {});
        h.bytes()
    }

    #[test]
    fn an_android_style_dump_with_every_root_kind() {
        let parsed = parse_bytes(&android(false)).unwrap();
        let dump = &parsed.value;
        let graph = &dump.graph;
        assert_eq!(dump.meta.version, "1.0.3");
        assert_eq!(dump.meta.id_size, 4);
        assert_eq!(dump.meta.header_size, 8);
        assert_eq!(dump.meta.heaps, [("app".to_string(), 8)]);
        assert_eq!(
            parsed.warnings,
            ["1 references point to ids the dump holds no object for: dropped"]
        );
        let a = graph.nodes().find(|&n| graph.object_id(n) == O_A).unwrap();
        let b = graph.nodes().find(|&n| graph.object_id(n) == O_B).unwrap();
        assert_eq!(graph.name(a), "Node");
        assert_eq!(follow(graph, a, "next"), b);
        assert_eq!(
            graph.class_name_of(follow(graph, a, "value")),
            "java.lang.String"
        );
        // 4-byte ids: header 8; Node: align(8 + 4 + 4 + 4, 4) = 20 -> 24.
        assert_eq!(graph.self_size(a), 24);
        // char[4]: align(12, 4) + 8 = 20 -> 24; Node[3]: 12 + 12 = 24; int[1000] no data.
        let chars = graph
            .nodes()
            .find(|&n| graph.object_id(n) == O_CHARS)
            .unwrap();
        assert_eq!(graph.name(chars), "char[]");
        assert_eq!(graph.self_size(chars), 24);
        let array = graph
            .nodes()
            .find(|&n| graph.object_id(n) == O_ARRAY)
            .unwrap();
        assert_eq!(graph.name(array), "Node[]");
        assert_eq!(graph.self_size(array), 24);
        let labels: Vec<String> = graph.edges(array).map(|e| graph.edge_label(e)).collect();
        assert_eq!(labels, ["<class>", "[0]", "[2]"]);
        let nodata = graph
            .nodes()
            .find(|&n| graph.object_id(n) == O_NODATA)
            .unwrap();
        assert_eq!(graph.name(nodata), "int[]");
        assert_eq!(graph.self_size(nodata), 4016);
        // The class object: statics `CACHE` (a reference) and `count` (an int) = 8 bytes.
        let node_class = node_named(graph, "Node");
        assert_eq!(graph.class_name_of(node_class), "java.lang.Class");
        assert_eq!(graph.self_size(node_class), 8);
        assert_eq!(follow(graph, node_class, "static CACHE"), array);
        // The weak reference: its referent never retains.
        let weak = graph
            .nodes()
            .find(|&n| graph.object_id(n) == O_WEAK)
            .unwrap();
        let e = edge_named(graph, weak, "referent").unwrap();
        assert_eq!(graph.edge_kind(e), EdgeKind::Weak);
        assert!(!graph.retains(e));
        // Thread "main", named from its String's char[] (big-endian UTF-16), with its locals.
        assert_eq!(dump.threads.len(), 1);
        let t = &dump.threads[0];
        assert_eq!(t.name.as_deref(), Some("main"));
        assert_eq!(t.frames, ["java.lang.Thread.run(Main.java:42)"]);
        let thread = t.node.unwrap();
        let locals: Vec<String> = graph
            .edges(thread)
            .map(|e| graph.edge_label(e))
            .filter(|l| {
                l.starts_with("<local")
                    || l.starts_with("<JNI")
                    || l.starts_with("<native")
                    || l.starts_with("<thread")
            })
            .collect();
        assert_eq!(
            locals,
            [
                "<local in java.lang.Thread.run(Main.java:42)>",
                "<JNI monitor in java.lang.Thread.run(Main.java:42)>",
                "<native stack>",
                "<thread block>",
                "<JNI local in java.lang.Thread.run(Main.java:42)>"
            ]
        );
        let groups: Vec<&str> = graph
            .edges(graph.root())
            .map(|e| graph.name(graph.edge_target(e)))
            .collect();
        assert_eq!(
            groups,
            [
                "Thread \"main\"",
                "System class",
                "JNI global",
                "Java local",
                "Busy monitor",
                "Interned string",
                "Finalizing",
                "Debugger",
                "Reference cleanup",
                "VM internal",
                "Unknown",
                "Unreachable"
            ]
        );
        // An unreachable root is named but holds nothing.
        let unreachable = graph
            .edges(graph.root())
            .map(|e| graph.edge_target(e))
            .find(|&g| graph.name(g) == "Unreachable")
            .unwrap();
        assert!(graph
            .edges(unreachable)
            .all(|e| graph.edge_kind(e) == EdgeKind::Weak));
        let dom = Dominators::compute(graph);
        assert!(dom.is_strongly_reachable(a));
        let meta_roots: Vec<(&str, u64)> = dump.meta.roots.clone();
        assert_eq!(meta_roots.iter().map(|r| r.1).sum::<u64>(), 17);
    }

    #[test]
    fn instances_before_their_classes_read_the_same() {
        let first = parse_bytes(&android(false)).unwrap();
        let last = parse_bytes(&android(true)).unwrap();
        assert_eq!(last.value.meta.deferred_instances, 5);
        assert_eq!(first.value.meta.deferred_instances, 0);
        // Same objects and references; node order differs (classes come later).
        let summary = |p: &plateau_formats::Parsed<plateau_formats::hprof::HprofDump>| {
            let g = &p.value.graph;
            type Row = (u64, String, u64, Vec<(String, u64, bool)>);
            let mut rows: Vec<Row> = g
                .nodes()
                .map(|n| {
                    let mut edges: Vec<(String, u64, bool)> = g
                        .edges(n)
                        .map(|e| (g.edge_label(e), g.object_id(g.edge_target(e)), g.retains(e)))
                        .collect();
                    edges.sort();
                    (g.object_id(n), g.name(n).to_string(), g.self_size(n), edges)
                })
                .collect();
            rows.sort();
            rows
        };
        assert_eq!(summary(&first), summary(&last));
    }

    /// Old HPROF (1.0.1): one HEAP_DUMP record, no HEAP_DUMP_END, 8-byte ids.
    #[test]
    fn version_1_0_1_with_one_heap_dump_record() {
        let mut h = Hprof::new("1.0.1", 8);
        h.utf8(1, "java/lang/Object")
            .utf8(2, "Thing")
            .utf8(3, "other");
        h.load_class(1, 0x100, 1).load_class(2, 0x108, 2);
        h.record(0x0C, |b| {
            b.class_dump(0x100, 0, 0, &[], &[]);
            b.class_dump(0x108, 0x100, 0, &[], &[(3, 2), (3, 11)]);
            b.instance(0x200, 0x108, |f| {
                f.id(0x208).bytes(&[0; 8]);
            });
            b.instance(0x208, 0x108, |f| {
                f.id(0x200).bytes(&[0; 8]);
            });
            b.u1(0x01).id(0x200).id(0x1);
        });
        let parsed = parse_bytes(&h.bytes()).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let g = &parsed.value.graph;
        let thing = g.nodes().find(|&n| g.object_id(n) == 0x200).unwrap();
        assert_eq!(g.name(thing), "Thing");
        // No compressed references found: 8-byte refs, header 16: 16 + 8 + 8 = 32.
        assert_eq!(g.self_size(thing), 32);
        assert_eq!(parsed.value.meta.reference_size, 8);
        assert_eq!(g.out_degree(thing), 2);

        // 1.0.2 segments without HEAP_DUMP_END: a warning.
        let mut bytes = h.bytes();
        assert_eq!(&bytes[13..18], b"1.0.1");
        bytes[17] = b'2';
        let heap_at = find_record(&bytes, 0x0C);
        bytes[heap_at] = 0x1C;
        let parsed = parse_bytes(&bytes).unwrap();
        assert_eq!(
            parsed.warnings,
            ["no HEAP_DUMP_END record after the heap dump segments: the dump may be incomplete"]
        );
    }

    /// Ids that are not 8-aligned keep 8 bytes each (the lookups' wide path): references
    /// resolve, and the one to an id no object has is dropped with a warning.
    #[test]
    fn unaligned_ids_resolve_and_dangling_references_drop() {
        let mut h = Hprof::new("1.0.2", 8);
        h.utf8(1, "java/lang/Object")
            .utf8(2, "Thing")
            .utf8(3, "other");
        h.load_class(1, 0x100, 1).load_class(2, 0x108, 2);
        h.record(0x1C, |b| {
            b.class_dump(0x100, 0, 0, &[], &[]);
            b.class_dump(0x108, 0x100, 0, &[], &[(3, 2), (3, 2)]);
            b.instance(0x201, 0x108, |f| {
                f.id(0x30b).id(0x999);
            });
            b.instance(0x30b, 0x108, |f| {
                f.id(0x201).id(0x201);
            });
            b.u1(0x01).id(0x201).id(0x1);
        });
        h.record(0x2C, |_| {});
        let parsed = parse_bytes(&h.bytes()).unwrap();
        assert_eq!(
            parsed.warnings,
            ["1 references point to ids the dump holds no object for: dropped"]
        );
        let g = &parsed.value.graph;
        let node = |id: u64| g.nodes().find(|&n| g.object_id(n) == id).unwrap();
        let (a, b) = (node(0x201), node(0x30b));
        let targets = |n| {
            g.edges(n)
                .filter(|&e| g.edge_label(e) == "other")
                .map(|e| g.edge_target(e))
                .collect::<Vec<_>>()
        };
        assert_eq!(targets(a), [b]);
        assert_eq!(targets(b), [a, a]);
    }

    /// Offset of the first top-level record with this tag.
    pub fn find_record(bytes: &[u8], tag: u8) -> usize {
        let nul = bytes.iter().position(|&b| b == 0).unwrap();
        let mut pos = nul + 13;
        loop {
            if bytes[pos] == tag {
                return pos;
            }
            let len = u32::from_be_bytes(bytes[pos + 5..pos + 9].try_into().unwrap()) as usize;
            pos += 9 + len;
        }
    }

    #[test]
    fn an_instance_of_an_undefined_class_is_kept_without_fields() {
        let mut h = Hprof::new("1.0.2", 8);
        h.utf8(1, "java/lang/Object");
        h.load_class(1, 0x100, 1);
        h.record(0x1C, |b| {
            b.class_dump(0x100, 0, 0, &[], &[]);
            b.instance(0x200, 0x100, |_| {});
            b.instance(0x208, 0x999, |f| {
                f.id(0x200).u4(7);
            });
            b.u1(0x05).id(0x100);
        });
        h.record(0x2C, |_| {});
        let parsed = parse_bytes(&h.bytes()).unwrap();
        assert_eq!(
            parsed.warnings,
            [
                "1 objects are of classes the dump never defines (no CLASS_DUMP for 1 class ids): \
              kept without fields, sized from their field bytes"
            ]
        );
        let g = &parsed.value.graph;
        let odd = g.nodes().find(|&n| g.object_id(n) == 0x208).unwrap();
        assert_eq!(g.name(odd), "(unknown class 0x999)");
        // Header 16 + 12 field bytes -> 32.
        assert_eq!(g.self_size(odd), 32);
        let labels: Vec<String> = g.edges(odd).map(|e| g.edge_label(e)).collect();
        assert!(
            labels.is_empty(),
            "{labels:?} (the <class> edge has no target)"
        );

        // A superclass that is never dumped: the subclass's own fields still read.
        let mut h = Hprof::new("1.0.2", 8);
        h.utf8(1, "Sub").utf8(2, "own");
        h.load_class(1, 0x100, 1);
        h.record(0x1C, |b| {
            b.class_dump(0x100, 0x777, 0, &[], &[(2, 2)]);
            b.instance(0x200, 0x100, |f| {
                f.id(0x208).id(0x208);
            });
            b.instance(0x208, 0x100, |f| {
                f.id(0).id(0);
            });
        });
        h.record(0x2C, |_| {});
        let parsed = parse_bytes(&h.bytes()).unwrap();
        assert!(
            parsed
                .warnings
                .iter()
                .any(|w| w.starts_with("2 instances have a superclass the dump never defines")),
            "{:?}",
            parsed.warnings
        );
        let g = &parsed.value.graph;
        let sub = g.nodes().find(|&n| g.object_id(n) == 0x200).unwrap();
        assert_eq!(g.name(follow(g, sub, "own")), "Sub");
    }

    #[test]
    fn string_contents_name_threads_in_latin1_and_utf16() {
        for (coder, bytes, expected) in [
            (0u8, b"worker".to_vec(), "worker"),
            (1u8, vec![0x41, 0, 0xac, 0x20, 0x42, 0], "A€B"),
        ] {
            let mut h = Hprof::new("1.0.2", 8);
            for (id, text) in [
                (1, "java/lang/Object"),
                (2, "java/lang/String"),
                (3, "value"),
                (4, "coder"),
                (5, "java/lang/Thread"),
                (6, "name"),
                (7, "[B"),
            ] {
                h.utf8(id, text);
            }
            h.load_class(1, 0x100, 1)
                .load_class(2, 0x108, 2)
                .load_class(3, 0x110, 5);
            h.load_class(4, 0x118, 7);
            h.record(0x1C, |b| {
                b.class_dump(0x100, 0, 0, &[], &[]);
                b.class_dump(0x108, 0x100, 0, &[], &[(3, 2), (4, 8)]);
                b.class_dump(0x110, 0x100, 0, &[], &[(6, 2)]);
                b.class_dump(0x118, 0x100, 0, &[], &[]);
                // The byte[] and the String come before the Thread, as in real heaps.
                b.primitive_array(0x200, 8, bytes.len() as u32, &bytes);
                b.instance(0x218, 0x108, |f| {
                    f.id(0x200).u1(coder);
                });
                b.instance(0x230, 0x110, |f| {
                    f.id(0x218);
                });
                b.u1(0x08).id(0x230).u4(3).u4(0);
            });
            h.record(0x2C, |_| {});
            let parsed = parse_bytes(&h.bytes()).unwrap();
            let dump = &parsed.value;
            assert_eq!(dump.threads[0].name.as_deref(), Some(expected));
            assert_eq!(
                dump.graph.name(dump.threads[0].group),
                format!("Thread {expected:?}")
            );
        }
    }

    #[test]
    fn options_default_to_mat() {
        let o = HprofOptions::default();
        assert!(o.class_edges && !o.class_instance_size);
        assert!(plateau_formats::hprof::JAVA_RETENTION_RULE.contains("Reference.referent"));
        let g = parse_bytes(&android(false)).unwrap().value.graph;
        assert!(
            g.nodes()
                .filter(|&n| g.kind(n) == NodeKind::Synthetic)
                .count()
                > 2
        );
    }
}

mod errors {
    use crate::common::*;
    use crate::synthetic::android;

    fn error_of(bytes: &[u8]) -> String {
        match parse_bytes(bytes) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn not_hprof() {
        assert_eq!(
            error_of(b""),
            "truncated at byte 0 inside the HPROF header (the input is empty)"
        );
        assert_eq!(
            error_of(b"{\"snapshot\":{}}"),
            "syntax error at byte 0 inside the HPROF header: expected \"JAVA PROFILE 1.0.x\" \
             followed by a NUL byte, found \"{\\\"snapshot\\\":{}}\""
        );
        assert_eq!(
            error_of(b"JAVA PROF"),
            "truncated at byte 9 inside the HPROF header"
        );
        assert_eq!(
            error_of(b"JAVA PROFILE 1.0.2"),
            "truncated at byte 18 inside the HPROF header's version string"
        );
        assert_eq!(
            error_of(b"JAVA PROFILE 1.0.2\0\0\0\0\x08\0\0"),
            "truncated at byte 25 inside the HPROF header (id size and timestamp)"
        );
    }

    #[test]
    fn wrong_id_size() {
        let mut bytes = android(false);
        // The header's id size (4) is at byte 19.
        bytes[22] = 5;
        assert_eq!(
            error_of(&bytes),
            "the HPROF header at byte 19: \"id_size\" 5 is not 4 or 8 (bytes per object id)"
        );
        // 8 instead of 4: the first symbol shorter than 4 bytes is shorter than an id.
        bytes[22] = 8;
        let msg = error_of(&bytes);
        assert!(
            msg.starts_with("syntax error at byte ")
                && msg.contains("inside UTF8 (0x01) record at byte ")
                && msg.ends_with(
                    "expected a body of at least 8 bytes (an id), found a length of 6 bytes (is \
                     the id size 8 in the header right?)"
                ),
            "{msg}"
        );
        // A real dump read with 4-byte ids.
        let mut real = plain_fixture("tiny.hprof.gz");
        real[22] = 4;
        let msg = error_of(&real);
        assert!(msg.contains("LOAD_CLASS (0x02) record at byte"), "{msg}");
        assert!(msg.contains("(4-byte ids)"), "{msg}");
    }

    #[test]
    fn unknown_tags() {
        // An unknown top-level record is skipped by its length, with a warning.
        let mut bytes = plain_fixture("tiny.hprof.gz");
        let (top, subs) = walk(&bytes);
        let frame = top.iter().find(|r| r.tag == 0x04).unwrap();
        bytes[frame.start as usize] = 0x77;
        let parsed = parse_bytes(&bytes).unwrap();
        assert!(
            parsed
                .warnings
                .contains(&"skipped 1 record(s) of unknown tag 0x77 (by their length)".to_string()),
            "{:?}",
            parsed.warnings
        );
        // An unknown sub-record cannot be skipped (no length): an error naming it.
        let mut bytes = plain_fixture("tiny.hprof.gz");
        let instance = subs.iter().find(|r| r.tag == 0x21).unwrap();
        bytes[instance.start as usize] = 0x99;
        let (ptag, pstart) = instance.parent.unwrap();
        assert_eq!(
            error_of(&bytes),
            format!(
                "syntax error at byte {} inside HEAP_DUMP_SEGMENT (0x{ptag:02x}) record at byte \
                 {pstart}: expected a heap-dump sub-record tag (0x01-0x08, 0x20-0x23, 0x89-0x8e, \
                 0x90, 0xc3, 0xfe or 0xff), found 0x99",
                instance.start
            )
        );
        // A bad basic type in a primitive array.
        let mut bytes = plain_fixture("tiny.hprof.gz");
        let array = subs.iter().find(|r| r.tag == 0x23).unwrap();
        let type_at = array.start as usize + 1 + 8 + 8;
        bytes[type_at] = 3;
        let msg = error_of(&bytes);
        assert!(
            msg.starts_with(&format!(
                "syntax error at byte {type_at} inside PRIMITIVE_ARRAY_DUMP (0x23) sub-record at \
                 byte {} of HEAP_DUMP_SEGMENT (0x1c) record at byte {}: expected a basic type for \
                 array elements",
                array.start,
                array.parent.unwrap().1
            )),
            "{msg}"
        );
        assert!(msg.ends_with("found 3"), "{msg}");
    }

    #[test]
    fn records_longer_than_their_segment() {
        // A segment length cut short: the last sub-record runs past it.
        let mut bytes = plain_fixture("tiny.hprof.gz");
        let (top, subs) = walk(&bytes);
        let seg = top.iter().find(|r| r.tag == 0x1C).unwrap();
        let last = subs
            .iter()
            .rfind(|s| s.parent == Some((0x1C, seg.start)))
            .unwrap();
        let new_len = (last.start + 3 - seg.start - 9) as u32;
        bytes[seg.start as usize + 5..seg.start as usize + 9]
            .copy_from_slice(&new_len.to_be_bytes());
        let msg = error_of(&bytes);
        assert!(
            msg.starts_with(&format!("syntax error at byte {} inside ", last.start + 1)),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("record at byte {}", seg.start)),
            "{msg}"
        );
        assert!(
            msg.contains("left in the record, which ends at byte"),
            "{msg}"
        );

        // An instance claiming 4 GiB of field bytes.
        let mut bytes = plain_fixture("tiny.hprof.gz");
        let instance = subs.iter().find(|r| r.tag == 0x21).unwrap();
        let n_at = instance.start as usize + 1 + 8 + 4 + 8;
        bytes[n_at..n_at + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0xf0]);
        let msg = error_of(&bytes);
        assert!(
            msg.contains(&format!(
                "INSTANCE_DUMP (0x21) sub-record at byte {} of HEAP_DUMP_SEGMENT (0x1c)",
                instance.start
            )) && msg.contains("expected 4294967280 bytes of instance field values"),
            "{msg}"
        );
    }

    #[test]
    fn a_record_length_past_the_end_before_the_heap_is_an_error() {
        let mut bytes = plain_fixture("tiny.hprof.gz");
        let (top, _) = walk(&bytes);
        let utf8 = top[10];
        bytes[utf8.start as usize + 5..utf8.start as usize + 9].copy_from_slice(&[0x7f, 0, 0, 0]);
        let msg = error_of(&bytes);
        assert_eq!(
            msg,
            format!(
                "truncated at byte {} inside UTF8 (0x01) record at byte {}",
                bytes.len(),
                utf8.start
            )
        );
    }

    /// Whether cut `at` of `bytes` reads as documented: before the heap, an error naming the
    /// record and byte; inside or after it, the objects before the cut and a warning.
    fn check_cut(bytes: &[u8], top: &[Rec], subs: &[Rec], full_nodes: usize, at: usize) {
        let first_heap = top.iter().find(|r| r.tag == 0x1C).unwrap().start as usize;
        let result = parse_bytes(&bytes[..at]);
        let inside = top
            .iter()
            .find(|r| (r.start as usize) < at && at < r.end as usize);
        // Up to the first heap record's header, nothing usable was read.
        if at < first_heap + 9 {
            let msg = match result {
                Ok(_) => panic!("cut at {at}: read without a heap"),
                Err(e) => e.to_string(),
            };
            match inside {
                _ if at < 31 => assert!(msg.contains("HPROF header"), "{at}: {msg}"),
                None => assert!(msg.contains("has no HEAP_DUMP"), "{at}: {msg}"),
                Some(r) if at < r.start as usize + 9 => assert_eq!(
                    msg,
                    format!(
                        "truncated at byte {at} inside the record header at byte {} (9 bytes: \
                         tag, time, length)",
                        r.start
                    )
                ),
                Some(r) => assert!(
                    msg.starts_with(&format!("truncated at byte {at} inside "))
                        && msg.ends_with(&format!("(0x{:02x}) record at byte {}", r.tag, r.start)),
                    "{at}: {msg}"
                ),
            }
            return;
        }
        let parsed = result.unwrap_or_else(|e| panic!("cut at {at}: {e}"));
        let graph = &parsed.value.graph;
        assert!(graph.node_count() <= full_nodes, "{at}");
        let end_seen = top.iter().any(|r| r.tag == 0x2C && (r.end as usize) <= at);
        match inside {
            None if end_seen => {}
            None => assert!(
                parsed
                    .warnings
                    .iter()
                    .any(|w| w.starts_with("no HEAP_DUMP_END")),
                "{at}: {:?}",
                parsed.warnings
            ),
            Some(r) if at < r.start as usize + 9 => assert!(
                parsed
                    .warnings
                    .iter()
                    .any(|w| w.contains(&format!("inside a record header at byte {}", r.start))),
                "{at}: {:?}",
                parsed.warnings
            ),
            Some(r) => {
                let sub = subs
                    .iter()
                    .find(|s| (s.start as usize) < at && at < s.end as usize);
                let expected = match sub {
                    Some(s) => format!(
                        "the dump ends at byte {at} inside {} sub-record at byte {} of ",
                        sub_name(s.tag),
                        s.start
                    ),
                    None => format!("the dump ends at byte {at} inside "),
                };
                let w = parsed
                    .warnings
                    .iter()
                    .find(|w| w.starts_with("the dump ends"))
                    .unwrap_or_else(|| panic!("{at}: {:?}", parsed.warnings));
                assert!(w.starts_with(&expected), "{at}: {w}\nexpected {expected}");
                assert!(
                    w.contains(&format!("(0x{:02x}) record at byte {}", r.tag, r.start)),
                    "{at}: {w}"
                );
            }
        }
    }

    fn sub_name(tag: u8) -> String {
        match tag {
            0x20 => "CLASS_DUMP (0x20)",
            0x21 => "INSTANCE_DUMP (0x21)",
            0x22 => "OBJECT_ARRAY_DUMP (0x22)",
            0x23 => "PRIMITIVE_ARRAY_DUMP (0x23)",
            0x01 => "ROOT_JNI_GLOBAL (0x01)",
            0x02 => "ROOT_JNI_LOCAL (0x02)",
            0x03 => "ROOT_JAVA_FRAME (0x03)",
            0x05 => "ROOT_STICKY_CLASS (0x05)",
            0x08 => "ROOT_THREAD_OBJECT (0x08)",
            _ => "?",
        }
        .to_string()
    }

    /// Cuts of the small plain fixture at record boundaries and inside records. By default
    /// every boundary where the kind of top-level record changes; for each kind of top-level
    /// record the boundaries before its first and last 5 records and 20 more spread between,
    /// for each kind of heap-dump sub-record its first and last 3 and 9 between; and cuts
    /// inside records of every kind (one byte in, five bytes in, the middle, one byte short). `HPROF_EVERY_CUT=1` cuts at every one of the ~65,000
    /// top-level and sub-record boundaries (about an hour in a debug build, minutes with
    /// `--release`).
    #[test]
    fn cut_anywhere_never_panics_and_says_where() {
        let real = plain_fixture("tiny.hprof.gz");
        let bytes = if std::env::var("HPROF_EVERY_CUT").is_ok() {
            real
        } else {
            // Without the ~36,000 symbols nothing uses, each cut reads about twice as fast.
            let stripped = strip_unused_symbols(&real);
            assert!(stripped.len() < real.len() / 2);
            let (a, b) = (parse_bytes(&real).unwrap(), parse_bytes(&stripped).unwrap());
            assert_same(&a.value.graph, &b.value.graph, "stripped");
            stripped
        };
        let (top, subs) = walk(&bytes);
        let full = parse_bytes(&bytes).unwrap().value.graph.node_count();
        let every = std::env::var("HPROF_EVERY_CUT").is_ok();
        let mut cuts: Vec<usize> = (0..40).collect();
        for w in top.windows(2) {
            if w[0].tag != w[1].tag {
                cuts.extend([w[0].start as usize, w[1].start as usize]);
            }
        }
        for (records, ends, cap) in [(&top, 5, 20), (&subs, 3, 9)] {
            let mut tags: Vec<u8> = records.iter().map(|r| r.tag).collect();
            tags.sort_unstable();
            tags.dedup();
            for tag in tags {
                let kind: Vec<Rec> = records.iter().filter(|r| r.tag == tag).copied().collect();
                let starts: Vec<usize> = kind.iter().map(|r| r.start as usize).collect();
                if every {
                    cuts.extend(&starts);
                } else {
                    cuts.extend(spread(&starts, ends, cap));
                }
                for r in spread(&kind, 1, 2) {
                    let (s, e) = (r.start as usize, r.end as usize);
                    cuts.extend([s + 1, s + 5, (s + e) / 2, e - 1]);
                }
            }
        }
        cuts.push(bytes.len());
        cuts.sort_unstable();
        cuts.dedup();
        let chunk = cuts.len().div_ceil(2);
        std::thread::scope(|scope| {
            for part in cuts.chunks(chunk) {
                let (bytes, top, subs) = (&bytes, &top, &subs);
                scope.spawn(move || {
                    for &at in part {
                        check_cut(bytes, top, subs, full, at.min(bytes.len()));
                    }
                });
            }
        });
        eprintln!("{} cuts checked", cuts.len());
    }

    #[test]
    fn a_dump_cut_mid_segment_keeps_the_objects_before_the_cut() {
        let bytes = plain_fixture("tiny.hprof.gz");
        let (top, subs) = walk(&bytes);
        let seg = top.iter().filter(|r| r.tag == 0x1C).nth(1).unwrap();
        let inside: Vec<&Rec> = subs
            .iter()
            .filter(|s| s.parent == Some((0x1C, seg.start)))
            .collect();
        let cut_in = inside[inside.len() / 2];
        let at = (cut_in.start + 3) as usize;
        let parsed = parse_bytes(&bytes[..at]).unwrap();
        let before = subs
            .iter()
            .filter(|s| s.end as usize <= at && matches!(s.tag, 0x20..=0x23))
            .count();
        let graph = &parsed.value.graph;
        let objects = graph
            .nodes()
            .filter(|&n| graph.kind(n) != plateau_graph::NodeKind::Synthetic)
            .count();
        assert_eq!(objects, before);
        assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
        assert!(
            parsed.warnings[0].starts_with(&format!(
                "the dump ends at byte {at} inside {} sub-record at byte {} of HEAP_DUMP_SEGMENT \
             (0x1c) record at byte {} (the record says it runs to byte {}): the graph holds the \
             {before} objects read before it",
                sub_name(cut_in.tag),
                cut_in.start,
                seg.start,
                seg.end
            )),
            "{:?}",
            parsed.warnings
        );
        // The roots come last in HotSpot dumps: none were read.
        assert!(
            parsed.warnings[1].contains("references point to ids"),
            "{:?}",
            parsed.warnings
        );
        assert!(parsed.value.threads.is_empty());

        // A truncated gzip stream reads the same way.
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            enc.write_all(&bytes).unwrap();
            enc.finish().unwrap();
        }
        let result = parse_bytes(&gz[..gz.len() * 2 / 3]);
        match result {
            Ok(p) => assert!(p
                .warnings
                .iter()
                .any(|w| w.starts_with("the dump ends at byte"))),
            Err(e) => panic!("{e}"),
        }
    }
}

/// A stable-toolchain stand-in for a fuzz target: thousands of mutations of small valid
/// dumps must each give a result or an error, never a panic.
mod fuzz_smoke {
    use crate::mutate::{mutate, Rng};
    use plateau_formats::hprof::{read, HprofOptions};
    use plateau_graph::{class_histogram, Dominators};

    use crate::synthetic::android;
    use crate::writer::Hprof;

    const TOKENS: &[&[u8]] = &[
        &[0x1C],
        &[0x0C],
        &[0x2C, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0x21],
        &[0x22],
        &[0x23],
        &[0x20],
        &[0xFE],
        &[0xC3],
        &[0xff, 0xff, 0xff, 0xff],
        &[0, 0, 0, 0],
        &[0x7f, 0xff, 0xff, 0xff],
        &[0, 0, 0x10, 0],
        &[2],
        &[11],
    ];

    fn seed_8() -> Vec<u8> {
        let mut h = Hprof::new("1.0.2", 8);
        h.utf8(1, "java/lang/Object")
            .utf8(2, "Thing")
            .utf8(3, "next");
        h.utf8(4, "java/lang/ref/Reference").utf8(5, "referent");
        h.load_class(1, 0x100, 1)
            .load_class(2, 0x108, 2)
            .load_class(3, 0x110, 4);
        h.record(0x1C, |b| {
            b.class_dump(0x100, 0, 0, &[], &[]);
            b.instance(0x200, 0x108, |f| {
                f.id(0x208).u4(3);
            });
            b.class_dump(0x108, 0x100, 0, &[(3, 2, 0x200)], &[(3, 2), (3, 10)]);
            b.class_dump(0x110, 0x100, 0, &[], &[(5, 2)]);
            b.instance(0x208, 0x108, |f| {
                f.id(0x200).u4(4);
            });
            b.instance(0x210, 0x110, |f| {
                f.id(0x200);
            });
            b.object_array(0x218, 0x108, &[0x200, 0x208, 0]);
            b.primitive_array(0x230, 8, 3, b"abc");
        });
        h.record(0x1C, |b| {
            b.u1(0x08).id(0x208).u4(1).u4(0);
            b.u1(0x03).id(0x200).u4(1).u4(0);
            b.u1(0x05).id(0x108);
        });
        h.record(0x2C, |_| {});
        h.bytes()
    }

    /// What a fuzz target would do with one input: read it (the first byte picks the buffer
    /// size) and, when it reads, run the graph engine over it.
    fn fuzz_one(data: &[u8]) -> bool {
        let options = HprofOptions {
            buffer_size: 64 + data.first().map_or(0, |&b| b as usize),
            ..HprofOptions::default()
        };
        match read(data, &options, &mut |_| {}) {
            Ok(parsed) => {
                let graph = &parsed.value.graph;
                let dom = Dominators::compute(graph);
                let _ = class_histogram(graph, &dom);
                true
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                false
            }
        }
    }

    #[test]
    fn mutated_dumps_never_panic() {
        let seeds = [seed_8(), android(false), android(true)];
        for seed in &seeds {
            assert!(fuzz_one(seed), "every seed must read");
        }
        let mut rng = Rng(0x0048_5052_4f46);
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
    fn every_truncation_and_byte_of_the_seeds_never_panics() {
        for seed in [seed_8(), android(true)] {
            for cut in 0..seed.len() {
                let _ = fuzz_one(&seed[..cut]);
            }
            for i in 0..seed.len() {
                for v in [0u8, 0x7f, 0xff, seed[i] ^ 1] {
                    let mut data = seed.clone();
                    data[i] = v;
                    let _ = fuzz_one(&data);
                }
            }
        }
    }
}
