//! The pickle subset machine: the opcodes `tracemalloc.Snapshot.dump()` writes (protocols 2
//! to 5), run on plain data only. Nothing is imported, looked up or called: the only globals
//! it knows are two class *names*, and an object is a class tag and a list of attributes.
//!
//! Values are 16-byte `Copy` handles (strings, tuples, lists, dicts and objects live in
//! arenas), so the memo and the stack share everything by index. tracemalloc's data is
//! recognised as it is built and turned into the model at once:
//! * a `(str, int)` 2-tuple is a frame, interned in the [`ProfileBuilder`] right away;
//! * a tuple of frames is a traceback, interned as a stack (leaf first, as written);
//! * `(domain, size, frames, total_nframe)`, `(domain, size, frames)` and `(size, frames)`
//!   are traces, kept as `(size, stack)`;
//! * the first list a trace is appended to becomes *the* list of traces: its traces go into
//!   the builder as they are appended and the list keeps only a count. A second list of
//!   traces, or a list mixing traces and other values, is refused: tracemalloc writes one.
//!
//! So memory is the memo (16 bytes per memoized value, one per trace), the frames and stacks,
//! and one sample per distinct traceback; never the traces themselves.
//!
//! Hostile input: what a file can make the reader allocate grows linearly with its length
//! (a `BUILD` records its state dict and length instead of copying it, memo indices far from
//! the dense part go to a map, the file names of distinct frames have a budget) and claimed
//! lengths are only believed as far as data arrives.
//!
//! Speed: a trace is about eight opcodes. `Machine::fast_trace` decodes the usual shape of a
//! whole trace (its tuple opcodes, a memo reference to a traceback already read, and the
//! `MEMOIZE` after it) straight from the buffer with the same effect as running them, and
//! falls back to the opcode-by-opcode path for anything else.

use std::collections::HashMap;

use plateau_profile::{Frame, FrameId, ProfileBuilder, StackId};

use crate::hprof::input::Input;
use crate::FormatError;

/// Pickle opcodes (CPython `Lib/pickletools.py`, `Modules/_pickle.c`).
pub(super) mod op {
    pub const MARK: u8 = b'(';
    pub const STOP: u8 = b'.';
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const BININT2: u8 = b'M';
    pub const NONE: u8 = b'N';
    pub const BINUNICODE: u8 = b'X';
    pub const APPEND: u8 = b'a';
    pub const BUILD: u8 = b'b';
    pub const GLOBAL: u8 = b'c';
    pub const EMPTY_DICT: u8 = b'}';
    pub const APPENDS: u8 = b'e';
    pub const GET: u8 = b'g';
    pub const BINGET: u8 = b'h';
    pub const LONG_BINGET: u8 = b'j';
    pub const EMPTY_LIST: u8 = b']';
    pub const PUT: u8 = b'p';
    pub const BINPUT: u8 = b'q';
    pub const LONG_BINPUT: u8 = b'r';
    pub const SETITEM: u8 = b's';
    pub const TUPLE: u8 = b't';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const SETITEMS: u8 = b'u';
    pub const PROTO: u8 = 0x80;
    pub const NEWOBJ: u8 = 0x81;
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE2: u8 = 0x86;
    pub const TUPLE3: u8 = 0x87;
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const LONG1: u8 = 0x8a;
    pub const LONG4: u8 = 0x8b;
    pub const SHORT_BINUNICODE: u8 = 0x8c;
    pub const BINUNICODE8: u8 = 0x8d;
    pub const STACK_GLOBAL: u8 = 0x93;
    pub const MEMOIZE: u8 = 0x94;
    pub const FRAME: u8 = 0x95;
}

/// The name of every pickle opcode (protocols 0 to 5), for messages.
pub(super) fn opcode_name(code: u8) -> Option<&'static str> {
    Some(match code {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => return None,
    })
}

fn name(code: u8) -> &'static str {
    opcode_name(code).unwrap_or("?")
}

/// The two classes a snapshot names.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Class {
    Snapshot,
    Traces,
}

impl Class {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Class::Snapshot => "tracemalloc.Snapshot",
            Class::Traces => "tracemalloc._Traces",
        }
    }
}

/// A trace tuple's layout, by the Python versions that write it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TraceLayout {
    /// `(size, frames)`: Python 3.4 and 3.5.
    SizeFrames,
    /// `(domain, size, frames)`: Python 3.6 to 3.8.
    DomainSizeFrames,
    /// `(domain, size, frames, total_nframe)`: Python 3.9 and later.
    DomainSizeFramesNframe,
}

impl TraceLayout {
    /// The tuple as Python writes it, for messages and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceLayout::SizeFrames => "(size, frames) (Python 3.4-3.5)",
            TraceLayout::DomainSizeFrames => "(domain, size, frames) (Python 3.6-3.8)",
            TraceLayout::DomainSizeFramesNframe => {
                "(domain, size, frames, total_nframe) (Python 3.9+)"
            }
        }
    }

    fn code(self) -> u8 {
        match self {
            TraceLayout::SizeFrames => 0,
            TraceLayout::DomainSizeFrames => 1,
            TraceLayout::DomainSizeFramesNframe => 2,
        }
    }

    fn from_code(code: u8) -> TraceLayout {
        match code & 3 {
            0 => TraceLayout::SizeFrames,
            1 => TraceLayout::DomainSizeFrames,
            _ => TraceLayout::DomainSizeFramesNframe,
        }
    }
}

