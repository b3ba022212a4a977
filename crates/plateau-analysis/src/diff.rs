//! Leak suspects from several snapshots of one process: what grows, not what is big.
//!
//! V8 object ids are stable within a process, so every object of the last snapshot is either
//! *old* (its id is in the baseline) or *new*. New objects are grouped under their *holder*:
//! the nearest old object above them in the dominator tree (the `Map` that entries are added to,
//! the listener array, the global array). That is where memory accumulates, and it exists in
//! every snapshot, so its size can be followed round by round. A holder is a suspect only when
//! it grew in every round by more than the noise floor; holders that grew and stopped, and big
//! structures that never changed, are listed as cleared with the reason.

use std::collections::{HashMap, HashSet};

use plateau_graph::{
    BitSet, ClassId, Dominators, HeapGraph, Location, NodeId, NodeKind, RetainerPaths,
};

use crate::digest::{mask_numbers, nodes_by_object_id, SnapshotDigest};
use crate::names::TopK;
use crate::{script_name, CollectionKind, Redaction, RetainerPath};

/// Thresholds and output choices for [`diff`].
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// A suspect grows by at least this many bytes a round...
    pub min_growth_bytes: u64,
    /// ...and by at least this fraction of the last heap a round.
    pub min_growth_fraction: f64,
    /// Rows in the stable and growing-class lists.
    pub top: usize,
    pub redaction: Redaction,
    /// Fingerprints of known leaks (from `--baseline`): reported, but not as suspects.
    pub known: HashSet<String>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            min_growth_bytes: 8 * 1024,
            min_growth_fraction: 0.002,
            top: 10,
            redaction: Redaction::None,
            known: HashSet::new(),
        }
    }
}

/// The leak pattern a suspect matches, each with the fix that usually applies.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Pattern {
    UnboundedCache,
    ListenerLeak,
    TimerLeak,
    SocketLeak,
    GlobalGrowth,
    ClosureRetention,
    /// Java: values set on pooled threads' `ThreadLocal`s and never removed.
    ThreadLocalLeak,
    /// Java: streams, sockets, JDBC connections and statements never closed.
    UnclosedResource,
    /// Java: classes loaded again and again by new class loaders that never go away.
    ClassLoaderLeak,
    /// Allocation profiles: a site whose memory in use grows every round.
    GrowingAllocationSite,
    GrowingObject,
}

impl Pattern {
    /// The name in JSON and fingerprints.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::UnboundedCache => "unbounded-cache",
            Pattern::ListenerLeak => "event-listener-leak",
            Pattern::TimerLeak => "timer-leak",
            Pattern::SocketLeak => "socket-leak",
            Pattern::GlobalGrowth => "global-growth",
            Pattern::ClosureRetention => "closure-retention",
            Pattern::ThreadLocalLeak => "threadlocal-leak",
            Pattern::UnclosedResource => "unclosed-resource",
            Pattern::ClassLoaderLeak => "classloader-leak",
            Pattern::GrowingAllocationSite => "growing-allocation-site",
            Pattern::GrowingObject => "growing-object",
        }
    }

    /// The name a person reads.
    pub fn title(self) -> &'static str {
        match self {
            Pattern::UnboundedCache => "unbounded cache",
            Pattern::ListenerLeak => "event-listener leak",
            Pattern::TimerLeak => "timer leak",
            Pattern::SocketLeak => "socket / connection leak",
            Pattern::GlobalGrowth => "global growth",
            Pattern::ClosureRetention => "closure retention",
            Pattern::ThreadLocalLeak => "ThreadLocal leak",
            Pattern::UnclosedResource => "unclosed resources",
            Pattern::ClassLoaderLeak => "class-loader leak",
            Pattern::GrowingAllocationSite => "growing allocation site",
            Pattern::GrowingObject => "growing object",
        }
    }

    pub fn fix(self) -> &'static str {
        match self {
            Pattern::UnboundedCache => {
                "bound it: an LRU with a maximum size or entries with a TTL, and delete entries when their request or session ends"
            }
            Pattern::ListenerLeak => {
                "remove the listener when the request ends (emitter.off / removeListener), use once(), or subscribe once at start-up instead of per request"
            }
            Pattern::TimerLeak => {
                "clear the timer (clearTimeout / clearInterval) when its work is done or its owner closes; unref() does not free it"
            }
            Pattern::SocketLeak => {
                "close connections in finally (socket.destroy(), client.end()), set timeouts, and release pooled clients back to their pool"
            }
            Pattern::GlobalGrowth => {
                "stop appending to a process-wide structure per request: cap it, rotate it, or move the data to per-request scope"
            }
            Pattern::ClosureRetention => {
                "the stored callbacks capture large per-request objects: drop the callbacks when done, or capture only the fields they need"
            }
            Pattern::ThreadLocalLeak => {
                "call ThreadLocal.remove() in a finally block when the task ends: pool threads live as long as the pool and keep every value set on them"
            }
            Pattern::UnclosedResource => {
                "close it in try-with-resources (or finally) and return pooled connections to their pool; a Cleaner frees it only if the GC ever runs for it"
            }
            Pattern::ClassLoaderLeak => {
                "something long-lived (a static, a thread, a JDBC driver or a ThreadLocal) holds an old class loader after a redeploy or per-request loading: release it on undeploy and reuse loaders"
            }
            Pattern::GrowingAllocationSite => {
                "what this code allocates is never freed: find the structure it is stored in (a module-level dict or list, a global map or slice, a cache) and bound it or delete entries when done; a heap dump of the same process names the holder"
            }
            Pattern::GrowingObject => {
                "find who adds to this object on each round and remove what is no longer needed"
            }
        }
    }
}

