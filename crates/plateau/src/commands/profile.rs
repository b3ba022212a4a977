//! `plateau analyze` and `plateau diff` on allocation profiles (tracemalloc, pprof).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use plateau_analysis::alloc::{
    diff_profiles, growth_stacks, summarize_profile, AllocDiffOptions, AllocDiffReport, Measure,
    SiteGrouping,
};
use plateau_profile::{AllocProfile, Producer};
use plateau_report::{
    alloc_diff_json, alloc_diff_text, flame_graph_svg, profile_json, profile_text, ProfileReport,
};

use crate::cli::{AnalyzeArgs, DiffArgs, SiteArgs, SiteBy};
use crate::load::{load, Loaded, LoadedProfile};
use crate::progress::Progress;
use crate::Outcome;

/// The grouping asked for, else the producer's own tool's default.
fn grouping(args: &SiteArgs, producer: Producer) -> SiteGrouping {
    match args.by {
        Some(SiteBy::Lineno) => SiteGrouping::Lineno,
        Some(SiteBy::Filename) => SiteGrouping::Filename,
        Some(SiteBy::Function) => SiteGrouping::Function,
        Some(SiteBy::Traceback) => SiteGrouping::Traceback,
        None if producer == Producer::Tracemalloc => SiteGrouping::Lineno,
        None => SiteGrouping::Function,
    }
}

fn measure(args: &SiteArgs, profile: &AllocProfile) -> anyhow::Result<Measure> {
    match &args.sample_index {
        None => Ok(Measure::default_for(profile)),
        Some(name) => match profile.value_index(name) {
            Some(i) => Ok(Measure::for_value(profile, i)),
            None => bail!(
                "--sample-index {name}: the profile has {}",
                profile
                    .value_types
                    .iter()
                    .map(|t| t.kind.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

fn load_profile(path: &Path, show_progress: bool) -> anyhow::Result<LoadedProfile> {
    let size = std::fs::metadata(path).ok().map(|m| m.len());
    let mut progress = Progress::new(size, show_progress);
    let loaded = load(path, &mut progress)?;
    progress.finish();
    match loaded {
        Loaded::Profile(p) => Ok(*p),
        Loaded::Heap(h) => bail!(
            "{}: a {} heap snapshot among allocation profiles; diff profiles with profiles and \
             snapshots with snapshots",
            path.display(),
            h.format
        ),
    }
}

/// Reads allocation profiles oldest first and diffs them; `by` overrides the grouping in
/// `options` (default: the producer's, see [`grouping`]). Returns the profiles too.
pub fn diff_profile_files(
    files: &[PathBuf],
    by: Option<SiteBy>,
    mut options: AllocDiffOptions,
    show_progress: bool,
) -> anyhow::Result<(AllocDiffReport, Vec<LoadedProfile>)> {
    let mut loaded = Vec::with_capacity(files.len());
    let mut warnings = Vec::new();
    for file in files {
        let p = load_profile(file, show_progress)?;
        warnings.extend(
            p.warnings
                .iter()
                .map(|w| format!("{}: {w}", file.display())),
        );
        loaded.push(p);
    }
    let profiles: Vec<&AllocProfile> = loaded.iter().map(|l| &l.profile).collect();
    let labels: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let site_args = SiteArgs {
        by,
        sample_index: None,
    };
    options.grouping = grouping(&site_args, profiles[0].producer);
    if options.cumulative && options.grouping == SiteGrouping::Traceback {
        bail!("--cumulative applies to --by lineno, filename or function, not traceback");
    }
    let mut report = diff_profiles(&labels, &profiles, &options)
        .map_err(|e| anyhow::anyhow!("{} .. {}: {e}", labels[0], labels[labels.len() - 1]))?;
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    Ok((report, loaded))
}

/// `plateau analyze` on a profile already loaded.
pub fn analyze(args: &AnalyzeArgs, loaded: LoadedProfile) -> anyhow::Result<Outcome> {
    let profile = &loaded.profile;
    let grouping = grouping(&args.sites, profile.producer);
    let measure = measure(&args.sites, profile)?;
    let summary = summarize_profile(profile, measure, grouping, args.top);
    let file = args.file.display().to_string();
    let report = ProfileReport {
        file: &file,
        format: loaded.format,
        file_size: loaded.file_size,
        grouping,
        warnings: &loaded.warnings,
        summary: &summary,
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &profile_json(&report))?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(profile_text(&report).as_bytes())?;
    }
    Ok(Outcome::Fine)
}

/// `plateau diff` on profiles, oldest first.
pub fn diff(
    args: &DiffArgs,
    files: &[PathBuf],
    known: std::collections::HashSet<String>,
) -> anyhow::Result<Outcome> {
    let options = AllocDiffOptions {
        grouping: SiteGrouping::Lineno,
        cumulative: args.cumulative,
        value: args.sites.sample_index.clone(),
        min_growth_bytes: args.min_growth,
        top: args.top,
        known,
        ..AllocDiffOptions::default()
    };
    let (report, loaded) = diff_profile_files(files, args.sites.by, options, !args.no_progress)?;
    let profiles: Vec<&AllocProfile> = loaded.iter().map(|l| &l.profile).collect();
    let labels: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    if let Some(svg_path) = &args.flamegraph {
        let (first, last) = (profiles[0], profiles[profiles.len() - 1]);
        let pair = match &args.sites.sample_index {
            None => (Measure::default_for(first), Measure::default_for(last)),
            Some(_) => (measure(&args.sites, first)?, measure(&args.sites, last)?),
        };
        let title = format!(
            "growth of {} from {} to {}",
            report.measure,
            labels[0],
            labels[labels.len() - 1]
        );
        let svg = flame_graph_svg(&title, &growth_stacks(first, last, pair));
        std::fs::write(svg_path, svg)
            .with_context(|| format!("cannot write the flame graph {}", svg_path.display()))?;
    }

    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &alloc_diff_json(&report))?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(alloc_diff_text(&report, args.top.max(10)).as_bytes())?;
    }
    Ok(if report.suspects.is_empty() {
        Outcome::Fine
    } else {
        Outcome::LeakFound
    })
}
