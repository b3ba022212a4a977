//! `plateau compare BEFORE AFTER`: two saved `repro` runs (before and after a fix) side by
//! side, and whether the fix plateaus.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use plateau_analysis::format_bytes;
use serde_json::{json, Value};

use crate::cli::CompareArgs;
use crate::Outcome;

/// A run's `run.json`, from the file or its directory.
pub fn read_run(path: &Path) -> anyhow::Result<Value> {
    let file: PathBuf = if path.is_dir() {
        path.join("run.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "cannot read {} (a `plateau repro` run directory or its run.json)",
            file.display()
        )
    })?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))?;
    if doc.get("verdict").is_none() || doc.get("memory").is_none() {
        bail!(
            "{}: not a `plateau repro` run (no \"verdict\" and \"memory\")",
            file.display()
        );
    }
    Ok(doc)
}

fn fingerprints(run: &Value) -> Vec<(String, String)> {
    run["suspects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["fingerprint"].as_str().unwrap_or("").to_string(),
                match s["path"].as_str() {
                    Some(path) => super::repro::short_path(path),
                    None => s["class"].as_str().unwrap_or("").to_string(),
                },
            )
        })
        .collect()
}

/// The comparison document.
pub fn compare(before: &Value, after: &Value) -> Value {
    let b_prints = fingerprints(before);
    let a_prints = fingerprints(after);
    let gone: Vec<&String> = b_prints
        .iter()
        .filter(|(f, _)| !a_prints.iter().any(|(g, _)| g == f))
        .map(|(_, c)| c)
        .collect();
    let remaining: Vec<&String> = a_prints
        .iter()
        .filter(|(f, _)| b_prints.iter().any(|(g, _)| g == f))
        .map(|(_, c)| c)
        .collect();
    let new: Vec<&String> = a_prints
        .iter()
        .filter(|(f, _)| !b_prints.iter().any(|(g, _)| g == f))
        .map(|(_, c)| c)
        .collect();
    let side = |run: &Value| {
        let m = &run["memory"];
        json!({
            "verdict": run["verdict"],
            "reason": run["reason"],
            "signal": m["signal"],
            "growth_per_round_bytes": m["growth_per_round_bytes"],
            "bytes_per_request": m["bytes_per_request"],
            "after_rounds_bytes": m["after_rounds_bytes"],
            "after_cooldown_bytes": m["after_cooldown_bytes"],
            "returned_to_baseline": m["returned_to_baseline"],
            "slope_bytes_per_s": m["classification"]["slope_bytes_per_s"],
            "suspects": run["suspects"].as_array().map_or(0, Vec::len),
        })
    };
    let (b, a) = (before["verdict"].as_str(), after["verdict"].as_str());
    let (verdict, words) = match (b, a) {
        (_, Some("inconclusive")) => (
            "inconclusive",
            "the run after the fix was inconclusive: see its reason",
        ),
        (Some("leak"), Some("no-leak")) => (
            "fixed",
            "the fix holds: memory plateaus and the suspects are gone",
        ),
        (Some("leak"), Some("leak")) if !remaining.is_empty() => (
            "still-leaking",
            "the same suspect still grows after the fix",
        ),
        (_, Some("leak")) => ("leaking", "the run after the fix leaks"),
        (_, Some("no-leak")) => ("no-leak", "neither run leaks"),
        _ => ("inconclusive", "the run before the fix was inconclusive"),
    };
    json!({
        "schema_version": plateau_report::SCHEMA_VERSION,
        "tool": format!("plateau {}", env!("CARGO_PKG_VERSION")),
        "verdict": verdict,
        "summary": words,
        "before": side(before),
        "after": side(after),
        "suspects_gone": gone,
        "suspects_remaining": remaining,
        "suspects_new": new,
    })
}

pub fn run(args: &CompareArgs) -> anyhow::Result<Outcome> {
    let before = read_run(&args.before)?;
    let after = read_run(&args.after)?;
    let doc = compare(&before, &after);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        out.write_all(compare_text(&doc).as_bytes())?;
    }
    Ok(match doc["verdict"].as_str() {
        Some("fixed") | Some("no-leak") => Outcome::Fine,
        Some("inconclusive") => bail!("{}", doc["summary"].as_str().unwrap_or("inconclusive")),
        _ => Outcome::LeakFound,
    })
}

fn bytes_cell(v: &Value) -> String {
    match v.as_i64() {
        Some(b) if b < 0 => format!("-{}", format_bytes(b.unsigned_abs())),
        Some(b) => format_bytes(b as u64),
        None => "-".to_string(),
    }
}

pub fn compare_text(doc: &Value) -> String {
    let mut out = format!(
        "{}  {}\n\n",
        doc["verdict"].as_str().unwrap_or("?").to_uppercase(),
        doc["summary"].as_str().unwrap_or("")
    );
    let (b, a) = (&doc["before"], &doc["after"]);
    let row = |name: &str, f: &dyn Fn(&Value) -> String| {
        format!("  {name:<28} {:>16} {:>16}\n", f(b), f(a))
    };
    out.push_str(&format!("  {:<28} {:>16} {:>16}\n", "", "before", "after"));
    out.push_str(&row("verdict", &|s| {
        s["verdict"].as_str().unwrap_or("-").to_string()
    }));
    out.push_str(&row("growth per round", &|s| {
        bytes_cell(&s["growth_per_round_bytes"])
    }));
    out.push_str(&row("bytes per request", &|s| {
        s["bytes_per_request"]
            .as_f64()
            .map_or("-".to_string(), |v| format!("{v:.0} B"))
    }));
    out.push_str(&row("after the rounds", &|s| {
        bytes_cell(&s["after_rounds_bytes"])
    }));
    out.push_str(&row("after the cool-down", &|s| {
        bytes_cell(&s["after_cooldown_bytes"])
    }));
    out.push_str(&row(
        "back to baseline",
        &|s| match s["returned_to_baseline"].as_bool() {
            Some(true) => "yes".to_string(),
            Some(false) => "no".to_string(),
            None => "-".to_string(),
        },
    ));
    out.push_str(&row("snapshot suspects", &|s| s["suspects"].to_string()));
    for (key, title) in [
        ("suspects_gone", "gone after the fix"),
        ("suspects_remaining", "still growing"),
        ("suspects_new", "new after the fix"),
    ] {
        if let Some(list) = doc[key].as_array().filter(|l| !l.is_empty()) {
            out.push_str(&format!("\n{title}:\n"));
            for s in list {
                out.push_str(&format!("  {}\n", s.as_str().unwrap_or("")));
            }
        }
    }
    out
}