/// One snapshot as the diff used it.
#[derive(Clone, Debug)]
pub struct SnapshotInfo {
    pub label: String,
    pub nodes: usize,
    pub total_size: u64,
}

/// A leak suspect.
#[derive(Clone, Debug)]
pub struct Suspect {
    pub rank: usize,
    /// Bytes of growth per round: the ranking key.
    pub score: f64,
    pub pattern: Pattern,
    /// Class of the object where memory accumulates.
    pub class: String,
    pub object_id: u64,
    /// Its retainer path in the last snapshot.
    pub path: Option<RetainerPath>,
    /// The path as text, for suspects matched by path across processes (no graph path).
    pub path_text: Option<String>,
    /// Per snapshot: entries for collections, objects dominated otherwise; `None` where the
    /// object did not exist.
    pub counts: Vec<Option<u64>>,
    /// What `counts` counts: `entries`, `listeners`, `elements`, `properties`, `objects`.
    pub count_unit: &'static str,
    /// Retained size per snapshot; for suspects followed by class, the class's shallow size;
    /// for allocation sites, the bytes in use (`size_measure` names which).
    pub retained_sizes: Vec<Option<u64>>,
    /// `None` for heap graphs (the sizes are retained sizes); for allocation profiles the
    /// value type the sizes are (`size`, `inuse_space`): allocated, not retained.
    pub size_measure: Option<String>,
    pub growth_per_round_bytes: i64,
    pub growth_per_round_count: i64,
    /// Objects new since the baseline held under it in the last snapshot.
    pub new_objects: u64,
    /// The classes of what was added (top-level new objects): name, count, retained.
    pub new_classes: Vec<(String, u64, u64)>,
    /// When objects cannot be matched by id (Java dumps): what the suspect's collection
    /// holds in the last snapshot, by class: name, count, shallow bytes.
    pub held_classes: Vec<(String, u64, u64)>,
    /// Path to the largest object added.
    pub representative: Option<RetainerPath>,
    /// Where the largest added object's constructor was defined.
    pub location: Option<Location>,
    /// The script of that constructor, when the snapshot links it.
    pub script: Option<String>,
    pub fingerprint: String,
}

/// A structure that was looked at and cleared.
#[derive(Clone, Debug)]
pub struct Cleared {
    pub class: String,
    pub path: Option<RetainerPath>,
    pub retained_size: u64,
    pub reason: ClearedReason,
}

