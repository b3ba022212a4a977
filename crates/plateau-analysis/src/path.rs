use plateau_graph::{EdgeId, EdgeKind, HeapGraph, NodeId, NodeKind, RetainerPaths};

use crate::Redaction;

/// One hop of a retainer path: the edge taken and the object it leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStep {
    /// The edge as the user's code names it: a property, a captured variable, `[3]`.
    pub edge: String,
    pub edge_kind: EdgeKind,
    pub class: String,
    pub node_kind: NodeKind,
    /// The object's name where it says more than its class (a function's name).
    pub name: String,
    pub object_id: u64,
}

/// The shortest chain of strong references from a GC root to an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetainerPath {
    pub steps: Vec<PathStep>,
}

impl RetainerPath {
    /// Builds the path to `node`, or `None` when only weak references reach it.
    pub fn to(
        graph: &HeapGraph,
        paths: &RetainerPaths,
        node: NodeId,
        redaction: Redaction,
    ) -> Option<RetainerPath> {
        let edges = paths.path(graph, node)?;
        let mut steps: Vec<PathStep> = Vec::with_capacity(edges.len());
        for e in edges {
            let target = graph.edge_target(e);
            let kind = graph.kind(target);
            let mut edge = match graph.edge_kind(e) {
                EdgeKind::Property | EdgeKind::Context | EdgeKind::Shortcut => graph
                    .edge_name(e)
                    .map(|n| redaction.name(n))
                    .unwrap_or_default(),
                _ => graph.edge_label(e),
            };
            // A Map's entry reads as the code wrote it: `cache (Map) > .get("k")`, not
            // `cache (Map) > table > 516`.
            let through_table = steps.len() >= 2
                && steps[steps.len() - 1].edge == "table"
                && steps[steps.len() - 2].class == "Map";
            if through_table {
                if let Some(key) = map_key(graph, e, redaction) {
                    steps.pop();
                    edge = format!(".get({key})");
                }
            }
            // A Java map's entry likewise: `TOKENS (java.util.HashMap) > .get("k")`, not
            // `table > [12] (java.util.HashMap$Node) > next (...) > value`.
            if (edge == "value" || edge == "val")
                && is_java_map_entry(graph.class_name_of(graph.edge_source(e)))
            {
                let entry = graph.edge_source(e);
                let entry_class = graph.class_name_of(entry).to_string();
                let before = steps.len();
                while steps.last().is_some_and(|s| s.class == entry_class) {
                    steps.pop();
                }
                if steps.len() < before {
                    if steps
                        .last()
                        .is_some_and(|s| s.edge == "table" || s.edge == "root")
                    {
                        steps.pop();
                    }
                    edge = format!(".get({})", java_key(graph, entry, redaction));
                }
            }
            let name = if kind.is_string() {
                redaction.value(graph.name(target))
            } else {
                graph.name(target).to_string()
            };
            steps.push(PathStep {
                edge,
                edge_kind: graph.edge_kind(e),
                class: graph.class_name_of(target).to_string(),
                node_kind: kind,
                name,
                object_id: graph.object_id(target),
            });
        }
        // A class holds its static fields for as long as its loader lives: the path that
        // matters starts at the class (`class TokenStore > static TOKENS`), not at the
        // thread whose context loader happens to reach it first.
        let from_class = steps
            .windows(2)
            .rposition(|w| w[0].class == "java.lang.Class" && w[1].edge.starts_with("static "));
        if let Some(i) = from_class {
            steps.drain(..i);
        }
        Some(RetainerPath { steps })
    }

    /// `(GC roots) > global > app > cache (Map) > table > [12] (CartEntry)`.
    pub fn render(&self) -> String {
        render_path(&self.steps)
    }

    /// The path from the last closure scope (`system / Context`) whose captured variable
    /// it goes through, `(GC roots) > … > system / Context > feed (PriceFeed) > ...`: how a
    /// scope is reached is rarely the news, the variable is. The whole path when it has no
    /// such scope.
    pub fn render_short(&self) -> String {
        let scope = self
            .steps
            .windows(2)
            .rposition(|w| w[0].class == "system / Context" && w[1].edge_kind == EdgeKind::Context);
        match scope {
            Some(i) if i > 0 => format!(
                "(GC roots) > … > system / Context > {}",
                render_path(&self.steps[i + 1..])
                    .trim_start_matches("(GC roots)")
                    .trim_start_matches(" > ")
            ),
            _ => self.render(),
        }
    }
}

/// The script that defined an object's constructor (or a function), as V8 links it:
/// object `__proto__` > `constructor` > `shared` > `script_or_debug_info`, whose name is the
/// script's path or URL. `None` where a link is missing (built-ins, other runtimes).
pub fn script_name(graph: &HeapGraph, node: NodeId) -> Option<String> {
    let follow = |from: NodeId, name: &str| {
        graph
            .edges(from)
            .find(|&e| graph.edge_name(e) == Some(name))
            .map(|e| graph.edge_target(e))
    };
    let function = if graph.kind(node) == NodeKind::Closure {
        node
    } else {
        follow(follow(node, "__proto__")?, "constructor")?
    };
    let script = follow(follow(function, "shared")?, "script_or_debug_info")?;
    let name = graph.name(script);
    (!name.is_empty() && !name.starts_with("system /")).then(|| name.to_string())
}

