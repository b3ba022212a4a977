//! What Chrome DevTools does to a V8 heap snapshot when it loads one (`HeapSnapshot.ts`,
//! `JSHeapSnapshot`), re-implemented so plateau's retained sizes, shallow sizes and class
//! names agree with the DevTools Memory panel. Pure functions over the parsed arrays; no IO.
//!
//! DevTools' order, which these functions must be applied in: detachedness propagation
//! ([`propagate_detachedness`]) → page ownership ([`page_owned`]) → essential (retaining)
//! edges ([`essential_edges`]) → shallow-size transfer ([`transfer_shallow_sizes`]) → class
//! names ([`classify`], which includes interface inference for plain objects).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Range;

use plateau_graph::{
    BitSet, ClassId, ClassInfo, EdgeKind, Location, NodeId, NodeKind, StrId, StringTable, U64Column,
};

/// The arrays of a snapshot as read, before they become a [`plateau_graph::HeapGraph`].
#[derive(Clone, Debug, Default)]
pub struct Arrays {
    pub strings: StringTable,
    /// Each node's index into `type_names` (`meta.node_types[..]`).
    pub node_types: Vec<u8>,
    /// The node type names of the snapshot, and the kind each maps to.
    pub type_names: Vec<String>,
    pub type_kinds: Vec<NodeKind>,
    pub node_names: Vec<StrId>,
    pub node_ids: U64Column,
    pub self_sizes: U64Column,
    /// `node count + 1` entries.
    pub first_edge: Vec<u32>,
    pub edge_kinds: Vec<EdgeKind>,
    pub edge_names: Vec<u32>,
    pub edge_targets: Vec<NodeId>,
    pub root: NodeId,
    /// Sorted by node, at most one per node.
    pub locations: Vec<(NodeId, Location)>,
}

impl Arrays {
    pub fn node_count(&self) -> usize {
        self.node_types.len()
    }

    #[inline]
    pub fn kind(&self, n: usize) -> NodeKind {
        self.type_kinds[self.node_types[n] as usize]
    }

    #[inline]
    pub fn name(&self, n: usize) -> &str {
        self.strings.get(self.node_names[n])
    }

    #[inline]
    pub fn edges(&self, n: usize) -> Range<usize> {
        self.first_edge[n] as usize..self.first_edge[n + 1] as usize
    }

    /// The string name of a named (non element/hidden) edge.
    #[inline]
    pub fn edge_name(&self, e: usize) -> &str {
        self.strings.get(StrId(self.edge_names[e]))
    }
}

// ---------------------------------------------------------------------------------------
// JavaScript string semantics (UTF-16 code units) where DevTools' results depend on them.

/// Compares two strings as JavaScript does (`<`, `Array.prototype.sort`): by UTF-16 code
/// units, which differs from Rust's order when a character above U+FFFF meets one in
/// U+E000..U+FFFF.
pub fn cmp_js(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    match x.iter().zip(y).position(|(p, q)| p != q) {
        None => x.len().cmp(&y.len()),
        Some(i) => {
            let (p, q) = (x[i], y[i]);
            // Bytes before `i` agree, so `i` is either inside one same-length character
            // (plain byte order is right) or where two lead bytes differ.
            let astral = |b: u8| b >= 0xF0;
            let high_bmp = |b: u8| b == 0xEE || b == 0xEF;
            if astral(p) && high_bmp(q) {
                Ordering::Less
            } else if high_bmp(p) && astral(q) {
                Ordering::Greater
            } else {
                p.cmp(&q)
            }
        }
    }
}

/// A string's JavaScript `length` (UTF-16 code units).
pub fn js_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            0x80..=0xBF => 0,
            0xF0..=0xFF => 2,
            _ => 1,
        })
        .sum()
}

