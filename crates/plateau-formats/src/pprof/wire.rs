//! The protobuf wire format, as much of it as `profile.proto` uses: varints (no zigzag:
//! the schema has no `sint` fields), 64- and 32-bit fixed values and length-delimited
//! fields (sub-messages, strings, packed repeated scalars) — and skipping any field by its
//! wire type. Groups (wire types 3 and 4, deprecated since proto2) are refused.
//!
//! A [`Wire`] reads one message already in memory; errors are [`Problem`]s carrying the
//! absolute byte offset and a path that callers extend on the way out
//! (`.label[2]` → `Profile.sample[12].label[2]`).

use std::fmt::Display;

/// What a field's tag says about how its value is encoded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

impl WireType {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            WireType::Varint => "wire type 0 (varint)",
            WireType::Fixed64 => "wire type 1 (64-bit)",
            WireType::Len => "wire type 2 (length-delimited)",
            WireType::Fixed32 => "wire type 5 (32-bit)",
        }
    }
}

/// A decoding error inside a message: where (absolute byte offset), what, and the field path
/// from the message being decoded down to the fault (filled in as the error travels up).
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) offset: u64,
    pub(crate) path: String,
    pub(crate) problem: String,
}

impl Problem {
    pub(crate) fn new(offset: u64, problem: impl Into<String>) -> Problem {
        Problem {
            offset,
            path: String::new(),
            problem: problem.into(),
        }
    }

    /// Puts `segment` (`.label[2]`) in front of the path.
    pub(crate) fn within(mut self, segment: impl Display) -> Problem {
        self.path = format!("{segment}{}", self.path);
        self
    }
}

/// One field's tag.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Tag {
    pub(crate) field: u64,
    pub(crate) wire: WireType,
    /// Absolute offset of the tag's first byte.
    pub(crate) offset: u64,
}

/// A cursor over one message held in memory.
#[derive(Debug)]
pub(crate) struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Absolute offset of `buf[0]` in the (decompressed) input.
    base: u64,
}

impl<'a> Wire<'a> {
    pub(crate) fn new(buf: &'a [u8], base: u64) -> Wire<'a> {
        Wire { buf, pos: 0, base }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Absolute offset of the next unread byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Decodes a base-128 varint (at most 10 bytes, at most 64 bits).
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, Problem> {
        match decode_varint(&self.buf[self.pos..]) {
            Varint::Value(v, n) => {
                self.pos += n;
                Ok(v)
            }
            Varint::Truncated => Err(Problem::new(
                self.offset(),
                "a varint runs past the end of its message",
            )),
            Varint::TooLong => Err(Problem::new(
                self.offset(),
                "a varint longer than 64 bits (10 bytes)",
            )),
        }
    }

    /// Reads the next tag. Field number 0 and the group wire types 3 and 4 (and the
    /// undefined 6 and 7) are errors.
    #[inline]
    pub(crate) fn tag(&mut self) -> Result<Tag, Problem> {
        let offset = self.offset();
        let key = self.varint()?;
        let field = key >> 3;
        let wire = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            3 | 4 => {
                return Err(Problem::new(
                    offset,
                    format!(
                        "field {field} has wire type {} (a group), which profile.proto never uses",
                        key & 7
                    ),
                ))
            }
            t => {
                return Err(Problem::new(
                    offset,
                    format!("field {field} has wire type {t}, which does not exist"),
                ))
            }
        };
        if field == 0 {
            return Err(Problem::new(offset, "a tag with field number 0"));
        }
        Ok(Tag {
            field,
            wire,
            offset,
        })
    }

    /// Reads a length and returns that many bytes as a message of their own.
    #[inline]
    pub(crate) fn len_delimited(&mut self) -> Result<Wire<'a>, Problem> {
        let at = self.offset();
        let len = self.varint()?;
        let left = self.buf.len() - self.pos;
        if len > left as u64 {
            return Err(Problem::new(
                at,
                format!("a length of {len} bytes runs past the end of its message ({left} left)"),
            ));
        }
        let len = len as usize;
        let sub = Wire::new(&self.buf[self.pos..self.pos + len], self.offset());
        self.pos += len;
        Ok(sub)
    }

    /// The rest of the message as bytes (for strings).
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn fixed(&mut self, n: usize) -> Result<u64, Problem> {
        if self.buf.len() - self.pos < n {
            return Err(Problem::new(
                self.offset(),
                format!("a {}-bit value runs past the end of its message", n * 8),
            ));
        }
        let mut v = 0u64;
        for (i, &b) in self.buf[self.pos..self.pos + n].iter().enumerate() {
            v |= (b as u64) << (8 * i);
        }
        self.pos += n;
        Ok(v)
    }

