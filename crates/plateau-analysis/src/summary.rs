use std::collections::HashMap;

use plateau_graph::{
    class_histogram_with, ClassCounts, ClassStats, DominatorTree, Dominators, HeapGraph, Location,
    NodeId, NodeKind, RetainerPaths,
};

use crate::collections::largest_collections;
use crate::names::TopK;
use crate::strings::duplicate_strings;
use crate::{script_name, Collection, DuplicateString, Redaction, RetainerPath};

/// What to put in a summary.
#[derive(Clone, Debug)]
pub struct SummaryOptions {
    /// Rows per list (top retainers, collections, duplicate strings).
    pub top: usize,
    pub redaction: Redaction,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            top: 10,
            redaction: Redaction::None,
        }
    }
}

/// "What holds the memory?" for one heap.
#[derive(Clone, Debug)]
pub struct HeapSummary {
    pub nodes: usize,
    pub edges: usize,
    pub total_size: u64,
    /// Bytes no chain of strong references reaches (held only weakly, or garbage the
    /// runtime had not collected yet).
    pub weak_only_size: u64,
    pub weak_only_count: usize,
    /// Every class, largest retained size first.
    pub classes: Vec<ClassRow>,
    pub top_retainers: Vec<TopObject>,
    pub collections: Vec<CollectionRow>,
    pub duplicate_strings: Vec<DuplicateRow>,
    /// Bytes all duplicate strings waste together (not only the listed ones).
    pub duplicate_strings_wasted: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassRow {
    pub name: String,
    /// Where the constructor was defined, for JavaScript classes that share a name.
    pub location: Option<Location>,
    pub count: u64,
    pub shallow_size: u64,
    /// Counted once per object tree (the top-ancestor rule).
    pub retained_size: u64,
}

impl ClassRow {
    fn new(graph: &HeapGraph, stats: &ClassStats) -> ClassRow {
        ClassRow {
            name: graph.class_name(stats.class).to_string(),
            location: graph.class_info(stats.class).location,
            count: stats.count,
            shallow_size: stats.shallow_size,
            retained_size: stats.retained_size,
        }
    }
}

/// The histogram's classes that have objects, as rows.
pub(crate) fn class_rows(graph: &HeapGraph, stats: Vec<ClassStats>) -> Vec<ClassRow> {
    stats
        .iter()
        .filter(|s| s.count > 0)
        .map(|s| ClassRow::new(graph, s))
        .collect()
}

/// An object that retains much memory.
#[derive(Clone, Debug)]
pub struct TopObject {
    pub node: NodeId,
    pub object_id: u64,
    pub name: String,
    pub class: String,
    pub kind: NodeKind,
    pub shallow_size: u64,
    pub retained_size: u64,
    pub path: Option<RetainerPath>,
    pub location: Option<Location>,
    /// The script of `location`, when the snapshot links it.
    pub script: Option<String>,
    /// Set when the object retains [`SUSPECT_SHARE`] of the heap or more (Eclipse MAT's
    /// "problem suspect" rule): where inside it the memory accumulates.
    pub accumulation: Option<Accumulation>,
}

/// A top retainer holding at least this share of the heap is a suspect.
pub const SUSPECT_SHARE: f64 = 0.10;

/// Where a suspect's memory accumulates: going down the dominator tree from the suspect
/// through the child that retains the most, the last object before no single child holds
/// 80% any more (MAT's accumulation point): a map's table, a list's array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accumulation {
    pub object_id: u64,
    pub class: String,
    pub retained_size: u64,
    /// Objects it immediately dominates: what it accumulates.
    pub dominated_children: u64,
    /// Steps down the dominator tree from the suspect (0: the suspect itself).
    pub depth: u32,
}

fn accumulation_point(
    graph: &HeapGraph,
    dom: &Dominators,
    tree: &DominatorTree,
    node: NodeId,
    redaction: Redaction,
) -> Accumulation {
    let mut at = node;
    let mut depth = 0;
    // A long chain of single children (a linked list) ends somewhere: bound the walk.
    while depth < 10_000 {
        let biggest = tree
            .children(at)
            .iter()
            .copied()
            .max_by_key(|&c| (dom.retained_size(c), std::cmp::Reverse(c)));
        match biggest {
            Some(c) if dom.retained_size(c) * 10 >= dom.retained_size(at) * 8 => {
                at = c;
                depth += 1;
            }
            _ => break,
        }
    }
    Accumulation {
        object_id: graph.object_id(at),
        class: redaction.class(graph.class_name_of(at)),
        retained_size: dom.retained_size(at),
        dominated_children: tree.children(at).len() as u64,
        depth,
    }
}