/// DevTools' `JSHeapSnapshotNode.formatPropertyName`: a property name containing `,`, `'`,
/// `"`, `{` or `}` is shown JSON-quoted.
pub fn format_property_name(name: &str) -> Cow<'_, str> {
    if !name
        .bytes()
        .any(|b| matches!(b, b',' | b'\'' | b'"' | b'{' | b'}'))
    {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// The table id of a WeakMap ephemeron edge name, as DevTools' `tryParseWeakMapEdgeName`
/// matches it: `^\d+ / part of key \(.*? @\d+\) -> value \(.*? @\d+\) pair in WeakMap
/// \(table @(\d+)\)$` (JavaScript `.` excludes line terminators).
pub fn ephemeron_table_id(name: &str) -> Option<u64> {
    let b = name.as_bytes();
    // Cheap rejections first: most internal edge names are words or plain numbers.
    if !b.first()?.is_ascii_digit() || *b.last()? != b')' {
        return None;
    }
    if name.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
        return None;
    }
    // ^\d+ / part of key \(
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let rest = name[digits..].strip_prefix(" / part of key (")?;
    // pair in WeakMap \(table @(\d+)\)$
    let body = &rest[..rest.len() - 1]; // drop the final ')'
    let id_digits = body.bytes().rev().take_while(u8::is_ascii_digit).count();
    if id_digits == 0 {
        return None;
    }
    let (body, id) = body.split_at(body.len() - id_digits);
    let body = body.strip_suffix(" pair in WeakMap (table @")?;
    // X @\d+\) -> value \(Y @\d+\)  with X, Y free text.
    let body = strip_at_number_paren(body)?; // removes the trailing " @\d+)"
    let found = body.match_indices(") -> value (").any(|(i, _)| {
        let before = &body[..i];
        let d = before.bytes().rev().take_while(u8::is_ascii_digit).count();
        d > 0 && before[..before.len() - d].ends_with(" @")
    });
    if !found {
        return None;
    }
    id.parse().ok()
}

/// Strips a trailing ` @<digits>)`.
fn strip_at_number_paren(s: &str) -> Option<&str> {
    let s = s.strip_suffix(')')?;
    let d = s.bytes().rev().take_while(u8::is_ascii_digit).count();
    if d == 0 {
        return None;
    }
    s[..s.len() - d].strip_suffix(" @")
}

// ---------------------------------------------------------------------------------------
// Detachedness (`propagateDOMState`).

/// DevTools' `propagateDOMState`: embedder (`native`) nodes with a known state seed a
/// propagation over non-hidden, non-weak edges through native nodes only; attached wins; nodes
/// found detached are renamed `Detached <name>`. `state` holds each node's `detachedness`
/// field (`& 3`) and is updated. Returns how many nodes were renamed.
pub fn propagate_detachedness(a: &mut Arrays, state: &mut [u8]) -> usize {
    struct Walk {
        visited: BitSet,
        attached: Vec<u32>,
        detached: Vec<u32>,
        renamed: HashMap<StrId, StrId>,
        count: usize,
    }
    impl Walk {
        fn process(&mut self, a: &mut Arrays, state: &mut [u8], ord: usize, new_state: u8) {
            if self.visited.contains(ord) {
                return;
            }
            self.visited.insert(ord);
            // Only embedder nodes carry (and pass on) a state.
            if a.kind(ord) != NodeKind::Native {
                return;
            }
            state[ord] = new_state;
            if new_state == 1 {
                self.attached.push(ord as u32);
            } else if new_state == 2 {
                let old = a.node_names[ord];
                let new = *self.renamed.entry(old).or_insert_with(|| {
                    let text = format!("Detached {}", a.strings.get(old));
                    a.strings.push(&text)
                });
                a.node_names[ord] = new;
                self.count += 1;
                self.detached.push(ord as u32);
            }
        }
    }
    let n = a.node_count();
    let mut walk = Walk {
        visited: BitSet::new(n),
        attached: Vec::new(),
        detached: Vec::new(),
        renamed: HashMap::new(),
        count: 0,
    };
    for ord in 0..n {
        let s = state[ord];
        if s != 0 {
            walk.process(a, state, ord, s);
        }
    }
    let propagates = |k: EdgeKind| !matches!(k, EdgeKind::Hidden | EdgeKind::Weak);
    while let Some(ord) = walk.attached.pop() {
        for e in a.edges(ord as usize) {
            if propagates(a.edge_kinds[e]) {
                let t = a.edge_targets[e].index();
                walk.process(a, state, t, 1);
            }
        }
    }
    while let Some(ord) = walk.detached.pop() {
        if state[ord as usize] == 1 {
            continue;
        }
        for e in a.edges(ord as usize) {
            if propagates(a.edge_kinds[e]) {
                let t = a.edge_targets[e].index();
                walk.process(a, state, t, 2);
            }
        }
    }
    walk.count
}

