//! The heap-graph engine: a compact object graph and the answers every heap tool needs from
//! it — dominator tree, retained sizes, shortest retainer paths, class histograms.
//!
//! Owns: [`HeapGraph`] (compressed sparse rows, `u32` typed ids, one string table, Java's
//! `<class>` links kept as a rule, [`ClassLinks`], and handed out as edges),
//! [`Dominators`] (semi-NCA from the root, iterative), [`RetainerPaths`] (breadth-first from
//! the roots), [`class_histogram`] (count, shallow, and retained by the top-ancestor rule),
//! [`prefetch`] (a cache hint, the workspace's one `unsafe`).
//!
//! Must not know: any file format, any IO, any runtime's naming. A reader decides which edges
//! retain (V8's ephemeron rule, Java's `Reference.referent`) and hands the graph a bit set;
//! the engine only applies it.
//!
//! ```
//! use plateau_graph::{GraphBuilder, NodeKind, EdgeKind, Dominators};
//! let mut b = GraphBuilder::new();
//! let root = b.node(NodeKind::Synthetic, "", 0);
//! let map = b.node(NodeKind::Object, "Map", 32);
//! let entry = b.node(NodeKind::Object, "Entry", 100);
//! b.edge(root, EdgeKind::Property, "cache", map);
//! b.edge(map, EdgeKind::Element, "0", entry);
//! let graph = b.finish(root).unwrap();
//! let dom = Dominators::compute(&graph);
//! assert_eq!(dom.retained_size(map), 132);
//! ```

mod bitset;
mod builder;
mod column;
mod dominators;
mod graph;
mod histogram;
mod paths;
mod prefetch;
mod strings;

pub use bitset::BitSet;
pub use builder::GraphBuilder;
pub use column::{EdgeStarts, NameColumn, U64Column};
pub use dominators::{DominatorOptions, DominatorTree, Dominators, TreeCounts};
pub use graph::{
    default_retaining_edges, ClassId, ClassInfo, ClassLinks, CollectionShape, EdgeId, EdgeKind,
    Edges, GraphError, GraphParts, HeapGraph, Location, NodeId, NodeKind, StoredCollection, StrId,
    MAX_NODES, NO_CLASS_OBJECT,
};
pub use histogram::{class_histogram, class_histogram_with, ClassCounts, ClassStats};
pub use paths::RetainerPaths;
pub use prefetch::prefetch;
pub use strings::StringTable;

/// `a` and `b`, on two threads when `threads` allows (big passes that split in two).
pub(crate) fn join<A: Send, B: Send>(
    threads: usize,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if threads > 1 {
        std::thread::scope(|scope| {
            let b = scope.spawn(b);
            (a(), b.join().expect("a graph pass does not panic"))
        })
    } else {
        (a(), b())
    }
}

/// A small deterministic generator (xorshift64) for the unit tests' random graphs and columns.
#[cfg(test)]
pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