/// `Value::Trace` flags: bits 0-1 the layout code, then these.
const TRUNCATED: u8 = 4;
const FOREIGN_DOMAIN: u8 = 8;

/// A pickled value: a copyable handle.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(super) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(u32),
    EmptyTuple,
    /// A `(filename, lineno)` tuple, as the builder's frame.
    Frame(FrameId),
    /// A non-empty tuple of frames (a traceback), as the builder's stack.
    Stack(StackId),
    /// A trace tuple.
    Trace {
        flags: u8,
        stack: StackId,
        size: i64,
    },
    /// Any other tuple, in `Machine::tuples`.
    Tuple(u32),
    List(u32),
    Dict(u32),
    Class(Class),
    Object(u32),
}

// Every value is two words; the memo holds one per trace.
const _: () = assert!(std::mem::size_of::<Value>() == 16);
const _: () = assert!(std::mem::size_of::<Option<Value>>() == 16);

pub(super) enum List {
    Items(Vec<Value>),
    /// The list of traces (`Machine::trace_list`): its traces went into the builder.
    Traces,
}

pub(super) struct Object {
    pub class: Class,
    /// The state dicts `BUILD` set, each with its length then: Python copies the dict's
    /// items into the object at `BUILD`, and dict entries are only ever appended here, so
    /// the first `len` entries are exactly what was copied (without copying them: a dict
    /// built on again and again costs nothing).
    pub builds: Vec<(u32, usize)>,
}

/// What the traces held, counted as they were appended to the list of traces.
#[derive(Default)]
pub(super) struct TraceStats {
    pub traces: u64,
    pub total_size: i64,
    pub truncated: u64,
    pub foreign_domain: u64,
    pub layout: Option<TraceLayout>,
}

/// File names of distinct frames may add up to this plus [`FRAME_NAME_BYTES_PER_INPUT_BYTE`]
/// times the input read: a bound on what a hostile file (one long name, many line numbers)
/// can make the reader allocate. Real dumps stay far below.
const FRAME_NAME_BYTES_BASE: u64 = 32 << 20;
const FRAME_NAME_BYTES_PER_INPUT_BYTE: u64 = 64;
/// `GLOBAL`'s module and name lines, `GET`'s and `PUT`'s decimal index: longest line read.
const MAX_LINE: usize = 512;

pub(super) struct Machine<'a> {
    pub input: Input<'a>,
    pub stack: Vec<Value>,
    /// Stack lengths at each open `MARK`; pops never go below the last one (Python's fence).
    marks: Vec<usize>,
    memo: Vec<Option<Value>>,
    sparse_memo: HashMap<u64, Value>,
    /// Entries set (what `MEMOIZE` takes as its index, as in CPython).
    memo_len: u64,
    pub strings: Vec<Box<str>>,
    pub tuples: Vec<Box<[Value]>>,
    pub lists: Vec<List>,
    pub dicts: Vec<Vec<(Value, Value)>>,
    pub objects: Vec<Object>,
    pub builder: ProfileBuilder,
    frame_ids: HashMap<(u32, i64), FrameId>,
    /// Frames per stack id (for `total_nframe` truncation).
    stack_depth: Vec<u32>,
    scratch: Vec<FrameId>,
    pub trace_list: Option<u32>,
    pub stats: TraceStats,
    pub protocol: u8,
    /// Strings that were not valid UTF-8 (decoded lossily).
    pub bad_utf8: u64,
    /// Σ file-name bytes of the distinct frames made so far.
    frame_name_bytes: u64,
}

type Res<T> = Result<T, FormatError>;

