//! Text in HPROF files: JVM symbols (modified UTF-8), class names in internal form, and the
//! contents of `java.lang.String` values (Latin-1, UTF-16).

/// Decodes modified UTF-8 (JVM symbols, HPROF `UTF8` records) leniently into `out`: `C0 80`
/// is NUL, surrogate pairs written as two 3-byte sequences are joined, anything invalid
/// becomes U+FFFD. Plain UTF-8 decodes the same.
pub(crate) fn push_modified_utf8(bytes: &[u8], out: &mut String) {
    if bytes.is_ascii() {
        // Every byte is ASCII, hence valid UTF-8.
        out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
        return;
    }
    let mut units: Vec<u16> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let cont = |k: usize| bytes.get(i + k).filter(|&&c| c & 0xC0 == 0x80).copied();
        if b < 0x80 {
            units.push(b as u16);
            i += 1;
        } else if b & 0xE0 == 0xC0 {
            match cont(1) {
                Some(c1) => {
                    units.push(((b as u16 & 0x1F) << 6) | (c1 as u16 & 0x3F));
                    i += 2;
                }
                None => {
                    units.push(0xFFFD);
                    i += 1;
                }
            }
        } else if b & 0xF0 == 0xE0 {
            match (cont(1), cont(2)) {
                (Some(c1), Some(c2)) => {
                    units.push(
                        ((b as u16 & 0x0F) << 12) | ((c1 as u16 & 0x3F) << 6) | (c2 as u16 & 0x3F),
                    );
                    i += 3;
                }
                _ => {
                    units.push(0xFFFD);
                    i += 1;
                }
            }
        } else if b & 0xF8 == 0xF0 {
            // Standard 4-byte UTF-8 (not modified UTF-8, but harmless to accept).
            match (cont(1), cont(2), cont(3)) {
                (Some(c1), Some(c2), Some(c3)) => {
                    let cp = ((b as u32 & 0x07) << 18)
                        | ((c1 as u32 & 0x3F) << 12)
                        | ((c2 as u32 & 0x3F) << 6)
                        | (c3 as u32 & 0x3F);
                    match char::from_u32(cp) {
                        Some(c) => {
                            let mut two = [0u16; 2];
                            units.extend_from_slice(c.encode_utf16(&mut two));
                        }
                        None => units.push(0xFFFD),
                    }
                    i += 4;
                }
                _ => {
                    units.push(0xFFFD);
                    i += 1;
                }
            }
        } else {
            units.push(0xFFFD);
            i += 1;
        }
    }
    out.extend(char::decode_utf16(units).map(|r| r.unwrap_or('\u{FFFD}')));
}

/// The element type of a primitive array descriptor character (`I` for `int`...).
fn primitive_name(c: u8) -> Option<&'static str> {
    Some(match c {
        b'Z' => "boolean",
        b'C' => "char",
        b'F' => "float",
        b'D' => "double",
        b'B' => "byte",
        b'S' => "short",
        b'I' => "int",
        b'J' => "long",
        b'V' => "void",
        _ => return None,
    })
}

/// The name a Java developer reads for a class, from the JVM's internal form (HPROF class
/// names) or the `Class.getName()` form (`jcmd GC.class_histogram`): packages dotted, arrays
/// as `int[]` / `java.lang.String[][]`, hidden classes with `/` before their address suffix
/// as `Klass::external_name` prints them (`Foo$$Lambda$14/0x0000000800c03000`).
///
/// ```
/// use plateau_formats::hprof::java_class_name;
/// assert_eq!(java_class_name("java/util/HashMap$Node"), "java.util.HashMap$Node");
/// assert_eq!(java_class_name("[I"), "int[]");
/// assert_eq!(java_class_name("[[Ljava/lang/String;"), "java.lang.String[][]");
/// assert_eq!(java_class_name("[Ljava.lang.Object;"), "java.lang.Object[]");
/// assert_eq!(java_class_name("A$$Lambda$1+0x0000000800c03000"), "A$$Lambda$1/0x0000000800c03000");
/// ```
pub fn java_class_name(name: &str) -> String {
    let dims = name.bytes().take_while(|&b| b == b'[').count();
    let element = &name[dims..];
    let mut out = String::with_capacity(name.len() + dims * 2);
    if dims == 0 {
        push_dotted(element, &mut out);
    } else {
        let bytes = element.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(b'L'), Some(b';')) if bytes.len() >= 2 => {
                push_dotted(&element[1..element.len() - 1], &mut out)
            }
            (Some(&c), _) if bytes.len() == 1 && primitive_name(c).is_some() => {
                out.push_str(primitive_name(c).unwrap_or("?"))
            }
            // Not a descriptor: keep the brackets as written.
            _ => {
                out.push_str(&name[..dims]);
                push_dotted(element, &mut out);
                return out;
            }
        }
        for _ in 0..dims {
            out.push_str("[]");
        }
    }
    out
}