    /// Skips a field's value.
    pub(crate) fn skip(&mut self, wire: WireType) -> Result<(), Problem> {
        match wire {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.fixed(8).map(drop),
            WireType::Fixed32 => self.fixed(4).map(drop),
            WireType::Len => self.len_delimited().map(drop),
        }
    }

    /// A singular integer field (`int64`, `uint64`, `bool`): the varint, as its 64 bits.
    #[inline]
    pub(crate) fn scalar(&mut self, tag: Tag, name: &str) -> Result<u64, Problem> {
        if tag.wire != WireType::Varint {
            return Err(wrong_wire(tag, name, "wire type 0 (varint)"));
        }
        self.varint()
    }

    /// A sub-message field.
    #[inline]
    pub(crate) fn message(&mut self, tag: Tag, name: &str) -> Result<Wire<'a>, Problem> {
        if tag.wire != WireType::Len {
            return Err(wrong_wire(tag, name, "wire type 2 (length-delimited)"));
        }
        self.len_delimited()
    }
}

pub(crate) fn wrong_wire(tag: Tag, name: &str, expected: &str) -> Problem {
    Problem::new(
        tag.offset,
        format!(
            "field {} ({name}) has {}, expected {expected}",
            tag.field,
            tag.wire.describe()
        ),
    )
}

pub(crate) enum Varint {
    /// The value and how many bytes it took.
    Value(u64, usize),
    Truncated,
    TooLong,
}

/// Decodes a varint at the start of `buf`.
#[inline]
pub(crate) fn decode_varint(buf: &[u8]) -> Varint {
    if let Some(&b) = buf.first() {
        if b < 0x80 {
            return Varint::Value(b as u64, 1);
        }
    }
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        if i == 9 && b > 1 {
            return Varint::TooLong;
        }
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b < 0x80 {
            return Varint::Value(v, i + 1);
        }
    }
    if buf.len() >= 10 {
        Varint::TooLong
    } else {
        Varint::Truncated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        let value = |b: &[u8]| match decode_varint(b) {
            Varint::Value(v, n) => Some((v, n)),
            _ => None,
        };
        assert_eq!(value(&[0]), Some((0, 1)));
        assert_eq!(value(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(
            value(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Some((u64::MAX, 10))
        );
        // -1 as an int64 is ten bytes.
        assert_eq!(
            value(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
                .map(|v| v.0 as i64),
            Some(-1)
        );
        assert!(matches!(
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            Varint::TooLong
        ));
        assert!(matches!(decode_varint(&[0x80; 11]), Varint::TooLong));
        assert!(matches!(decode_varint(&[0x80, 0x80]), Varint::Truncated));
        assert!(matches!(decode_varint(&[]), Varint::Truncated));
    }

    #[test]
    fn skipping_every_wire_type() {
        // field 1 varint, field 9 fixed64, field 10 fixed32, field 11 bytes "ab", field 2.
        let buf = [
            0x08, 0x96, 0x01, 0x49, 1, 2, 3, 4, 5, 6, 7, 8, 0x55, 1, 2, 3, 4, 0x5a, 0x02, b'a',
            b'b', 0x10, 0x07,
        ];
        let mut w = Wire::new(&buf, 100);
        let mut last = 0;
        while !w.is_empty() {
            let tag = w.tag().unwrap();
            if tag.field == 2 {
                last = w.scalar(tag, "x").unwrap();
            } else {
                w.skip(tag.wire).unwrap();
            }
        }
        assert_eq!(last, 7);
        assert_eq!(w.offset(), 100 + buf.len() as u64);
    }

    #[test]
    fn problems_say_where() {
        let mut w = Wire::new(&[0x0a, 0x05, 0x01], 10);
        let tag = w.tag().unwrap();
        let e = w.message(tag, "sample").unwrap_err();
        assert_eq!(e.offset, 11);
        assert_eq!(
            e.problem,
            "a length of 5 bytes runs past the end of its message (1 left)"
        );
        let mut w = Wire::new(&[0x0b], 0);
        assert!(w.tag().unwrap_err().problem.contains("group"));
        let mut w = Wire::new(&[0x02, 0x00], 0);
        assert_eq!(w.tag().unwrap_err().problem, "a tag with field number 0");
        let mut w = Wire::new(&[0x0d, 0, 0, 0, 0], 0);
        let tag = w.tag().unwrap();
        assert_eq!(
            w.scalar(tag, "id").unwrap_err().problem,
            "field 1 (id) has wire type 5 (32-bit), expected wire type 0 (varint)"
        );
    }
}
