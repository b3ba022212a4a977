//! Sizes, durations and rates in words people read: `1.5 KiB`, `3h 20m`, `2.1 MiB/h`.

/// `1536` -> `1.5 KiB`; exact below 1 KiB.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Signed byte amounts: `-2.0 MiB`.
pub fn format_signed_bytes(bytes: f64) -> String {
    let magnitude = format_bytes(bytes.abs().round() as u64);
    if bytes < 0.0 {
        format!("-{magnitude}")
    } else {
        magnitude
    }
}

/// `93784.0` -> `1d 2h`; two units at most, seconds below a minute.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "never".to_string();
    }
    if seconds < 1.0 {
        return format!("{:.0}ms", seconds.max(0.0) * 1000.0);
    }
    let s = seconds.round() as u64;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

/// A growth rate in the unit that reads best: per second, minute, hour or day.
pub fn format_rate(bytes_per_s: f64) -> String {
    let per =
        |factor: f64, unit: &str| format!("{}/{unit}", format_signed_bytes(bytes_per_s * factor));
    const MIB: f64 = 1024.0 * 1024.0;
    let per_hour = bytes_per_s.abs() * 3600.0;
    if per_hour < MIB {
        per(86_400.0, "day")
    } else if per_hour < 1024.0 * MIB {
        per(3600.0, "h")
    } else if per_hour < 60.0 * 1024.0 * MIB {
        per(60.0, "min")
    } else {
        per(1.0, "s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_signed_bytes(-2.0 * 1048576.0), "-2.0 MiB");
        assert_eq!(format_duration(59.4), "59s");
        assert_eq!(format_duration(0.25), "250ms");
        assert_eq!(format_duration(93_784.0), "1d 2h");
        assert_eq!(format_duration(7_260.0), "2h 1m");
        assert_eq!(format_rate(2.1 * 1048576.0 / 3600.0), "2.1 MiB/h");
        assert_eq!(format_rate(100.0 * 1048576.0), "100 MiB/s");
        assert_eq!(format_rate(10.0 * 1048576.0), "600 MiB/min");
        assert_eq!(format_rate(1024.0 / 3600.0), "24.0 KiB/day");
    }
}
