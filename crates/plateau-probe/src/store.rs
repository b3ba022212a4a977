//! The series store: what `plateau watch` records and `plateau classify` reads.
//!
//! One JSON object per line, appended; the first line is a header. A line is written with one
//! `write` call on a file opened for appending, so a killed writer loses at most the sample it
//! was writing; a torn last line is ignored on reading and cut off when a later `watch`
//! resumes the same file. Lines:
//!
//! ```text
//! {"plateau_series":1,"target":"node app.js","started":1732430000.0}
//! {"t":1732430001.0,"rss":52428800,"anon":41943040,"pid":4242}
//! {"t":1732430001.2,"gc_live":30408704}
//! {"t":1732430002.0,"limit":2147483648}
//! {"t":1732430050.0,"event":"restart","pid":4250}
//! {"t":1732430050.0,"note":"smaps_rollup off: 3.1 ms a read"}
//! ```
//!
//! Signal keys are [`Signal::key`]; `limit` is a number or `null` (unlimited). A plain CSV with
//! the header `timestamp,bytes` (or `timestamp,<signal key>,...`) is read too, and so is a GC
//! log (post-GC heap: live after full collections, after partial ones apart; timed by the log's
//! uptime stamps).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use plateau_analysis::series::{EventKind, MemorySeries, Signal};

use crate::gclog::read_gc_log;

pub const STORE_VERSION: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Format { path: PathBuf, what: String },
}

/// What a series file said about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreHeader {
    pub target: String,
    pub started: f64,
}

/// A series read from a file, with what was skipped on the way.
#[derive(Debug)]
pub struct LoadedSeries {
    pub series: MemorySeries,
    pub header: Option<StoreHeader>,
    /// Readings kept.
    pub readings: usize,
    /// Lines skipped, with the first few reasons ("line 7: bytes `abc` is not an integer").
    pub skipped: usize,
    pub warnings: Vec<String>,
}

const MAX_WARNINGS: usize = 5;

/// Reads a store file or a CSV, telling them apart by the first line. Errors only when the
/// input cannot be read at all or holds no readings.
pub fn read_series_file(path: &Path) -> Result<LoadedSeries, StoreError> {
    let file = File::open(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let as_series = read_series(BufReader::new(file));
    let result = match as_series {
        Err(StoreError::Format { what, .. }) if what.starts_with("line 1: expected the CSV") => {
            read_gc_log_series(path).map_err(|gc_error| StoreError::Format {
                path: PathBuf::new(),
                what: format!("{what}; nor is it a GC log ({gc_error})"),
            })
        }
        other => other,
    };
    result.map_err(|err| match err {
        StoreError::Io { source, .. } => StoreError::Io {
            path: path.to_path_buf(),
            source,
        },
        StoreError::Format { what, .. } => StoreError::Format {
            path: path.to_path_buf(),
            what,
        },
    })
}

/// A GC log (Node `--trace-gc`, JVM `-Xlog:gc`, Go `gctrace`) as post-GC heap series, timed by
/// the log's own uptime stamps.
fn read_gc_log_series(path: &Path) -> Result<LoadedSeries, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let (events, stats) = read_gc_log(BufReader::new(file)).map_err(|e| e.to_string())?;
    let mut loaded = LoadedSeries {
        series: MemorySeries::new(),
        header: None,
        readings: 0,
        skipped: stats.unparseable as usize,
        warnings: Vec::new(),
    };
    for event in &events {
        if let Some(t) = event.uptime_s {
            let signal = if event.full {
                Signal::GcLive
            } else {
                Signal::PostGc
            };
            loaded.series.push(signal, t, event.after_bytes);
            loaded.readings += 1;
        }
    }
    if loaded.readings == 0 {
        return Err(format!(
            "{} GC events, none with a time stamp",
            stats.events
        ));
    }
    if let Some(first) = &stats.first_unparseable {
        let warning = format!(
            "{} GC line(s) could not be read (first: line {}: {})",
            stats.unparseable, first.line, first.reason
        );
        note(&mut loaded, warning);
    }
    Ok(loaded)
}

