/// Whether strings taken from a heap may leave the tool as they are.
///
/// Heap dumps hold secrets (tokens, e-mail addresses, request bodies). With
/// [`Redaction::Strings`], string contents and property names that do not look like code
/// identifiers are replaced by their length and a short hash, so equal values stay
/// recognisable as equal without being readable.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Redaction {
    #[default]
    None,
    Strings,
}

impl Redaction {
    /// A string value from the heap, as it may be shown.
    pub fn value(self, s: &str) -> String {
        match self {
            Redaction::None => s.to_string(),
            Redaction::Strings => mask(s),
        }
    }

    /// A class name. Inferred interface names (`{id, email}`) are made of property names, so
    /// each of those passes through [`name`](Self::name); constructor names pass as they are.
    pub fn class(self, s: &str) -> String {
        match (self, s.strip_prefix('{').and_then(|r| r.strip_suffix('}'))) {
            (Redaction::Strings, Some(inner)) => {
                let parts: Vec<String> = inner.split(", ").map(|p| self.name(p)).collect();
                format!("{{{}}}", parts.join(", "))
            }
            _ => s.to_string(),
        }
    }

    /// A property name: identifiers and V8's `<symbol ...>` names pass, anything data-like
    /// (an e-mail address used as a key, a URL) is masked.
    pub fn name(self, s: &str) -> String {
        let mut chars = s.chars();
        let identifier = s.len() <= 64
            && chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        let symbol = s.starts_with("<symbol ") && s.ends_with('>') && s.len() <= 64;
        match self {
            Redaction::Strings if !identifier && !symbol => mask(s),
            _ => s.to_string(),
        }
    }
}

fn mask(s: &str) -> String {
    // FNV-1a: stable across runs and platforms, enough to tell values apart.
    let mut hash: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        hash ^= b as u32;
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("<redacted {} chars #{hash:08x}>", s.chars().count())
}

#[cfg(test)]
mod tests {
    use super::Redaction;

    #[test]
    fn redaction_hides_values_but_keeps_identifiers() {
        let r = Redaction::Strings;
        assert!(r.value("Bearer abc").starts_with("<redacted 10 chars #"));
        assert_eq!(r.value("x"), r.value("x"));
        assert_ne!(r.value("x"), r.value("y"));
        assert_eq!(r.name("sessionCache"), "sessionCache");
        assert!(r.name("alice@example.com").starts_with("<redacted"));
        assert_eq!(Redaction::None.value("secret"), "secret");
        assert_eq!(r.class("{id, name}"), "{id, name}");
        assert!(r
            .class("{id, bob@example.com}")
            .starts_with("{id, <redacted"));
        assert_eq!(r.class("SessionEntry"), "SessionEntry");
    }
}
