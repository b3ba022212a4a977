//! Allocation-site profiles (tracemalloc, pprof): which site allocated the memory still in use,
//! and which site keeps growing across profiles.
//!
//! There is no object graph here, so nothing is *retained*: sizes are the bytes allocated at a
//! site and not yet freed. Grouping and ordering follow the producers' own tools exactly:
//! tracemalloc's `Snapshot.statistics` and `compare_to` (keys, the sort key
//! `(|size_diff|, size, |count_diff|, count, traceback)`, a recursive frame counted once per
//! occurrence in cumulative mode) and pprof's `-base` (net difference per site; a function is
//! counted once per sample in cumulative mode).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use plateau_profile::{AllocProfile, Frame, Producer};

use crate::diff::{fingerprint, Pattern, Suspect};

/// What one site is: the allocating line, its file, its function, or the whole stack.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SiteGrouping {
    /// The allocating frame: file and line (and, where recorded, function).
    Lineno,
    /// The allocating frame's file.
    Filename,
    /// The allocating frame's function (pprof's default granularity).
    Function,
    /// The whole stack.
    Traceback,
}

impl SiteGrouping {
    pub fn as_str(self) -> &'static str {
        match self {
            SiteGrouping::Lineno => "lineno",
            SiteGrouping::Filename => "filename",
            SiteGrouping::Function => "function",
            SiteGrouping::Traceback => "traceback",
        }
    }
}

/// Which values a site is measured by.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Measure {
    /// The value type of the bytes (tracemalloc `size`, pprof `inuse_space`...).
    pub bytes: usize,
    /// The value type counting the same allocations (`count`, `inuse_objects`), if any.
    pub count: Option<usize>,
}

impl Measure {
    /// The profile's default value type, paired with its count: `X_space` with `X_objects`,
    /// tracemalloc's `size` with `count`. When the default is a count (`inuse_objects`), its
    /// `_space` twin measures the bytes.
    pub fn default_for(profile: &AllocProfile) -> Measure {
        Measure::for_value(profile, profile.default_value)
    }

    /// `value` as the bytes, paired with its count (or, if `value` is a count, the other way).
    pub fn for_value(profile: &AllocProfile, value: usize) -> Measure {
        let kind = profile.value_types[value].kind.as_str();
        if profile.producer == Producer::Tracemalloc {
            return Measure {
                bytes: profile.value_index("size").unwrap_or(0),
                count: profile.value_index("count"),
            };
        }
        if let Some(stem) = kind.strip_suffix("_objects") {
            if let Some(bytes) = profile.value_index(&format!("{stem}_space")) {
                return Measure {
                    bytes,
                    count: Some(value),
                };
            }
        }
        let count = kind
            .strip_suffix("_space")
            .and_then(|stem| profile.value_index(&format!("{stem}_objects")));
        Measure {
            bytes: value,
            count,
        }
    }

    /// The name of the bytes measure (`size`, `inuse_space`) in `profile`.
    pub fn bytes_name(self, profile: &AllocProfile) -> &str {
        &profile.value_types[self.bytes].kind
    }
}

/// A site: one frame for the per-frame groupings, the whole stack (leaf first) for
/// tracebacks. Fields a grouping ignores are blanked (`line` 0, `function` "").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SiteKey(pub Vec<Frame>);

impl SiteKey {
    /// Python's `Traceback` order: frames compared oldest first, each by (file, line), a
    /// prefix before the longer stack; the function breaks ties (tracemalloc has none).
    fn cmp_traceback(&self, other: &SiteKey) -> Ordering {
        let a = self.0.iter().rev();
        let b = other.0.iter().rev();
        a.map(|f| (&f.file, f.line, &f.function))
            .cmp(b.map(|f| (&f.file, f.line, &f.function)))
    }

    /// The site in words: `app.py:42`, `main.leak (main.go:20)`, or a stack leaf first.
    pub fn label(&self) -> String {
        self.0
            .first()
            .map(frame_label)
            .unwrap_or_else(|| "<no frames>".to_string())
    }

    /// The stack oldest first, `a.py:3 > b.py:10 > c.py:42`: how a retainer path reads.
    pub fn path_text(&self) -> String {
        self.0
            .iter()
            .rev()
            .map(frame_label)
            .collect::<Vec<_>>()
            .join(" > ")
    }
}

