//! The allocation-profile model: where memory was allocated, not who holds it.
//!
//! Owns: [`AllocProfile`] — value types (`inuse_space`/bytes, `count`...), deduplicated frames
//! and stacks (leaf, i.e. the allocating frame, first) and samples (one stack and one value
//! per value type) — and [`ProfileBuilder`], which interns frames and stacks and merges
//! samples of the same stack. Python tracemalloc snapshots and pprof profiles (Go, jemalloc,
//! gperftools) both become this shape.
//!
//! Must not know: any file format or IO, what a leak is, how sites are grouped, compared or
//! shown. There is no object graph here, so no retained size: whoever reports on a profile
//! must say so.
//!
//! ```
//! use plateau_profile::{Frame, ProfileBuilder, Producer, ValueType};
//! let mut b = ProfileBuilder::new(Producer::Tracemalloc, vec![
//!     ValueType::new("size", "bytes"),
//!     ValueType::new("count", "count"),
//! ]);
//! let line = b.frame(Frame::new("", "app.py", 12));
//! let stack = b.stack(&[line]);
//! b.add(stack, &[4096, 1]);
//! b.add(stack, &[100, 1]);
//! let profile = b.finish();
//! assert_eq!(profile.samples().len(), 1);
//! assert_eq!(profile.values(0), &[4196, 2]);
//! assert_eq!(profile.total(0), 4196);
//! ```

use rustc_hash::FxHashMap;

/// Which program wrote the profile; decides wording and defaults, never the arithmetic.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Producer {
    /// Python's `tracemalloc.Snapshot.dump()`.
    Tracemalloc,
    /// A Go runtime heap or allocs profile (`runtime/pprof`, `/debug/pprof/heap`).
    GoPprof,
    /// jemalloc's `prof` output converted to pprof (Rust and C++ services).
    Jemalloc,
    /// gperftools' heap profiler.
    Gperftools,
    /// Any other `profile.proto`.
    Pprof,
}

impl Producer {
    pub fn as_str(self) -> &'static str {
        match self {
            Producer::Tracemalloc => "tracemalloc",
            Producer::GoPprof => "go-pprof",
            Producer::Jemalloc => "jemalloc-pprof",
            Producer::Gperftools => "gperftools-pprof",
            Producer::Pprof => "pprof",
        }
    }
}

/// What one column of sample values measures: pprof's `ValueType` (`inuse_space`, `bytes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueType {
    pub kind: String,
    pub unit: String,
}

impl ValueType {
    pub fn new(kind: impl Into<String>, unit: impl Into<String>) -> Self {
        ValueType {
            kind: kind.into(),
            unit: unit.into(),
        }
    }
}

/// One source position: a function (may be empty when the producer does not record it, as
/// tracemalloc does not), a file and a line (0 when unknown).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    pub function: String,
    pub file: String,
    pub line: i64,
}

impl Frame {
    pub fn new(function: impl Into<String>, file: impl Into<String>, line: i64) -> Self {
        Frame {
            function: function.into(),
            file: file.into(),
            line,
        }
    }
}

/// Index of a frame in [`AllocProfile::frames`].
pub type FrameId = u32;
/// Index of a stack in [`AllocProfile::stack`].
pub type StackId = u32;

/// One sample: a stack and its row of values (see [`AllocProfile::values`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub stack: StackId,
    /// How many raw records (tracemalloc traces, pprof samples) were merged into this one.
    pub records: u32,
}

/// Allocation sites with their stacks and values. Built with [`ProfileBuilder`].
#[derive(Clone, Debug)]
pub struct AllocProfile {
    pub producer: Producer,
    pub value_types: Vec<ValueType>,
    /// The value type a report shows unless asked otherwise (pprof's `default_sample_type`,
    /// else the last type; tracemalloc: size).
    pub default_value: usize,
    /// pprof `period_type`/`period` (Go: `space`/`bytes`, the MemProfileRate); None if absent.
    pub period: Option<(ValueType, i64)>,
    /// When the profile was taken, nanoseconds since the Unix epoch, if recorded.
    pub time_nanos: Option<i64>,
    /// tracemalloc's `traceback_limit` (frames kept per trace); None for pprof.
    pub traceback_limit: Option<u32>,
    /// Producer remarks worth showing (pprof comments, truncation notes).
    pub comments: Vec<String>,
    frames: Vec<Frame>,
    stack_starts: Vec<u32>,
    stack_frames: Vec<FrameId>,
    samples: Vec<Sample>,
    values: Vec<i64>,
}

impl AllocProfile {
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    pub fn frame(&self, id: FrameId) -> &Frame {
        &self.frames[id as usize]
    }

    pub fn stack_count(&self) -> usize {
        self.stack_starts.len() - 1
    }