// ---------------------------------------------------------------------------------------
// Roots and page ownership.

/// `(Document DOM trees)`: Blink's synthetic root of DOM trees.
fn is_document_dom_trees_root(a: &Arrays, n: usize) -> bool {
    a.kind(n) == NodeKind::Synthetic && a.name(n) == "(Document DOM trees)"
}

/// DevTools' `JSHeapSnapshot.isUserRoot`: a non-synthetic node (a global object), or the
/// DOM-trees root.
pub fn is_user_root(a: &Arrays, n: usize) -> bool {
    a.kind(n) != NodeKind::Synthetic || is_document_dom_trees_root(a, n)
}

/// The user roots among the root's children, in edge order, without repeats.
pub fn user_roots(a: &Arrays) -> Vec<NodeId> {
    let mut seen = Vec::new();
    for e in a.edges(a.root.index()) {
        let t = a.edge_targets[e];
        if is_user_root(a, t.index()) && !seen.contains(&t) {
            seen.push(t);
        }
    }
    seen
}

/// DevTools' `markPageOwnedNodes`: the nodes reachable over non-weak edges from the root's
/// shortcut children (the global objects) and its `(Document DOM trees)` element children.
pub fn page_owned(a: &Arrays) -> BitSet {
    let n = a.node_count();
    let mut flags = BitSet::new(n);
    let mut stack: Vec<u32> = Vec::new();
    for e in a.edges(a.root.index()) {
        let t = a.edge_targets[e].index();
        let entry = match a.edge_kinds[e] {
            EdgeKind::Element => is_document_dom_trees_root(a, t),
            EdgeKind::Shortcut => true,
            _ => false,
        };
        if entry {
            stack.push(t as u32);
            flags.insert(t);
        }
    }
    while let Some(u) = stack.pop() {
        for e in a.edges(u as usize) {
            let t = a.edge_targets[e].index();
            if flags.contains(t) || a.edge_kinds[e] == EdgeKind::Weak {
                continue;
            }
            stack.push(t as u32);
            flags.insert(t);
        }
    }
    flags
}

/// DevTools' `computeIsEssentialEdge` for every edge: the edges that count for dominators and
/// retained sizes. Not essential: the WeakMap-table half of an ephemeron pair (an internal
/// edge named `… pair in WeakMap (table @<id>)` leaving the node with that id); weak edges;
/// self edges; and, except from the root, shortcut edges and edges from a non-page-owned node
/// into a page-owned one.
pub fn essential_edges(a: &Arrays, page_owned: &BitSet) -> BitSet {
    let mut bits = BitSet::new(a.edge_kinds.len());
    let root = a.root.index();
    for u in 0..a.node_count() {
        let range = a.edges(u);
        let start = range.start;
        let kinds = &a.edge_kinds[range.clone()];
        let targets = &a.edge_targets[range];
        let from_root = u == root;
        let u_owned = page_owned.contains(u);
        for (k, (&kind, &target)) in kinds.iter().zip(targets).enumerate() {
            let t = target.index();
            let keeps = match kind {
                EdgeKind::Weak => false,
                _ if t == u => false,
                EdgeKind::Shortcut if !from_root => false,
                EdgeKind::Internal
                    if ephemeron_table_id(a.edge_name(start + k)) == Some(a.node_ids.get(u)) =>
                {
                    false
                }
                _ => from_root || u_owned || !page_owned.contains(t),
            };
            if keeps {
                bits.insert(start + k);
            }
        }
    }
    bits
}