fn frame_label(f: &Frame) -> String {
    let place = if f.line > 0 {
        format!("{}:{}", f.file, f.line)
    } else {
        f.file.clone()
    };
    match (f.function.is_empty(), place.is_empty()) {
        (true, _) => place,
        (false, true) => f.function.clone(),
        (false, false) => format!("{} ({place})", f.function),
    }
}

/// One site's totals: `Statistic` in tracemalloc's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteStat {
    pub key: SiteKey,
    pub size: i64,
    pub count: i64,
}

/// Totals per site, in `Snapshot.statistics` order: size, count, then traceback, descending.
pub fn site_statistics(
    profile: &AllocProfile,
    measure: Measure,
    grouping: SiteGrouping,
    cumulative: bool,
) -> Vec<SiteStat> {
    let mut stats: Vec<SiteStat> = group(profile, measure, grouping, cumulative)
        .into_iter()
        .map(|(key, (size, count))| SiteStat { key, size, count })
        .collect();
    stats.sort_by(|a, b| {
        (b.size, b.count)
            .cmp(&(a.size, a.count))
            .then_with(|| b.key.cmp_traceback(&a.key))
    });
    stats
}

/// A frame with the fields `grouping` ignores blanked.
fn frame_key(f: &Frame, grouping: SiteGrouping) -> Frame {
    match grouping {
        SiteGrouping::Lineno | SiteGrouping::Traceback => f.clone(),
        SiteGrouping::Filename => Frame::new("", f.file.clone(), 0),
        SiteGrouping::Function => Frame::new(f.function.clone(), "", 0),
    }
}

fn group(
    profile: &AllocProfile,
    measure: Measure,
    grouping: SiteGrouping,
    cumulative: bool,
) -> HashMap<SiteKey, (i64, i64)> {
    // Keys are built per distinct frame (or stack), then summed per sample.
    let keys: Vec<Frame> = profile
        .frames()
        .iter()
        .map(|f| frame_key(f, grouping))
        .collect();
    // tracemalloc counts a frame repeated by recursion once per occurrence; pprof once a sample.
    let once_per_sample = profile.producer != Producer::Tracemalloc;
    let mut out: HashMap<SiteKey, (i64, i64)> = HashMap::new();
    let mut add = |key: SiteKey, size: i64, count: i64| {
        let e = out.entry(key).or_insert((0, 0));
        e.0 += size;
        e.1 += count;
    };
    let mut seen = HashSet::new();
    for (i, sample) in profile.samples().iter().enumerate() {
        let values = profile.values(i);
        let size = values[measure.bytes];
        let count = measure.count.map_or(0, |c| values[c]);
        let stack = profile.stack(sample.stack);
        let Some(&leaf) = stack.first() else {
            add(SiteKey(Vec::new()), size, count);
            continue;
        };
        match (grouping, cumulative) {
            (SiteGrouping::Traceback, _) => add(
                SiteKey(stack.iter().map(|&f| keys[f as usize].clone()).collect()),
                size,
                count,
            ),
            (_, false) => add(SiteKey(vec![keys[leaf as usize].clone()]), size, count),
            (_, true) => {
                seen.clear();
                for &f in stack {
                    let key = &keys[f as usize];
                    if once_per_sample && !seen.insert(key) {
                        continue;
                    }
                    add(SiteKey(vec![key.clone()]), size, count);
                }
            }
        }
    }
    out
}

/// One site compared between two profiles: `StatisticDiff` in tracemalloc's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteDiff {
    pub key: SiteKey,
    pub size: i64,
    pub size_diff: i64,
    pub count: i64,
    pub count_diff: i64,
}

/// `new.compare_to(old, grouping, cumulative)`: every site of either profile, in tracemalloc's
/// order. For pprof profiles this is `-base old new` per site.
pub fn compare_sites(
    old: &AllocProfile,
    new: &AllocProfile,
    measure: (Measure, Measure),
    grouping: SiteGrouping,
    cumulative: bool,
) -> Vec<SiteDiff> {
    let old_group = group(old, measure.0, grouping, cumulative);
    let new_group = group(new, measure.1, grouping, cumulative);
    compare_groups(&old_group, &new_group)
}