impl<'a> Machine<'a> {
    pub(super) fn new(input: Input<'a>, builder: ProfileBuilder) -> Machine<'a> {
        Machine {
            input,
            stack: Vec::with_capacity(1024),
            marks: Vec::new(),
            memo: Vec::new(),
            sparse_memo: HashMap::new(),
            memo_len: 0,
            strings: Vec::new(),
            tuples: Vec::new(),
            lists: Vec::new(),
            dicts: Vec::new(),
            objects: Vec::new(),
            builder,
            frame_ids: HashMap::new(),
            stack_depth: Vec::new(),
            scratch: Vec::new(),
            trace_list: None,
            stats: TraceStats::default(),
            protocol: 0,
            bad_utf8: 0,
            frame_name_bytes: 0,
        }
    }

    /// Reads the `PROTO` opcode that opens every pickle tracemalloc writes.
    pub(super) fn header(&mut self) -> Res<()> {
        self.input.fill(2)?;
        let bytes = self.input.bytes();
        match bytes {
            [] => Err(FormatError::EmptyInput(
                "a Python tracemalloc snapshot (a pickle)",
            )),
            [op::PROTO] => Err(FormatError::Truncated {
                offset: 1,
                context: "the pickle's PROTO opcode (its protocol byte)".into(),
            }),
            [op::PROTO, version, ..] => {
                let version = *version;
                if !(2..=5).contains(&version) {
                    return Err(FormatError::NotTracemalloc(format!(
                        "byte 1: pickle protocol {version}; tracemalloc snapshots are pickles \
                         of protocol 2 to 5"
                    )));
                }
                self.protocol = version;
                self.input.consume(2);
                Ok(())
            }
            [b, ..] => Err(FormatError::NotTracemalloc(format!(
                "byte 0 is {}, expected 0x80 (the PROTO opcode opening a pickle of protocol 2 \
                 to 5, as Snapshot.dump() writes)",
                crate::error::describe_byte(Some(*b))
            ))),
        }
    }

    /// Runs opcodes up to `STOP`; returns the pickled value and the offset of the `STOP`.
    pub(super) fn run(&mut self) -> Res<(Value, u64)> {
        loop {
            let at = self.input.offset();
            if !self.input.fill(1)? {
                return Err(FormatError::Truncated {
                    offset: at,
                    context: "a pickle (it ends before its STOP opcode)".into(),
                });
            }
            let code = self.input.bytes()[0];
            if matches!(
                code,
                op::MARK | op::BININT1 | op::BININT2 | op::BININT | op::LONG1
            ) && self.fast_trace()
            {
                continue;
            }
            match code {
                op::BININT1 => {
                    let [b] = self.args::<1>(code, at)?;
                    self.stack.push(Value::Int(b as i64));
                }
                op::BININT2 => {
                    let b = self.args::<2>(code, at)?;
                    self.stack.push(Value::Int(u16::from_le_bytes(b) as i64));
                }
                op::BININT => {
                    let b = self.args::<4>(code, at)?;
                    self.stack.push(Value::Int(i32::from_le_bytes(b) as i64));
                }
                op::LONG1 => {
                    let [n] = self.args::<1>(code, at)?;
                    let v = self.long(n as u64, code, at)?;
                    self.stack.push(Value::Int(v));
                }
                op::LONG4 => {
                    let n = i32::from_le_bytes(self.args::<4>(code, at)?);
                    if n < 0 {
                        return Err(self.malformed(code, at, format!("has a byte count of {n}")));
                    }
                    let v = self.long(n as u64, code, at)?;
                    self.stack.push(Value::Int(v));
                }
                op::BINGET => {
                    let [i] = self.args::<1>(code, at)?;
                    self.get(i as u64, code, at)?;
                }
                op::LONG_BINGET => {
                    let i = u32::from_le_bytes(self.args::<4>(code, at)?);
                    self.get(i as u64, code, at)?;
                }
                op::GET => {
                    let i = self.decimal_line(code, at)?;
                    self.get(i, code, at)?;
                }
                op::MEMOIZE => {
                    self.input.consume(1);
                    let v = self.top(code, at)?;
                    self.put(self.memo_len, v);
                }
                op::BINPUT => {
                    let [i] = self.args::<1>(code, at)?;
                    let v = self.top(code, at)?;
                    self.put(i as u64, v);
                }
                op::LONG_BINPUT => {
                    let i = u32::from_le_bytes(self.args::<4>(code, at)?);
                    let v = self.top(code, at)?;
                    self.put(i as u64, v);
                }
                op::PUT => {
                    let i = self.decimal_line(code, at)?;
                    let v = self.top(code, at)?;
                    self.put(i, v);
                }
                op::MARK => {
                    self.input.consume(1);
                    self.marks.push(self.stack.len());
                }
                op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                    self.input.consume(1);
                    let n = (code - op::TUPLE1 + 1) as usize;
                    if self.stack.len() < self.fence() + n {
                        return Err(self.underflow(code, at, n));
                    }
                    let start = self.stack.len() - n;
                    let v = self.tuple(start, at)?;
                    self.stack.truncate(start);
                    self.stack.push(v);
                }
                op::TUPLE => {
                    self.input.consume(1);
                    let start = self.pop_mark(code, at)?;
                    let v = self.tuple(start, at)?;
                    self.stack.truncate(start);
                    self.stack.push(v);
                }
                op::EMPTY_TUPLE => {
                    self.input.consume(1);
                    self.stack.push(Value::EmptyTuple);
                }
                op::APPENDS => {
                    self.input.consume(1);
                    let start = self.pop_mark(code, at)?;
                    if start == 0 || start - 1 < self.fence() {
                        return Err(self.malformed(code, at, "has no list below its MARK".into()));
                    }
                    let list = self.list_at(start - 1, code, at)?;
                    for i in start..self.stack.len() {
                        let v = self.stack[i];
                        self.append(list, v, at)?;
                    }
                    self.stack.truncate(start);
                }
                op::APPEND => {
                    self.input.consume(1);
                    if self.stack.len() < self.fence() + 2 {
                        return Err(self.underflow(code, at, 2));
                    }
                    let v = self.stack.pop().unwrap_or(Value::None);
                    let list = self.list_at(self.stack.len() - 1, code, at)?;
                    self.append(list, v, at)?;
                }
                op::SHORT_BINUNICODE => {
                    let [n] = self.args::<1>(code, at)?;
                    self.string(n as u64, code, at)?;
                }
                op::BINUNICODE => {
                    let n = u32::from_le_bytes(self.args::<4>(code, at)?);
                    self.string(n as u64, code, at)?;
                }
                op::BINUNICODE8 => {
                    let n = u64::from_le_bytes(self.args::<8>(code, at)?);
                    self.string(n, code, at)?;
                }
                op::EMPTY_LIST => {
                    self.input.consume(1);
                    let id = self.new_id(self.lists.len(), "lists", at)?;
                    self.lists.push(List::Items(Vec::new()));
                    self.stack.push(Value::List(id));
                }
                op::EMPTY_DICT => {
                    self.input.consume(1);
                    let id = self.new_id(self.dicts.len(), "dicts", at)?;
                    self.dicts.push(Vec::new());
                    self.stack.push(Value::Dict(id));
                }
                op::SETITEM => {
                    self.input.consume(1);
                    if self.stack.len() < self.fence() + 3 {
                        return Err(self.underflow(code, at, 3));
                    }
                    let n = self.stack.len();
                    let dict = self.dict_at(n - 3, code, at)?;
                    let (k, v) = (self.stack[n - 2], self.stack[n - 1]);
                    self.dicts[dict as usize].push((k, v));
                    self.stack.truncate(n - 2);
                }
                op::SETITEMS => {
                    self.input.consume(1);
                    let start = self.pop_mark(code, at)?;
                    if start == 0 || start - 1 < self.fence() {
                        return Err(self.malformed(code, at, "has no dict below its MARK".into()));
                    }
                    if !(self.stack.len() - start).is_multiple_of(2) {
                        return Err(self.malformed(
                            code,
                            at,
                            format!(
                                "has an odd number of items ({}) above its MARK: keys and values \
                                 come in pairs",
                                self.stack.len() - start
                            ),
                        ));
                    }
                    let dict = self.dict_at(start - 1, code, at)?;
                    let pairs = self.stack[start..].chunks_exact(2).map(|p| (p[0], p[1]));
                    self.dicts[dict as usize].extend(pairs);
                    self.stack.truncate(start);
                }
                op::STACK_GLOBAL => {
                    self.input.consume(1);
                    if self.stack.len() < self.fence() + 2 {
                        return Err(self.underflow(code, at, 2));
                    }
                    let n = self.stack.len();
                    let (module, name) = match (self.stack[n - 2], self.stack[n - 1]) {
                        (Value::Str(m), Value::Str(q)) => (m, q),
                        (m, q) => {
                            return Err(self.malformed(
                                code,
                                at,
                                format!(
                                    "needs two strings (module, name), found {} and {}",
                                    self.describe(m),
                                    self.describe(q)
                                ),
                            ))
                        }
                    };
                    let class = self.class(
                        &self.strings[module as usize],
                        &self.strings[name as usize],
                        at,
                    )?;
                    self.stack.truncate(n - 2);
                    self.stack.push(Value::Class(class));
                }
                op::GLOBAL => {
                    let class = self.global_lines(at)?;
                    self.stack.push(Value::Class(class));
                }
                op::NEWOBJ => {
                    self.input.consume(1);
                    if self.stack.len() < self.fence() + 2 {
                        return Err(self.underflow(code, at, 2));
                    }
                    let n = self.stack.len();
                    let class = match self.stack[n - 2] {
                        Value::Class(c) => c,
                        v => {
                            return Err(self.malformed(
                                code,
                                at,
                                format!("needs a class, found {}", self.describe(v)),
                            ))
                        }
                    };
                    match self.stack[n - 1] {
                        Value::EmptyTuple => {}
                        Value::Tuple(_)
                        | Value::Stack(_)
                        | Value::Frame(_)
                        | Value::Trace { .. } => {
                            return Err(FormatError::NotTracemalloc(format!(
                                "byte {at}: NEWOBJ creates a {} with arguments; Snapshot.dump() \
                                 writes none",
                                class.as_str()
                            )))
                        }
                        v => {
                            return Err(self.malformed(
                                code,
                                at,
                                format!("needs a tuple of arguments, found {}", self.describe(v)),
                            ))
                        }
                    }
                    let id = self.new_id(self.objects.len(), "objects", at)?;
                    self.objects.push(Object {
                        class,
                        builds: Vec::new(),
                    });
                    self.stack.truncate(n - 2);
                    self.stack.push(Value::Object(id));
                }
                op::BUILD => {
                    self.input.consume(1);
                    if self.stack.len() < self.fence() + 2 {
                        return Err(self.underflow(code, at, 2));
                    }
                    let n = self.stack.len();
                    let object = match self.stack[n - 2] {
                        Value::Object(o) => o,
                        v => {
                            return Err(FormatError::NotTracemalloc(format!(
                                "byte {at}: BUILD sets the state of {}; a snapshot sets it only \
                                 on tracemalloc.Snapshot and tracemalloc._Traces objects",
                                self.describe(v)
                            )))
                        }
                    };
                    match self.stack[n - 1] {
                        Value::Dict(d) => {
                            let len = self.dicts[d as usize].len();
                            self.objects[object as usize].builds.push((d, len));
                        }
                        v => {
                            return Err(FormatError::NotTracemalloc(format!(
                                "byte {at}: BUILD's state is {}, expected a dict (the object's \
                                 __dict__)",
                                self.describe(v)
                            )))
                        }
                    }
                    self.stack.truncate(n - 1);
                }
                op::NONE => {
                    self.input.consume(1);
                    self.stack.push(Value::None);
                }
                op::NEWTRUE | op::NEWFALSE => {
                    self.input.consume(1);
                    self.stack.push(Value::Bool(code == op::NEWTRUE));
                }
                op::FRAME => {
                    // A framing hint (protocol 4+): the length of what follows. Nothing to do.
                    self.args::<8>(code, at)?;
                }
                op::PROTO => {
                    let [version] = self.args::<1>(code, at)?;
                    if !(2..=5).contains(&version) {
                        return Err(FormatError::NotTracemalloc(format!(
                            "byte {at}: PROTO {version}; tracemalloc snapshots are pickles of \
                             protocol 2 to 5"
                        )));
                    }
                }
                op::STOP => {
                    self.input.consume(1);
                    if self.stack.len() <= self.fence() {
                        return Err(self.underflow(code, at, 1));
                    }
                    let v = self.stack.pop().unwrap_or(Value::None);
                    return Ok((v, at));
                }
                _ => {
                    return Err(match opcode_name(code) {
                        Some(name) => FormatError::PickleOpcode {
                            name,
                            code,
                            offset: at,
                        },
                        None => FormatError::NotTracemalloc(format!(
                            "byte {at} is 0x{code:02x}, which is not a pickle opcode"
                        )),
                    })
                }
            }
        }
    }