// ---------------------------------------------------------------------------------------
// Shallow sizes (`JSHeapSnapshot.calculateShallowSizes`).

/// Moves the self size of `hidden` and `array` nodes, and of `native` nodes named
/// `system / ExternalStringData`, onto their unique owner: the one non-such node that reaches
/// them (over non-weak edges, through other such nodes). Nodes with several owners keep their
/// size, and so do those whose owner is the root or synthetic. Does nothing when the root has
/// no user root (a snapshot taken with internals exposed). Returns whether it applied.
pub fn transfer_shallow_sizes(a: &mut Arrays) -> bool {
    let root = a.root.index();
    if !a
        .edges(root)
        .any(|e| is_user_root(a, a.edge_targets[e].index()))
    {
        return false;
    }
    const UNVISITED: u32 = u32::MAX;
    const MULTIPLE: u32 = u32::MAX - 1;
    let n = a.node_count();
    let mut owners: Vec<u32> = Vec::with_capacity(n);
    for i in 0..n {
        let owned = match a.kind(i) {
            NodeKind::Hidden | NodeKind::Array => true,
            NodeKind::Native => a.name(i) == "system / ExternalStringData",
            _ => false,
        };
        owners.push(if owned { UNVISITED } else { i as u32 });
    }
    // Propagate owners to a fixpoint (unvisited < one owner < several). DevTools seeds one
    // worklist with every owner; the fixpoint does not depend on the order, so this seeds
    // owners one at a time and keeps the worklist small.
    let mut worklist: Vec<u32> = Vec::new();
    for seed in 0..n {
        if owners[seed] != seed as u32 {
            continue;
        }
        worklist.push(seed as u32);
        while let Some(id) = worklist.pop() {
            let owner = owners[id as usize];
            for e in a.edges(id as usize) {
                if a.edge_kinds[e] == EdgeKind::Weak {
                    continue;
                }
                let t = a.edge_targets[e].0;
                let current = owners[t as usize];
                if current == UNVISITED {
                    owners[t as usize] = owner;
                    worklist.push(t);
                } else if current != t && current != owner && current != MULTIPLE {
                    owners[t as usize] = MULTIPLE;
                    worklist.push(t);
                }
            }
        }
    }
    drop(worklist);
    for (i, &owner) in owners.iter().enumerate() {
        if owner == UNVISITED || owner == MULTIPLE || owner as usize == i {
            continue;
        }
        let owner = owner as usize;
        if a.kind(owner) == NodeKind::Synthetic || owner == root {
            continue;
        }
        let size = a.self_sizes.get(i);
        a.self_sizes.set(i, 0);
        a.self_sizes
            .set(owner, a.self_sizes.get(owner).saturating_add(size));
    }
    true
}

// ---------------------------------------------------------------------------------------
// Class names (`calculateObjectNames`, `inferInterfaceDefinitions`,
// `applyInterfaceDefinitions`).

/// After this many characters of name, an interface stops taking properties
/// (`MIN_INTERFACE_PROPERTY_COUNT`: DevTools compares it with the name's length).
pub const MIN_INTERFACE_PROPERTY_COUNT: usize = 1;
/// The longest interface name DevTools builds (unless its first property is longer).
pub const MAX_INTERFACE_NAME_LENGTH: usize = 120;
/// An interface must describe at least this many objects...
pub const MIN_OBJECT_COUNT_PER_INTERFACE: usize = 2;
/// ...and at least one in this many of the plain objects.
pub const MIN_OBJECT_PROPORTION_PER_INTERFACE: usize = 1000;