/// Every site of either grouping, compared, in `compare_to` order.
fn compare_groups(
    old_group: &HashMap<SiteKey, (i64, i64)>,
    new_group: &HashMap<SiteKey, (i64, i64)>,
) -> Vec<SiteDiff> {
    let mut diffs: Vec<SiteDiff> = Vec::with_capacity(new_group.len());
    for (key, &(size, count)) in new_group {
        let (old_size, old_count) = old_group.get(key).copied().unwrap_or((0, 0));
        diffs.push(SiteDiff {
            key: key.clone(),
            size,
            size_diff: size - old_size,
            count,
            count_diff: count - old_count,
        });
    }
    for (key, &(size, count)) in old_group {
        if !new_group.contains_key(key) {
            diffs.push(SiteDiff {
                key: key.clone(),
                size: 0,
                size_diff: -size,
                count: 0,
                count_diff: -count,
            });
        }
    }
    diffs.sort_by(compare_order);
    diffs
}

/// tracemalloc's `StatisticDiff._sort_key`, descending.
fn compare_order(a: &SiteDiff, b: &SiteDiff) -> Ordering {
    let key = |d: &SiteDiff| (d.size_diff.abs(), d.size, d.count_diff.abs(), d.count);
    key(b)
        .cmp(&key(a))
        .then_with(|| b.key.cmp_traceback(&a.key))
}

/// Thresholds and choices for [`diff_profiles`].
#[derive(Clone, Debug)]
pub struct AllocDiffOptions {
    pub grouping: SiteGrouping,
    pub cumulative: bool,
    /// The value type to measure by; the profile's default when `None`.
    pub value: Option<String>,
    /// A suspect site grows by at least this many bytes a round...
    pub min_growth_bytes: u64,
    /// ...and by at least this fraction of the last profile's total a round.
    pub min_growth_fraction: f64,
    /// Rows in the `stable` list. (No redaction option: sites are source locations, not
    /// heap contents.)
    pub top: usize,
    /// Fingerprints of known leaks: reported, but not as suspects.
    pub known: HashSet<String>,
}

impl Default for AllocDiffOptions {
    fn default() -> Self {
        AllocDiffOptions {
            grouping: SiteGrouping::Lineno,
            cumulative: false,
            value: None,
            min_growth_bytes: 8 * 1024,
            min_growth_fraction: 0.002,
            top: 10,
            known: HashSet::new(),
        }
    }
}

/// One profile as the diff used it.
#[derive(Clone, Debug)]
pub struct ProfileInfo {
    pub label: String,
    /// Total of the measured bytes.
    pub total_size: i64,
    pub total_count: i64,
    pub sites: usize,
}

/// A big site that did not grow.
#[derive(Clone, Debug)]
pub struct StableSite {
    pub key: SiteKey,
    pub sizes: Vec<i64>,
    /// `constant`, `fluctuating` or `stopped` (grew, then no more).
    pub reason: &'static str,
}

/// The answer of a diff over allocation profiles.
#[derive(Clone, Debug)]
pub struct AllocDiffReport {
    pub producer: Producer,
    pub grouping: SiteGrouping,
    pub cumulative: bool,
    /// The measured value type (`size`, `inuse_space`).
    pub measure: String,
    pub profiles: Vec<ProfileInfo>,
    /// Last compared with first, in `compare_to` order.
    pub sites: Vec<SiteDiff>,
    pub suspects: Vec<Suspect>,
    pub known: Vec<Suspect>,
    pub stable: Vec<StableSite>,
    pub warnings: Vec<String>,
}

