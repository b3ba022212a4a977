//! Accuracy of `series::classify` on the labeled corpus (tests/corpus), end-of-window verdicts.
//!
//! The targets come from ../shared/reference/detection.md ("Targets worth beating"). Those the
//! classifier meets are asserted as targets; those it does not meet yet have a regression floor
//! just under today's figure, marked `FLOOR` (raise them as the method improves, and turn them
//! into the target once met). The full comparison with predict_linear and Coroot, growing
//! prefixes and detection delays is `examples/classify_bench.rs` (bench/classify.md).
//!
//! `cargo test -p plateau-analysis --test classify_accuracy -- --nocapture` prints the figures.

mod corpus;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use corpus::{Class, Kind, Labeled, Scale};
use plateau_analysis::series::{classify, Classification, ClassifyOptions, Verdict};

struct Judged {
    series: Labeled,
    verdict: Classification,
    took: Duration,
}

/// The whole corpus (24 series per scenario), classified once at the end of its window.
fn judged() -> &'static [Judged] {
    static JUDGED: OnceLock<Vec<Judged>> = OnceLock::new();
    JUDGED.get_or_init(|| {
        let options = ClassifyOptions::default();
        corpus::corpus(corpus::PER_SCENARIO)
            .into_iter()
            .map(|series| {
                let memory = series.series();
                let started = Instant::now();
                let verdict = classify(&memory, &options);
                let took = started.elapsed();
                Judged {
                    series,
                    verdict,
                    took,
                }
            })
            .collect()
    })
}

fn is_leak_call(j: &Judged) -> bool {
    j.verdict.verdict == Verdict::Leak
}

fn describe(j: &Judged) -> String {
    format!(
        "{} #{} (classify_bench --show {}:{}, seed {:#018x}): {}\n    {}",
        j.series.scenario.name(),
        j.series.index,
        j.series.id,
        j.series.index,
        j.series.seed,
        j.verdict.verdict.key(),
        j.verdict.evidence.join("\n    ")
    )
}

fn share(k: usize, n: usize) -> f64 {
    k as f64 / n.max(1) as f64
}

#[test]
fn no_leak_verdict_on_any_non_leak_series() {
    // Target: zero false alarms on stable, burst and warm-up series; plateau and allocator
    // retention are held to the same bar.
    let all = judged();
    let mut wrong = Vec::new();
    for class in Class::NON_LEAK {
        let group: Vec<&Judged> = all
            .iter()
            .filter(|j| j.series.truth.class == class)
            .collect();
        assert!(!group.is_empty());
        let flagged: Vec<&&Judged> = group.iter().filter(|j| is_leak_call(j)).collect();
        println!(
            "false alarms (end of window), {}: {}/{}",
            class.name(),
            flagged.len(),
            group.len()
        );
        wrong.extend(flagged.into_iter().map(|j| describe(j)));
    }
    assert!(wrong.is_empty(), "called leaks:\n{}", wrong.join("\n"));
}

#[test]
fn precision_and_f1() {
    let all = judged();
    let tp = all
        .iter()
        .filter(|j| j.series.scenario.is_leak() && is_leak_call(j))
        .count();
    let fp = all
        .iter()
        .filter(|j| !j.series.scenario.is_leak() && is_leak_call(j))
        .count();
    let leaks = all.iter().filter(|j| j.series.scenario.is_leak()).count();
    let precision = share(tp, tp + fp);
    let recall = share(tp, leaks);
    let f1 = 2.0 * precision * recall / (precision + recall);
    println!("precision {precision:.3} ({tp}/{}), F1 {f1:.3}", tp + fp);
    // Target: precision above RESIN's 0.85 and Precog's 0.857.
    assert!(precision > 0.857, "precision {precision:.3}");
    // Target: F1 above Precog's 0.857; 0.976 today.
    assert!(f1 > 0.857, "F1 {f1:.3}");
}

#[test]
fn recall_on_leaks_above_the_minimum_effect() {
    let all = judged();
    let above: Vec<&Judged> = all
        .iter()
        .filter(|j| j.series.truth.above_min_effect)
        .collect();
    let caught = above.iter().filter(|j| is_leak_call(j)).count();
    let recall = share(caught, above.len());
    println!(
        "recall above min effect: {recall:.3} ({caught}/{})",
        above.len()
    );
    for j in above.iter().filter(|j| !is_leak_call(j)).take(5) {
        println!("  missed: {}", describe(j));
    }
    // Target: 0.95 (0.973 today; the misses are repro leaks at 1-1.3x the minimum effect,
    // whose slope interval must clear it).
    assert!(recall >= 0.95, "recall above min effect {recall:.3}");

    // Target met where nothing confounds the leak: steady leaks on a stable floor with no
    // restart in the window (production 5-20 MB/h, repro 1-5 MB/min).
    let clean: Vec<&Judged> = above
        .iter()
        .filter(|j| j.series.scenario.kind == Kind::Leak && j.series.truth.restarts == 0)
        .filter(|j| {
            j.series.scenario.scale == Scale::Production
                || j.series.scenario.leak_rate >= 1.0 * corpus::MB / 60.0
        })
        .copied()
        .collect();
    let caught = clean.iter().filter(|j| is_leak_call(j)).count();
    let recall = share(caught, clean.len());
    println!(
        "recall, steady leaks on a stable floor, no restart: {recall:.3} ({caught}/{})",
        clean.len()
    );
    let missed: Vec<String> = clean
        .iter()
        .filter(|j| !is_leak_call(j))
        .map(|j| describe(j))
        .collect();
    assert!(recall >= 0.95, "missed:\n{}", missed.join("\n"));
}