/// Why a structure is not a suspect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClearedReason {
    /// The same length in every snapshot.
    Constant { length: u64, unit: &'static str },
    /// The same length in every snapshot while members were replaced (a full bounded cache).
    Bounded { length: u64, unit: &'static str },
    /// It grew until snapshot `until` (1-based) and then stopped.
    Stopped { until: usize },
}

/// A class's totals across the snapshots. Growth is ranked by shallow size (DevTools'
/// comparison view); retained sizes use the top-ancestor rule.
#[derive(Clone, Debug)]
pub struct ClassGrowth {
    pub name: String,
    pub counts: Vec<u64>,
    pub shallow_sizes: Vec<u64>,
    pub retained_sizes: Vec<u64>,
    pub growth_per_round_count: i64,
    /// Shallow bytes per round.
    pub growth_per_round_bytes: i64,
}

/// The answer of a multi-snapshot diff.
#[derive(Clone, Debug)]
pub struct DiffReport {
    pub snapshots: Vec<SnapshotInfo>,
    /// False when the snapshots do not share object ids (different processes).
    pub same_process: bool,
    pub suspects: Vec<Suspect>,
    /// Suspects whose fingerprint the baseline file lists.
    pub known: Vec<Suspect>,
    pub stable: Vec<Cleared>,
    pub growing_classes: Vec<ClassGrowth>,
    pub warnings: Vec<String>,
}

/// Compares snapshots, oldest first; `last` is the graph of the last one.
pub fn diff(
    digests: &[SnapshotDigest],
    last: &HeapGraph,
    last_dom: &Dominators,
    options: &DiffOptions,
) -> DiffReport {
    assert!(digests.len() >= 2, "a diff needs two snapshots or more");
    let baseline = &digests[0];
    let mut warnings = Vec::new();
    if digests.len() == 2 {
        warnings.push(
            "two snapshots show growth but cannot tell a leak from a warm-up; take three or more"
                .to_string(),
        );
    }
    let same_process = baseline.same_process(&digests[digests.len() - 1]);
    let growing_classes = class_growth(digests, options.top);
    let floor = options
        .min_growth_bytes
        .max((options.min_growth_fraction * last.total_size() as f64) as u64)
        as i64;

    let mut suspects = Vec::new();
    let mut stable = Vec::new();
    let paths = RetainerPaths::compute(last);
    if same_process {
        let order = nodes_by_object_id(last);
        let groups = group_new_objects(baseline, last, last_dom, &order);
        let mut seen = HashSet::new();
        for group in groups.into_values() {
            if (group.new_top_retained as i64) < floor {
                continue;
            }
            seen.insert(group.holder);
            let candidate = Candidate::new(&group, digests, last, last_dom);
            match candidate.verdict(floor) {
                Verdict::Grows => {
                    suspects.push(candidate.into_suspect(&group, last, &paths, options.redaction))
                }
                Verdict::Cleared(reason) => stable.push(Cleared {
                    class: last.class_name_of(group.holder).to_string(),
                    path: RetainerPath::to(last, &paths, group.holder, options.redaction),
                    retained_size: last_dom.retained_size(group.holder),
                    reason,
                }),
                Verdict::Noise => {}
            }
        }
        // Big structures that did not grow, so the user sees they were looked at.
        // (The last digest lists the last snapshot's collections; no second classification.)
        let mut largest = TopK::new(options.top);
        for (node, kind, length) in digests[digests.len() - 1].collections_with_nodes(&order) {
            largest.push(last_dom.retained_size(node), (node, kind as u8, length));
        }
        for (_, (node, _, length)) in largest.into_sorted() {
            if seen.contains(&node) || stable.len() >= options.top * 2 {
                continue;
            }
            let id = last.object_id(node);
            let lengths: Vec<Option<u64>> = digests
                .iter()
                .map(|d| d.collection(id).map(|(_, l)| l))
                .collect();
            if lengths.iter().all(|l| *l == Some(length)) {
                let kind = digests[0].collection(id).map(|(k, _)| k);
                stable.push(Cleared {
                    class: last.class_name_of(node).to_string(),
                    path: RetainerPath::to(last, &paths, node, options.redaction),
                    retained_size: last_dom.retained_size(node),
                    reason: ClearedReason::Constant {
                        length,
                        unit: unit(kind),
                    },
                });
            }
        }
    } else {
        if baseline.ids_are_addresses {
            warnings.push(
                "Java heap dumps name objects by address and the GC moves them: compared by \
                 retainer path and by class"
                    .to_string(),
            );
        } else {
            let (shared, mismatched) = baseline.shared_ids(&digests[digests.len() - 1]);
            warnings.push(format!(
                "the snapshots do not share object ids (different processes?): {shared} of {} baseline ids recur, {mismatched} of them with another class; compared by retainer path and by class instead",
                baseline.nodes
            ));
        }
        stable.extend(constant_paths(digests, last, &paths, options));
        let mut by_path = path_suspects(digests, floor);
        let by_class = class_suspects(&growing_classes, floor);
        let explained = explain_by_contents(&mut by_path, digests, last, last_dom, &paths, options);
        suspects.extend(by_path);
        let held = |s: &Suspect| explained.get(&s.class).copied().unwrap_or(0) as i64;
        suspects.extend(by_class.into_iter().filter(|s| {
            let grown = s.growth_per_round_count * (digests.len() as i64 - 1);
            held(s) * 2 < grown
        }));
    }

    // Verdicts about growth (bounded, stopped) first, then constant structures, each by size.
    stable.sort_by_key(|c| {
        (
            matches!(c.reason, ClearedReason::Constant { .. }),
            std::cmp::Reverse(c.retained_size),
        )
    });
    stable.truncate(options.top);
    suspects.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.object_id.cmp(&b.object_id))
    });
    let (known, mut suspects): (Vec<_>, Vec<_>) = suspects
        .into_iter()
        .partition(|s| options.known.contains(&s.fingerprint));
    for (i, s) in suspects.iter_mut().enumerate() {
        s.rank = i + 1;
    }
    DiffReport {
        snapshots: digests
            .iter()
            .map(|d| SnapshotInfo {
                label: d.label.clone(),
                nodes: d.nodes,
                total_size: d.total_size,
            })
            .collect(),
        same_process,
        suspects,
        known,
        stable,
        growing_classes,
        warnings,
    }
}

/// New objects of the last snapshot gathered under one old holder.
struct Group {
    holder: NodeId,
    /// For objects hanging straight off a synthetic root, the class they are grouped by.
    class: Option<ClassId>,
    new_count: u64,
    /// Retained size of the top-level new objects (those whose dominator is old).
    new_top_retained: u64,
    /// The topmost new objects a user would recognise (looking through VM arrays and
    /// backing stores), by class: count and retained bytes. This is what was added.
    classes: HashMap<ClassId, (u64, u64)>,
    /// The new user-level object retaining the most.
    largest: Option<(u64, NodeId)>,
}