/// An inferred interface: plain objects with (at least) these properties are shown as `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceDefinition {
    /// `{a, b, c}`.
    pub name: String,
    /// Property names (string ids), in the order of the first object that had them.
    pub properties: Vec<StrId>,
    /// How many plain objects had exactly this name.
    pub count: usize,
}

/// The plain JavaScript objects (type `object`, name `Object`), in node order.
pub fn plain_objects(a: &Arrays) -> Vec<u32> {
    (0..a.node_count())
        .filter(|&n| a.kind(n) == NodeKind::Object && a.name(n) == "Object")
        .map(|n| n as u32)
        .collect()
}

/// DevTools' `inferInterfaceDefinitions`: the most common property lists of plain objects,
/// most common first (ties in first-seen order), each shared by at least
/// max(2, plain objects / 1000) objects.
pub fn infer_interface_definitions(a: &Arrays) -> Vec<InterfaceDefinition> {
    infer_for(a, &plain_objects(a))
}

fn infer_for(a: &Arrays, plain: &[u32]) -> Vec<InterfaceDefinition> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut candidates: Vec<InterfaceDefinition> = Vec::new();
    let mut total = 0usize;
    let mut name = String::new();
    let mut properties: Vec<StrId> = Vec::new();
    for &n in plain {
        let n = n as usize;
        total += 1;
        name.clear();
        name.push('{');
        let mut name_len = 1usize; // in UTF-16 units, as JavaScript measures it
        properties.clear();
        for e in a.edges(n) {
            if a.edge_kinds[e] != EdgeKind::Property {
                continue;
            }
            let edge_name = a.edge_name(e);
            if edge_name == "__proto__" {
                continue;
            }
            let formatted = format_property_name(edge_name);
            let formatted_len = js_len(&formatted);
            if name_len > MIN_INTERFACE_PROPERTY_COUNT
                && name_len + formatted_len > MAX_INTERFACE_NAME_LENGTH
            {
                break;
            }
            if name_len != 1 {
                name.push_str(", ");
                name_len += 2;
            }
            name.push_str(&formatted);
            name_len += formatted_len;
            properties.push(StrId(a.edge_names[e]));
        }
        if properties.is_empty() {
            continue;
        }
        name.push('}');
        match index.get(name.as_str()) {
            Some(&i) => candidates[i].count += 1,
            None => {
                index.insert(name.clone(), candidates.len());
                candidates.push(InterfaceDefinition {
                    name: name.clone(),
                    properties: properties.clone(),
                    count: 1,
                });
            }
        }
    }
    // Stable, like Array.prototype.sort: equal counts keep first-seen order.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.count));
    let min_count = (MIN_OBJECT_COUNT_PER_INTERFACE as f64)
        .max(total as f64 / MIN_OBJECT_PROPORTION_PER_INTERFACE as f64);
    let keep = candidates
        .iter()
        .take_while(|c| c.count as f64 >= min_count)
        .count();
    candidates.truncate(keep);
    candidates
}

#[derive(Clone, Copy)]
struct MatchInfo {
    definition: usize,
    property_count: usize,
}

impl MatchInfo {
    /// DevTools' `selectBetterMatch`: more properties win, then the earlier definition.
    fn better(self, other: Option<MatchInfo>) -> MatchInfo {
        match other {
            None => self,
            Some(b) if self.property_count > b.property_count => self,
            Some(b) if b.property_count > self.property_count => b,
            Some(b) if self.definition <= b.definition => self,
            Some(b) => b,
        }
    }
}

struct TreeNode<'s> {
    next: HashMap<&'s str, usize>,
    greatest_next: Option<&'s str>,
    match_info: Option<MatchInfo>,
}

