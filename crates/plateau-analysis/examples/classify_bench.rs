//! Accuracy and cost of `series::classify` against two baselines on the labeled corpus.
//!
//! ```sh
//! cargo run --release -p plateau-analysis --example classify_bench
//! cargo run --release -p plateau-analysis --example classify_bench -- --verbose
//! ```
//!
//! Options: `--per-scenario N` (default 24), `--verbose` (per-scenario verdicts and the missed
//! or falsely flagged series with their evidence), `--no-cost` (skip the 10,000 x 10,000
//! timing), `--cost-series N`, `--cost-points N`.
//!
//! The corpus is `tests/corpus/mod.rs`; `bench/classify.md` explains the protocol and holds the
//! latest table.

#[path = "../tests/corpus/mod.rs"]
mod corpus;

use std::time::{Duration, Instant};

use corpus::{Class, Labeled, Scale, MB};
use plateau_analysis::series::{classify, Classification, ClassifyOptions, Verdict};

const HOUR: f64 = 3600.0;
const MINUTE: f64 = 60.0;

// ---------------------------------------------------------------------------------------------
// Baseline 1: Prometheus `predict_linear`.
//
// prometheus/prometheus @ d15adb9ad7e5d9fbde3a9a8f30200593a5a14d86, promql/functions.go:
// `funcPredictLinear` calls `linearRegression(samples, enh.Ts)` and returns
// `slope*duration + intercept`; `linearRegression` is ordinary least squares with x = (sample
// time - evaluation time) in seconds (Kahan-summed), so `intercept` is the fitted value at the
// evaluation time; a constant series gives slope 0. docs/querying/functions.md: "predicts the
// value of time series `t` seconds from now, based on the range vector `v`, using simple linear
// regression". A range selector `[d]` selects the samples in (T - d, T] (left-open since 3.0).
// `deriv()` is the same regression's slope.
//
// Alert rules (no `for:` clause):
// - production: `predict_linear(container_memory_rss[1h], 4*3600) > limit`
// - repro (10 min runs): `predict_linear(heap_used[2m], 30*60) > limit`, the same rule scaled
//   to the run: a window of ~1/5 of the run and a horizon of three runs.

struct PromRule {
    range_s: f64,
    horizon_s: f64,
}

impl PromRule {
    fn for_scale(scale: Scale) -> Self {
        match scale {
            Scale::Production => PromRule {
                range_s: HOUR,
                horizon_s: 4.0 * HOUR,
            },
            Scale::Repro => PromRule {
                range_s: 2.0 * MINUTE,
                horizon_s: 30.0 * MINUTE,
            },
        }
    }
}

struct Regression {
    slope: f64,
    /// The fitted value at the evaluation time.
    intercept: f64,
}

/// promql `linearRegression` over the samples in (at - range, at].
fn prom_linear_regression(points: &[(f64, u64)], at: f64, range_s: f64) -> Option<Regression> {
    let from = points.partition_point(|p| p.0 <= at - range_s);
    let to = points.partition_point(|p| p.0 <= at);
    let samples = &points[from..to];
    if samples.len() < 2 {
        return None;
    }
    let kahan = |sum: &mut (f64, f64), x: f64| {
        // kahansum.Inc: Neumaier's variant.
        let t = sum.0 + x;
        if sum.0.abs() >= x.abs() {
            sum.1 += (sum.0 - t) + x;
        } else {
            sum.1 += (x - t) + sum.0;
        }
        sum.0 = t;
    };
    let init_y = samples[0].1 as f64;
    let mut const_y = true;
    let (mut sx, mut sy, mut sxy, mut sx2) = ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0));
    let mut n = 0.0;
    for (i, &(t, v)) in samples.iter().enumerate() {
        let y = v as f64;
        if const_y && i > 0 && y != init_y {
            const_y = false;
        }
        n += 1.0;
        // Prometheus times are milliseconds: x = (T - interceptTime) / 1e3.
        let x = ((t * 1e3).round() - (at * 1e3).round()) / 1e3;
        kahan(&mut sx, x);
        kahan(&mut sy, y);
        kahan(&mut sxy, x * y);
        kahan(&mut sx2, x * x);
    }
    if const_y {
        return Some(Regression {
            slope: 0.0,
            intercept: init_y,
        });
    }
    let (sx, sy, sxy, sx2) = (sx.0 + sx.1, sy.0 + sy.1, sxy.0 + sxy.1, sx2.0 + sx2.1);
    let cov_xy = sxy - sx * sy / n;
    let var_x = sx2 - sx * sx / n;
    let slope = cov_xy / var_x;
    let intercept = sy / n - slope * sx / n;
    Some(Regression { slope, intercept })
}