fn group_new_objects(
    baseline: &SnapshotDigest,
    last: &HeapGraph,
    dom: &Dominators,
    order: &[NodeId],
) -> HashMap<(u32, u32), Group> {
    // Which objects the baseline had: one merge of two id-sorted lists.
    let mut old = BitSet::new(last.node_count());
    let mut baseline_ids = baseline.ids().peekable();
    for &node in order {
        let id = last.object_id(node);
        while baseline_ids.next_if(|&b| b < id).is_some() {}
        if baseline_ids.peek() == Some(&id) {
            old.insert(node.index());
        }
    }
    let tree = dom.tree();
    let mut groups: HashMap<(u32, u32), Group> = HashMap::new();
    // Top-down over the dominator tree, carrying the nearest old ancestor and whether a new
    // user-level object is above.
    let mut stack: Vec<(NodeId, NodeId, bool)> = vec![(last.root(), last.root(), false)];
    while let Some((node, holder, under_new_object)) = stack.pop() {
        let old = node == last.root() || old.contains(node.index());
        let holder_below = if old { node } else { holder };
        let mut object_below = under_new_object && !old;
        // Synthetic nodes are roots (embedder handles), not objects anything was added to.
        if !old && last.kind(node) != NodeKind::Synthetic {
            let top_level = holder == dom.idom(node);
            let class = last.class(node);
            // Objects a synthetic root holds directly are told apart by class.
            let by_class = last.kind(holder) == NodeKind::Synthetic;
            let key = (holder.0, if by_class { class.0 } else { u32::MAX });
            let group = groups.entry(key).or_insert_with(|| Group {
                holder,
                class: by_class.then_some(class),
                new_count: 0,
                new_top_retained: 0,
                classes: HashMap::new(),
                largest: None,
            });
            group.new_count += 1;
            if top_level {
                group.new_top_retained += dom.retained_size(node);
            }
            if is_user_level(last.kind(node)) && !under_new_object {
                object_below = true;
                let retained = dom.retained_size(node);
                let entry = group.classes.entry(class).or_insert((0, 0));
                entry.0 += 1;
                entry.1 += retained;
                let is_object = !last.kind(node).is_string();
                if is_object && group.largest.is_none_or(|(r, _)| retained > r) {
                    group.largest = Some((retained, node));
                }
            }
        }
        for &child in tree.children(node) {
            stack.push((child, holder_below, object_below));
        }
    }
    groups
}

/// Objects as user code sees them: not VM arrays, code, shapes or numbers.
fn is_user_level(kind: NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Object
            | NodeKind::Closure
            | NodeKind::Native
            | NodeKind::RegExp
            | NodeKind::BigInt
            | NodeKind::String
            | NodeKind::ConsString
            | NodeKind::SlicedString
    )
}

enum Verdict {
    Grows,
    Cleared(ClearedReason),
    Noise,
}

/// A holder followed across the snapshots.
struct Candidate {
    object_id: u64,
    kind: Option<CollectionKind>,
    /// Followed by class totals (objects held straight by a root): counts are instances,
    /// sizes are the class's shallow bytes.
    by_class: bool,
    counts: Vec<Option<u64>>,
    retained: Vec<Option<u64>>,
}

impl Candidate {
    fn new(group: &Group, digests: &[SnapshotDigest], last: &HeapGraph, dom: &Dominators) -> Self {
        let id = last.object_id(group.holder);
        let last_digest = &digests[digests.len() - 1];
        if let Some(class) = group.class {
            // Grouped by class under a synthetic root: follow the class totals.
            let name = last.class_name(class);
            let totals = |d: &SnapshotDigest| d.classes.iter().find(|c| c.name == name).cloned();
            return Candidate {
                object_id: id,
                kind: None,
                by_class: true,
                counts: digests
                    .iter()
                    .map(|d| Some(totals(d).map_or(0, |c| c.count)))
                    .collect(),
                retained: digests
                    .iter()
                    .map(|d| Some(totals(d).map_or(0, |c| c.shallow_size)))
                    .collect(),
            };
        }
        // Growth inside a collection that appeared after the baseline (an emitter's listener
        // array for a new event, a cache created on first use): follow that collection.
        let (id, kind) = match last_digest.collection(id) {
            Some((kind, _)) => (id, Some(kind)),
            None => match new_collection_under(group, digests, last, dom) {
                Some((node, kind)) => (last.object_id(node), Some(kind)),
                None => (id, None),
            },
        };
        Candidate {
            object_id: id,
            kind,
            by_class: false,
            counts: digests
                .iter()
                .map(|d| match kind {
                    Some(_) => d.collection(id).map(|(_, l)| l),
                    None => d.get(id).map(|e| e.dominated as u64),
                })
                .collect(),
            retained: digests
                .iter()
                .map(|d| d.get(id).map(|e| e.retained_size))
                .collect(),
        }
    }

    /// Round-to-round changes; an object that did not exist yet counts as empty.
    fn growth(series: &[Option<u64>]) -> Option<Vec<i64>> {
        series.last()?.as_ref()?;
        let values: Vec<u64> = series.iter().map(|v| v.unwrap_or(0)).collect();
        Some(
            values
                .windows(2)
                .map(|w| w[1] as i64 - w[0] as i64)
                .collect(),
        )
    }

    fn verdict(&self, floor: i64) -> Verdict {
        let Some(bytes) = Self::growth(&self.retained) else {
            return Verdict::Noise;
        };
        let counts = Self::growth(&self.counts).unwrap_or_default();
        let rounds = bytes.len() as i64;
        let total: i64 = bytes.iter().sum();
        let per_round = total / rounds.max(1);
        // Collections grow by entries, classes by instances; other holders by bytes.
        let grows_each_round = if self.kind.is_some() || self.by_class {
            counts.iter().all(|&d| d > 0)
        } else {
            bytes.iter().all(|&d| d > 0)
        };
        if grows_each_round && per_round >= floor {
            return Verdict::Grows;
        }
        // A collection whose entry count never changed is bounded, whatever its storage did
        // (a table resize is a one-off step in bytes).
        if self.kind.is_some() && counts.iter().all(|&d| d == 0) {
            let length = self.counts.last().copied().flatten().unwrap_or(0);
            return Verdict::Cleared(ClearedReason::Bounded {
                length,
                unit: unit(self.kind),
            });
        }
        let last_round = *bytes.last().unwrap_or(&0);
        if total >= floor && last_round < floor / 4 {
            let until = bytes.iter().rposition(|&d| d >= floor / 4).unwrap_or(0) + 2;
            return Verdict::Cleared(ClearedReason::Stopped { until });
        }
        Verdict::Noise
    }