    /// The hot path: one whole trace tuple as `Snapshot.dump()` writes it — `MARK int int
    /// frames int TUPLE` (3.9+), `int int frames TUPLE3` (3.6-3.8) or `int frames TUPLE2`
    /// (3.4-3.5), the frames a memo reference to a traceback already read — and the
    /// `MEMOIZE`/`BINPUT`/`LONG_BINPUT` after it, decoded straight from the buffer. The effect
    /// is exactly the opcodes' (one trace value pushed and memoized); anything else (a new
    /// traceback, a negative size, the buffer's end) returns false having done nothing, and
    /// the opcodes run one by one.
    #[inline]
    fn fast_trace(&mut self) -> bool {
        /// An int opcode at `p`: (value, bytes).
        #[inline(always)]
        fn int_at(b: &[u8], p: usize) -> Option<(i64, usize)> {
            match b[p] {
                op::BININT1 => Some((b[p + 1] as i64, 2)),
                op::BININT2 => Some((u16::from_le_bytes([b[p + 1], b[p + 2]]) as i64, 3)),
                op::BININT => {
                    let v = i32::from_le_bytes([b[p + 1], b[p + 2], b[p + 3], b[p + 4]]);
                    Some((v as i64, 5))
                }
                op::LONG1 if b[p + 1] <= 8 => {
                    let n = b[p + 1] as usize;
                    let mut v: i64 = 0;
                    for i in 0..n {
                        v |= (b[p + 2 + i] as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[p + 1 + n] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    Some((v, 2 + n))
                }
                _ => None,
            }
        }
        // The longest form: MARK, 3 ints of up to 10 bytes, LONG_BINGET, TUPLE, LONG_BINPUT.
        const LONGEST: usize = 1 + 3 * 10 + 5 + 1 + 5;
        let b = self.input.bytes();
        if b.len() < LONGEST {
            return false;
        }
        let mut p = 0;
        let marked = b[0] == op::MARK;
        p += marked as usize;
        let Some((first, n)) = int_at(b, p) else {
            return false;
        };
        p += n;
        // `int frames` (3.4-3.5) or `int int frames` (3.6+).
        let second = match b[p] {
            op::BINGET | op::LONG_BINGET => None,
            _ => {
                let Some((v, n)) = int_at(b, p) else {
                    return false;
                };
                p += n;
                Some(v)
            }
        };
        let index = match b[p] {
            op::BINGET => {
                p += 2;
                b[p - 1] as usize
            }
            op::LONG_BINGET => {
                p += 5;
                u32::from_le_bytes([b[p - 4], b[p - 3], b[p - 2], b[p - 1]]) as usize
            }
            _ => return false,
        };
        let stack = match self.memo.get(index) {
            Some(Some(Value::Stack(s))) => *s,
            _ => return false,
        };
        let (layout, domain, size, nframe) = match (marked, second) {
            (true, Some(size)) => {
                let Some((nframe, n)) = int_at(b, p) else {
                    return false;
                };
                p += n;
                if b[p] != op::TUPLE {
                    return false;
                }
                (
                    TraceLayout::DomainSizeFramesNframe,
                    first,
                    size,
                    Some(nframe),
                )
            }
            (false, Some(size)) if b[p] == op::TUPLE3 => {
                (TraceLayout::DomainSizeFrames, first, size, None)
            }
            (false, None) if b[p] == op::TUPLE2 => (TraceLayout::SizeFrames, 0, first, None),
            _ => return false,
        };
        p += 1;
        if size < 0 {
            return false;
        }
        let memo_at = match b[p] {
            op::MEMOIZE => {
                p += 1;
                Some(self.memo_len)
            }
            op::BINPUT => {
                p += 2;
                Some(b[p - 1] as u64)
            }
            op::LONG_BINPUT => {
                p += 5;
                Some(u32::from_le_bytes([b[p - 4], b[p - 3], b[p - 2], b[p - 1]]) as u64)
            }
            _ => None,
        };
        let Ok(v) = self.trace(layout, domain, size, Value::Stack(stack), nframe, 0) else {
            return false;
        };
        self.input.consume(p);
        self.stack.push(v);
        if let Some(i) = memo_at {
            self.put(i, v);
        }
        true
    }

    // ---------------------------------------------------------------- reading arguments

    /// Consumes the opcode and its `N` argument bytes.
    #[inline]
    fn args<const N: usize>(&mut self, code: u8, at: u64) -> Res<[u8; N]> {
        if !self.input.fill(1 + N)? {
            return Err(self.cut(code, at));
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.input.bytes()[1..1 + N]);
        self.input.consume(1 + N);
        Ok(out)
    }

    fn cut(&self, code: u8, at: u64) -> FormatError {
        FormatError::Truncated {
            offset: self.input.offset() + self.input.available() as u64,
            context: format!("the {} opcode at byte {at}", name(code)),
        }
    }

    /// A little-endian two's-complement integer of `n` bytes (`LONG1`, `LONG4`).
    fn long(&mut self, n: u64, code: u8, at: u64) -> Res<i64> {
        if n > 8 {
            return Err(FormatError::NotTracemalloc(format!(
                "byte {at}: {} holds an integer of {n} bytes, larger than the 64 bits a \
                 tracemalloc size or line number takes",
                name(code)
            )));
        }
        let n = n as usize;
        if !self.input.fill(n)? {
            return Err(self.cut(code, at));
        }
        let bytes = &self.input.bytes()[..n];
        let mut v: i64 = 0;
        for (i, &b) in bytes.iter().enumerate() {
            v |= (b as i64) << (8 * i);
        }
        if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
            v -= 1i64 << (8 * n);
        }
        self.input.consume(n);
        Ok(v)
    }

    /// A text line after the opcode (`GET`, `PUT`): a decimal memo index.
    fn decimal_line(&mut self, code: u8, at: u64) -> Res<u64> {
        self.input.fill(1 + 24)?;
        let bytes = &self.input.bytes()[1..];
        let Some(nl) = bytes.iter().position(|&b| b == b'\n') else {
            if bytes.len() < 24 {
                return Err(self.cut(code, at));
            }
            return Err(self.malformed(
                code,
                at,
                "has no decimal index ending in a newline".into(),
            ));
        };
        let digits = &bytes[..nl];
        let index = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        let Some(index) = index else {
            let shown = String::from_utf8_lossy(digits).into_owned();
            return Err(self.malformed(code, at, format!("has index {shown:?}, not a decimal")));
        };
        self.input.consume(1 + nl + 1);
        Ok(index)
    }

    /// `GLOBAL module\nname\n`.
    fn global_lines(&mut self, at: u64) -> Res<Class> {
        self.input.fill(1 + 2 * MAX_LINE)?;
        let bytes = &self.input.bytes()[1..];
        let lines = bytes.iter().position(|&b| b == b'\n').and_then(|m| {
            let rest = &bytes[m + 1..];
            rest.iter()
                .position(|&b| b == b'\n')
                .map(|q| (m, m + 1 + q))
        });
        let Some((m, q)) = lines else {
            if bytes.len() < 2 * MAX_LINE {
                return Err(self.cut(op::GLOBAL, at));
            }
            return Err(self.malformed(
                op::GLOBAL,
                at,
                format!("has no module and name lines within {MAX_LINE} bytes each"),
            ));
        };
        let module = String::from_utf8_lossy(&bytes[..m]).into_owned();
        let qual = String::from_utf8_lossy(&bytes[m + 1..q]).into_owned();
        let class = self.class(&module, &qual, at)?;
        self.input.consume(1 + q + 1);
        Ok(class)
    }

    fn class(&self, module: &str, name: &str, at: u64) -> Res<Class> {
        match (module, name) {
            ("tracemalloc", "Snapshot") => Ok(Class::Snapshot),
            ("tracemalloc", "_Traces") => Ok(Class::Traces),
            _ => Err(FormatError::PickleGlobal {
                module: module.to_string(),
                name: name.to_string(),
                offset: at,
            }),
        }
    }

    /// A string opcode's UTF-8 bytes (Python writes lone surrogates with `surrogatepass`;
    /// those decode lossily and are counted).
    fn string(&mut self, n: u64, code: u8, at: u64) -> Res<()> {
        let Ok(len) = usize::try_from(n) else {
            return Err(self.cut(code, at));
        };
        if len > isize::MAX as usize / 2 {
            return Err(self.cut(code, at));
        }
        if !self.input.fill(len)? {
            return Err(self.cut(code, at));
        }
        let bytes = &self.input.bytes()[..len];
        let s: Box<str> = match std::str::from_utf8(bytes) {
            Ok(s) => s.into(),
            Err(_) => {
                self.bad_utf8 += 1;
                String::from_utf8_lossy(bytes).into()
            }
        };
        self.input.consume(len);
        let id = self.new_id(self.strings.len(), "strings", at)?;
        self.strings.push(s);
        self.stack.push(Value::Str(id));
        Ok(())
    }

    // ---------------------------------------------------------------- the stack and memo

    #[inline]
    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn top(&self, code: u8, at: u64) -> Res<Value> {
        if self.stack.len() <= self.fence() {
            return Err(self.underflow(code, at, 1));
        }
        Ok(self.stack[self.stack.len() - 1])
    }

    /// Closes the last `MARK`; returns where its items start.
    fn pop_mark(&mut self, code: u8, at: u64) -> Res<usize> {
        self.marks
            .pop()
            .ok_or_else(|| self.malformed(code, at, "has no MARK to close".into()))
    }

    /// Stores a memo entry. Indices are dense as Python writes them (`MEMOIZE`, sequential
    /// `PUT`s: pushed); any other index goes to a map, so no index allocates more than its
    /// own entry.
    fn put(&mut self, index: u64, v: Value) {
        let len = self.memo.len() as u64;
        let new = if index < len {
            self.memo[index as usize].replace(v).is_none()
        } else if index == len && index < u32::MAX as u64 {
            // The map never holds indices below the dense length.
            let was_sparse =
                !self.sparse_memo.is_empty() && self.sparse_memo.remove(&index).is_some();
            self.memo.push(Some(v));
            !was_sparse
        } else {
            self.sparse_memo.insert(index, v).is_none()
        };
        self.memo_len += new as u64;
    }

    fn get(&mut self, index: u64, code: u8, at: u64) -> Res<()> {
        let v = match self.memo.get(index as usize) {
            Some(Some(v)) => Some(*v),
            _ => self.sparse_memo.get(&index).copied(),
        };
        match v {
            Some(v) => {
                self.stack.push(v);
                Ok(())
            }
            None => {
                Err(self.malformed(code, at, format!("reads memo entry {index}, never stored")))
            }
        }
    }

    fn new_id(&self, len: usize, what: &str, at: u64) -> Res<u32> {
        u32::try_from(len).map_err(|_| {
            FormatError::TooLarge(format!(
                "more than 2^32 {what} in the pickle (at byte {at})"
            ))
        })
    }

    fn list_at(&self, i: usize, code: u8, at: u64) -> Res<u32> {
        match self.stack[i] {
            Value::List(l) => Ok(l),
            v => Err(self.malformed(
                code,
                at,
                format!("needs a list, found {}", self.describe(v)),
            )),
        }
    }

    fn dict_at(&self, i: usize, code: u8, at: u64) -> Res<u32> {
        match self.stack[i] {
            Value::Dict(d) => Ok(d),
            v => Err(self.malformed(
                code,
                at,
                format!("needs a dict, found {}", self.describe(v)),
            )),
        }
    }

    fn malformed(&self, code: u8, at: u64, problem: String) -> FormatError {
        FormatError::Pickle {
            offset: at,
            opcode: name(code),
            problem,
        }
    }

    fn underflow(&self, code: u8, at: u64, n: usize) -> FormatError {
        let have = self.stack.len().saturating_sub(self.fence());
        let where_ = if self.marks.is_empty() {
            "on the stack"
        } else {
            "above the last MARK"
        };
        self.malformed(
            code,
            at,
            format!(
                "needs {n} value{} {where_}, found {have}",
                if n == 1 { "" } else { "s" }
            ),
        )
    }

    // ---------------------------------------------------------------- tracemalloc's values

    /// The tuple of `stack[start..]`, recognised as a frame, a traceback or a trace when it
    /// is one.
    fn tuple(&mut self, start: usize, at: u64) -> Res<Value> {
        let items = &self.stack[start..];
        let v = match *items {
            [] => Value::EmptyTuple,
            [Value::Str(file), Value::Int(line)] => Value::Frame(self.frame(file, line, at)?),
            [Value::Int(size), frames] if is_frames(frames) => {
                self.trace(TraceLayout::SizeFrames, 0, size, frames, None, at)?
            }
            [Value::Int(domain), Value::Int(size), frames] if is_frames(frames) => self.trace(
                TraceLayout::DomainSizeFrames,
                domain,
                size,
                frames,
                None,
                at,
            )?,
            [Value::Int(domain), Value::Int(size), frames, Value::Int(nframe)]
                if is_frames(frames) =>
            {
                let layout = TraceLayout::DomainSizeFramesNframe;
                self.trace(layout, domain, size, frames, Some(nframe), at)?
            }
            _ if items.iter().all(|v| matches!(v, Value::Frame(_))) => {
                self.scratch.clear();
                self.scratch.extend(items.iter().map(|v| match v {
                    Value::Frame(f) => *f,
                    _ => 0,
                }));
                let depth = self.scratch.len() as u32;
                let id = self.builder.stack(&self.scratch);
                self.note_stack(id, depth);
                Value::Stack(id)
            }
            _ => {
                let boxed: Box<[Value]> = items.into();
                let id = self.new_id(self.tuples.len(), "tuples", at)?;
                self.tuples.push(boxed);
                Value::Tuple(id)
            }
        };
        Ok(v)
    }

    fn frame(&mut self, file: u32, line: i64, at: u64) -> Res<FrameId> {
        if let Some(&id) = self.frame_ids.get(&(file, line)) {
            return Ok(id);
        }
        let name = &self.strings[file as usize];
        self.frame_name_bytes += name.len() as u64;
        let budget = FRAME_NAME_BYTES_BASE + FRAME_NAME_BYTES_PER_INPUT_BYTE * at;
        if self.frame_name_bytes > budget {
            return Err(FormatError::TooLarge(format!(
                "the file names of the distinct (filename, lineno) frames add up to more than \
                 {budget} bytes by byte {at}: not a real snapshot"
            )));
        }
        let id = self.builder.frame(Frame::new("", name.to_string(), line));
        self.frame_ids.insert((file, line), id);
        Ok(id)
    }

    fn note_stack(&mut self, id: StackId, depth: u32) {
        let i = id as usize;
        if i >= self.stack_depth.len() {
            self.stack_depth.resize(i + 1, 0);
        }
        self.stack_depth[i] = depth;
    }

    fn trace(
        &mut self,
        layout: TraceLayout,
        domain: i64,
        size: i64,
        frames: Value,
        total_nframe: Option<i64>,
        at: u64,
    ) -> Res<Value> {
        if size < 0 {
            return Err(FormatError::NotTracemalloc(format!(
                "the trace tuple ending at byte {at} has a negative size ({size})"
            )));
        }
        let stack = match frames {
            Value::Stack(s) => s,
            _ => {
                let id = self.builder.stack(&[]);
                self.note_stack(id, 0);
                id
            }
        };
        let mut flags = layout.code();
        let depth = self.stack_depth.get(stack as usize).copied().unwrap_or(0);
        if total_nframe.is_some_and(|n| n > depth as i64) {
            flags |= TRUNCATED;
        }
        if domain != 0 {
            flags |= FOREIGN_DOMAIN;
        }
        Ok(Value::Trace { flags, stack, size })
    }

    /// `list.append(v)`: traces go to the builder (the list of traces keeps nothing), other
    /// values into the list.
    fn append(&mut self, list: u32, v: Value, at: u64) -> Res<()> {
        let is_trace = matches!(v, Value::Trace { .. });
        match (&mut self.lists[list as usize], is_trace) {
            (List::Items(items), false) => {
                items.push(v);
                return Ok(());
            }
            (List::Traces, true) => {}
            (List::Items(items), true) => {
                if !items.is_empty() {
                    return Err(FormatError::NotTracemalloc(format!(
                        "byte {at}: a trace is appended to a list of other values (a list of \
                         traces holds only traces)"
                    )));
                }
                if self.trace_list.is_some() {
                    return Err(FormatError::NotTracemalloc(format!(
                        "byte {at}: traces are appended to a second list; a snapshot has one \
                         list of traces"
                    )));
                }
                self.lists[list as usize] = List::Traces;
                self.trace_list = Some(list);
            }
            (List::Traces, false) => {
                let found = self.describe(v);
                return Err(FormatError::NotTracemalloc(format!(
                    "byte {at}: {found} is appended to the list of traces, expected a trace \
                     tuple"
                )));
            }
        }
        self.add_trace(v, at)
    }

    /// Counts a trace and adds `[size, 1]` to its stack's sample.
    pub(super) fn add_trace(&mut self, v: Value, at: u64) -> Res<()> {
        let Value::Trace { flags, stack, size } = v else {
            return Ok(());
        };
        let layout = TraceLayout::from_code(flags);
        match self.stats.layout {
            None => self.stats.layout = Some(layout),
            Some(l) if l == layout => {}
            Some(l) => {
                return Err(FormatError::NotTracemalloc(format!(
                    "byte {at}: a trace of layout {} among traces of layout {}",
                    layout.as_str(),
                    l.as_str()
                )))
            }
        }
        let s = &mut self.stats;
        if s.traces >= u32::MAX as u64 {
            return Err(FormatError::TooLarge(format!(
                "more than {} traces (at byte {at})",
                u32::MAX
            )));
        }
        s.traces += 1;
        s.total_size = s.total_size.saturating_add(size);
        s.truncated += (flags & TRUNCATED != 0) as u64;
        s.foreign_domain += (flags & FOREIGN_DOMAIN != 0) as u64;
        self.builder.add(stack, &[size, 1]);
        Ok(())
    }

    /// A value in a few words, for messages.
    pub(super) fn describe(&self, v: Value) -> String {
        match v {
            Value::None => "None".into(),
            Value::Bool(b) => format!("a bool ({})", if b { "True" } else { "False" }),
            Value::Int(i) => format!("an int ({i})"),
            Value::Str(s) => {
                let s = &self.strings[s as usize];
                let shown: String = s.chars().take(40).collect();
                if shown.len() < s.len() {
                    format!("a str ({shown:?}...)")
                } else {
                    format!("a str ({shown:?})")
                }
            }
            Value::EmptyTuple => "an empty tuple".into(),
            Value::Frame(_) => "a (filename, lineno) tuple".into(),
            Value::Stack(_) => "a tuple of (filename, lineno) frames".into(),
            Value::Trace { .. } => "a trace tuple".into(),
            Value::Tuple(t) => format!("a tuple of {} items", self.tuples[t as usize].len()),
            Value::List(_) => "a list".into(),
            Value::Dict(_) => "a dict".into(),
            Value::Class(c) => format!("the class {}", c.as_str()),
            Value::Object(o) => format!("a {} object", self.objects[o as usize].class.as_str()),
        }
    }
}

fn is_frames(v: Value) -> bool {
    matches!(v, Value::Stack(_) | Value::EmptyTuple)
}
