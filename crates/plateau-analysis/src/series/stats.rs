//! Trend statistics: Mann-Kendall with the Hamed-Rao autocorrelation correction, and the
//! Theil-Sen slope with Sen's distribution-free confidence interval.

/// The Mann-Kendall trend test on values in time order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannKendall {
    /// Concordant minus discordant pairs.
    pub s: i64,
    /// Variance of `s` under no trend, corrected for ties and for autocorrelation.
    pub variance: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// How much autocorrelation inflated the variance (1 = none).
    pub correction: f64,
}

/// Mann-Kendall on `values`, whose Theil-Sen `slope` against `times` removes the trend before
/// the autocorrelation of ranks is measured (Hamed & Rao 1998). Without that correction a
/// smooth series such as a GC floor looks significant far too often (Machida et al. 2013).
pub fn mann_kendall(times: &[f64], values: &[f64], slope: f64) -> MannKendall {
    let n = values.len();
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += sign(values[j] - values[i]);
        }
    }
    let nf = n as f64;
    let mut variance = nf * (nf - 1.0) * (2.0 * nf + 5.0);
    for tie in tie_groups(values) {
        let t = tie as f64;
        variance -= t * (t - 1.0) * (2.0 * t + 5.0);
    }
    variance /= 18.0;

    let correction = if n >= 3 {
        let detrended: Vec<f64> = times
            .iter()
            .zip(values)
            .map(|(t, v)| v - slope * t)
            .collect();
        hamed_rao_factor(&ranks(&detrended))
    } else {
        1.0
    };
    variance *= correction;

    let z = if variance <= 0.0 || s == 0 {
        0.0
    } else {
        (s - s.signum()) as f64 / variance.sqrt()
    };
    MannKendall {
        s,
        variance,
        p_value: (2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0),
        correction,
    }
}

/// n/n* of Hamed & Rao: only autocorrelations significant at 5% count; never below 1, so the
/// correction can only make the test more cautious.
fn hamed_rao_factor(ranks: &[f64]) -> f64 {
    let n = ranks.len();
    let nf = n as f64;
    let mean = ranks.iter().sum::<f64>() / nf;
    let denom: f64 = ranks.iter().map(|r| (r - mean).powi(2)).sum();
    if denom == 0.0 {
        return 1.0;
    }
    let bound = 1.96 / nf.sqrt();
    let mut sum = 0.0;
    for lag in 1..n.saturating_sub(2) {
        let r: f64 = (0..n - lag)
            .map(|i| (ranks[i] - mean) * (ranks[i + lag] - mean))
            .sum::<f64>()
            / denom;
        if r.abs() > bound {
            let k = lag as f64;
            sum += (nf - k) * (nf - k - 1.0) * (nf - k - 2.0) * r;
        }
    }
    (1.0 + 2.0 * sum / (nf * (nf - 1.0) * (nf - 2.0))).max(1.0)
}

/// Theil-Sen slope with a confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TheilSen {
    pub slope: f64,
    pub intercept: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The median of pairwise slopes; the interval is Sen's (1968): ranks `(N ∓ z·sqrt(var S))/2`
/// of the sorted pairwise slopes, with `variance` the (corrected) Mann-Kendall variance.
/// `None` with fewer than two distinct times.
pub fn theil_sen(times: &[f64], values: &[f64], confidence: f64) -> Option<TheilSen> {
    let slopes = pairwise_slopes(times, values);
    if slopes.is_empty() {
        return None;
    }
    let slope = median_sorted(&slopes);
    let mut offsets: Vec<f64> = times
        .iter()
        .zip(values)
        .map(|(t, v)| v - slope * t)
        .collect();
    offsets.sort_by(f64::total_cmp);
    let intercept = median_sorted(&offsets);
    let variance = mann_kendall(times, values, slope).variance;
    let (lower, upper) = sen_interval(&slopes, variance, confidence);
    Some(TheilSen {
        slope,
        intercept,
        lower,
        upper,
    })
}

/// Just the median pairwise slope (no interval): for quick looks at sub-windows.
pub(crate) fn sen_slope(times: &[f64], values: &[f64]) -> Option<f64> {
    let slopes = pairwise_slopes(times, values);
    (!slopes.is_empty()).then(|| median_sorted(&slopes))
}

