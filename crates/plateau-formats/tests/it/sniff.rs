//! Format detection from the first bytes.

use plateau_formats::sniff::{sniff, Format};

#[test]
fn formats() {
    assert_eq!(
        sniff(br#"{"snapshot":{"meta":{"node_fields":["#),
        Format::V8HeapSnapshot
    );
    assert_eq!(
        sniff(b"\xEF\xBB\xBF\n{ \"snapshot\" : {}"),
        Format::V8HeapSnapshot
    );
    assert_eq!(sniff(br#"{"nodes":[0,1,"#), Format::V8HeapSnapshot);
    assert_eq!(
        sniff(br#"{"title":"x","snapshot":{"meta":{"node_fields":[]}}}"#),
        Format::V8HeapSnapshot
    );
    assert_eq!(
        sniff(br#"{"name":"package","version":"1.0.0"}"#),
        Format::OtherJson
    );
    assert_eq!(sniff(&[0x1f, 0x8b, 0x08, 0x00]), Format::Gzip);
    assert_eq!(sniff(b"JAVA PROFILE 1.0.2\0\0\0\x08"), Format::Hprof);
    assert_eq!(sniff(&[0x80, 0x04, 0x95]), Format::Pickle);
    assert_eq!(sniff(b""), Format::Unknown);
    assert_eq!(sniff(b"hello"), Format::Unknown);
    assert_eq!(sniff(&[0x1f]), Format::Unknown);
    assert_eq!(Format::Hprof.as_str(), "hprof");
}

#[test]
fn real_fixture_prefixes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/v8");
    let Ok(bytes) = std::fs::read(dir.join("tiny.heapsnapshot.gz")) else {
        eprintln!("fixtures/v8 not present: skipped");
        return;
    };
    assert_eq!(sniff(&bytes), Format::Gzip);
    let mut plain = Vec::new();
    use std::io::Read;
    plateau_formats::maybe_gunzip(std::io::Cursor::new(bytes))
        .unwrap()
        .take(4096)
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(sniff(&plain), Format::V8HeapSnapshot);
}