struct PromResult {
    alert: bool,
    slope: Option<f64>,
    time_to_limit: Option<f64>,
}

fn predict_linear_rule(s: &Labeled, at: f64) -> PromResult {
    let rule = PromRule::for_scale(s.scenario.scale);
    let Some(fit) = prom_linear_regression(&s.main, at, rule.range_s) else {
        return PromResult {
            alert: false,
            slope: None,
            time_to_limit: None,
        };
    };
    let predicted = fit.slope * rule.horizon_s + fit.intercept;
    let limit = s.limit as f64;
    PromResult {
        alert: predicted > limit,
        slope: Some(fit.slope),
        // Where the fitted line meets the limit.
        time_to_limit: (fit.slope > 0.0).then(|| ((limit - fit.intercept) / fit.slope).max(0.0)),
    }
}

// ---------------------------------------------------------------------------------------------
// Baseline 2: Coroot's memory-leak check.
//
// coroot/coroot @ 370a33fd4fd3a9fff4433ded83de335df64ecd2f (auditor/memory.go last changed in
// 674a7df32c5e4ac6c7db32f1bf33a9b5292e92a9), `MemoryGrowthPct(rss, limit, to)`:
// - 0 when fewer than 80% of the window's slots have values;
// - split the RSS at drops below half the previous value (restarts) and keep the LONGEST run
//   (ties: the earlier); 0 if it has < 10 points or < 1/3 of the window's slots;
// - OLS (gonum `stat.LinearRegression`) over the run: 0 unless the slope `beta` > 0;
// - tail = the last quarter of the run, extended back to span at least 15 min; 0 if < 5
//   points or its slope < 0.3 x beta (or <= 0);
// - s, e = the line at `to - 1h` and at `to`; 0 unless e - s >= 5% of the limit (50 MiB with
//   no limit); the value is (e - s) / s x 100, a growth in % per hour.
// The check `MemoryLeakPercent` (model/check.go) is value-based with DefaultThreshold 10: it
// fires when the value > 10. The built-in alert rule "memory-leak" (model/alerting_rule.go)
// has `For: 15 min`; watchers/watchers.go audits the last hour (`from = to - 1h`) and
// watchers/alerts.go opens the alert once the check has fired continuously for `For`.
// Values are float32 in Coroot's timeseries; they are rounded through f32 here as there.
//
// Production: the check on the RSS in (T - 1h, T] at 30 s steps (120 slots), evaluated every
// 30 s; the alert at T needs the check firing at every evaluation in [T - 15 min, T].
// Repro: the check on the whole run so far (the UI audits the selected range; 1 s steps) and no
// `For` (a 15 min pending period cannot complete in a 10 min run).

struct CorootCheck {
    pct: f32,
    /// The regression slope over the analysed run (bytes/s), when one was fitted.
    beta: Option<f64>,
}