    fn into_suspect(
        self,
        group: &Group,
        last: &HeapGraph,
        paths: &RetainerPaths,
        redaction: Redaction,
    ) -> Suspect {
        let rounds = (self.retained.len() - 1).max(1) as i64;
        let first = |s: &[Option<u64>]| s.first().copied().flatten().unwrap_or(0) as i64;
        let lastv = |s: &[Option<u64>]| s.last().copied().flatten().unwrap_or(0) as i64;
        let growth_per_round_bytes = (lastv(&self.retained) - first(&self.retained)) / rounds;
        let growth_per_round_count = (lastv(&self.counts) - first(&self.counts)) / rounds;
        let mut new_classes: Vec<(String, u64, u64)> = group
            .classes
            .iter()
            .map(|(&c, &(count, retained))| (redaction.class(last.class_name(c)), count, retained))
            .collect();
        new_classes.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        new_classes.truncate(3);
        let followed = last_node_with_id(last, group.holder, self.object_id);
        let holder_path = RetainerPath::to(last, paths, followed, redaction);
        let pattern = classify(last, group, self.kind, &new_classes, holder_path.as_ref());
        let representative_node = group.largest.map_or(followed, |(_, n)| n);
        let (class, path) = match group.class {
            // A synthetic holder says nothing: describe the added objects instead.
            Some(c) => (
                last.class_name(c).to_string(),
                RetainerPath::to(last, paths, representative_node, redaction),
            ),
            None => (last.class_name_of(followed).to_string(), holder_path),
        };
        let fingerprint = fingerprint(
            pattern,
            &class,
            path.as_ref().map(|p| p.render()).as_deref().unwrap_or(""),
        );
        Suspect {
            rank: 0,
            score: growth_per_round_bytes as f64,
            pattern,
            class,
            object_id: self.object_id,
            path,
            counts: self.counts,
            count_unit: if group.class.is_some() {
                "objects"
            } else {
                unit(self.kind)
            },
            retained_sizes: self.retained,
            size_measure: None,
            growth_per_round_bytes,
            growth_per_round_count,
            new_objects: group.new_count,
            new_classes,
            held_classes: Vec::new(),
            representative: RetainerPath::to(last, paths, representative_node, redaction),
            location: last.location(representative_node),
            script: last
                .location(representative_node)
                .and_then(|_| script_name(last, representative_node)),
            fingerprint,
            path_text: None,
        }
    }
}

fn unit(kind: Option<CollectionKind>) -> &'static str {
    match kind {
        Some(CollectionKind::Map) => "entries",
        Some(CollectionKind::Set) => "members",
        Some(CollectionKind::Listeners) => "listeners",
        Some(CollectionKind::Array | CollectionKind::List | CollectionKind::Queue) => "elements",
        Some(CollectionKind::ObjectDictionary) => "properties",
        None => "objects",
    }
}

const TIMER_CLASSES: [&str; 4] = ["Timeout", "Immediate", "TimersList", "Timer"];
const SOCKET_CLASSES: [&str; 8] = [
    "Socket",
    "TLSSocket",
    "TCP",
    "TCPWrap",
    "Node / TCPSocketWrap",
    "ClientRequest",
    "Agent",
    "WriteWrap",
];

/// Java classes whose instances hold an operating-system or server resource until closed.
const JAVA_RESOURCE_CLASSES: [&str; 16] = [
    "java.net.Socket",
    "java.net.SocksSocketImpl",
    "sun.nio.ch.NioSocketImpl",
    "sun.nio.ch.SocketChannelImpl",
    "java.io.FileInputStream",
    "java.io.FileOutputStream",
    "java.io.RandomAccessFile",
    "sun.nio.ch.FileChannelImpl",
    "java.util.zip.Inflater",
    "java.util.zip.Deflater",
    "sun.net.www.protocol.http.HttpURLConnection",
    "jdk.internal.net.http.HttpClientImpl",
    "org.postgresql.jdbc.PgConnection",
    "org.postgresql.jdbc.PgStatement",
    "com.mysql.cj.jdbc.ConnectionImpl",
    "org.h2.jdbc.JdbcConnection",
];

/// The Java pattern a path or class points at, if any: `ThreadLocal` maps, listener
/// lists, resources, class objects.
fn java_pattern(class: &str, path: &str) -> Option<Pattern> {
    if path.contains("threadLocals") || class.starts_with("java.lang.ThreadLocal$") {
        return Some(Pattern::ThreadLocalLeak);
    }
    if JAVA_RESOURCE_CLASSES.contains(&class)
        || class.ends_with("Connection")
        || class.ends_with("Statement")
    {
        return Some(Pattern::UnclosedResource);
    }
    if class == "java.lang.Class" || class.ends_with("ClassLoader") {
        return Some(Pattern::ClassLoaderLeak);
    }
    let last_edge = path.rsplit(" > ").next().unwrap_or("").to_ascii_lowercase();
    last_edge
        .contains("listener")
        .then_some(Pattern::ListenerLeak)
}