/// The key of the Map entry whose value slot `value_edge` is (an internal edge of the Map's
/// OrderedHashMap table named by slot number): the slot before it holds the key. `None` when
/// the key is a small integer (no edge) or the edge is not a value slot.
fn map_key(graph: &HeapGraph, value_edge: EdgeId, redaction: Redaction) -> Option<String> {
    let slot: u32 = graph.edge_name(value_edge)?.parse().ok()?;
    let key_slot = slot.checked_sub(1)?.to_string();
    let table = graph.edge_source(value_edge);
    let key = graph.edges(table).find(|&k| {
        graph.edge_kind(k) == EdgeKind::Internal && graph.edge_name(k) == Some(key_slot.as_str())
    })?;
    let target = graph.edge_target(key);
    let mut text = String::new();
    string_value(graph, target, 64, &mut text).then(|| {
        let value = redaction.value(&text);
        let short: String = value.chars().take(40).collect();
        let cut = if short.len() < value.len() { "…" } else { "" };
        format!("\"{short}{cut}\"")
    })
}

/// Entry classes of the JDK's maps, whose `value` edge is the map's value.
fn is_java_map_entry(class: &str) -> bool {
    matches!(
        class,
        "java.util.HashMap$Node"
            | "java.util.HashMap$TreeNode"
            | "java.util.LinkedHashMap$Entry"
            | "java.util.Hashtable$Entry"
            | "java.util.TreeMap$Entry"
            | "java.util.WeakHashMap$Entry"
            | "java.util.concurrent.ConcurrentHashMap$Node"
            | "java.util.concurrent.ConcurrentHashMap$TreeNode"
    )
}

/// A Java map entry's key as code would write it: `"tok-1f"` for a string, the class name
/// (`TokenStore$Key`) otherwise; the referent for a `WeakHashMap`.
fn java_key(graph: &HeapGraph, entry: NodeId, redaction: Redaction) -> String {
    let key = graph
        .edges(entry)
        .find(|&e| matches!(graph.edge_name(e), Some("key" | "referent")))
        .map(|e| graph.edge_target(e));
    match key {
        Some(k) if graph.kind(k) == NodeKind::String => {
            let value = redaction.value(graph.name(k));
            let short: String = value.chars().take(40).collect();
            let cut = if short.len() < value.len() { "…" } else { "" };
            format!("\"{short}{cut}\"")
        }
        Some(k) => graph.class_name_of(k).to_string(),
        None => "…".to_string(),
    }
}

/// Appends a string node's text, up to `budget` characters: flat strings are their name,
/// concatenated strings are their `first` and `second` parts. False for other nodes.
fn string_value(graph: &HeapGraph, node: NodeId, budget: usize, out: &mut String) -> bool {
    match graph.kind(node) {
        NodeKind::String => {
            out.extend(graph.name(node).chars().take(budget));
            true
        }
        NodeKind::ConsString => ["first", "second"].iter().all(|part| {
            let left = budget.saturating_sub(out.chars().count());
            left == 0
                || graph
                    .edges(node)
                    .find(|&e| graph.edge_name(e) == Some(part))
                    .is_some_and(|e| string_value(graph, graph.edge_target(e), left, out))
        }),
        _ => false,
    }
}

