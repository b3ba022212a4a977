//! A labeled corpus of memory series for measuring `series::classify` and its baselines.
//!
//! Deterministic: every series comes from [`SEED`], its scenario's position in [`scenarios`]
//! and its index, through a SplitMix64 generator and Box-Muller normals written here (no
//! dependencies). Shared by `tests/classify_accuracy.rs` (CI) and
//! `examples/classify_bench.rs` (the full benchmark); `bench/classify.md` describes it.
//!
//! Two time scales:
//! - **production**: 36 h at 30 s (4,320 readings), 2 GiB limit, resident memory with a GC
//!   sawtooth of 150-400 MiB every 2-10 min, load bursts, Gaussian noise;
//! - **repro**: 10 min at 1 Hz (600 readings), a V8-like heap-used sawtooth every 5-30 s, a heap
//!   limit of 512 MiB or 1.5 GiB.
//!
//! A series is a process model stepped one reading at a time: a floor (startup ramp, warm-up
//! `1 - exp(-age/tau)`, leak), a GC sawtooth on top, load bursts, noise. When the signal the
//! limit applies to reaches the limit the process is killed and restarted (production: an
//! OOM kill and a restart event; repro: a restart, as V8 aborts on heap exhaustion). Because
//! the model can keep stepping, the true time to the limit is found by running the same
//! generator past the window until the reading first reaches the limit
//! ([`Labeled::true_time_to_limit`]), not by formula.
//!
//! Sizes: `MB` here is a mebibyte (2^20 bytes), so "80 MB/h" is 80 MiB/h.

#![allow(dead_code)]

use plateau_analysis::series::{EventKind, MemorySeries, Signal, Verdict};

/// The corpus seed: every series derives from it.
pub const SEED: u64 = 0x706c_6174_6561_7521; // "plateau!"
/// Series per scenario in the full corpus.
pub const PER_SCENARIO: usize = 24;
pub const MB: f64 = 1024.0 * 1024.0;
pub const GIB: f64 = 1024.0 * MB;
const HOUR: f64 = 3600.0;
const MINUTE: f64 = 60.0;
const DAY: f64 = 86_400.0;

/// The classifier's minimum effect (`ClassifyOptions::default().min_growth_fraction` and
/// `min_growth_bytes`): growth over the judged window of at least 3% of the floor and 256 KiB.
pub const MIN_GROWTH_FRACTION: f64 = 0.03;
pub const MIN_GROWTH_BYTES: f64 = 256.0 * 1024.0;

// ---------------------------------------------------------------------------------------------
// Random numbers

/// SplitMix64 (Steele, Lea & Flood 2014; constants as in Vigna's reference `splitmix64.c`)
/// with Box-Muller normals.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng {
            state: seed,
            spare: None,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Log-uniform in [lo, hi): time constants spread evenly over their orders of magnitude.
    pub fn log_range(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.uniform()).exp()
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal by Box-Muller (the second value of each pair is kept for the next call).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }
}

/// SplitMix64's finalizer as a hash: independent streams per scenario and index.
fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64()
}

// ---------------------------------------------------------------------------------------------
// Scenarios and labels

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scale {
    /// 36 h at 30 s, 2 GiB limit, resident memory.
    Production,
    /// 10 min at 1 Hz, V8 heap used, 512 MiB or 1.5 GiB heap limit.
    Repro,
}

impl Scale {
    pub fn step_s(self) -> f64 {
        match self {
            Scale::Production => 30.0,
            Scale::Repro => 1.0,
        }
    }

    pub fn window_s(self) -> f64 {
        match self {
            Scale::Production => 36.0 * HOUR,
            Scale::Repro => 10.0 * MINUTE,
        }
    }