/// DevTools' `applyInterfaceDefinitions`: for each plain object, the definition it is shown
/// as — the one with the most properties all of which the object has (earliest on ties) —
/// found by walking a tree of the definitions' sorted property names exactly as DevTools
/// does. Returns `(node, definition index)` pairs in node order.
pub fn apply_interface_definitions(
    a: &Arrays,
    definitions: &[InterfaceDefinition],
) -> Vec<(NodeId, usize)> {
    apply_for(a, &plain_objects(a), definitions)
}

fn apply_for(
    a: &Arrays,
    plain: &[u32],
    definitions: &[InterfaceDefinition],
) -> Vec<(NodeId, usize)> {
    let mut result = Vec::new();
    if definitions.is_empty() {
        return result;
    }
    let mut tree: Vec<TreeNode<'_>> = vec![TreeNode {
        next: HashMap::new(),
        greatest_next: None,
        match_info: None,
    }];
    for (index, def) in definitions.iter().enumerate() {
        let mut props: Vec<&str> = def.properties.iter().map(|&s| a.strings.get(s)).collect();
        props.sort_by(|x, y| cmp_js(x, y));
        let mut current = 0usize;
        for &p in &props {
            current = match tree[current].next.get(p) {
                Some(&next) => next,
                None => {
                    let next = tree.len();
                    tree.push(TreeNode {
                        next: HashMap::new(),
                        greatest_next: None,
                        match_info: None,
                    });
                    let node = &mut tree[current];
                    node.next.insert(p, next);
                    if node
                        .greatest_next
                        .is_none_or(|g| cmp_js(g, p) == Ordering::Less)
                    {
                        node.greatest_next = Some(p);
                    }
                    next
                }
            };
        }
        if tree[current].match_info.is_none() {
            tree[current].match_info = Some(MatchInfo {
                definition: index,
                property_count: props.len(),
            });
        }
    }

    let initial = MatchInfo {
        definition: usize::MAX,
        property_count: 0,
    };
    let mut properties: Vec<&str> = Vec::new();
    let mut states: Vec<usize> = Vec::new();
    let mut snapshot: Vec<usize> = Vec::new();
    for &n in plain {
        let n = n as usize;
        properties.clear();
        properties.extend(
            a.edges(n)
                .filter(|&e| a.edge_kinds[e] == EdgeKind::Property)
                .map(|e| a.edge_name(e)),
        );
        properties.sort_by(|x, y| cmp_js(x, y));
        // `states` is an insertion-ordered set, as DevTools' `Set`.
        states.clear();
        states.push(0);
        let mut best = initial.better(tree[0].match_info);
        for &p in &properties {
            snapshot.clear();
            snapshot.extend_from_slice(&states);
            for &s in &snapshot {
                let node = &tree[s];
                if node
                    .greatest_next
                    .is_none_or(|g| cmp_js(p, g) != Ordering::Less)
                {
                    if let Some(pos) = states.iter().position(|&x| x == s) {
                        states.remove(pos);
                    }
                }
                if let Some(&next) = node.next.get(p) {
                    if !states.contains(&next) {
                        states.push(next);
                    }
                    best = best.better(tree[next].match_info);
                }
            }
        }
        if best.definition != usize::MAX {
            result.push((NodeId(n as u32), best.definition));
        }
    }
    result
}

/// The classes of a snapshot, as DevTools' Summary view groups objects.
#[derive(Clone, Debug, Default)]
pub struct Classes {
    pub node_classes: Vec<ClassId>,
    pub classes: Vec<ClassInfo>,
    /// How many interface definitions were inferred and applied.
    pub interfaces: usize,
}