fn coroot_memory_growth_pct(
    points: &[(f64, u64)],
    from: f64,
    to: f64,
    step: f64,
    limit: f32,
) -> CorootCheck {
    let none = |beta| CorootCheck { pct: 0.0, beta };
    let a = points.partition_point(|p| p.0 <= from);
    let b = points.partition_point(|p| p.0 <= to);
    let window = &points[a..b];
    let slots = ((to - from) / step).round() as usize;
    if window.is_empty() {
        return none(None);
    }
    if (window.len() as f32) < slots as f32 * 0.8 {
        return none(None);
    }
    let (mut x, mut y): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let (mut cx, mut cy): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut prev: Option<f32> = None;
    for &(t, bytes) in window {
        let v = bytes as f32;
        if let Some(prev) = prev {
            if prev > 0.0 && v < prev * 0.5 {
                if cx.len() > x.len() {
                    x = std::mem::take(&mut cx);
                    y = std::mem::take(&mut cy);
                } else {
                    cx.clear();
                    cy.clear();
                }
            }
        }
        cx.push(t);
        cy.push(v as f64);
        prev = Some(v);
    }
    if cx.len() > x.len() {
        x = cx;
        y = cy;
    }
    if x.len() < 10 || x.len() < slots / 3 {
        return none(None);
    }
    let (alpha, beta) = gonum_linear_regression(&x, &y);
    if beta <= 0.0 {
        return none(Some(beta));
    }
    let mut tail_start = x.len() - x.len() / 4;
    while tail_start > 0 && x[x.len() - 1] - x[tail_start] < 15.0 * MINUTE {
        tail_start -= 1;
    }
    if x.len() - tail_start < 5 {
        return none(Some(beta));
    }
    let (_, tail_beta) = gonum_linear_regression(&x[tail_start..], &y[tail_start..]);
    if tail_beta <= 0.0 || tail_beta < beta * 0.3 {
        return none(Some(beta));
    }
    let s = (alpha + beta * (to - HOUR)) as f32;
    let e = (alpha + beta * to) as f32;
    if !(e > 0.0 && e > s) {
        return none(Some(beta));
    }
    let min_growth = if limit > 0.0 {
        limit * 0.05
    } else {
        50.0 * 1024.0 * 1024.0
    };
    if e - s < min_growth {
        return none(Some(beta));
    }
    let pct = if s > 0.0 {
        (e - s) / s * 100.0
    } else {
        (e - s) / e * 100.0
    };
    CorootCheck {
        pct,
        beta: Some(beta),
    }
}

/// gonum `stat.LinearRegression(x, y, nil, false)`: (alpha, beta) of y = alpha + beta x.
fn gonum_linear_regression(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let xu = x.iter().sum::<f64>() / n;
    let yu = y.iter().sum::<f64>() / n;
    let (mut cov, mut var) = (0.0, 0.0);
    for (xi, yi) in x.iter().zip(y) {
        cov += (xi - xu) * (yi - yu);
        var += (xi - xu) * (xi - xu);
    }
    let beta = cov / var;
    (yu - beta * xu, beta)
}

const COROOT_THRESHOLD: f32 = 10.0;

fn coroot_check_at(s: &Labeled, at: f64) -> CorootCheck {
    let step = s.scenario.scale.step_s();
    let from = match s.scenario.scale {
        Scale::Production => at - HOUR,
        // The whole run: slots from the first reading's step on.
        Scale::Repro => -step,
    };
    coroot_memory_growth_pct(&s.main, from, at, step, s.limit as f32)
}

struct CorootResult {
    alert: bool,
    beta: Option<f64>,
}