fn push_dotted(internal: &str, out: &mut String) {
    // A hidden class: `Name+0x<hex>` in the symbol, `Name/0x<hex>` externally.
    let (base, address) = match internal.rfind("0x") {
        Some(at)
            if at > 0
                && matches!(internal.as_bytes()[at - 1], b'+' | b'/')
                && internal.len() > at + 2
                && internal[at + 2..].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            (&internal[..at - 1], Some(&internal[at..]))
        }
        _ => (internal, None),
    };
    out.extend(base.chars().map(|c| if c == '/' { '.' } else { c }));
    if let Some(address) = address {
        out.push('/');
        out.push_str(address);
    }
}

/// Appends Latin-1 bytes (a compact `String`'s value) as UTF-8.
pub(crate) fn push_latin1(bytes: &[u8], out: &mut String) {
    match std::str::from_utf8(bytes) {
        Ok(ascii) if bytes.is_ascii() => out.push_str(ascii),
        _ => out.extend(bytes.iter().map(|&b| b as char)),
    }
}

/// Decodes a `java.lang.String` value: JDK 9+ `byte[]` (Latin-1, or UTF-16 in the JVM's
/// native byte order when `utf16`, little-endian on every platform HotSpot dumps from), or a
/// JDK 8 / Android `char[]` (big-endian UTF-16 in HPROF).
pub(crate) fn decode_string_value(bytes: &[u8], char_array: bool, utf16: bool) -> String {
    if char_array {
        let units = bytes
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]));
        char::decode_utf16(units)
            .map(|r| r.unwrap_or('\u{FFFD}'))
            .collect()
    } else if utf16 {
        let units = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        char::decode_utf16(units)
            .map(|r| r.unwrap_or('\u{FFFD}'))
            .collect()
    } else {
        let mut s = String::with_capacity(bytes.len());
        push_latin1(bytes, &mut s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> String {
        let mut s = String::new();
        push_modified_utf8(bytes, &mut s);
        s
    }

    #[test]
    fn modified_utf8() {
        assert_eq!(decode(b"java/lang/String"), "java/lang/String");
        assert_eq!(decode(b"a\xC0\x80b"), "a\0b");
        assert_eq!(decode("é€".as_bytes()), "é€");
        // U+1F600 as a surrogate pair of two 3-byte sequences.
        assert_eq!(decode(b"\xED\xA0\xBD\xED\xB8\x80"), "\u{1F600}");
        assert_eq!(decode(b"\xFFx\xE2\x82"), "\u{FFFD}x\u{FFFD}\u{FFFD}");
        // A lone surrogate.
        assert_eq!(decode(b"\xED\xA0\xBD!"), "\u{FFFD}!");
    }

    #[test]
    fn class_names() {
        assert_eq!(java_class_name("java/lang/Object"), "java.lang.Object");
        assert_eq!(java_class_name("[Z"), "boolean[]");
        assert_eq!(java_class_name("[[J"), "long[][]");
        assert_eq!(java_class_name("[LFoo$Bar;"), "Foo$Bar[]");
        assert_eq!(java_class_name("[X"), "[X");
        assert_eq!(java_class_name("["), "[");
        assert_eq!(java_class_name(""), "");
        assert_eq!(java_class_name("a+b"), "a+b");
        assert_eq!(java_class_name("a+0x"), "a+0x");
        assert_eq!(
            java_class_name("p/A$$Lambda$1/0x0000000800c03000"),
            "p.A$$Lambda$1/0x0000000800c03000"
        );
        assert_eq!(java_class_name("[Lp/A+0x1f;"), "p.A/0x1f[]");
    }

    #[test]
    fn string_values() {
        assert_eq!(decode_string_value(b"main", false, false), "main");
        assert_eq!(
            decode_string_value(&[0x41, 0, 0xac, 0x20, 0x42, 0], false, true),
            "A€B"
        );
        assert_eq!(
            decode_string_value(&[0, 0x41, 0x20, 0xac], true, false),
            "A€"
        );
        assert_eq!(decode_string_value(&[0xe9], false, false), "é");
    }
}