/// As [`read_series_file`], from any reader (errors carry an empty path).
pub fn read_series(reader: impl BufRead) -> Result<LoadedSeries, StoreError> {
    let mut lines = LineReader::new(reader);
    let format_error = |what: String| StoreError::Format {
        path: PathBuf::new(),
        what,
    };
    let Some((first, _)) = lines.next_line().map_err(io_error)? else {
        return Err(format_error("empty file: expected a plateau series (JSON lines) or a CSV with the header `timestamp,bytes`".into()));
    };
    let first = first.trim_start_matches('\u{feff}').trim().to_string();
    let mut loaded = LoadedSeries {
        series: MemorySeries::new(),
        header: None,
        readings: 0,
        skipped: 0,
        warnings: Vec::new(),
    };
    if first.starts_with('{') {
        let header: serde_json::Value = serde_json::from_str(&first)
            .map_err(|e| format_error(format!("line 1: not a plateau series header: {e}")))?;
        if header.get("plateau_series").and_then(|v| v.as_u64()) != Some(STORE_VERSION) {
            return Err(format_error(format!(
                "line 1: expected a header with \"plateau_series\":{STORE_VERSION}"
            )));
        }
        loaded.header = Some(StoreHeader {
            target: header["target"].as_str().unwrap_or_default().to_string(),
            started: header["started"].as_f64().unwrap_or(0.0),
        });
        read_store_lines(&mut lines, &mut loaded)?;
    } else {
        let columns = csv_columns(&first).map_err(format_error)?;
        read_csv_lines(&mut lines, &columns, &mut loaded)?;
    }
    if loaded.readings == 0 {
        let why = loaded
            .warnings
            .first()
            .map_or(String::new(), |w| format!(" ({w})"));
        return Err(format_error(format!("no usable readings{why}")));
    }
    let backwards = loaded.series.out_of_order();
    if backwards > 0 {
        let warning =
            format!("{backwards} reading(s) dropped: their time went backwards (a clock jump?)");
        note(&mut loaded, warning);
    }
    Ok(loaded)
}

fn io_error(source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: PathBuf::new(),
        source,
    }
}

fn note(loaded: &mut LoadedSeries, warning: String) {
    if loaded.warnings.len() < MAX_WARNINGS {
        loaded.warnings.push(warning);
    }
}

fn skip(loaded: &mut LoadedSeries, line: usize, why: String) {
    loaded.skipped += 1;
    note(loaded, format!("line {line}: {why}"));
}

fn read_store_lines(
    lines: &mut LineReader<impl BufRead>,
    loaded: &mut LoadedSeries,
) -> Result<(), StoreError> {
    while let Some((text, complete)) = lines.next_line().map_err(io_error)? {
        let number = lines.number;
        if text.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(_) if !complete => {
                note(
                    loaded,
                    format!("line {number}: incomplete last line ignored (the writer was killed while writing it)"),
                );
                continue;
            }
            Err(e) => {
                skip(loaded, number, format!("not JSON: {e}"));
                continue;
            }
        };
        let Some(t) = value.get("t").and_then(|t| t.as_f64()) else {
            skip(loaded, number, "no numeric \"t\"".to_string());
            continue;
        };
        for signal in Signal::ALL {
            if let Some(raw) = value.get(signal.key()) {
                match raw.as_u64() {
                    Some(bytes) => {
                        loaded.series.push(signal, t, bytes);
                        loaded.readings += 1;
                    }
                    None => skip(
                        loaded,
                        number,
                        format!("\"{}\" is not a byte count: {raw}", signal.key()),
                    ),
                }
            }
        }
        if let Some(limit) = value.get("limit") {
            loaded.series.set_limit(t, limit.as_u64());
        }
        match value.get("event").and_then(|e| e.as_str()) {
            Some("restart") => loaded.series.push_event(t, EventKind::Restart),
            Some("oom_kill") => loaded.series.push_event(t, EventKind::OomKill),
            _ => {}
        }
    }
    Ok(())
}