/// DevTools' `calculateObjectNames` (+ interface inference when `infer_interfaces`), then
/// DevTools' class keys: an `object` node with a location is keyed by location and class
/// name, any other node by class name alone. Class names are compared as text (DevTools
/// compares string-table indices, which only differ for equal text in corner cases such as
/// an `object` node named `RegExp` next to `regexp` nodes; it then shows one of the two
/// rows, plateau merges them). Adds the names it makes up to the string table.
pub fn classify(a: &mut Arrays, infer_interfaces: bool) -> Classes {
    let n = a.node_count();
    // Pass 1: each node's class name, as a string id (existing or added).
    let mut added: HashMap<String, StrId> = HashMap::new();
    let mut intern = |strings: &mut StringTable, text: &str| -> StrId {
        if let Some(&id) = added.get(text) {
            return id;
        }
        let id = strings.push(text);
        added.insert(text.to_string(), id);
        id
    };
    let type_class: Vec<StrId> = (0..a.type_names.len())
        .map(|t| {
            let text = match a.type_kinds[t] {
                NodeKind::Hidden => "(system)".to_string(),
                NodeKind::Code => "(compiled code)".to_string(),
                NodeKind::Closure => "Function".to_string(),
                NodeKind::RegExp => "RegExp".to_string(),
                _ => format!("({})", a.type_names[t]),
            };
            intern(&mut a.strings, &text)
        })
        .collect();
    let mut class_of: Vec<u32> = Vec::with_capacity(n);
    for i in 0..n {
        let id = match a.kind(i) {
            NodeKind::Object | NodeKind::Native => {
                let name = a.name(i);
                if let Some(short) = short_tag_name(name) {
                    let short = short.into_owned();
                    intern(&mut a.strings, &short)
                } else {
                    a.node_names[i]
                }
            }
            _ => type_class[a.node_types[i] as usize],
        };
        class_of.push(id.0);
    }

    // Pass 2: interface names for plain objects.
    let mut interfaces = 0;
    if infer_interfaces {
        let plain = plain_objects(a);
        let definitions = infer_for(a, &plain);
        let matches = apply_for(a, &plain, &definitions);
        let mut name_ids: Vec<Option<StrId>> = vec![None; definitions.len()];
        for (node, def) in matches {
            let id = *name_ids[def]
                .get_or_insert_with(|| intern(&mut a.strings, &definitions[def].name));
            class_of[node.index()] = id.0;
        }
        interfaces = definitions.len();
    }

    // Pass 3: class keys. Equal names share a class; `object` nodes with a location are
    // told apart by it.
    const NONE: u32 = u32::MAX;
    let strings = &a.strings;
    let mut canonical: Vec<u32> = vec![NONE; strings.len()];
    let mut by_text: HashMap<&str, u32> = HashMap::new();
    // Class of each canonical name without a location; located classes in a map.
    let mut plain_class: Vec<u32> = vec![NONE; strings.len()];
    let mut located_class: HashMap<(u32, Location), u32> = HashMap::new();
    let mut classes: Vec<ClassInfo> = Vec::new();
    let mut locations = a.locations.iter().peekable();
    for (i, slot) in class_of.iter_mut().enumerate() {
        let id = *slot as usize;
        if canonical[id] == NONE {
            canonical[id] = *by_text
                .entry(strings.get(StrId(id as u32)))
                .or_insert(id as u32);
        }
        let name = canonical[id];
        let mut location = None;
        if locations.peek().is_some_and(|(node, _)| node.index() <= i) {
            while locations.next_if(|(node, _)| node.index() < i).is_some() {}
            if let Some((node, loc)) = locations.peek() {
                if node.index() == i && a.kind(i) == NodeKind::Object {
                    location = Some(*loc);
                }
            }
        }
        let mut new_class = || {
            classes.push(ClassInfo {
                name: StrId(name),
                location,
            });
            classes.len() as u32 - 1
        };
        *slot = match location {
            None => {
                if plain_class[name as usize] == NONE {
                    plain_class[name as usize] = new_class();
                }
                plain_class[name as usize]
            }
            Some(loc) => *located_class.entry((name, loc)).or_insert_with(new_class),
        };
    }
    Classes {
        node_classes: class_of.into_iter().map(ClassId).collect(),
        classes,
        interfaces,
    }
}