#[test]
fn allocator_retention_is_named() {
    let all = judged();
    let group: Vec<&Judged> = all
        .iter()
        .filter(|j| j.series.truth.class == Class::AllocatorRetention)
        .collect();
    let named = group
        .iter()
        .filter(|j| j.verdict.verdict == Verdict::AllocatorRetention)
        .count();
    println!("allocator retention named: {named}/{}", group.len());
    assert!(share(named, group.len()) >= 0.95, "{named}/{}", group.len());
}

#[test]
fn plateaus_are_named() {
    let all = judged();
    let group: Vec<&Judged> = all
        .iter()
        .filter(|j| j.series.truth.class == Class::Plateau)
        .collect();
    let named = group
        .iter()
        .filter(|j| j.verdict.verdict == Verdict::Plateau)
        .count();
    println!("plateaus named: {named}/{}", group.len());
    assert!(share(named, group.len()) >= 0.95, "{named}/{}", group.len());
}

#[test]
fn slope_error() {
    let all = judged();
    let errors: Vec<f64> = all
        .iter()
        .filter(|j| j.series.scenario.is_leak())
        .filter_map(|j| {
            let truth = j.series.truth.leak_rate;
            j.verdict
                .slope_bytes_per_s
                .map(|est| (est - truth).abs() / truth)
        })
        .collect();
    let (median, p90) = (corpus::median(&errors), corpus::quantile(&errors, 0.9));
    println!(
        "slope error: median {:.1}%, p90 {:.1}% (n={})",
        100.0 * median,
        100.0 * p90,
        errors.len()
    );
    // Target: within 15% (met by the median).
    assert!(median <= 0.15, "median slope error {median:.3}");
    // FLOOR: p90 is 22% today (post-restart segments with a startup ramp).
    assert!(p90 <= 0.30, "p90 slope error {p90:.3}");
}

#[test]
fn time_to_limit_error() {
    let all = judged();
    let errors: Vec<f64> = all
        .iter()
        .filter(|j| j.series.scenario.is_leak() && is_leak_call(j))
        .filter_map(|j| {
            let estimate = j.verdict.time_to_limit_s?;
            // The truth: the generator run on past the window until the reading hits the limit.
            let max = match j.series.scenario.scale {
                Scale::Production => 120.0 * 86_400.0,
                Scale::Repro => 30.0 * 86_400.0,
            };
            let truth = j.series.true_time_to_limit(max).filter(|t| *t > 0.0)?;
            Some((estimate - truth).abs() / truth)
        })
        .collect();
    let within = errors.iter().filter(|e| **e <= 0.2).count();
    let (median, p90) = (corpus::median(&errors), corpus::quantile(&errors, 0.9));
    println!(
        "time-to-limit error: median {:.1}%, p90 {:.1}%, within 20%: {within}/{}",
        100.0 * median,
        100.0 * p90,
        errors.len()
    );
    // Target: within +-20% of the truth. Met at the median (5%); FLOOR: p90 is 23% today and
    // 86% of estimates are within 20% (segments judged from the run before an OOM restart).
    assert!(median <= 0.20, "median time-to-limit error {median:.3}");
    assert!(p90 <= 0.25, "p90 time-to-limit error {p90:.3}");
    assert!(
        share(within, errors.len()) >= 0.84,
        "within 20%: {within}/{}",
        errors.len()
    );
}

#[test]
fn analysis_is_fast() {
    // Target: under 0.5 s a series (here in a debug build).
    let all = judged();
    let slowest = all.iter().max_by_key(|j| j.took).expect("corpus");
    println!(
        "slowest classification: {:?} ({} readings)",
        slowest.took,
        slowest.series.main.len() + slowest.series.gc_live.len()
    );
    assert!(
        slowest.took < Duration::from_millis(500),
        "{:?}",
        slowest.took
    );
}

#[test]
fn corpus_is_deterministic() {
    let a = corpus::generate(7, 3);
    let b = corpus::generate(7, 3);
    assert_eq!(a.main, b.main);
    assert_eq!(a.seed, b.seed);
    let first = judged()
        .iter()
        .find(|j| j.series.seed == a.seed)
        .expect("in the corpus");
    assert_eq!(first.series.main, a.main);
}