#[derive(Clone, Debug)]
pub struct CollectionRow {
    pub collection: Collection,
    pub object_id: u64,
    pub class: String,
    pub shallow_size: u64,
    pub retained_size: u64,
    pub path: Option<RetainerPath>,
}

#[derive(Clone, Debug)]
pub struct DuplicateRow {
    pub duplicate: DuplicateString,
    /// The string, redacted when asked.
    pub value: String,
}

/// Summarises a heap whose dominators are computed.
pub fn summarize(graph: &HeapGraph, dom: &Dominators, options: &SummaryOptions) -> HeapSummary {
    summarize_counted(graph, dom, options, None)
}

/// What the summary counts of the graph alone, whatever the dominators say: the CLI has it
/// counted on the second core during the dominators' DFS.
pub struct GraphCounts {
    /// [`duplicate_strings`] with `options.top`.
    pub duplicates: (Vec<DuplicateString>, u64),
    pub classes: ClassCounts,
}

impl GraphCounts {
    pub fn count(graph: &HeapGraph, options: &SummaryOptions) -> GraphCounts {
        GraphCounts {
            duplicates: duplicate_strings(graph, options.top),
            classes: ClassCounts::count(graph),
        }
    }
}

/// [`summarize`], with what needs only the graph counted already.
pub fn summarize_counted(
    graph: &HeapGraph,
    dom: &Dominators,
    options: &SummaryOptions,
    counted: Option<GraphCounts>,
) -> HeapSummary {
    let redaction = options.redaction;
    let is_suspect =
        |node: NodeId| dom.retained_size(node) as f64 >= SUSPECT_SHARE * graph.total_size() as f64;
    // The rows chosen and the path search to them (which stops once it has reached them) on
    // a second core; on this one the dominator tree (8 bytes a node) serves the class table
    // and the accumulation points. None of the three passes' working memory meets another's:
    // when the dominators tell which nodes the user roots reach, the search is short (see
    // `RetainerPaths::compute_to_with`) and ends, beside the duplicate strings' count and the
    // tree's counts, before the tree's lists are made (2 GB Java heap: the summary's peak
    // 1,092 -> about 970 MiB); otherwise it is long and runs beside everything, the strings
    // counted once the tree is gone.
    let user_reach = dom.user_root_reach();
    let choose_and_search = || {
        let top_nodes = top_retainers(graph, dom, options.top);
        let collections = largest_collections(graph, dom, options.top);
        let targets: Vec<NodeId> = top_nodes
            .iter()
            .copied()
            .chain(collections.iter().map(|c| c.node))
            .collect();
        let paths = RetainerPaths::compute_to_with(graph, &targets, user_reach);
        (top_nodes, collections, paths)
    };
    let (
        mut classes,
        (top_nodes, collections, paths),
        accumulations,
        (dups, duplicate_strings_wasted),
    ) = std::thread::scope(|scope| {
        let search = scope.spawn(choose_and_search);
        let join = |search: std::thread::ScopedJoinHandle<'_, _>| {
            search
                .join()
                .expect("the retainer-path search does not panic")
        };
        let (mut dups, class_counts) = match counted {
            Some(GraphCounts {
                duplicates,
                classes,
            }) => (Some(duplicates), Some(classes)),
            None => (None, None),
        };
        let (mut search, mut searched) = (Some(search), None);
        let tree = if user_reach.is_some() {
            if dups.is_none() {
                dups = Some(duplicate_strings(graph, options.top));
            }
            // The tree's smaller half fits beside the search; its lists wait for its end.
            let counts = dom.tree_counts();
            searched = search.take().map(join);
            counts.fill(dom)
        } else {
            dom.tree()
        };
        let classes = class_rows(graph, class_histogram_with(graph, dom, &tree, class_counts));
        let searched = match search {
            Some(search) => join(search),
            None => searched.expect("searched before the tree"),
        };
        let accumulations: Vec<Option<Accumulation>> = searched
            .0
            .iter()
            .map(|&node| {
                is_suspect(node).then(|| accumulation_point(graph, dom, &tree, node, redaction))
            })
            .collect();
        drop(tree);
        let dups = dups.unwrap_or_else(|| duplicate_strings(graph, options.top));
        (classes, searched, accumulations, dups)
    });
    for c in &mut classes {
        c.name = redaction.class(&c.name);
    }
    classes.sort_by(|a, b| {
        b.retained_size
            .cmp(&a.retained_size)
            .then_with(|| a.name.cmp(&b.name))
    });
    let top_retainers = top_nodes
        .into_iter()
        .zip(accumulations)
        .map(|(node, accumulation)| {
            let kind = graph.kind(node);
            TopObject {
                node,
                object_id: graph.object_id(node),
                name: if kind.is_string() {
                    redaction.value(graph.name(node))
                } else {
                    graph.name(node).to_string()
                },
                class: redaction.class(graph.class_name_of(node)),
                kind,
                shallow_size: graph.self_size(node),
                retained_size: dom.retained_size(node),
                path: RetainerPath::to(graph, &paths, node, redaction),
                location: graph.location(node),
                script: graph.location(node).and_then(|_| script_name(graph, node)),
                accumulation,
            }
        })
        .collect();
    let collections = collections
        .into_iter()
        .map(|c| CollectionRow {
            object_id: graph.object_id(c.node),
            class: redaction.class(graph.class_name_of(c.node)),
            shallow_size: graph.self_size(c.node),
            retained_size: dom.retained_size(c.node),
            path: RetainerPath::to(graph, &paths, c.node, redaction),
            collection: c,
        })
        .collect();
    drop(paths);
    let duplicate_strings = dups
        .into_iter()
        .map(|d| DuplicateRow {
            value: redaction.value(graph.name(d.node)),
            duplicate: d,
        })
        .collect();

    HeapSummary {
        nodes: graph.node_count(),
        edges: graph.edge_count(),
        total_size: graph.total_size(),
        weak_only_size: dom.weak_only_size(),
        weak_only_count: dom.weak_only_count(),
        classes,
        top_retainers,
        collections,
        duplicate_strings,
        duplicate_strings_wasted,
    }
}

