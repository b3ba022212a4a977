use std::io::Write;

use plateau_analysis::series::{classify, ClassifyOptions, Verdict};
use plateau_formats::sniff::{sniff, Format};
use plateau_probe::store::read_series_file;
use plateau_report::{classify_json, classify_text, SeriesSource};

use crate::cli::ClassifyArgs;
use crate::Outcome;

pub fn run(args: &ClassifyArgs) -> anyhow::Result<Outcome> {
    let loaded = read_series_file(&args.file).map_err(|err| match heap_file_hint(&args.file) {
        Some(hint) => anyhow::anyhow!("{err} ({hint})"),
        None => err.into(),
    })?;
    let options = ClassifyOptions {
        limit: args.limit,
        ..ClassifyOptions::default()
    };
    let classification = classify(&loaded.series, &options);
    let label = args.file.display().to_string();
    let source = SeriesSource {
        label: &label,
        readings: loaded.readings,
        skipped: loaded.skipped,
        warnings: &loaded.warnings,
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &classify_json(&classification, &source))?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(classify_text(&classification, &source).as_bytes())?;
    }
    Ok(if classification.verdict == Verdict::Leak {
        Outcome::LeakFound
    } else {
        Outcome::Fine
    })
}

/// When a heap dump is given where a series was expected, say which command reads it.
fn heap_file_hint(path: &std::path::Path) -> Option<&'static str> {
    let mut prefix = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut prefix))
        .ok()?;
    match sniff(&prefix[..n]) {
        Format::V8HeapSnapshot => Some("this is a V8 heap snapshot: `plateau analyze` reads it"),
        Format::Hprof => Some("this is a Java heap dump: `plateau analyze` will read it"),
        Format::Gzip => Some("this is gzip-compressed: a series is read uncompressed, a heap snapshot by `plateau analyze`"),
        _ => None,
    }
}