/// DevTools shortens DOM-ish names: `<div id="a">` → `<div>`, `Detached <div id="a">` →
/// `Detached <div>`; `None` when the name is not of that form (the raw name is the class).
fn short_tag_name(name: &str) -> Option<Cow<'_, str>> {
    if name.starts_with('<') {
        return Some(match name.find(' ') {
            Some(space) => Cow::Owned(format!("{}>", &name[..space])),
            None => Cow::Borrowed(name),
        });
    }
    if let Some(rest) = name.strip_prefix("Detached <") {
        return Some(match rest.find(' ') {
            Some(space) => Cow::Owned(format!("{}>", &name[..10 + space])),
            None => Cow::Borrowed(name),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_order() {
        assert_eq!(cmp_js("a", "b"), Ordering::Less);
        assert_eq!(cmp_js("ab", "a"), Ordering::Greater);
        // U+1F600 is D83D DE00 in UTF-16: before U+FF01.
        assert_eq!(cmp_js("😀", "！"), Ordering::Less);
        assert_eq!(cmp_js("！", "😀"), Ordering::Greater);
        assert_eq!(cmp_js("é", "😀"), Ordering::Less);
        assert_eq!(cmp_js("_", "a"), Ordering::Less);
        assert_eq!(cmp_js("B", "a"), Ordering::Less);
    }

    #[test]
    fn js_length() {
        assert_eq!(js_len("abc"), 3);
        assert_eq!(js_len("é"), 1);
        assert_eq!(js_len("😀"), 2);
    }

    #[test]
    fn property_names() {
        assert_eq!(format_property_name("plain"), "plain");
        assert_eq!(format_property_name("a,b"), "\"a,b\"");
        assert_eq!(format_property_name("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(format_property_name("{x}\n"), "\"{x}\\n\"");
        assert_eq!(format_property_name("'\u{1}"), "\"'\\u0001\"");
    }

    #[test]
    fn ephemeron_names() {
        let name = "3 / part of key (Object @17) -> value (Array @19) pair in WeakMap (table @23)";
        assert_eq!(ephemeron_table_id(name), Some(23));
        // `.*?` may swallow `) -> value (`: the key part is `a) -> value (b`.
        let tricky =
            "12 / part of key (a) -> value (b @1) -> value (c @2) pair in WeakMap (table @7)";
        assert_eq!(ephemeron_table_id(tricky), Some(7));
        let no_key_id = "12 / part of key (a) -> value (b @2) pair in WeakMap (table @7)";
        assert_eq!(ephemeron_table_id(no_key_id), None);
        let tricky2 =
            "12 / part of key (x @1) -> value (y) -> value (z @2) pair in WeakMap (table @7)";
        assert_eq!(ephemeron_table_id(tricky2), Some(7));
        assert_eq!(ephemeron_table_id("515"), None);
        assert_eq!(ephemeron_table_id("table"), None);
        assert_eq!(
            ephemeron_table_id(
                "3 / part of key (a\n @1) -> value (b @2) pair in WeakMap (table @5)"
            ),
            None
        );
        assert_eq!(
            ephemeron_table_id("3 / part of key ( @1) -> value ( @2) pair in WeakMap (table @)"),
            None
        );
        assert_eq!(
            ephemeron_table_id(
                "x3 / part of key (a @1) -> value (b @2) pair in WeakMap (table @5)"
            ),
            None
        );
    }

    #[test]
    fn tag_names() {
        assert_eq!(short_tag_name("<div id=\"a\">").unwrap(), "<div>");
        assert_eq!(short_tag_name("<div>").unwrap(), "<div>");
        assert_eq!(
            short_tag_name("Detached <div class=x>").unwrap(),
            "Detached <div>"
        );
        assert!(short_tag_name("Map").is_none());
    }
}