    /// Times (from the series start) at which growing prefixes are judged: every hour from
    /// 6 h (production), every 30 s from 2 min (repro); the last is the end of the window.
    pub fn prefix_ends(self) -> Vec<f64> {
        let (first, every) = match self {
            Scale::Production => (6.0 * HOUR, HOUR),
            Scale::Repro => (2.0 * MINUTE, 30.0),
        };
        let last = self.window_s() - self.step_s();
        let mut ends = Vec::new();
        let mut t = first;
        while t < last {
            ends.push(t);
            t += every;
        }
        ends.push(last);
        ends
    }

    pub fn name(self) -> &'static str {
        match self {
            Scale::Production => "production",
            Scale::Repro => "repro",
        }
    }
}

/// The scenario families; `Class` is what they are labeled as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Stable,
    /// Stable, restarted once (a deploy) in the middle; a short warm-up follows.
    StableRestart,
    /// High and flat, 70-85% of the limit, reached by an early warm-up.
    Plateau,
    /// A cache filling as `1 - exp(-t/tau)`.
    WarmUp,
    /// Stable with frequent large load bursts.
    Burst,
    /// Post-GC live heap flat, resident memory rising.
    AllocatorRetention,
    /// A linear leak on top of a stable floor.
    Leak,
    /// A warm-up with a linear leak under it.
    LeakAfterWarmUp,
    /// A fast leak that keeps hitting the limit: OOM kills and restarts.
    LeakRestarts,
    /// A leak recorded from process start: the startup ramp is in the window.
    LeakFromStart,
}

/// The label, for precision/recall and false-alarm counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Stable,
    Plateau,
    WarmUp,
    Burst,
    AllocatorRetention,
    Leak,
}