/// Sites that grow across profiles of one process, oldest first.
pub fn diff_profiles(
    labels: &[String],
    profiles: &[&AllocProfile],
    options: &AllocDiffOptions,
) -> Result<AllocDiffReport, String> {
    assert!(profiles.len() >= 2, "a diff needs two profiles or more");
    let first = profiles[0];
    let mut warnings = Vec::new();
    if let Some(p) = profiles.iter().find(|p| p.producer != first.producer) {
        return Err(format!(
            "cannot compare a {} profile with a {} profile",
            first.producer.as_str(),
            p.producer.as_str()
        ));
    }
    let measures = profiles
        .iter()
        .map(|p| match &options.value {
            None => Ok(Measure::default_for(p)),
            Some(name) => p
                .value_index(name)
                .map(|v| Measure::for_value(p, v))
                .ok_or_else(|| {
                    format!(
                        "no value type {name:?} in the profile; it has {}",
                        p.value_types
                            .iter()
                            .map(|t| t.kind.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }),
        })
        .collect::<Result<Vec<Measure>, String>>()?;
    let measure_name = measures[0].bytes_name(first).to_string();
    if let Some((p, m)) = profiles
        .iter()
        .zip(&measures)
        .find(|(p, m)| m.bytes_name(p) != measure_name)
    {
        return Err(format!(
            "the profiles measure different things: {measure_name} and {}",
            m.bytes_name(p)
        ));
    }
    if profiles.len() == 2 {
        warnings.push(
            "two profiles show growth but cannot tell a leak from a warm-up; take three or more"
                .to_string(),
        );
    }
    if first.producer == Producer::GoPprof && measure_name.starts_with("alloc_") {
        warnings.push(
            "alloc_space counts everything ever allocated, freed or not: it always grows; \
             inuse_space is what a leak holds"
                .to_string(),
        );
    }

    let groups: Vec<HashMap<SiteKey, (i64, i64)>> = profiles
        .iter()
        .zip(&measures)
        .map(|(p, &m)| group(p, m, options.grouping, options.cumulative))
        .collect();
    let last = profiles.len() - 1;
    let sites = compare_groups(&groups[0], &groups[last]);
    let last_total = profiles[last].total(measures[last].bytes);
    let floor = (options.min_growth_bytes as i64)
        .max((options.min_growth_fraction * last_total.max(0) as f64) as i64);
    let rounds = last as i64;

    // For per-frame sites, the stack that grew most through each site shows how it is reached.
    let tracebacks = if options.grouping == SiteGrouping::Traceback {
        Vec::new()
    } else {
        compare_sites(
            first,
            profiles[last],
            (measures[0], measures[last]),
            SiteGrouping::Traceback,
            false,
        )
    };
    let reached_by = |site: &SiteKey| -> SiteKey {
        tracebacks
            .iter()
            .filter(|d| d.size_diff > 0)
            .find(|d| {
                d.key
                    .0
                    .first()
                    .is_some_and(|leaf| site.0.first() == Some(&frame_key(leaf, options.grouping)))
            })
            .map_or_else(|| site.clone(), |d| d.key.clone())
    };
    // Sites that grew in every round, gathered by allocation path: the lines of one file
    // reached through the same caller are one growing structure (a record's fields, the
    // dict that holds them), and one suspect.
    let mut growing: Vec<Growing> = Vec::new();
    let mut stable = Vec::new();
    for site in &sites {
        let series: Vec<(i64, i64)> = groups
            .iter()
            .map(|g| g.get(&site.key).copied().unwrap_or((0, 0)))
            .collect();
        let sizes: Vec<i64> = series.iter().map(|s| s.0).collect();
        if sizes.windows(2).all(|w| w[1] > w[0]) {
            let stack = reached_by(&site.key);
            let leaf = site.key.0.first().cloned();
            let path = if options.grouping == SiteGrouping::Lineno {
                (
                    leaf.map(|f| Frame::new(f.function, f.file, 0)),
                    stack.0.get(1).cloned(),
                )
            } else {
                (leaf, None)
            };
            match growing.iter_mut().find(|g| g.path == path) {
                Some(g) => g.add(site, &series),
                None => growing.push(Growing::new(path, site, stack, series)),
            }
        } else if site.size >= floor * 4 && stable.len() < options.top {
            let any_growth = sizes.windows(2).any(|w| w[1] > w[0]);
            let reason = if sizes.windows(2).all(|w| w[0] == w[1]) {
                "constant"
            } else if any_growth && sizes[last] == sizes[last - 1] {
                "stopped"
            } else {
                "fluctuating"
            };
            stable.push(StableSite {
                key: site.key.clone(),
                sizes,
                reason,
            });
        }
    }
    let mut suspects: Vec<Suspect> = growing
        .into_iter()
        .filter(|g| g.size_diff / rounds >= floor)
        .map(|g| g.into_suspect(rounds, &measure_name))
        .collect();
    suspects.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.class.cmp(&b.class))
    });
    let (known, mut suspects): (Vec<_>, Vec<_>) = suspects
        .into_iter()
        .partition(|s| options.known.contains(&s.fingerprint));
    for (i, s) in suspects.iter_mut().enumerate() {
        s.rank = i + 1;
    }
    stable.sort_by_key(|s| std::cmp::Reverse(s.sizes[last]));
    Ok(AllocDiffReport {
        producer: first.producer,
        grouping: options.grouping,
        cumulative: options.cumulative,
        measure: measure_name,
        profiles: profiles
            .iter()
            .zip(&measures)
            .zip(labels)
            .zip(&groups)
            .map(|(((p, m), label), g)| ProfileInfo {
                label: label.clone(),
                total_size: p.total(m.bytes),
                total_count: m.count.map_or(0, |c| p.total(c)),
                sites: g.len(),
            })
            .collect(),
        sites,
        suspects,
        known,
        stable,
        warnings,
    })
}

