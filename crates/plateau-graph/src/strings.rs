use crate::StrId;

/// Strings stored back to back in one buffer, addressed by [`StrId`].
///
/// One allocation instead of millions keeps a 1 GB snapshot's string table cheap.
#[derive(Clone, Debug, Default)]
pub struct StringTable {
    bytes: String,
    /// `ends[i]` is where string `i` ends in `bytes`; it starts where `i - 1` ends.
    ends: Vec<u64>,
}

impl StringTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a string and returns its id. Does not de-duplicate.
    pub fn push(&mut self, s: &str) -> StrId {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len() as u64);
        StrId((self.ends.len() - 1) as u32)
    }

    /// Appends a string assembled piecewise by `fill`, avoiding a temporary allocation.
    pub fn push_with(&mut self, fill: impl FnOnce(&mut String)) -> StrId {
        fill(&mut self.bytes);
        self.ends.push(self.bytes.len() as u64);
        StrId((self.ends.len() - 1) as u32)
    }

    /// The string with this id. Panics on an id this table did not hand out; readers
    /// validate ids before building a graph.
    #[inline]
    pub fn get(&self, id: StrId) -> &str {
        let i = id.0 as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// The string with this id, or `None` when the id is out of range.
    pub fn try_get(&self, id: StrId) -> Option<&str> {
        ((id.0 as usize) < self.ends.len()).then(|| self.get(id))
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 8
    }

    /// Releases spare capacity once loading is done.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::StringTable;

    #[test]
    fn push_and_get() {
        let mut t = StringTable::new();
        let a = t.push("");
        let b = t.push("héllo");
        let c = t.push_with(|s| s.push_str("x y"));
        assert_eq!((t.get(a), t.get(b), t.get(c)), ("", "héllo", "x y"));
        assert_eq!(t.try_get(crate::StrId(3)), None);
    }
}