impl Class {
    pub const NON_LEAK: [Class; 5] = [
        Class::Plateau,
        Class::WarmUp,
        Class::Stable,
        Class::Burst,
        Class::AllocatorRetention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Stable => "stable",
            Class::Plateau => "plateau",
            Class::WarmUp => "warm-up",
            Class::Burst => "burst",
            Class::AllocatorRetention => "allocator-retention",
            Class::Leak => "leak",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scenario {
    pub scale: Scale,
    pub kind: Kind,
    /// Nominal leak rate in bytes/s (0 when none, or drawn per series for `LeakRestarts`).
    pub leak_rate: f64,
}

impl Scenario {
    pub fn class(&self) -> Class {
        match self.kind {
            Kind::Stable | Kind::StableRestart => Class::Stable,
            Kind::Plateau => Class::Plateau,
            Kind::WarmUp => Class::WarmUp,
            Kind::Burst => Class::Burst,
            Kind::AllocatorRetention => Class::AllocatorRetention,
            Kind::Leak | Kind::LeakAfterWarmUp | Kind::LeakRestarts | Kind::LeakFromStart => {
                Class::Leak
            }
        }
    }

    pub fn is_leak(&self) -> bool {
        self.class() == Class::Leak
    }

    /// Verdicts counted as right for this scenario (the first is the preferred one).
    pub fn expected(&self) -> &'static [Verdict] {
        match self.class() {
            Class::Leak => &[Verdict::Leak],
            Class::AllocatorRetention => &[Verdict::AllocatorRetention],
            Class::Plateau => &[Verdict::Plateau],
            // A flat series whose peak (bursts included) reaches 70% of the limit is a plateau.
            Class::Stable | Class::Burst => &[Verdict::Stable, Verdict::Plateau],
            // After the cache is full the series is flat: any of these is right.
            Class::WarmUp => &[Verdict::WarmUp, Verdict::Plateau, Verdict::Stable],
        }
    }

    pub fn name(&self) -> String {
        let scale = self.scale.name();
        let rate = match self.scale {
            Scale::Production => format!("{} MB/h", fmt_num(self.leak_rate * HOUR / MB)),
            Scale::Repro => format!("{} MB/min", fmt_num(self.leak_rate * MINUTE / MB)),
        };
        match self.kind {
            Kind::Stable => format!("{scale} stable"),
            Kind::StableRestart => format!("{scale} stable + restart"),
            Kind::Plateau => format!("{scale} plateau"),
            Kind::WarmUp => format!("{scale} warm-up"),
            Kind::Burst => format!("{scale} bursts"),
            Kind::AllocatorRetention => format!("{scale} allocator retention"),
            Kind::Leak => format!("{scale} leak {rate}"),
            Kind::LeakAfterWarmUp => format!("{scale} warm-up + leak {rate}"),
            Kind::LeakRestarts => format!("{scale} leak 60-120 MB/h + OOM restarts"),
            Kind::LeakFromStart => format!("{scale} leak {rate} from process start"),
        }
    }
}

fn fmt_num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// Every scenario, in a fixed order (the order feeds the seeds: append, do not reorder).
pub fn scenarios() -> Vec<Scenario> {
    let prod = |kind, mb_per_h: f64| Scenario {
        scale: Scale::Production,
        kind,
        leak_rate: mb_per_h * MB / HOUR,
    };
    let repro = |kind, mb_per_min: f64| Scenario {
        scale: Scale::Repro,
        kind,
        leak_rate: mb_per_min * MB / MINUTE,
    };
    let mut all = vec![
        prod(Kind::Stable, 0.0),
        prod(Kind::StableRestart, 0.0),
        prod(Kind::Plateau, 0.0),
        prod(Kind::WarmUp, 0.0),
        prod(Kind::Burst, 0.0),
        prod(Kind::AllocatorRetention, 0.0),
    ];
    for rate in [5.0, 10.0, 20.0, 40.0, 80.0] {
        all.push(prod(Kind::Leak, rate));
    }
    for rate in [5.0, 10.0, 20.0, 40.0, 80.0] {
        all.push(prod(Kind::LeakAfterWarmUp, rate));
    }
    all.push(prod(Kind::LeakRestarts, 0.0));
    all.extend([
        repro(Kind::Stable, 0.0),
        repro(Kind::WarmUp, 0.0),
        repro(Kind::Plateau, 0.0),
        repro(Kind::AllocatorRetention, 0.0),
    ]);
    for rate in [0.5, 1.0, 2.0, 5.0] {
        all.push(repro(Kind::Leak, rate));
    }
    all.push(repro(Kind::LeakFromStart, 2.0));
    all
}

// ---------------------------------------------------------------------------------------------
// The process model

#[derive(Clone, Debug)]
struct Params {
    scale: Scale,
    step: f64,
    limit: f64,
    /// Steady floor once started (before warm-up and leak).
    base: f64,
    /// Floor right after a (re)start, ramping to `base` with `restart_tau`.
    startup: f64,
    restart_tau: f64,
    /// Warm-up: `warm * (1 - exp(-age / tau))`.
    warm: f64,
    tau: f64,
    /// Leak in bytes/s, counted from `max(process start, leak_onset)`.
    leak: f64,
    leak_onset: f64,
    /// GC sawtooth: mean period and amplitude (each cycle jitters).
    saw_period: f64,
    saw_amp: f64,
    noise: f64,
    /// Load bursts: arrivals per second, height and duration ranges.
    burst_rate: f64,
    burst_height: (f64, f64),
    burst_duration: (f64, f64),
    /// A restart nobody caused by memory (a deploy), at this time.
    planned_restart: Option<f64>,
    /// Allocator retention: post-GC live heap readings (level, noise, mean GC interval).
    gc_live: Option<(f64, f64, f64)>,
}

#[derive(Clone, Copy, Debug)]
struct Burst {
    start: f64,
    duration: f64,
    height: f64,
}

impl Burst {
    /// A trapezoid: quick rise, hold, quick fall.
    fn at(&self, t: f64, ramp_cap: f64) -> f64 {
        let x = t - self.start;
        if x <= 0.0 || x >= self.duration {
            return 0.0;
        }
        let ramp = (self.duration / 4.0).min(ramp_cap);
        let shape = if x < ramp {
            x / ramp
        } else if x > self.duration - ramp {
            (self.duration - x) / ramp
        } else {
            1.0
        };
        self.height * shape
    }
}

/// One reading of the stepped model.
#[derive(Clone, Debug)]
struct Tick {
    t: f64,
    /// What the gauge reads (capped at the limit).
    bytes: u64,
    /// The noise-free floor (startup, warm-up, leak): what a perfect floor estimate would be.
    floor: f64,
    /// The reading reached the limit (the process is killed right after).
    hit_limit: bool,
}

#[derive(Clone, Debug)]
struct Generator {
    rng: Rng,
    p: Params,
    /// Time of the next reading.
    t: f64,
    process_start: f64,
    since_gc: f64,
    cycle_len: f64,
    cycle_amp: f64,
    bursts: Vec<Burst>,
    next_gc_live: f64,
    /// Events and post-GC readings produced by the last step.
    events: Vec<(f64, EventKind)>,
    gc_live: Vec<(f64, u64)>,
}

impl Generator {
    fn new(mut rng: Rng, p: Params, process_start: f64) -> Self {
        let cycle_len = p.saw_period * rng.range(0.8, 1.2);
        let since_gc = cycle_len * rng.uniform();
        let cycle_amp = p.saw_amp * rng.range(0.85, 1.15);
        let next_gc_live = p.gc_live.map_or(f64::INFINITY, |g| g.2 * rng.uniform());
        Generator {
            rng,
            p,
            t: 0.0,
            process_start,
            since_gc,
            cycle_len,
            cycle_amp,
            bursts: Vec::new(),
            next_gc_live,
            events: Vec::new(),
            gc_live: Vec::new(),
        }
    }

