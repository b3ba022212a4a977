//! Dumps plateau's view of V8 snapshots as JSON (per node: id, class, self size, retained
//! size; per class: DevTools-style key, count, self, retained), for differential testing
//! against DevTools: `cargo run -p plateau-formats --example v8_dump -- FILE...`.

use std::fs::File;
use std::io::BufReader;

use plateau_formats::v8::{read, ReadOptions};
use plateau_graph::{class_histogram, Dominators};
use serde_json::{json, Map, Value};

fn main() {
    let mut out = Map::new();
    for path in std::env::args().skip(1) {
        let file = File::open(&path).expect("open");
        let value = match read(BufReader::new(file), &ReadOptions::default(), &mut |_| {}) {
            Err(e) => json!({ "error": e.to_string() }),
            Ok(parsed) => {
                let g = &parsed.value.graph;
                let dom = Dominators::compute(g);
                let nodes: Vec<Value> = g
                    .nodes()
                    .map(|n| {
                        json!([
                            g.object_id(n),
                            g.class_name_of(n),
                            g.self_size(n),
                            dom.retained_size(n)
                        ])
                    })
                    .collect();
                let classes: Vec<Value> = class_histogram(g, &dom)
                    .iter()
                    .filter(|c| c.count > 0)
                    .map(|c| {
                        let name = g.class_name(c.class);
                        let key = match g.class_info(c.class).location {
                            Some(l) => format!("{},{},{},{name}", l.script_id, l.line, l.column),
                            None => format!(",{name}"),
                        };
                        json!([key, c.count, c.shallow_size, c.retained_size])
                    })
                    .collect();
                let all_reachable = g.nodes().all(|n| dom.is_strongly_reachable(n));
                json!({ "nodes": nodes, "classes": classes, "all_reachable": all_reachable })
            }
        };
        out.insert(path, value);
    }
    println!("{}", Value::Object(out));
}