fn coroot_rule(s: &Labeled, at: f64) -> CorootResult {
    let now = coroot_check_at(s, at);
    let alert = match s.scenario.scale {
        Scale::Repro => now.pct > COROOT_THRESHOLD,
        Scale::Production => {
            let step = s.scenario.scale.step_s();
            let evaluations = (15.0 * MINUTE / step).round() as usize;
            now.pct > COROOT_THRESHOLD
                && (1..=evaluations)
                    .all(|k| coroot_check_at(s, at - k as f64 * step).pct > COROOT_THRESHOLD)
        }
    };
    CorootResult {
        alert,
        beta: now.beta,
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

const DETECTORS: [&str; 3] = ["plateau", "predict_linear", "Coroot"];

#[derive(Clone, Debug, Default)]
struct Outcome {
    /// Called a leak at the end of the window.
    end_leak: [bool; 3],
    /// First prefix end (seconds from the series start) called a leak.
    first_leak: [Option<f64>; 3],
    slope: [Option<f64>; 3],
    time_to_limit: [Option<f64>; 3],
    true_time_to_limit: Option<f64>,
    verdict: Option<Verdict>,
    evidence: Vec<String>,
    /// Prefix verdicts of plateau where it said leak on a non-leak (first one), for examples.
    first_false: Option<(f64, Vec<String>)>,
}

fn evaluate(s: &Labeled, options: &ClassifyOptions) -> Outcome {
    let mut out = Outcome::default();
    let ends = s.scenario.scale.prefix_ends();
    let last = *ends.last().expect("prefixes");
    for &at in &ends {
        let c: Classification = classify(&s.prefix(at), options);
        let prom = predict_linear_rule(s, at);
        let coroot = coroot_rule(s, at);
        let calls = [c.verdict == Verdict::Leak, prom.alert, coroot.alert];
        for (d, &call) in calls.iter().enumerate() {
            if call && out.first_leak[d].is_none() {
                out.first_leak[d] = Some(at);
            }
        }
        if calls[0] && !s.scenario.is_leak() && out.first_false.is_none() {
            out.first_false = Some((at, c.evidence.clone()));
        }
        if at == last {
            out.end_leak = calls;
            out.slope = [c.slope_bytes_per_s, prom.slope, coroot.beta];
            out.time_to_limit = [
                (c.verdict == Verdict::Leak)
                    .then_some(c.time_to_limit_s)
                    .flatten(),
                prom.time_to_limit,
                None,
            ];
            out.verdict = Some(c.verdict);
            out.evidence = c.evidence;
        }
    }
    if s.scenario.is_leak() {
        let max = match s.scenario.scale {
            Scale::Production => 120.0 * 86_400.0,
            Scale::Repro => 30.0 * 86_400.0,
        };
        out.true_time_to_limit = s.true_time_to_limit(max);
    }
    out
}

fn evaluate_all(corpus: &[Labeled], options: &ClassifyOptions) -> Vec<Outcome> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = corpus.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = corpus
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|s| evaluate(s, options))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("evaluation thread"))
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------
// Reporting

fn ratio(k: usize, n: usize) -> String {
    if n == 0 {
        "n/a".to_string()
    } else {
        format!("{:.3} ({k}/{n})", k as f64 / n as f64)
    }
}

fn count(k: usize, n: usize) -> String {
    format!("{k} / {n}")
}

fn percent(x: f64) -> String {
    if x.is_nan() {
        "n/a".to_string()
    } else {
        format!("{:.1}%", 100.0 * x)
    }
}

fn relative_errors(pairs: impl Iterator<Item = (Option<f64>, f64)>) -> Vec<f64> {
    pairs
        .filter_map(|(est, truth)| est.map(|e| (e - truth).abs() / truth.abs()))
        .filter(|e| e.is_finite())
        .collect()
}

/// Median with undetected (None) counted as infinitely late.
fn median_delay(delays: &[Option<f64>], unit: f64, unit_name: &str) -> String {
    let n = delays.len();
    let detected = delays.iter().flatten().count();
    let mut values: Vec<f64> = delays.iter().map(|d| d.unwrap_or(f64::INFINITY)).collect();
    values.sort_by(f64::total_cmp);
    if n == 0 {
        return "n/a".to_string();
    }
    // Lower median: defined whenever at least half were detected.
    let m = values[(n - 1) / 2];
    if m.is_finite() {
        format!("{:.1} {unit_name} ({detected}/{n} detected)", m / unit)
    } else {
        format!("never ({detected}/{n} detected)")
    }
}

struct Table {
    rows: Vec<(String, [String; 3])>,
}

impl Table {
    fn row(&mut self, name: impl Into<String>, cells: [String; 3]) {
        self.rows.push((name.into(), cells));
    }

    fn print(&self) {
        let w0 = self.rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let mut w = [0usize; 3];
        for (d, name) in DETECTORS.iter().enumerate() {
            w[d] = self
                .rows
                .iter()
                .map(|r| r.1[d].chars().count())
                .max()
                .unwrap_or(0)
                .max(name.len());
        }
        println!(
            "| {:w0$} | {:w1$} | {:w2$} | {:w3$} |",
            "metric",
            DETECTORS[0],
            DETECTORS[1],
            DETECTORS[2],
            w1 = w[0],
            w2 = w[1],
            w3 = w[2]
        );
        println!(
            "|{}|{}|{}|{}|",
            "-".repeat(w0 + 2),
            "-".repeat(w[0] + 2),
            "-".repeat(w[1] + 2),
            "-".repeat(w[2] + 2)
        );
        for (name, cells) in &self.rows {
            let pad = |s: &str, width: usize| {
                format!("{s}{}", " ".repeat(width.saturating_sub(s.chars().count())))
            };
            println!(
                "| {} | {} | {} | {} |",
                pad(name, w0),
                pad(&cells[0], w[0]),
                pad(&cells[1], w[1]),
                pad(&cells[2], w[2])
            );
        }
    }
}