/// Innermost frames shown in a suspect's stack.
const STACK_SHOWN: usize = 8;

/// Growing sites of one allocation path, becoming one suspect.
struct Growing {
    /// The leaf file (line blanked) and the caller, for per-line sites; the site otherwise.
    path: (Option<Frame>, Option<Frame>),
    /// The sites, largest growth first (the order `compare_to` gave).
    sites: Vec<SiteKey>,
    /// The stack through the first site that grew most.
    stack: SiteKey,
    series: Vec<(i64, i64)>,
    size_diff: i64,
    count_diff: i64,
}

impl Growing {
    fn new(
        path: (Option<Frame>, Option<Frame>),
        site: &SiteDiff,
        stack: SiteKey,
        series: Vec<(i64, i64)>,
    ) -> Growing {
        Growing {
            path,
            sites: vec![site.key.clone()],
            stack,
            series,
            size_diff: site.size_diff,
            count_diff: site.count_diff,
        }
    }

    fn add(&mut self, site: &SiteDiff, series: &[(i64, i64)]) {
        self.sites.push(site.key.clone());
        for (sum, s) in self.series.iter_mut().zip(series) {
            sum.0 += s.0;
            sum.1 += s.1;
        }
        self.size_diff += site.size_diff;
        self.count_diff += site.count_diff;
    }

    /// `file.py:10` for one site; `file.py:8,9,10 (from caller.py:71)` for several.
    fn label(&self) -> String {
        if self.sites.len() == 1 {
            return self.sites[0].label();
        }
        let first = &self.sites[0].0[0];
        let mut lines: Vec<i64> = self.sites.iter().map(|k| k.0[0].line).collect();
        lines.sort_unstable();
        let lines = lines
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut label = frame_label(&Frame::new(first.function.clone(), first.file.clone(), 0));
        label.push(':');
        label.push_str(&lines);
        if let Some(caller) = &self.path.1 {
            label.push_str(&format!(" (from {})", frame_label(caller)));
        }
        label
    }

    fn into_suspect(self, rounds: i64, measure: &str) -> Suspect {
        let class = self.label();
        let frames = &self.stack.0;
        let shown = SiteKey(frames[..frames.len().min(STACK_SHOWN)].to_vec());
        let mut path = shown.path_text();
        if frames.len() > STACK_SHOWN {
            path = format!("… > {path}");
        }
        // The allocation path without line numbers: stable when code above it moves.
        let print_key = format!(
            "{}|{}",
            self.path.0.as_ref().map(frame_label).unwrap_or_default(),
            self.path.1.as_ref().map(frame_label).unwrap_or_default()
        );
        let as_u64 = |v: i64| Some(v.max(0) as u64);
        Suspect {
            rank: 0,
            score: (self.size_diff / rounds) as f64,
            pattern: Pattern::GrowingAllocationSite,
            fingerprint: fingerprint(Pattern::GrowingAllocationSite, &print_key, ""),
            class,
            object_id: 0,
            path: None,
            path_text: Some(path),
            counts: self.series.iter().map(|s| as_u64(s.1)).collect(),
            count_unit: "allocations",
            retained_sizes: self.series.iter().map(|s| as_u64(s.0)).collect(),
            size_measure: Some(measure.to_string()),
            growth_per_round_bytes: self.size_diff / rounds,
            growth_per_round_count: self.count_diff / rounds,
            new_objects: self.count_diff.max(0) as u64,
            new_classes: Vec::new(),
            held_classes: Vec::new(),
            representative: None,
            location: None,
            script: None,
        }
    }
}

/// Growth per stack between the first and last profile, oldest frame first, only the stacks
/// that grew: what a flame graph of the growth draws.
pub fn growth_stacks(
    first: &AllocProfile,
    last: &AllocProfile,
    measure: (Measure, Measure),
) -> Vec<(Vec<Frame>, i64)> {
    let diffs = compare_sites(first, last, measure, SiteGrouping::Traceback, false);
    diffs
        .into_iter()
        .filter(|d| d.size_diff > 0)
        .map(|d| (d.key.0.into_iter().rev().collect(), d.size_diff))
        .collect()
}