    fn floor_at(&self, t: f64) -> f64 {
        let p = &self.p;
        let age = (t - self.process_start).max(0.0);
        let deficit = (p.base - p.startup) * (-age / p.restart_tau).exp();
        let warm = if p.warm > 0.0 {
            p.warm * (1.0 - (-age / p.tau).exp())
        } else {
            0.0
        };
        let leak = p.leak * (t - self.process_start.max(p.leak_onset)).max(0.0);
        p.base - deficit + warm + leak
    }

    fn bursts_at(&self, t: f64) -> f64 {
        let cap = match self.p.scale {
            Scale::Production => MINUTE,
            Scale::Repro => 2.0,
        };
        self.bursts.iter().map(|b| b.at(t, cap)).sum()
    }

    fn restart(&mut self, at: f64) {
        self.process_start = at;
        self.since_gc = 0.0;
        self.cycle_len = self.p.saw_period * self.rng.range(0.8, 1.2);
        self.bursts.clear();
        self.events.push((at, EventKind::Restart));
    }

    fn step(&mut self) -> Tick {
        self.events.clear();
        self.gc_live.clear();
        let t = self.t;
        let dt = self.p.step;
        self.t += dt;

        if let Some(at) = self.p.planned_restart {
            if t >= at {
                self.p.planned_restart = None;
                self.restart(at);
            }
        }

        // GC sawtooth: garbage accumulates linearly and is collected at the end of each cycle.
        self.since_gc += dt;
        while self.since_gc >= self.cycle_len {
            self.since_gc -= self.cycle_len;
            self.cycle_len = self.p.saw_period * self.rng.range(0.8, 1.2);
            self.cycle_amp = self.p.saw_amp * self.rng.range(0.85, 1.15);
        }
        let garbage = self.cycle_amp * self.since_gc / self.cycle_len;

        // Load bursts: Poisson arrivals, one at a time (a new one waits for the last to end).
        self.bursts.retain(|b| b.start + b.duration > t);
        if self.rng.chance(self.p.burst_rate * dt) && self.bursts.is_empty() {
            let (h0, h1) = self.p.burst_height;
            let (d0, d1) = self.p.burst_duration;
            self.bursts.push(Burst {
                start: t,
                duration: self.rng.range(d0, d1),
                height: self.rng.range(h0, h1),
            });
        }

        // Post-GC live heap readings since the last reading (allocator-retention series).
        if let Some((level, noise, interval)) = self.p.gc_live {
            while self.next_gc_live <= t {
                let at = self.next_gc_live;
                let live = level + 0.5 * self.bursts_at(at) + noise * self.rng.normal();
                self.gc_live.push((at, live.max(0.0).round() as u64));
                self.next_gc_live += interval * self.rng.range(0.7, 1.3);
            }
        }

        let floor = self.floor_at(t);
        let value = floor + garbage + self.bursts_at(t) + self.p.noise * self.rng.normal();
        let hit_limit = value >= self.p.limit;
        let bytes = value.clamp(0.0, self.p.limit).round() as u64;
        if hit_limit {
            let at = t + dt / 2.0;
            if self.p.scale == Scale::Production {
                self.events.push((at, EventKind::OomKill));
            }
            self.restart(at);
        }
        Tick {
            t,
            bytes,
            floor,
            hit_limit,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Labeled series

/// What is true of a series (from the model, not from its readings).
#[derive(Clone, Debug)]
pub struct Truth {
    pub class: Class,
    /// Leak rate in bytes/s (the floor's slope at the end of the window); 0 when no leak.
    pub leak_rate: f64,
    /// Leak growth over the judged window (the last segment) divided by the median true floor
    /// in it: the quantity the classifier's `min_growth_fraction` bounds.
    pub effect: f64,
    /// `effect >= 3%` and the growth is at least 256 KiB (the classifier's minimum effect).
    pub above_min_effect: bool,
    /// Start of the last segment (restarts and OOM kills cut the series).
    pub segment_start: f64,
    pub restarts: usize,
}

#[derive(Clone, Debug)]
pub struct Labeled {
    pub scenario: Scenario,
    /// The scenario's position in [`scenarios`] (`classify_bench --show ID:INDEX`).
    pub id: usize,
    pub index: usize,
    pub seed: u64,
    /// The signal the limit applies to and baselines watch: resident memory (production and
    /// allocator retention) or heap used (repro).
    pub main_signal: Signal,
    pub main: Vec<(f64, u64)>,
    /// Post-GC live heap (allocator-retention series only).
    pub gc_live: Vec<(f64, u64)>,
    pub events: Vec<(f64, EventKind)>,
    pub limit: u64,
    pub truth: Truth,
    generator: Generator,
}

impl Labeled {
    /// Time of the last reading.
    pub fn end(&self) -> f64 {
        self.main.last().map_or(0.0, |p| p.0)
    }

    /// The series as the classifier sees it, up to and including `until` (seconds).
    pub fn prefix(&self, until: f64) -> MemorySeries {
        let mut series = MemorySeries::new();
        series.set_limit(0.0, Some(self.limit));
        for &(t, bytes) in self.main.iter().take_while(|p| p.0 <= until) {
            series.push(self.main_signal, t, bytes);
        }
        for &(t, bytes) in self.gc_live.iter().take_while(|p| p.0 <= until) {
            series.push(Signal::GcLive, t, bytes);
        }
        for &(t, kind) in self.events.iter().filter(|e| e.0 <= until) {
            series.push_event(t, kind);
        }
        series
    }

    pub fn series(&self) -> MemorySeries {
        self.prefix(f64::INFINITY)
    }

    /// The readings of the watched signal up to `until`.
    pub fn main_until(&self, until: f64) -> &[(f64, u64)] {
        let n = self.main.partition_point(|p| p.0 <= until);
        &self.main[..n]
    }

    /// Seconds from the last reading until the watched signal first reaches the limit, found by
    /// running the generator on past the window; `None` if not within `max_s`.
    pub fn true_time_to_limit(&self, max_s: f64) -> Option<f64> {
        let mut generator = self.generator.clone();
        let end = self.end();
        loop {
            let tick = generator.step();
            if tick.hit_limit {
                return Some(tick.t - end);
            }
            if tick.t - end > max_s {
                return None;
            }
        }
    }
}

/// The whole corpus: `per_scenario` series of every scenario.
pub fn corpus(per_scenario: usize) -> Vec<Labeled> {
    scenarios()
        .iter()
        .enumerate()
        .flat_map(|(id, s)| (0..per_scenario).map(move |i| generate_at(id, s, i, None)))
        .collect()
}

/// Series `index` of `scenario` (whose position in [`scenarios`] is `id`).
pub fn generate(id: usize, index: usize) -> Labeled {
    let all = scenarios();
    generate_at(id, &all[id], index, None)
}

/// A production-like series of `readings` readings (for timing): scenario `id`, series `index`.
pub fn generate_long(id: usize, index: usize, readings: usize) -> Labeled {
    let all = scenarios();
    generate_at(id, &all[id], index, Some(readings))
}

fn generate_at(id: usize, scenario: &Scenario, index: usize, readings: Option<usize>) -> Labeled {
    let seed = mix(mix(SEED, id as u64), index as u64);
    let mut rng = Rng::new(seed);
    let (params, process_start, leak_rate) = draw(scenario, &mut rng);
    let main_signal = match (scenario.scale, scenario.kind) {
        (_, Kind::AllocatorRetention) | (Scale::Production, _) => Signal::Resident,
        (Scale::Repro, _) => Signal::HeapUsed,
    };
    let limit = params.limit.round() as u64;
    let count =
        readings.unwrap_or((scenario.scale.window_s() / scenario.scale.step_s()).round() as usize);

    let mut generator = Generator::new(Rng::new(mix(seed, 1)), params, process_start);
    let mut main = Vec::with_capacity(count);
    let mut floors = Vec::with_capacity(count);
    let mut gc_live = Vec::new();
    let mut events = Vec::new();
    for _ in 0..count {
        let tick = generator.step();
        // A restart applied before this reading belongs before it; an OOM after it.
        events.extend(generator.events.iter().copied());
        gc_live.extend(generator.gc_live.iter().copied());
        main.push((tick.t, tick.bytes));
        floors.push((tick.t, tick.floor));
    }
    let end = main.last().map_or(0.0, |p| p.0);
    // The last segment: after the last event that leaves readings behind it.
    let segment_start = events
        .iter()
        .map(|e| e.0)
        .filter(|&t| t < end)
        .fold(0.0f64, f64::max);
    let restarts = events.iter().filter(|e| e.1 == EventKind::Restart).count();
    let in_segment: Vec<f64> = floors
        .iter()
        .filter(|f| f.0 >= segment_start)
        .map(|f| f.1)
        .collect();
    let span = floors
        .iter()
        .find(|f| f.0 >= segment_start)
        .map_or(0.0, |first| end - first.0);
    let growth = leak_rate * span;
    let effect = if in_segment.is_empty() {
        0.0
    } else {
        growth / median(&in_segment).max(1.0)
    };
    let truth = Truth {
        class: scenario.class(),
        leak_rate,
        effect,
        above_min_effect: scenario.is_leak()
            && effect >= MIN_GROWTH_FRACTION
            && growth >= MIN_GROWTH_BYTES,
        segment_start,
        restarts,
    };
    Labeled {
        scenario: *scenario,
        id,
        index,
        seed,
        main_signal,
        main,
        gc_live,
        events,
        limit,
        truth,
        generator,
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The `q` quantile (nearest rank) of `values`; NaN when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The model's parameters for one series, the process start (negative: started before the
/// window) and the true leak rate.
fn draw(s: &Scenario, rng: &mut Rng) -> (Params, f64, f64) {
    match s.scale {
        Scale::Production => draw_production(s, rng),
        Scale::Repro => draw_repro(s, rng),
    }
}

fn draw_production(s: &Scenario, rng: &mut Rng) -> (Params, f64, f64) {
    let limit = 2.0 * GIB;
    let mut p = Params {
        scale: Scale::Production,
        step: Scale::Production.step_s(),
        limit,
        base: rng.range(250.0, 700.0) * MB,
        startup: 0.0,
        restart_tau: rng.range(5.0, 30.0) * MINUTE,
        warm: 0.0,
        tau: HOUR,
        leak: 0.0,
        leak_onset: 0.0,
        saw_period: rng.range(2.0, 10.0) * MINUTE,
        saw_amp: rng.range(150.0, 400.0) * MB,
        noise: rng.range(2.0, 8.0) * MB,
        // Everyday load: a burst every ~6 h, 30-150 MiB for 2-15 min.
        burst_rate: 1.0 / (6.0 * HOUR),
        burst_height: (30.0 * MB, 150.0 * MB),
        burst_duration: (2.0 * MINUTE, 15.0 * MINUTE),
        planned_restart: None,
        gc_live: None,
    };
    p.startup = p.base * rng.range(0.15, 0.35);
    // A long-running process by default: startup long done.
    let mut start = -rng.range(1.0, 3.0) * DAY;
    let mut leak_rate = 0.0;
    let window = Scale::Production.window_s();
    match s.kind {
        Kind::Stable => p.base = rng.range(250.0, 900.0) * MB,
        Kind::StableRestart => {
            p.base = rng.range(250.0, 900.0) * MB;
            p.startup = p.base * rng.range(0.15, 0.35);
            p.planned_restart = Some(rng.range(0.3, 0.8) * window);
        }
        Kind::Plateau => {
            // Grew early (a warm-up of 10-40 min, started up to 2 h before the window), then
            // holds with its sawtooth top at 70-85% of the limit.
            let peak = rng.range(0.70, 0.85) * limit;
            let floor = peak - p.saw_amp;
            p.warm = floor * rng.range(0.2, 0.5);
            p.base = floor - p.warm;
            p.startup = p.base * rng.range(0.3, 0.6);
            p.tau = rng.range(10.0, 40.0) * MINUTE;
            start = -rng.range(0.0, 2.0) * HOUR;
        }
        Kind::WarmUp => {
            p.base = rng.range(200.0, 600.0) * MB;
            p.warm = rng.range(200.0, 900.0) * MB;
            p.tau = rng.log_range(20.0 * MINUTE, 3.0 * HOUR);
            p.startup = p.base * rng.range(0.5, 0.9);
            start = 0.0;
        }
        Kind::Burst => {
            // 1-3 bursts an hour of 100-500 MiB for 2-30 min; base 250-700 MiB, so the peak
            // stays under ~1.6 GiB (bursts do not overlap).
            p.burst_rate = rng.range(1.0, 3.0) / HOUR;
            p.burst_height = (100.0 * MB, 500.0 * MB);
            p.burst_duration = (2.0 * MINUTE, 30.0 * MINUTE);
        }
        Kind::AllocatorRetention => {
            // RSS climbs 10-30 MiB/h from the window start (say a traffic shift changed the
            // allocation pattern) while the post-GC heap, read every 10-60 s, stays flat.
            p.base = rng.range(400.0, 700.0) * MB;
            p.saw_amp = rng.range(20.0, 60.0) * MB;
            leak_rate = 0.0;
            p.leak = rng.range(10.0, 30.0) * MB / HOUR;
            let live = p.base * rng.range(0.5, 0.8);
            p.gc_live = Some((live, rng.range(1.0, 4.0) * MB, rng.range(10.0, 60.0)));
        }
        Kind::Leak => {
            p.leak = s.leak_rate;
            leak_rate = s.leak_rate;
        }
        Kind::LeakAfterWarmUp => {
            p.base = rng.range(200.0, 500.0) * MB;
            p.warm = rng.range(200.0, 500.0) * MB;
            p.tau = rng.log_range(20.0 * MINUTE, 3.0 * HOUR);
            p.startup = p.base * rng.range(0.5, 0.9);
            p.leak = s.leak_rate;
            leak_rate = s.leak_rate;
            start = 0.0;
        }
        Kind::LeakRestarts => {
            p.base = rng.range(250.0, 600.0) * MB;
            p.leak = rng.range(60.0, 120.0) * MB / HOUR;
            leak_rate = p.leak;
            // Leaking since the process started; it started somewhere in its OOM cycle.
            p.leak_onset = f64::NEG_INFINITY;
            let cycle = (limit - p.base - p.saw_amp) / p.leak;
            start = -rng.range(0.0, 0.9) * cycle;
        }
        Kind::LeakFromStart => unreachable!("no production scenario of kind {:?}", s.kind),
    }
    (p, start, leak_rate)
}

fn draw_repro(s: &Scenario, rng: &mut Rng) -> (Params, f64, f64) {
    let limit = if rng.chance(0.5) {
        512.0 * MB
    } else {
        1.5 * GIB
    };
    let base = rng.range(40.0, 250.0) * MB;
    // Recording starts once the program is up: no startup ramp in the window, except in
    // `LeakFromStart` (the ramp is drawn for every series so the streams stay aligned).
    let startup_fraction = rng.range(0.2, 0.5);
    let mut p = Params {
        scale: Scale::Repro,
        step: Scale::Repro.step_s(),
        limit,
        base,
        startup: base,
        restart_tau: rng.range(2.0, 8.0),
        warm: 0.0,
        tau: 30.0,
        leak: 0.0,
        leak_onset: 0.0,
        saw_period: rng.range(5.0, 30.0),
        saw_amp: base * rng.range(0.1, 0.35),
        noise: rng.range(0.1, 0.8) * MB,
        // A request spike now and then: every ~3 min, 2-20 MiB for 2-10 s.
        burst_rate: 1.0 / (3.0 * MINUTE),
        burst_height: (2.0 * MB, 20.0 * MB),
        burst_duration: (2.0, 10.0),
        planned_restart: None,
        gc_live: None,
    };
    let mut leak_rate = 0.0;
    match s.kind {
        Kind::Stable => {}
        Kind::WarmUp => {
            p.base = rng.range(40.0, 150.0) * MB;
            p.startup = p.base;
            p.saw_amp = p.base * rng.range(0.1, 0.35);
            p.warm = rng.range(20.0, 200.0) * MB;
            p.tau = rng.range(10.0, 60.0);
        }
        Kind::Plateau => {
            let peak = rng.range(0.70, 0.85) * limit;
            let amp_fraction = rng.range(0.1, 0.35);
            let floor = peak / (1.0 + amp_fraction);
            p.saw_amp = floor * amp_fraction;
            p.warm = floor * rng.range(0.1, 0.3);
            p.base = floor - p.warm;
            p.startup = p.base;
            p.tau = rng.range(5.0, 20.0);
        }
        Kind::AllocatorRetention => {
            // RSS 1.3-1.8x the live heap, climbing 1-5 MiB/min, with little sawtooth; the
            // post-GC heap, read every 2-8 s, is flat. The limit is the container's.
            let live = rng.range(40.0, 200.0) * MB;
            p.limit = 1.5 * GIB;
            p.base = live * rng.range(1.3, 1.8);
            p.startup = p.base;
            p.saw_amp = rng.range(1.0, 5.0) * MB;
            p.leak = rng.range(1.0, 5.0) * MB / MINUTE;
            p.gc_live = Some((live, rng.range(0.1, 0.5) * MB, rng.range(2.0, 8.0)));
        }
        Kind::Leak => {
            p.leak = s.leak_rate;
            leak_rate = s.leak_rate;
        }
        Kind::LeakFromStart => {
            // Heap used starts at 20-50% of its working level and ramps up in 2-8 s (module
            // loading, JIT, first requests), then leaks.
            p.startup = p.base * startup_fraction;
            p.leak = s.leak_rate;
            leak_rate = s.leak_rate;
        }
        Kind::StableRestart | Kind::Burst | Kind::LeakAfterWarmUp | Kind::LeakRestarts => {
            unreachable!("no repro scenario of kind {:?}", s.kind)
        }
    }
    (p, 0.0, leak_rate)
}