/// Names the leak pattern from where memory accumulates and what was added.
fn classify(
    last: &HeapGraph,
    group: &Group,
    kind: Option<CollectionKind>,
    new_classes: &[(String, u64, u64)],
    holder_path: Option<&RetainerPath>,
) -> Pattern {
    let holder_class = last.class_name_of(group.holder);
    let added = |names: &[&str]| {
        new_classes
            .first()
            .is_some_and(|(name, ..)| names.iter().any(|n| name == n))
    };
    if TIMER_CLASSES.contains(&holder_class) || added(&TIMER_CLASSES) {
        return Pattern::TimerLeak;
    }
    if SOCKET_CLASSES.contains(&holder_class) || added(&SOCKET_CLASSES) {
        return Pattern::SocketLeak;
    }
    let via_events =
        holder_path.is_some_and(|p| p.steps.iter().rev().take(3).any(|s| s.edge == "_events"));
    if kind == Some(CollectionKind::Listeners) || via_events {
        return Pattern::ListenerLeak;
    }
    if added(&["Function"]) {
        return Pattern::ClosureRetention;
    }
    if let Some(CollectionKind::Map | CollectionKind::Set | CollectionKind::ObjectDictionary) = kind
    {
        return Pattern::UnboundedCache;
    }
    // Held at the top level: a property of the global object or of a module scope.
    let near_root = holder_path.is_some_and(|p| {
        let after_scope = p
            .steps
            .iter()
            .rposition(|s| s.class == "system / Context" || s.node_kind == NodeKind::Synthetic)
            .map_or(p.steps.len(), |i| p.steps.len() - i - 1);
        p.steps.len() <= 3 || after_scope <= 2
    });
    if near_root || last.user_roots().contains(&group.holder) {
        return Pattern::GlobalGrowth;
    }
    Pattern::GrowingObject
}

/// A collection the holder references directly that is new since the baseline and holds at
/// least half of what was added under the holder; the largest such.
fn new_collection_under(
    group: &Group,
    digests: &[SnapshotDigest],
    last: &HeapGraph,
    dom: &Dominators,
) -> Option<(NodeId, CollectionKind)> {
    let last_digest = &digests[digests.len() - 1];
    last.edges(group.holder)
        .map(|e| last.edge_target(e))
        .filter(|&t| dom.idom(t) == group.holder && !digests[0].contains(last.object_id(t)))
        .filter(|&t| dom.retained_size(t) * 2 >= group.new_top_retained)
        .filter_map(|t| Some((t, last_digest.collection(last.object_id(t))?.0)))
        .max_by_key(|&(t, _)| (dom.retained_size(t), std::cmp::Reverse(t)))
}

/// The holder itself, or the new collection followed in its place.
fn last_node_with_id(last: &HeapGraph, holder: NodeId, object_id: u64) -> NodeId {
    if last.object_id(holder) == object_id {
        return holder;
    }
    last.edges(holder)
        .map(|e| last.edge_target(e))
        .find(|&t| last.object_id(t) == object_id)
        .unwrap_or(holder)
}