/// The columns of a CSV header: `timestamp` first, then `bytes` or signal keys.
fn csv_columns(header: &str) -> Result<Vec<Signal>, String> {
    let names: Vec<&str> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    if names.first() != Some(&"timestamp") || names.len() < 2 {
        let binary = header
            .chars()
            .any(|c| c == char::REPLACEMENT_CHARACTER || (c.is_control() && c != '\t'));
        let found = if binary {
            "binary data".to_string()
        } else {
            format!("`{}`", truncate(header, 60))
        };
        return Err(format!(
            "line 1: expected the CSV header `timestamp,bytes` (or a plateau series), found {found}"
        ));
    }
    names[1..]
        .iter()
        .map(|name| {
            Signal::from_key(name).ok_or_else(|| {
                format!(
                    "line 1: unknown column `{name}`; expected `bytes` or one of {}",
                    Signal::ALL.map(Signal::key).join(", ")
                )
            })
        })
        .collect()
}

fn read_csv_lines(
    lines: &mut LineReader<impl BufRead>,
    columns: &[Signal],
    loaded: &mut LoadedSeries,
) -> Result<(), StoreError> {
    while let Some((text, complete)) = lines.next_line().map_err(io_error)? {
        let number = lines.number;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let t = match fields[0].parse::<f64>() {
            Ok(t) if t.is_finite() => t,
            _ => {
                skip(
                    loaded,
                    number,
                    format!(
                        "timestamp `{}` is not a number of seconds",
                        truncate(fields[0], 30)
                    ),
                );
                continue;
            }
        };
        if fields.len() != columns.len() + 1 {
            if complete {
                skip(
                    loaded,
                    number,
                    format!("{} fields, expected {}", fields.len(), columns.len() + 1),
                );
            }
            continue;
        }
        for (signal, field) in columns.iter().zip(&fields[1..]) {
            if field.is_empty() {
                continue;
            }
            match field.parse::<u64>() {
                Ok(bytes) => {
                    loaded.series.push(*signal, t, bytes);
                    loaded.readings += 1;
                }
                Err(_) => skip(
                    loaded,
                    number,
                    format!(
                        "{} `{}` is not an integer byte count",
                        signal.key(),
                        truncate(field, 30)
                    ),
                ),
            }
        }
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).chain(std::iter::once('…')).collect()
    }
}

const MAX_LINE_BYTES: u64 = 64 * 1024;

/// Lines with their completeness (a last line without a newline may be torn).
struct LineReader<R> {
    reader: R,
    number: usize,
    buffer: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    fn new(reader: R) -> Self {
        LineReader {
            reader,
            number: 0,
            buffer: Vec::new(),
        }
    }

    fn next_line(&mut self) -> std::io::Result<Option<(String, bool)>> {
        self.buffer.clear();
        // A series line is short; a heap snapshot's first "line" can be the whole file.
        let mut limited = (&mut self.reader).take(MAX_LINE_BYTES + 1);
        if limited.read_until(b'\n', &mut self.buffer)? == 0 {
            return Ok(None);
        }
        if self.buffer.len() as u64 > MAX_LINE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line {} is longer than {} KiB: not a memory series",
                    self.number + 1,
                    MAX_LINE_BYTES / 1024
                ),
            ));
        }
        self.number += 1;
        let complete = self.buffer.last() == Some(&b'\n');
        let text = String::from_utf8_lossy(&self.buffer);
        Ok(Some((
            text.trim_end_matches(['\n', '\r']).to_string(),
            complete,
        )))
    }
}

/// One line of the store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    pub t: f64,
    pub values: Vec<(Signal, u64)>,
    /// `Some(None)`: the limit became unlimited.
    pub limit: Option<Option<u64>>,
    pub event: Option<EventKind>,
    pub pid: Option<u32>,
    pub note: Option<String>,
}

impl Record {
    pub fn at(t: f64) -> Self {
        Record {
            t,
            ..Record::default()
        }
    }

