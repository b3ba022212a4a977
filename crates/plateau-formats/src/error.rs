use plateau_graph::GraphError;

/// Why a file could not be read. One message per failure, naming the byte offset (or the
/// record) and what was expected there.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The underlying reader failed.
    #[error("i/o error at byte {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },

    /// Nothing (or only whitespace) to read.
    #[error("empty input: expected a V8 heap snapshot (a JSON object)")]
    Empty,

    /// The input does not start with a JSON object.
    #[error(
        "not a V8 heap snapshot: byte {offset} is {found}, expected `{{` opening a JSON object"
    )]
    NotJsonObject { offset: u64, found: String },

    /// The input ends in the middle of something.
    #[error("truncated at byte {offset} inside {context}")]
    Truncated { offset: u64, context: String },

    /// A byte that cannot appear where it is.
    #[error("syntax error at byte {offset} inside {context}: expected {expected}, found {found}")]
    Syntax {
        offset: u64,
        context: String,
        expected: String,
        found: String,
    },

    /// A number with more digits than 64 bits hold.
    #[error("number too large at byte {offset} inside {context}: it does not fit in 64 bits")]
    NumberTooLarge { offset: u64, context: String },

    /// A top-level key every snapshot has is absent.
    #[error("not a V8 heap snapshot: the top-level object has no {key:?} {what}")]
    MissingKey {
        key: &'static str,
        what: &'static str,
    },

    /// `nodes`, `edges` or `locations` came before the `snapshot` header that describes them.
    #[error("{key:?} at byte {offset} comes before \"snapshot\": the header (snapshot.meta) must precede the arrays it describes")]
    HeaderNotFirst { key: String, offset: u64 },

    /// The same top-level key twice.
    #[error("duplicate key {key:?} at byte {offset}")]
    DuplicateKey { key: String, offset: u64 },

    /// A top-level value of the wrong JSON type.
    #[error("{key:?} at byte {offset} is {found}, expected {expected}")]
    WrongType {
        key: String,
        offset: u64,
        expected: &'static str,
        found: String,
    },

    /// `snapshot.meta` lacks a field or has one of the wrong shape.
    #[error("invalid snapshot header: {field}: {problem}")]
    Meta { field: String, problem: String },

    /// A flat integer array ends in the middle of a record.
    #[error("{key:?} ends at byte {offset} with {values} numbers, not a multiple of the {fields} fields per {record}")]
    PartialRecord {
        key: &'static str,
        offset: u64,
        values: u64,
        fields: usize,
        record: &'static str,
    },

    /// A field of one record has a value it cannot have, found while reading.
    #[error("{what} at byte {offset}: {field:?} {value} {problem}")]
    Field {
        what: String,
        offset: u64,
        field: String,
        value: u64,
        problem: String,
    },

    /// A record refers to something that does not exist (found after reading).
    #[error("{what}: {field:?} {value} {problem}")]
    Reference {
        what: String,
        field: &'static str,
        value: u64,
        problem: String,
    },

    /// The arrays disagree with each other.
    #[error("inconsistent snapshot: {0}")]
    Inconsistent(String),

    /// Not a pprof `profile.proto` at all (empty, text, JSON, another dump format).
    #[error("not a pprof profile (profile.proto, optionally gzipped): {0}")]
    NotPprof(String),

    /// A protobuf encoding error: a tag, varint or length that cannot be decoded, or a field
    /// with a wire type its schema type cannot have. `context` is the field path
    /// (`Profile.sample[12].label[0]`).
    #[error("invalid protobuf at byte {offset} inside {context}: {problem}")]
    Protobuf {
        offset: u64,
        context: String,
        problem: String,
    },

    /// A pprof profile whose messages decode but do not fit together (a string index past
    /// the string table, a sample naming a location that does not exist, a sample with the
    /// wrong number of values). `what` is the field path (`Profile.sample[12]`).
    #[error("invalid profile: {what} at byte {offset}: {problem}")]
    Profile {
        what: String,
        offset: u64,
        problem: String,
    },

    /// More nodes or edges than plateau's 32-bit ids address.
    #[error("snapshot too large: {0}")]
    TooLarge(String),

    /// An empty file where a format that cannot be empty was expected (names the format).
    #[error("empty input: expected {0}")]
    EmptyInput(&'static str),

    /// A pickle that is not (or does not hold) a tracemalloc snapshot: another format,
    /// another object, or a snapshot of the wrong shape. The message says where and what.
    #[error("not a tracemalloc snapshot: {0}")]
    NotTracemalloc(String),

    /// A pickle opcode a tracemalloc snapshot never contains (`REDUCE`, `INST`, `EXT1`...).
    /// The pickle reader refuses it before doing anything with it.
    #[error("opcode {name} (0x{code:02x}) at byte {offset}: not part of a tracemalloc snapshot; nothing was executed")]
    PickleOpcode {
        name: &'static str,
        code: u8,
        offset: u64,
    },

    /// A pickle global other than `tracemalloc.Snapshot` and `tracemalloc._Traces`
    /// (`os.system`...). Nothing is imported, looked up or called.
    #[error("global {module}.{name} at byte {offset}: not part of a tracemalloc snapshot (only tracemalloc.Snapshot and tracemalloc._Traces are); nothing was imported or executed")]
    PickleGlobal {
        module: String,
        name: String,
        offset: u64,
    },

    /// A pickle opcode used against the pickle machine's rules (an empty stack, a `MARK`
    /// missing, `APPENDS` on something that is not a list...).
    #[error("malformed pickle at byte {offset}: {opcode} {problem}")]
    Pickle {
        offset: u64,
        opcode: &'static str,
        problem: String,
    },

    /// The arrays passed every reader check but the graph engine refused them.
    #[error("invalid graph: {0}")]
    Graph(#[from] GraphError),
}

/// Describes a byte for error messages: `'x'`, `byte 0xff`, `end of input`.
pub(crate) fn describe_byte(b: Option<u8>) -> String {
    match b {
        None => "end of input".to_string(),
        Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
        Some(b' ') => "a space".to_string(),
        Some(b'\n') => "a newline".to_string(),
        Some(b) => format!("byte 0x{b:02x}"),
    }
}
