/// A source location in JSON: 1-based line and column, as editors count.
#[derive(serde::Serialize)]
pub(crate) struct LocationJson {
    script_id: u32,
    line: u32,
    column: u32,
}

impl LocationJson {
    pub(crate) fn from(location: Option<plateau_graph::Location>) -> Option<LocationJson> {
        location.map(|l| LocationJson {
            script_id: l.script_id,
            line: l.line + 1,
            column: l.column + 1,
        })
    }
}

pub use plateau_analysis::format_bytes;

/// `1234567` -> `1,234,567`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Cuts `s` to at most `max` characters, marking the cut with `…`.
pub(crate) fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Makes a heap string safe for one terminal line: control characters become escapes.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '\n' => "\\n".chars().collect::<Vec<_>>(),
            '\t' => "\\t".chars().collect(),
            '\r' => "\\r".chars().collect(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(310 * 1024 * 1024), "310 MiB");
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(1234567), "1,234,567");
        assert_eq!(ellipsize("abcdef", 4), "abc…");
        assert_eq!(printable("a\nb\u{1b}"), "a\\nb\\u{1b}");
    }
}
