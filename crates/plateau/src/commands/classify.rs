use std::io::Write;

use plateau_analysis::series::{classify, ClassifyOptions, Verdict};
use plateau_probe::store::read_series_file;
use plateau_report::{classify_json, classify_text, SeriesSource};

use crate::cli::ClassifyArgs;
use crate::Outcome;

pub fn run(args: &ClassifyArgs) -> anyhow::Result<Outcome> {
    let loaded = read_series_file(&args.file)?;
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