fn pairwise_slopes(times: &[f64], values: &[f64]) -> Vec<f64> {
    let n = times.len();
    let mut slopes = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let dt = times[j] - times[i];
            if dt > 0.0 {
                slopes.push((values[j] - values[i]) / dt);
            }
        }
    }
    slopes.sort_by(f64::total_cmp);
    slopes
}

fn sen_interval(sorted_slopes: &[f64], variance: f64, confidence: f64) -> (f64, f64) {
    let count = sorted_slopes.len() as f64;
    let c = normal_quantile(0.5 + confidence / 2.0) * variance.max(0.0).sqrt();
    let last = sorted_slopes.len() - 1;
    // 1-based ranks M1 = (N - C)/2 and M2 + 1 = (N + C)/2 + 1, clamped into the list.
    let lower_rank = ((count - c) / 2.0).round().max(1.0) as usize;
    let upper_rank = ((count + c) / 2.0).round() as usize + 1;
    (
        sorted_slopes[(lower_rank - 1).min(last)],
        sorted_slopes[(upper_rank - 1).min(last)],
    )
}

fn sign(x: f64) -> i64 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

fn tie_groups(values: &[f64]) -> impl Iterator<Item = usize> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut groups = Vec::new();
    let mut run = 1;
    for w in sorted.windows(2) {
        if w[0] == w[1] {
            run += 1;
        } else {
            if run > 1 {
                groups.push(run);
            }
            run = 1;
        }
    }
    if run > 1 {
        groups.push(run);
    }
    groups.into_iter()
}

/// Ranks 1..=n, ties sharing their mean rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

pub(crate) fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    median_sorted(&sorted)
}

/// Standard normal CDF (Abramowitz & Stegun 7.1.26 via erf; error below 1.5e-7).
pub(crate) fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Inverse standard normal CDF (Acklam's rational approximation, relative error 1.15e-9).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_functions_match_tables() {
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
        assert!((normal_cdf(-2.575_829) - 0.005).abs() < 1e-5);
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(0.005) + 2.575_829).abs() < 1e-5);
    }

    #[test]
    fn mann_kendall_matches_hand_computed_values() {
        // 1..=10 strictly rising: S = 45, Var = 10*9*25/18 = 125.
        let t: Vec<f64> = (0..10).map(f64::from).collect();
        let mk = mann_kendall(&t, &t, 1.0);
        assert_eq!(mk.s, 45);
        // Detrended ranks are all tied, so no correction applies.
        assert!((mk.variance - 125.0).abs() < 1e-9);
        let z = 44.0 / 125f64.sqrt();
        assert!((mk.p_value - 2.0 * (1.0 - normal_cdf(z))).abs() < 1e-12);
        // Ties: [1,1,2] has S = 2 and Var = (3*2*11 - 2*1*9)/18.
        let mk = mann_kendall(&[0.0, 1.0, 2.0], &[1.0, 1.0, 2.0], 0.0);
        assert_eq!(mk.s, 2);
        assert!(mk.variance >= (66.0 - 18.0) / 18.0 - 1e-9);
    }

    #[test]
    fn theil_sen_ignores_outliers_and_brackets_the_slope() {
        let t: Vec<f64> = (0..30).map(f64::from).collect();
        let mut v: Vec<f64> = t.iter().map(|x| 5.0 + 2.0 * x + (x * 7.3).sin()).collect();
        v[10] = 1000.0;
        v[20] = -1000.0;
        let ts = theil_sen(&t, &v, 0.95).unwrap();
        assert!((ts.slope - 2.0).abs() < 0.1, "{ts:?}");
        assert!(ts.lower <= ts.slope && ts.slope <= ts.upper);
        assert!(ts.lower > 1.5 && ts.upper < 2.5, "{ts:?}");
        assert!(theil_sen(&[1.0], &[1.0], 0.95).is_none());
    }

    #[test]
    fn autocorrelation_makes_the_test_more_cautious() {
        // A slow sine: strongly autocorrelated, no trend over whole periods.
        let t: Vec<f64> = (0..60).map(f64::from).collect();
        let v: Vec<f64> = t.iter().map(|x| (x / 6.0).sin()).collect();
        let slope = sen_slope(&t, &v).unwrap();
        let mk = mann_kendall(&t, &v, slope);
        assert!(mk.correction > 1.0, "{mk:?}");
    }
}