    fn to_line(&self) -> String {
        let mut line = format!("{{\"t\":{}", json_number(self.t));
        for (signal, bytes) in &self.values {
            line.push_str(&format!(",\"{}\":{bytes}", signal.key()));
        }
        match self.limit {
            Some(Some(limit)) => line.push_str(&format!(",\"limit\":{limit}")),
            Some(None) => line.push_str(",\"limit\":null"),
            None => {}
        }
        if let Some(event) = self.event {
            let name = match event {
                EventKind::Restart => "restart",
                EventKind::OomKill => "oom_kill",
            };
            line.push_str(&format!(",\"event\":\"{name}\""));
        }
        if let Some(pid) = self.pid {
            line.push_str(&format!(",\"pid\":{pid}"));
        }
        if let Some(note) = &self.note {
            line.push_str(&format!(
                ",\"note\":{}",
                serde_json::Value::from(note.as_str())
            ));
        }
        line.push_str("}\n");
        line
    }
}

fn json_number(t: f64) -> String {
    if t.is_finite() {
        format!("{t:.3}")
    } else {
        "0".to_string()
    }
}

/// Appends records to a store file.
pub struct SeriesWriter {
    file: File,
    path: PathBuf,
}

/// What opening an existing store found.
#[derive(Debug, PartialEq)]
pub struct Resumed {
    /// The header already in the file.
    pub header: StoreHeader,
    /// Bytes of a torn last line that were cut off.
    pub cut_bytes: u64,
}