    /// The frames of a stack, the allocating (leaf, most recent) frame first.
    pub fn stack(&self, id: StackId) -> &[FrameId] {
        let i = id as usize;
        &self.stack_frames[self.stack_starts[i] as usize..self.stack_starts[i + 1] as usize]
    }

    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The values of sample `index`, one per value type.
    pub fn values(&self, index: usize) -> &[i64] {
        let n = self.value_types.len();
        &self.values[index * n..(index + 1) * n]
    }

    /// The sum of value type `value` over all samples.
    pub fn total(&self, value: usize) -> i64 {
        let n = self.value_types.len();
        self.values.iter().skip(value).step_by(n).sum()
    }

    /// Index of the value type called `kind` (`inuse_space`, `size`...).
    pub fn value_index(&self, kind: &str) -> Option<usize> {
        self.value_types.iter().position(|t| t.kind == kind)
    }
}

/// Interns frames and stacks and merges samples of the same stack into one.
pub struct ProfileBuilder {
    profile: AllocProfile,
    // FxHash: interning is most of a big profile's build time, and these keys are short.
    frame_ids: FxHashMap<Frame, FrameId>,
    stack_ids: FxHashMap<Box<[FrameId]>, StackId>,
    sample_of_stack: Vec<Option<u32>>,
}

impl ProfileBuilder {
    pub fn new(producer: Producer, value_types: Vec<ValueType>) -> Self {
        let default_value = value_types.len().saturating_sub(1);
        ProfileBuilder {
            profile: AllocProfile {
                producer,
                value_types,
                default_value,
                period: None,
                time_nanos: None,
                traceback_limit: None,
                comments: Vec::new(),
                frames: Vec::new(),
                stack_starts: vec![0],
                stack_frames: Vec::new(),
                samples: Vec::new(),
                values: Vec::new(),
            },
            frame_ids: FxHashMap::default(),
            stack_ids: FxHashMap::default(),
            sample_of_stack: Vec::new(),
        }
    }

    /// The profile's metadata fields, to set before [`ProfileBuilder::finish`].
    pub fn meta(&mut self) -> &mut AllocProfile {
        &mut self.profile
    }

    pub fn frame(&mut self, frame: Frame) -> FrameId {
        if let Some(&id) = self.frame_ids.get(&frame) {
            return id;
        }
        let id = self.profile.frames.len() as FrameId;
        self.profile.frames.push(frame.clone());
        self.frame_ids.insert(frame, id);
        id
    }

    /// Interns a stack given leaf first.
    pub fn stack(&mut self, frames: &[FrameId]) -> StackId {
        if let Some(&id) = self.stack_ids.get(frames) {
            return id;
        }
        let p = &mut self.profile;
        let id = (p.stack_starts.len() - 1) as StackId;
        p.stack_frames.extend_from_slice(frames);
        p.stack_starts.push(p.stack_frames.len() as u32);
        self.stack_ids.insert(frames.into(), id);
        self.sample_of_stack.push(None);
        id
    }

    /// Adds one record's values (one per value type) to the sample of `stack`. Panics if
    /// `values` has the wrong length: that is a reader bug, not bad input.
    pub fn add(&mut self, stack: StackId, values: &[i64]) {
        let p = &mut self.profile;
        let n = p.value_types.len();
        assert_eq!(values.len(), n, "one value per value type");
        match self.sample_of_stack[stack as usize] {
            Some(i) => {
                let i = i as usize;
                p.samples[i].records += 1;
                for (sum, v) in p.values[i * n..(i + 1) * n].iter_mut().zip(values) {
                    *sum = sum.saturating_add(*v);
                }
            }
            None => {
                self.sample_of_stack[stack as usize] = Some(p.samples.len() as u32);
                p.samples.push(Sample { stack, records: 1 });
                p.values.extend_from_slice(values);
            }
        }
    }

    pub fn finish(self) -> AllocProfile {
        self.profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_of_one_stack_merge_and_stacks_keep_leaf_first_order() {
        let mut b = ProfileBuilder::new(
            Producer::GoPprof,
            vec![
                ValueType::new("inuse_objects", "count"),
                ValueType::new("inuse_space", "bytes"),
            ],
        );
        let leaf = b.frame(Frame::new("main.leak", "main.go", 20));
        let caller = b.frame(Frame::new("main.main", "main.go", 40));
        assert_eq!(b.frame(Frame::new("main.leak", "main.go", 20)), leaf);
        let s = b.stack(&[leaf, caller]);
        let other = b.stack(&[caller]);
        assert_ne!(s, other);
        b.add(s, &[1, 100]);
        b.add(other, &[2, 10]);
        b.add(s, &[3, 300]);
        let p = b.finish();
        assert_eq!(p.default_value, 1);
        assert_eq!(p.stack(s), &[leaf, caller]);
        assert_eq!(p.samples().len(), 2);
        assert_eq!(
            p.samples()[0],
            Sample {
                stack: s,
                records: 2
            }
        );
        assert_eq!(p.values(0), &[4, 400]);
        assert_eq!(p.total(1), 410);
        assert_eq!(p.value_index("inuse_objects"), Some(0));
    }
}