/// Stable id of a leak: the pattern, the class and the path with numbers masked, so the same
/// leak in another run (other object ids, other entry counts) matches.
pub(crate) fn fingerprint(pattern: Pattern, class: &str, path: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let masked = mask_numbers(path);
    let bytes = pattern
        .as_str()
        .bytes()
        .chain([0])
        .chain(class.bytes())
        .chain([0])
        .chain(masked.bytes());
    for b in bytes {
        hash ^= b as u32;
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// Class totals across the snapshots, for the classes that grew in every round.
fn class_growth(digests: &[SnapshotDigest], top: usize) -> Vec<ClassGrowth> {
    let rounds = (digests.len() - 1).max(1) as i64;
    let n = digests.len();
    let mut totals: HashMap<&str, [Vec<u64>; 3]> = HashMap::new();
    for (i, d) in digests.iter().enumerate() {
        for c in &d.classes {
            let entry = totals
                .entry(c.name.as_str())
                .or_insert_with(|| [vec![0; n], vec![0; n], vec![0; n]]);
            entry[0][i] += c.count;
            entry[1][i] += c.shallow_size;
            entry[2][i] += c.retained_size;
        }
    }
    let per_round = |series: &[u64]| (series[n - 1] as i64 - series[0] as i64) / rounds;
    let mut growing = TopK::new(top);
    for (name, [counts, shallow, retained]) in totals {
        if counts.windows(2).all(|w| w[1] > w[0]) {
            growing.push(
                per_round(&shallow).max(0) as u64,
                (name.to_string(), counts, shallow, retained),
            );
        }
    }
    growing
        .into_sorted()
        .into_iter()
        .map(|(_, (name, counts, shallow, retained))| ClassGrowth {
            growth_per_round_count: per_round(&counts),
            growth_per_round_bytes: per_round(&shallow),
            name,
            counts,
            shallow_sizes: shallow,
            retained_sizes: retained,
        })
        .collect()
}

/// Without shared ids, collections are matched by masked retainer path: a path whose
/// collections grew in length in every round is a suspect.
fn path_suspects(digests: &[SnapshotDigest], floor: i64) -> Vec<Suspect> {
    let last = &digests[digests.len() - 1];
    let rounds = (digests.len() - 1) as i64;
    let mut found = Vec::new();
    for (key, totals) in last.collections_by_path() {
        let series: Vec<Option<&crate::digest::PathTotals>> = digests
            .iter()
            .map(|d| d.collections_by_path().get(key))
            .collect();
        let lengths: Vec<u64> = series.iter().map(|t| t.map_or(0, |t| t.length)).collect();
        let retained: Vec<u64> = series
            .iter()
            .map(|t| t.map_or(0, |t| t.retained_size))
            .collect();
        let bytes = (retained[retained.len() - 1] as i64 - retained[0] as i64) / rounds;
        if !lengths.windows(2).all(|w| w[1] > w[0]) || bytes < floor {
            continue;
        }
        let pattern = if totals.kind == CollectionKind::Listeners {
            Pattern::ListenerLeak
        } else if let Some(p) = java_pattern(&totals.class, &totals.path) {
            p
        } else if matches!(
            totals.kind,
            CollectionKind::Map | CollectionKind::Set | CollectionKind::ObjectDictionary
        ) {
            Pattern::UnboundedCache
        } else {
            Pattern::GrowingObject
        };
        found.push(Suspect {
            rank: 0,
            score: bytes as f64,
            pattern,
            class: totals.class.clone(),
            object_id: 0,
            path: None,
            counts: series.iter().map(|t| t.map(|t| t.length)).collect(),
            count_unit: unit(Some(totals.kind)),
            retained_sizes: series.iter().map(|t| t.map(|t| t.retained_size)).collect(),
            size_measure: None,
            growth_per_round_bytes: bytes,
            growth_per_round_count: (lengths[lengths.len() - 1] as i64 - lengths[0] as i64)
                / rounds,
            new_objects: 0,
            new_classes: Vec::new(),
            held_classes: Vec::new(),
            representative: None,
            location: None,
            fingerprint: fingerprint(pattern, &totals.class, &totals.path),
            path_text: Some(totals.path.clone()),
            script: None,
        });
    }
    found
}

/// Without shared ids, the largest collections whose length was the same in every
/// snapshot (matched by path), so the user sees the big structures were looked at.
fn constant_paths(
    digests: &[SnapshotDigest],
    last: &HeapGraph,
    paths: &RetainerPaths,
    options: &DiffOptions,
) -> Vec<Cleared> {
    let last_digest = &digests[digests.len() - 1];
    let mut largest = TopK::new(options.top);
    for (key, totals) in last_digest.collections_by_path() {
        let constant = digests.iter().all(|d| {
            d.collections_by_path()
                .get(key)
                .is_some_and(|t| t.length == totals.length && t.instances == totals.instances)
        });
        if constant && totals.instances == 1 {
            largest.push(totals.retained_size, key.as_str());
        }
    }
    let order = nodes_by_object_id(last);
    largest
        .into_sorted()
        .into_iter()
        .map(|(retained_size, key)| {
            let totals = &last_digest.collections_by_path()[key];
            let node = last_digest.node_of(&order, totals.largest_object_id);
            Cleared {
                class: totals.class.clone(),
                path: node.and_then(|n| RetainerPath::to(last, paths, n, options.redaction)),
                retained_size,
                reason: ClearedReason::Constant {
                    length: totals.length,
                    unit: unit(Some(totals.kind)),
                },
            }
        })
        .collect()
}

/// Finds each path suspect's collection in the last snapshot and lists what it holds by
/// class (its dominator subtree: count, shallow bytes), with its retainer path there.
/// Returns how many instances of each class the path suspects hold: a class whose growth
/// they hold most of is growing because of them, not a suspect of its own.
fn explain_by_contents(
    suspects: &mut [Suspect],
    digests: &[SnapshotDigest],
    last: &HeapGraph,
    last_dom: &Dominators,
    paths: &RetainerPaths,
    options: &DiffOptions,
) -> HashMap<String, u64> {
    let mut explained = HashMap::new();
    if suspects.is_empty() {
        return explained;
    }
    let last_digest = &digests[digests.len() - 1];
    let order = nodes_by_object_id(last);
    let tree = last_dom.tree();
    for suspect in suspects.iter_mut() {
        let key = suspect.path_text.as_deref().map(mask_numbers);
        let Some(totals_here) = key.and_then(|k| last_digest.collections_by_path().get(&k)) else {
            continue;
        };
        let Some(node) = last_digest.node_of(&order, totals_here.largest_object_id) else {
            continue;
        };
        let mut held: HashMap<ClassId, (u64, u64)> = HashMap::new();
        let mut stack = vec![node];
        while let Some(v) = stack.pop() {
            let entry = held.entry(last.class(v)).or_insert((0, 0));
            entry.0 += 1;
            entry.1 += last.self_size(v);
            stack.extend_from_slice(tree.children(v));
        }
        // A masked path can stand for several collections (one per pooled thread, say); the
        // largest was walked, the others hold alike: scale by their retained bytes.
        let scale = if totals_here.largest_retained > 0 {
            (totals_here.retained_size as f64 / totals_here.largest_retained as f64).max(1.0)
        } else {
            1.0
        };
        for (&class, &(count, _)) in &held {
            *explained
                .entry(last.class_name(class).to_string())
                .or_insert(0) += (count as f64 * scale).round() as u64;
        }
        let mut classes: Vec<(String, u64, u64)> = held
            .into_iter()
            .map(|(class, (count, bytes))| (last.class_name(class).to_string(), count, bytes))
            .collect();
        classes.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        classes.truncate(5);
        suspect.held_classes = classes;
        suspect.object_id = last.object_id(node);
        suspect.path = RetainerPath::to(last, paths, node, options.redaction);
    }
    explained
}

/// Without shared ids, classes that grow in every round are suspects too.
fn class_suspects(growing: &[ClassGrowth], floor: i64) -> Vec<Suspect> {
    // VM records, code, strings and closures grow along with any leak: symptoms, not causes.
    let is_symptom =
        |name: &str| name.starts_with('(') || name.starts_with("system / ") || name == "Function";
    growing
        .iter()
        .filter(|g| g.growth_per_round_bytes >= floor && !is_symptom(&g.name))
        .map(|g| {
            let pattern = if TIMER_CLASSES.contains(&g.name.as_str()) {
                Pattern::TimerLeak
            } else if SOCKET_CLASSES.contains(&g.name.as_str()) {
                Pattern::SocketLeak
            } else if let Some(p) = java_pattern(&g.name, "") {
                p
            } else {
                Pattern::GrowingObject
            };
            // Matched by class alone: no one object or path stands for it.
            Suspect {
                rank: 0,
                score: g.growth_per_round_bytes as f64,
                pattern,
                class: g.name.clone(),
                object_id: 0,
                fingerprint: fingerprint(pattern, &g.name, ""),
                path: None,
                path_text: None,
                counts: g.counts.iter().map(|&c| Some(c)).collect(),
                count_unit: "objects",
                retained_sizes: g.shallow_sizes.iter().map(|&r| Some(r)).collect(),
                size_measure: None,
                growth_per_round_bytes: g.growth_per_round_bytes,
                growth_per_round_count: g.growth_per_round_count,
                new_objects: 0,
                new_classes: Vec::new(),
                held_classes: Vec::new(),
                representative: None,
                location: None,
                script: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(kind: Option<CollectionKind>, counts: &[u64], retained: &[u64]) -> Candidate {
        Candidate {
            object_id: 1,
            kind,
            by_class: false,
            counts: counts.iter().map(|&c| Some(c)).collect(),
            retained: retained.iter().map(|&r| Some(r)).collect(),
        }
    }

    const FLOOR: i64 = 8 * 1024;

    #[test]
    fn growth_in_every_round_is_a_leak() {
        let map = candidate(
            Some(CollectionKind::Map),
            &[100, 400, 700],
            &[40_000, 160_000, 280_000],
        );
        assert!(matches!(map.verdict(FLOOR), Verdict::Grows));
    }

    #[test]
    fn growth_that_stopped_is_a_warm_up() {
        let cache = candidate(
            Some(CollectionKind::Map),
            &[10, 500, 500],
            &[4_000, 200_000, 200_100],
        );
        match cache.verdict(FLOOR) {
            Verdict::Cleared(ClearedReason::Stopped { until }) => assert_eq!(until, 2),
            _ => panic!("a cache that stopped growing is not a leak"),
        }
    }

    #[test]
    fn a_full_cache_whose_members_change_is_bounded() {
        let lru = candidate(
            Some(CollectionKind::Map),
            &[100, 100, 100],
            &[40_000, 40_200, 40_100],
        );
        assert!(matches!(
            lru.verdict(FLOOR),
            Verdict::Cleared(ClearedReason::Bounded { length: 100, .. })
        ));
    }

    #[test]
    fn growth_below_the_floor_is_noise() {
        let small = candidate(None, &[10, 11, 12], &[1_000, 1_100, 1_200]);
        assert!(matches!(small.verdict(FLOOR), Verdict::Noise));
    }

    #[test]
    fn java_patterns_by_class_and_path() {
        let p = |class, path| java_pattern(class, path);
        assert_eq!(
            p(
                "java.lang.ThreadLocal$ThreadLocalMap$Entry[]",
                "(GC roots) > Thread \"pool-1\" > <thread> (java.lang.Thread) > threadLocals"
            ),
            Some(Pattern::ThreadLocalLeak)
        );
        assert_eq!(
            p("java.io.FileInputStream", ""),
            Some(Pattern::UnclosedResource)
        );
        assert_eq!(
            p("org.example.PooledConnection", ""),
            Some(Pattern::UnclosedResource)
        );
        assert_eq!(p("java.lang.Class", ""), Some(Pattern::ClassLoaderLeak));
        assert_eq!(
            p(
                "java.util.ArrayList",
                "(GC roots) > class Bus > static INSTANCE (Bus) > listeners (java.util.ArrayList)"
            ),
            Some(Pattern::ListenerLeak)
        );
        assert_eq!(
            p(
                "java.util.HashMap",
                "(GC roots) > class TokenStore > static TOKENS (java.util.HashMap)"
            ),
            None
        );
    }

    #[test]
    fn fingerprints_ignore_numbers() {
        let a = fingerprint(Pattern::UnboundedCache, "Map", "a > table > 516 (X)");
        let b = fingerprint(Pattern::UnboundedCache, "Map", "a > table > 5525 (X)");
        let c = fingerprint(Pattern::ListenerLeak, "Map", "a > table > 516 (X)");
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