impl SeriesWriter {
    /// Creates the file with `header`, or resumes an existing store (its own header kept, a
    /// torn last line cut off). A file that is not a store is refused rather than appended to.
    pub fn open(path: &Path, header: &StoreHeader) -> Result<(Self, Option<Resumed>), StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let length = file.metadata().map_err(io)?.len();
        let mut writer = SeriesWriter {
            file,
            path: path.to_path_buf(),
        };
        if length == 0 {
            let line = format!(
                "{{\"plateau_series\":{STORE_VERSION},\"target\":{},\"started\":{}}}\n",
                serde_json::Value::from(header.target.as_str()),
                json_number(header.started)
            );
            writer.write_line(&line)?;
            return Ok((writer, None));
        }
        let resumed = writer.resume(length)?;
        Ok((writer, Some(resumed)))
    }

    fn resume(&mut self, length: u64) -> Result<Resumed, StoreError> {
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut first = String::new();
        BufReader::new((&self.file).take(64 * 1024))
            .read_line(&mut first)
            .map_err(io)?;
        let header: Option<serde_json::Value> = serde_json::from_str(first.trim()).ok();
        let header = header
            .filter(|h| h.get("plateau_series").and_then(|v| v.as_u64()) == Some(STORE_VERSION))
            .ok_or_else(|| StoreError::Format {
                path: self.path.clone(),
                what: "exists and is not a plateau series; refusing to append to it".to_string(),
            })?;
        // Cut a torn tail: everything after the last newline.
        let tail_len = length.min(64 * 1024);
        self.file
            .seek(SeekFrom::Start(length - tail_len))
            .map_err(io)?;
        let mut tail = Vec::with_capacity(tail_len as usize);
        (&self.file)
            .take(tail_len)
            .read_to_end(&mut tail)
            .map_err(io)?;
        let keep = match tail.iter().rposition(|&b| b == b'\n') {
            Some(newline) => length - tail_len + newline as u64 + 1,
            None => length - tail_len,
        };
        if keep < length {
            self.file.set_len(keep).map_err(io)?;
        }
        Ok(Resumed {
            header: StoreHeader {
                target: header["target"].as_str().unwrap_or_default().to_string(),
                started: header["started"].as_f64().unwrap_or(0.0),
            },
            cut_bytes: length - keep,
        })
    }

    pub fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        self.write_line(&record.to_line())
    }

    /// Flushes to the disk (not only to the kernel): call now and then, not per sample.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_line(&mut self, line: &str) -> Result<(), StoreError> {
        // One write of the whole line: a kill between samples never leaves half a line.
        self.file
            .write_all(line.as_bytes())
            .map_err(|source| StoreError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<LoadedSeries, StoreError> {
        read_series(text.as_bytes())
    }

    #[test]
    fn csv_with_the_contract_header() {
        let loaded = read("timestamp,bytes\n0,100\n1.5,200\n3,300\n").unwrap();
        assert_eq!(loaded.readings, 3);
        assert_eq!(loaded.series.signal(Signal::Bytes)[1].t, 1.5);
        assert_eq!(loaded.series.signal(Signal::Bytes)[2].bytes, 300);
    }

    #[test]
    fn csv_bad_values_are_skipped_and_named() {
        let loaded = read("timestamp,bytes\n0,100\nx,5\n2,abc\n3,-4\n4,400\n").unwrap();
        assert_eq!(loaded.readings, 2);
        assert_eq!(loaded.skipped, 3);
        assert!(
            loaded.warnings[0].starts_with("line 3: timestamp `x`"),
            "{:?}",
            loaded.warnings
        );
        assert!(loaded.warnings[1].contains("line 4: bytes `abc` is not an integer"));
    }

    #[test]
    fn a_huge_first_line_is_refused_without_reading_it_all() {
        let mut text = String::from("{\"snapshot\":{\"meta\":");
        text.push_str(&"1,".repeat(100_000));
        let err = read(&text).unwrap_err().to_string();
        assert!(err.contains("line 1 is longer than 64 KiB"), "{err}");
    }

    #[test]
    fn csv_errors() {
        let err = read("").unwrap_err().to_string();
        assert!(err.contains("empty file"), "{err}");
        let err = read("time,value\n1,2\n").unwrap_err().to_string();
        assert!(
            err.contains("expected the CSV header `timestamp,bytes`"),
            "{err}"
        );
        let err = read("timestamp,bytes\n").unwrap_err().to_string();
        assert!(err.contains("no usable readings"), "{err}");
        let err = read("timestamp,bytes\nnope,1\n").unwrap_err().to_string();
        assert!(err.contains("line 2: timestamp `nope`"), "{err}");
    }

    #[test]
    fn clock_jumps_back_are_dropped_and_reported() {
        let loaded = read("timestamp,bytes\n10,1\n11,2\n5,3\n12,4\n").unwrap();
        assert_eq!(loaded.series.signal(Signal::Bytes).len(), 3);
        assert!(loaded.warnings.iter().any(|w| w.contains("backwards")));
    }

    #[test]
    fn store_round_trip_resume_and_torn_tail() {
        let dir = std::env::temp_dir().join(format!("plateau-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.series");
        let _ = std::fs::remove_file(&path);
        let header = StoreHeader {
            target: "node \"app\".js".to_string(),
            started: 100.0,
        };
        let (mut writer, resumed) = SeriesWriter::open(&path, &header).unwrap();
        assert!(resumed.is_none());
        let mut record = Record::at(101.0);
        record.values = vec![(Signal::Resident, 1000), (Signal::Anonymous, 800)];
        record.limit = Some(Some(4096));
        record.pid = Some(7);
        writer.append(&record).unwrap();
        let mut event = Record::at(102.0);
        event.event = Some(EventKind::Restart);
        event.note = Some("new pid \"8\"".to_string());
        writer.append(&event).unwrap();
        drop(writer);
        // A writer killed in the middle of a line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"t\":103.0,\"rss\":12").unwrap();
        drop(file);

        let loaded = read_series_file(&path).unwrap();
        assert_eq!(loaded.header.as_ref().unwrap(), &header);
        assert_eq!(loaded.readings, 2);
        assert_eq!(loaded.series.events().len(), 1);
        assert_eq!(loaded.series.limits().next(), Some((101.0, Some(4096))));
        assert!(loaded.warnings[0].contains("incomplete last line"));

        let (mut writer, resumed) = SeriesWriter::open(&path, &StoreHeader::default()).unwrap();
        let resumed = resumed.unwrap();
        assert_eq!(resumed.header, header);
        assert_eq!(resumed.cut_bytes, 19);
        let mut record = Record::at(104.0);
        record.values = vec![(Signal::Resident, 1100)];
        writer.append(&record).unwrap();
        let loaded = read_series_file(&path).unwrap();
        assert_eq!(loaded.series.signal(Signal::Resident).len(), 2);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

        std::fs::write(&path, "timestamp,bytes\n").unwrap();
        let err = SeriesWriter::open(&path, &header)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not a plateau series"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