/// Objects a user would call "the thing holding memory": not VM internals (closure scopes
/// included), not the global object itself, and not a mere holder of a bigger thing. When an object's retained size is
/// at least 90% inside one object it dominates, the inner one (where memory accumulates) is
/// listed instead, so `sessions > cache (Map)` is one row, not two.
fn top_retainers(graph: &HeapGraph, dom: &Dominators, top: usize) -> Vec<NodeId> {
    let is_candidate = |n: NodeId| {
        matches!(
            graph.kind(n),
            NodeKind::Object
                | NodeKind::Closure
                | NodeKind::Native
                | NodeKind::String
                | NodeKind::ConsString
                | NodeKind::SlicedString
                | NodeKind::RegExp
                | NodeKind::BigInt
        ) && !graph.user_roots().contains(&n)
            && n != graph.root()
            // Scopes and other VM records: their contents are listed instead.
            && !graph.name(n).starts_with("system / ")
    };
    let mut pool = TopK::new((top * 8).max(64));
    for node in graph.nodes() {
        let retained = dom.retained_size(node);
        // The size test first: it rules out nearly every node without reading its name.
        if pool.admits(retained, &node) && is_candidate(node) {
            pool.push(retained, node);
        }
    }
    let candidates: Vec<NodeId> = pool.into_sorted().into_iter().map(|(_, n)| n).collect();

    let position: HashMap<NodeId, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, i))
        .collect();
    let mut superseded = vec![false; candidates.len()];
    for &inner in &candidates {
        let inner_size = dom.retained_size(inner);
        let mut up = dom.idom(inner);
        // Dominator chains can be as long as a linked list; holders sit near the top.
        for _ in 0..256 {
            if up == graph.root() {
                break;
            }
            if let Some(&i) = position.get(&up) {
                if inner_size * 10 >= dom.retained_size(up) * 9 {
                    superseded[i] = true;
                }
            }
            up = dom.idom(up);
        }
    }
    candidates
        .into_iter()
        .enumerate()
        .filter(|&(i, _)| !superseded[i])
        .map(|(_, n)| n)
        .take(top)
        .collect()
}