/// Renders steps as one line, starting from `(GC roots)`.
pub fn render_path(steps: &[PathStep]) -> String {
    let mut out = String::from("(GC roots)");
    let mut i = 0;
    while i < steps.len() {
        let step = &steps[i];
        // A linked list (`_idleNext > _idleNext > ...`) reads as one hop with a count.
        let run = steps[i..]
            .iter()
            .take_while(|s| s.edge == step.edge && s.class == step.class)
            .count();
        if run >= 3 {
            out.push_str(&format!(" > {} ({}) ×{run}", step.edge, step.class));
            i += run;
            continue;
        }
        let first = i == 0;
        let last = i + 1 == steps.len();
        i += 1;
        let token = match step.node_kind {
            NodeKind::Synthetic if step.name == "(GC roots)" => continue,
            NodeKind::Synthetic => step.name.clone(),
            // The root's shortcut edges lead to the global objects: name them by themselves.
            _ if step.edge_kind == EdgeKind::Shortcut && first => step.name.clone(),
            NodeKind::Closure => {
                let function = if step.name.is_empty() || step.name == step.edge {
                    String::new()
                } else {
                    format!(" {}", step.name)
                };
                format!("{}{function} (closure)", step.edge)
            }
            kind if kind.is_string() => format!("{} (string)", step.edge),
            // A Java class object, named by the class it is.
            NodeKind::Object if step.class == "java.lang.Class" && first => {
                format!("class {}", step.name)
            }
            NodeKind::Object if step.class == "java.lang.Class" => {
                format!("{} (class {})", step.edge, step.name)
            }
            // Closure scopes (`system / Context`) and other VM records read better bare.
            NodeKind::Object | NodeKind::Native | NodeKind::RegExp
                if last
                    || (step.class != "Object"
                        && step.class != step.edge
                        && !step.class.starts_with("system / ")) =>
            {
                format!("{} ({})", step.edge, step.class)
            }
            _ if last => format!("{} ({})", step.edge, step.class),
            _ => step.edge.clone(),
        };
        out.push_str(" > ");
        out.push_str(&token);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(edge: &str, edge_kind: EdgeKind, class: &str, kind: NodeKind, name: &str) -> PathStep {
        PathStep {
            edge: edge.into(),
            edge_kind,
            class: class.into(),
            node_kind: kind,
            name: name.into(),
            object_id: 1,
        }
    }

    #[test]
    fn renders_like_a_sentence() {
        let steps = vec![
            step(
                "2",
                EdgeKind::Shortcut,
                "global",
                NodeKind::Object,
                "global",
            ),
            step(
                "app",
                EdgeKind::Property,
                "Object",
                NodeKind::Object,
                "Object",
            ),
            step("cache", EdgeKind::Property, "Map", NodeKind::Object, "Map"),
            step("table", EdgeKind::Internal, "(array)", NodeKind::Array, ""),
            step(
                "516",
                EdgeKind::Internal,
                "CartEntry",
                NodeKind::Object,
                "CartEntry",
            ),
        ];
        assert_eq!(
            render_path(&steps),
            "(GC roots) > global > app > cache (Map) > table > 516 (CartEntry)"
        );
    }

    #[test]
    fn closures_and_system_roots() {
        let steps = vec![
            step(
                "1",
                EdgeKind::Element,
                "(GC roots)",
                NodeKind::Synthetic,
                "(GC roots)",
            ),
            step(
                "5",
                EdgeKind::Element,
                "(Global handles)",
                NodeKind::Synthetic,
                "(Global handles)",
            ),
            step(
                "[4]",
                EdgeKind::Element,
                "Function",
                NodeKind::Closure,
                "onTick",
            ),
        ];
        assert_eq!(
            render_path(&steps),
            "(GC roots) > (Global handles) > [4] onTick (closure)"
        );
    }

    #[test]
    fn short_form_starts_at_the_captured_variable() {
        let path = RetainerPath {
            steps: vec![
                step(
                    "2",
                    EdgeKind::Shortcut,
                    "global",
                    NodeKind::Object,
                    "global",
                ),
                step("f", EdgeKind::Property, "Function", NodeKind::Closure, "f"),
                step(
                    "context",
                    EdgeKind::Internal,
                    "system / Context",
                    NodeKind::Object,
                    "",
                ),
                step(
                    "previous",
                    EdgeKind::Internal,
                    "system / Context",
                    NodeKind::Object,
                    "",
                ),
                step(
                    "sessions",
                    EdgeKind::Context,
                    "Object",
                    NodeKind::Object,
                    "Object",
                ),
                step("cache", EdgeKind::Property, "Map", NodeKind::Object, "Map"),
            ],
        };
        assert_eq!(
            path.render_short(),
            "(GC roots) > … > system / Context > sessions > cache (Map)"
        );
        assert_eq!(
            path.render(),
            "(GC roots) > global > f (closure) > context > previous > sessions > cache (Map)"
        );
    }

    #[test]
    fn linked_lists_collapse() {
        let mut steps = vec![step(
            "list",
            EdgeKind::Property,
            "TimersList",
            NodeKind::Object,
            "",
        )];
        for _ in 0..5 {
            steps.push(step(
                "_idleNext",
                EdgeKind::Property,
                "Timeout",
                NodeKind::Object,
                "",
            ));
        }
        steps.push(step(
            "job",
            EdgeKind::Context,
            "PollJob",
            NodeKind::Object,
            "",
        ));
        assert_eq!(
            render_path(&steps),
            "(GC roots) > list (TimersList) > _idleNext (Timeout) ×5 > job (PollJob)"
        );
    }

    #[test]
    fn scopes_render_bare() {
        let steps = vec![
            step(
                "2",
                EdgeKind::Shortcut,
                "global",
                NodeKind::Object,
                "global",
            ),
            step("f", EdgeKind::Property, "Function", NodeKind::Closure, "f"),
            step(
                "context",
                EdgeKind::Internal,
                "system / Context",
                NodeKind::Object,
                "system / Context",
            ),
            step(
                "feed",
                EdgeKind::Context,
                "PriceFeed",
                NodeKind::Object,
                "PriceFeed",
            ),
        ];
        assert_eq!(
            render_path(&steps),
            "(GC roots) > global > f (closure) > context > feed (PriceFeed)"
        );
    }
}