fn per_detector(f: impl Fn(usize) -> String) -> [String; 3] {
    [f(0), f(1), f(2)]
}

struct Args {
    per_scenario: usize,
    verbose: bool,
    cost: bool,
    cost_series: usize,
    cost_points: usize,
    /// `--show ID:INDEX`: print one series' readings summary and verdicts, then exit.
    show: Option<(usize, usize)>,
}

fn parse_args() -> Args {
    let mut args = Args {
        per_scenario: corpus::PER_SCENARIO,
        verbose: false,
        cost: true,
        cost_series: 10_000,
        cost_points: 10_000,
        show: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--per-scenario" => args.per_scenario = number("--per-scenario"),
            "--cost-series" => args.cost_series = number("--cost-series"),
            "--cost-points" => args.cost_points = number("--cost-points"),
            "--verbose" | "-v" => args.verbose = true,
            "--no-cost" => args.cost = false,
            "--show" => {
                let value = it.next().unwrap_or_default();
                let (id, index) = value.split_once(':').expect("--show ID:INDEX");
                args.show = Some((
                    id.parse().expect("scenario id"),
                    index.parse().expect("series index"),
                ));
            }
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn main() {
    let args = parse_args();
    let options = ClassifyOptions::default();
    if let Some((id, index)) = args.show {
        show(id, index, &options);
        return;
    }
    let started = Instant::now();
    let corpus = corpus::corpus(args.per_scenario);
    let generated = started.elapsed();
    let outcomes = evaluate_all(&corpus, &options);
    let evaluated = started.elapsed() - generated;

    let pairs: Vec<(&Labeled, &Outcome)> = corpus.iter().zip(&outcomes).collect();
    let leaks: Vec<_> = pairs.iter().filter(|p| p.0.scenario.is_leak()).collect();
    let big_leaks: Vec<_> = leaks
        .iter()
        .filter(|p| p.0.truth.above_min_effect)
        .collect();
    let non_leaks: Vec<_> = pairs.iter().filter(|p| !p.0.scenario.is_leak()).collect();

    let mut table = Table { rows: Vec::new() };
    let tp = |d: usize| leaks.iter().filter(|p| p.1.end_leak[d]).count();
    let fp = |d: usize| non_leaks.iter().filter(|p| p.1.end_leak[d]).count();
    table.row(
        "precision (end of window)",
        per_detector(|d| ratio(tp(d), tp(d) + fp(d))),
    );
    table.row(
        "recall, all leaks (end of window)",
        per_detector(|d| ratio(tp(d), leaks.len())),
    );
    table.row(
        "recall, leaks >= min effect (end of window)",
        per_detector(|d| {
            ratio(
                big_leaks.iter().filter(|p| p.1.end_leak[d]).count(),
                big_leaks.len(),
            )
        }),
    );
    let huge_leaks: Vec<_> = leaks
        .iter()
        .filter(|p| {
            p.0.truth.above_min_effect && p.0.truth.effect >= 2.0 * corpus::MIN_GROWTH_FRACTION
        })
        .collect();
    table.row(
        "recall, leaks >= 2x min effect (end of window)",
        per_detector(|d| {
            ratio(
                huge_leaks.iter().filter(|p| p.1.end_leak[d]).count(),
                huge_leaks.len(),
            )
        }),
    );
    table.row(
        "F1 (end of window, all leaks)",
        per_detector(|d| {
            let (tp, fp, fneg) = (tp(d) as f64, fp(d) as f64, (leaks.len() - tp(d)) as f64);
            let f1 = 2.0 * tp / (2.0 * tp + fp + fneg);
            if f1.is_nan() {
                "n/a".to_string()
            } else {
                format!("{f1:.3}")
            }
        }),
    );

    // Recall per leak scenario (end of window).
    let mut seen = Vec::new();
    for p in &leaks {
        let name = p.0.scenario.name();
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let group: Vec<_> = leaks
            .iter()
            .filter(|q| q.0.scenario.name() == name)
            .collect();
        let above = group.iter().filter(|q| q.0.truth.above_min_effect).count();
        let restarted = group.iter().filter(|q| q.0.truth.restarts > 0).count();
        table.row(
            format!(
                "  recall: {name} ({above}/{} >= min effect{})",
                group.len(),
                if restarted > 0 {
                    format!(", {restarted} restarted")
                } else {
                    String::new()
                }
            ),
            per_detector(|d| {
                count(
                    group.iter().filter(|q| q.1.end_leak[d]).count(),
                    group.len(),
                )
            }),
        );
    }

    for (label, any) in [
        ("false alarms, any prefix", true),
        ("false alarms, end of window", false),
    ] {
        for class in Class::NON_LEAK {
            let group: Vec<_> = non_leaks
                .iter()
                .filter(|p| p.0.truth.class == class)
                .collect();
            table.row(
                format!("{label}: {}", class.name()),
                per_detector(|d| {
                    let flagged = |o: &Outcome| {
                        if any {
                            o.first_leak[d].is_some()
                        } else {
                            o.end_leak[d]
                        }
                    };
                    let k = group.iter().filter(|p| flagged(p.1)).count();
                    let per_scale: Vec<String> = [Scale::Production, Scale::Repro]
                        .iter()
                        .filter_map(|&scale| {
                            let n = group.iter().filter(|p| p.0.scenario.scale == scale).count();
                            let k = group
                                .iter()
                                .filter(|p| p.0.scenario.scale == scale && flagged(p.1))
                                .count();
                            (n > 0).then(|| format!("{} {k}", short(scale)))
                        })
                        .collect();
                    format!("{} ({})", count(k, group.len()), per_scale.join(", "))
                }),
            );
        }
    }
    let retention: Vec<_> = non_leaks
        .iter()
        .filter(|p| p.0.truth.class == Class::AllocatorRetention)
        .collect();
    table.row(
        "allocator retention named as such (end)",
        [
            count(
                retention
                    .iter()
                    .filter(|p| p.1.verdict == Some(Verdict::AllocatorRetention))
                    .count(),
                retention.len(),
            ),
            "n/a".to_string(),
            "n/a".to_string(),
        ],
    );

    for (scale, unit, unit_name) in [
        (Scale::Production, HOUR, "h"),
        (Scale::Repro, MINUTE, "min"),
    ] {
        let group: Vec<_> = leaks
            .iter()
            .filter(|p| p.0.scenario.scale == scale)
            .collect();
        table.row(
            format!("median detection delay, {} leaks", scale.name()),
            per_detector(|d| {
                let delays: Vec<Option<f64>> = group.iter().map(|p| p.1.first_leak[d]).collect();
                median_delay(&delays, unit, unit_name)
            }),
        );
    }

    let slope_errors: [Vec<f64>; 3] = std::array::from_fn(|d| {
        relative_errors(leaks.iter().map(|p| (p.1.slope[d], p.0.truth.leak_rate)))
    });
    table.row(
        "slope relative error, median (leaks)",
        per_detector(|d| {
            format!(
                "{} (n={})",
                percent(corpus::median(&slope_errors[d])),
                slope_errors[d].len()
            )
        }),
    );
    table.row(
        "slope relative error, p90",
        per_detector(|d| percent(corpus::quantile(&slope_errors[d], 0.9))),
    );
    let ttl_errors: [Vec<f64>; 3] = std::array::from_fn(|d| {
        relative_errors(leaks.iter().filter_map(|p| {
            p.1.true_time_to_limit
                .filter(|t| *t > 0.0)
                .map(|truth| (p.1.time_to_limit[d], truth))
        }))
    });
    table.row(
        "time-to-limit relative error, median",
        per_detector(|d| {
            if d == 2 {
                "n/a (none given)".to_string()
            } else {
                format!(
                    "{} (n={})",
                    percent(corpus::median(&ttl_errors[d])),
                    ttl_errors[d].len()
                )
            }
        }),
    );
    table.row(
        "time-to-limit relative error, p90",
        per_detector(|d| {
            if d == 2 {
                "n/a".to_string()
            } else {
                percent(corpus::quantile(&ttl_errors[d], 0.9))
            }
        }),
    );
    table.row(
        "time-to-limit within +-20%",
        per_detector(|d| {
            if d == 2 {
                "n/a".to_string()
            } else {
                let ok = ttl_errors[d].iter().filter(|e| **e <= 0.2).count();
                ratio(ok, ttl_errors[d].len())
            }
        }),
    );

    let mut cost_note = None;
    if args.cost {
        let (times, generated) = cost(args.cost_series, args.cost_points, &options);
        let label = format!(
            "cost: {} series x {} readings, total (per series)",
            args.cost_series, args.cost_points
        );
        table.row(
            label,
            per_detector(|d| {
                format!(
                    "{:.2} s ({:.1} us)",
                    times[d].as_secs_f64(),
                    times[d].as_secs_f64() * 1e6 / args.cost_series as f64
                )
            }),
        );
        cost_note = Some(generated);
    }

    println!(
        "corpus: {} series ({} per scenario, {} leaks of which {} >= min effect, {} non-leaks), seed {:#x}",
        corpus.len(),
        args.per_scenario,
        leaks.len(),
        big_leaks.len(),
        non_leaks.len(),
        corpus::SEED
    );
    println!();
    table.print();
    println!();
    println!(
        "generated in {:.1} s; prefixes judged in {:.1} s ({} threads){}",
        generated.as_secs_f64(),
        evaluated.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cost_note.map_or(String::new(), |g| format!(
            "; cost corpus generated in {:.1} s (not timed)",
            g.as_secs_f64()
        ))
    );
    println!(
        "predict_linear/Coroot costs are one rule evaluation over their range at the last reading \
         (Coroot: one check, without the 15-min pending re-evaluations)."
    );

    if args.verbose {
        verbose(&pairs);
    }
}

/// Per-scenario verdicts, then every series plateau got wrong at the end of the window (and
/// non-leaks it flagged at some prefix), with its evidence.
fn verbose(pairs: &[(&Labeled, &Outcome)]) {
    println!();
    println!("plateau verdicts at the end of the window, per scenario:");
    let mut names: Vec<String> = Vec::new();
    for p in pairs {
        let name = p.0.scenario.name();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let verdicts = [
        Verdict::Leak,
        Verdict::Plateau,
        Verdict::WarmUp,
        Verdict::AllocatorRetention,
        Verdict::Stable,
        Verdict::InsufficientData,
    ];
    for name in &names {
        let group: Vec<_> = pairs
            .iter()
            .filter(|p| &p.0.scenario.name() == name)
            .collect();
        let counts: Vec<String> = verdicts
            .iter()
            .filter_map(|v| {
                let k = group.iter().filter(|p| p.1.verdict == Some(*v)).count();
                (k > 0).then(|| format!("{} {k}", v.key()))
            })
            .collect();
        let any_false = group
            .iter()
            .filter(|p| !p.0.scenario.is_leak() && p.1.first_leak[0].is_some())
            .count();
        println!(
            "  {name:<44} {}{}",
            counts.join(", "),
            if any_false > 0 {
                format!("; leak at some prefix: {any_false}")
            } else {
                String::new()
            }
        );
    }
    println!();
    println!("plateau's misses and false alarms:");
    for (s, o) in pairs {
        let wrong_end = !s.scenario.expected().contains(&o.verdict.expect("verdict"));
        let false_prefix = !s.scenario.is_leak() && o.first_leak[0].is_some();
        if !wrong_end && !false_prefix {
            continue;
        }
        println!(
            "- {} #{} (--show {}:{}, seed {:#018x}): end verdict {}; truth: leak {}/h, effect {:.1}% of \
             the floor, last segment from {:.1} h, {} restart(s){}",
            s.scenario.name(),
            s.index,
            s.id,
            s.index,
            s.seed,
            o.verdict.map_or("?", |v| v.key()),
            format_mb(s.truth.leak_rate * HOUR),
            100.0 * s.truth.effect,
            s.truth.segment_start / HOUR,
            s.truth.restarts,
            o.first_false
                .as_ref()
                .map_or(String::new(), |(at, _)| format!(
                    "; first called a leak at {}",
                    format_at(s.scenario.scale, *at)
                ))
        );
        let evidence = if wrong_end {
            &o.evidence
        } else {
            &o.first_false.as_ref().expect("prefix evidence").1
        };
        for line in evidence {
            println!("    {line}");
        }
    }
}

fn short(scale: Scale) -> &'static str {
    match scale {
        Scale::Production => "prod",
        Scale::Repro => "repro",
    }
}

fn format_mb(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / MB)
}

fn format_at(scale: Scale, at: f64) -> String {
    match scale {
        Scale::Production => format!("{:.0} h", at / HOUR),
        Scale::Repro => format!("{:.1} min", at / MINUTE),
    }
}

/// Classifies `series` production-like series of `points` readings (scenarios in turn) and
/// times each detector on them: the classifier on the whole series, the baselines' rule at the
/// last reading. Returns the time per detector and the (untimed) generation time.
fn cost(series: usize, points: usize, options: &ClassifyOptions) -> ([Duration; 3], Duration) {
    let production: Vec<usize> = corpus::scenarios()
        .iter()
        .enumerate()
        .filter(|(_, s)| s.scale == Scale::Production)
        .map(|(i, _)| i)
        .collect();
    let mut times = [Duration::ZERO; 3];
    let mut generation = Duration::ZERO;
    let mut sink = 0usize;
    for i in 0..series {
        let started = Instant::now();
        let s = corpus::generate_long(production[i % production.len()], 1000 + i, points);
        let memory_series = s.series();
        generation += started.elapsed();
        let at = s.end();

        let t = Instant::now();
        let c = classify(&memory_series, options);
        times[0] += t.elapsed();
        sink += c.verdict as usize;

        let t = Instant::now();
        let prom = predict_linear_rule(&s, at);
        times[1] += t.elapsed();
        sink += usize::from(prom.alert);

        let t = Instant::now();
        let check = coroot_check_at(&s, at);
        times[2] += t.elapsed();
        sink += usize::from(check.pct > COROOT_THRESHOLD);
    }
    std::hint::black_box(sink);
    (times, generation)
}

/// One series in detail: its truth, plateau's verdict with evidence at the end of the window
/// and at every prefix, and the baselines' calls.
fn show(id: usize, index: usize, options: &ClassifyOptions) {
    let s = corpus::generate(id, index);
    println!(
        "{} #{} (seed {:#018x}): {} readings of {}, {} post-GC readings, limit {}, events {:?}",
        s.scenario.name(),
        s.index,
        s.seed,
        s.main.len(),
        s.main_signal.key(),
        s.gc_live.len(),
        format_mb(s.limit as f64),
        s.events
    );
    println!("truth: {:?}", s.truth);
    // The readings in twelve blocks: min and max of each.
    let block = s.main.len().div_ceil(12);
    let ranges: Vec<String> = s
        .main
        .chunks(block)
        .map(|c| {
            let lo = c.iter().map(|p| p.1).min().unwrap_or(0) as f64;
            let hi = c.iter().map(|p| p.1).max().unwrap_or(0) as f64;
            format!("{:.0}-{:.0}", lo / MB, hi / MB)
        })
        .collect();
    println!("MiB per twelfth of the window: {}", ranges.join(" "));
    let c = classify(&s.series(), options);
    println!(
        "end of window: {} (confidence {})",
        c.verdict.key(),
        c.confidence
    );
    for line in &c.evidence {
        println!("    {line}");
    }
    for at in s.scenario.scale.prefix_ends() {
        let c = classify(&s.prefix(at), options);
        println!(
            "  prefix {:>8}: plateau {:<20} predict_linear {:<5} Coroot {}",
            format_at(s.scenario.scale, at),
            c.verdict.key(),
            predict_linear_rule(&s, at).alert,
            coroot_rule(&s, at).alert
        );
    }
    if !s.gc_live.is_empty() {
        let mut main_only = plateau_analysis::series::MemorySeries::new();
        main_only.set_limit(0.0, Some(s.limit));
        for &(t, bytes) in &s.main {
            main_only.push(s.main_signal, t, bytes);
        }
        let c = classify(&main_only, options);
        println!("{} alone: {}", s.main_signal.key(), c.verdict.key());
        for line in &c.evidence {
            println!("    {line}");
        }
    }
}