/// One profile on its own: totals and the top sites.
#[derive(Clone, Debug)]
pub struct ProfileSummary {
    pub producer: Producer,
    pub measure: String,
    /// Every value type with its total.
    pub totals: Vec<(String, String, i64)>,
    pub samples: usize,
    pub stacks: usize,
    /// Sites by the chosen grouping, in `statistics` order (flat: the allocating frame).
    pub top_sites: Vec<SiteStat>,
    /// The same grouping, cumulative (every frame of the stack).
    pub top_cumulative: Vec<SiteStat>,
    /// Whole stacks.
    pub top_tracebacks: Vec<SiteStat>,
}

/// Totals and top sites of one profile.
pub fn summarize_profile(
    profile: &AllocProfile,
    measure: Measure,
    grouping: SiteGrouping,
    top: usize,
) -> ProfileSummary {
    let take = |mut v: Vec<SiteStat>| {
        v.truncate(top);
        v
    };
    let cumulative_grouping = if grouping == SiteGrouping::Traceback {
        SiteGrouping::Lineno
    } else {
        grouping
    };
    ProfileSummary {
        producer: profile.producer,
        measure: measure.bytes_name(profile).to_string(),
        totals: profile
            .value_types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.kind.clone(), t.unit.clone(), profile.total(i)))
            .collect(),
        samples: profile.samples().iter().map(|s| s.records as usize).sum(),
        stacks: profile.stack_count(),
        top_sites: take(site_statistics(profile, measure, grouping, false)),
        top_cumulative: take(site_statistics(profile, measure, cumulative_grouping, true)),
        top_tracebacks: take(site_statistics(
            profile,
            measure,
            SiteGrouping::Traceback,
            false,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plateau_profile::{ProfileBuilder, ValueType};

    /// Traces of (size, stack leaf first as (file, line)).
    fn tracemalloc(traces: &[(i64, &[(&str, i64)])]) -> AllocProfile {
        let mut b = ProfileBuilder::new(
            Producer::Tracemalloc,
            vec![
                ValueType::new("size", "bytes"),
                ValueType::new("count", "count"),
            ],
        );
        b.meta().default_value = 0;
        for (size, frames) in traces {
            let ids: Vec<u32> = frames
                .iter()
                .map(|(file, line)| b.frame(Frame::new("", *file, *line)))
                .collect();
            let stack = b.stack(&ids);
            b.add(stack, &[*size, 1]);
        }
        b.finish()
    }

    fn key(file: &str, line: i64) -> SiteKey {
        SiteKey(vec![Frame::new("", file, line)])
    }

    #[test]
    fn statistics_group_by_line_and_sort_like_tracemalloc() {
        let p = tracemalloc(&[
            (100, &[("b.py", 2), ("main.py", 1)]),
            (100, &[("a.py", 9), ("main.py", 1)]),
            (50, &[("b.py", 2), ("main.py", 5)]),
            (100, &[("a.py", 3), ("main.py", 1)]),
        ]);
        let m = Measure::default_for(&p);
        let stats = site_statistics(&p, m, SiteGrouping::Lineno, false);
        let got: Vec<(SiteKey, i64, i64)> = stats
            .into_iter()
            .map(|s| (s.key, s.size, s.count))
            .collect();
        // Equal (size, count): the larger traceback first, as reverse=True sorts.
        assert_eq!(
            got,
            vec![
                (key("b.py", 2), 150, 2),
                (key("a.py", 9), 100, 1),
                (key("a.py", 3), 100, 1),
            ]
        );
        let files = site_statistics(&p, m, SiteGrouping::Filename, false);
        assert_eq!(files[0].key, key("a.py", 0));
        assert_eq!((files[0].size, files[1].size), (200, 150));
        let cumulative = site_statistics(&p, m, SiteGrouping::Lineno, true);
        assert_eq!(
            cumulative[0],
            SiteStat {
                key: key("main.py", 1),
                size: 300,
                count: 3
            }
        );
    }

    #[test]
    fn recursion_counts_once_per_frame_in_tracemalloc_and_once_per_sample_in_pprof() {
        let p = tracemalloc(&[(10, &[("r.py", 1), ("r.py", 1), ("main.py", 1)])]);
        let m = Measure::default_for(&p);
        let cumulative = site_statistics(&p, m, SiteGrouping::Lineno, true);
        assert_eq!(
            cumulative[0],
            SiteStat {
                key: key("r.py", 1),
                size: 20,
                count: 2
            }
        );
        let mut p = p;
        p.producer = Producer::Pprof;
        let m = Measure {
            bytes: 0,
            count: Some(1),
        };
        let cumulative = site_statistics(&p, m, SiteGrouping::Lineno, true);
        assert_eq!(
            cumulative[0],
            SiteStat {
                key: key("r.py", 1),
                size: 10,
                count: 1
            }
        );
        assert_eq!(
            cumulative[1],
            SiteStat {
                key: key("main.py", 1),
                size: 10,
                count: 1
            }
        );
    }

    #[test]
    fn compare_lists_gone_sites_with_negative_diffs_in_compare_to_order() {
        let old = tracemalloc(&[(100, &[("a.py", 1)]), (40, &[("gone.py", 1)])]);
        let new = tracemalloc(&[(300, &[("a.py", 1)]), (10, &[("new.py", 1)])]);
        let m = (Measure::default_for(&old), Measure::default_for(&new));
        let d = compare_sites(&old, &new, m, SiteGrouping::Lineno, false);
        let got: Vec<(String, i64, i64)> = d
            .iter()
            .map(|d| (d.key.label(), d.size, d.size_diff))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a.py:1".to_string(), 300, 200),
                ("gone.py:1".to_string(), 0, -40),
                ("new.py:1".to_string(), 10, 10),
            ]
        );
        assert_eq!((d[1].count, d[1].count_diff), (0, -1));
    }

    #[test]
    fn a_site_growing_every_round_is_the_suspect_and_a_full_cache_is_stable() {
        let round = |leak: usize, cache: i64| {
            let mut traces: Vec<(i64, &[(&str, i64)])> = Vec::new();
            for _ in 0..leak {
                traces.push((1000, &[("cache.py", 7), ("app.py", 20)]));
            }
            traces.push((cache, &[("lru.py", 3), ("app.py", 21)]));
            traces.push((500_000, &[("pool.py", 1)]));
            tracemalloc(&traces)
        };
        let profiles = [round(10, 200_000), round(40, 210_000), round(70, 205_000)];
        let refs: Vec<&AllocProfile> = profiles.iter().collect();
        let labels: Vec<String> = (0..3).map(|i| format!("s{i}")).collect();
        let report = diff_profiles(&labels, &refs, &AllocDiffOptions::default()).unwrap();
        assert_eq!(report.suspects.len(), 1, "{:#?}", report.suspects);
        let s = &report.suspects[0];
        assert_eq!(s.class, "cache.py:7");
        assert_eq!(s.path_text.as_deref(), Some("app.py:20 > cache.py:7"));
        assert_eq!(s.growth_per_round_bytes, 30_000);
        assert_eq!(s.counts, vec![Some(10), Some(40), Some(70)]);
        assert_eq!(s.pattern, Pattern::GrowingAllocationSite);
        let stable: Vec<(String, &str)> = report
            .stable
            .iter()
            .map(|s| (s.key.label(), s.reason))
            .collect();
        assert!(
            stable.contains(&("pool.py:1".to_string(), "constant")),
            "{stable:?}"
        );
        assert!(
            stable.contains(&("lru.py:3".to_string(), "fluctuating")),
            "{stable:?}"
        );
    }

    #[test]
    fn go_measures_pair_space_with_objects() {
        let mut b = ProfileBuilder::new(
            Producer::GoPprof,
            [
                "alloc_objects",
                "alloc_space",
                "inuse_objects",
                "inuse_space",
            ]
            .iter()
            .map(|k| {
                ValueType::new(
                    *k,
                    if k.ends_with("space") {
                        "bytes"
                    } else {
                        "count"
                    },
                )
            })
            .collect(),
        );
        let f = b.frame(Frame::new("main.leak", "main.go", 20));
        let s = b.stack(&[f]);
        b.add(s, &[4, 400, 2, 200]);
        let p = b.finish();
        assert_eq!(
            Measure::default_for(&p),
            Measure {
                bytes: 3,
                count: Some(2)
            }
        );
        assert_eq!(
            Measure::for_value(&p, 0),
            Measure {
                bytes: 1,
                count: Some(0)
            }
        );
        let stats = site_statistics(&p, Measure::default_for(&p), SiteGrouping::Function, false);
        assert_eq!(stats[0].key.label(), "main.leak");
        assert_eq!((stats[0].size, stats[0].count), (200, 2));
    }
}
