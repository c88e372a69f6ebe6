//! Numbers as a reader wants them: grouped integers, percentages, and values with three
//! significant figures and a k/M/B suffix.

/// `1234567` → `1,234,567`.
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share in [0, 1] as a percentage with one decimal: `0.1234` → `12.3%`.
pub fn pct(share: f64) -> String {
    format!("{:.1}%", 100.0 * share)
}

/// About three significant figures, with k, M or B above ten thousand: `45914.2` → `45.9k`.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    let (v, suffix) = if a >= 1e9 {
        (x / 1e9, "B")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e4 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let a = v.abs();
    let s = if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.001 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    };
    format!("{s}{suffix}")
}

/// An optional metric with `digits` decimals, or `n/a`.
pub fn opt(x: Option<f64>, digits: usize) -> String {
    x.filter(|v| v.is_finite())
        .map_or_else(|| "n/a".into(), |v| format!("{v:.digits$}"))
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_grouped() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(1234567), "1,234,567");
    }

    #[test]
    fn values_keep_three_figures() {
        assert_eq!(num(45914.2), "45.9k");
        assert_eq!(num(1_250_000.0), "1.25M");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(-12.34), "-12.3");
        assert_eq!(num(0.5547), "0.555");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "n/a");
        assert_eq!(pct(0.327), "32.7%");
        assert_eq!(opt(None, 2), "n/a");
        assert_eq!(opt(Some(0.12345), 3), "0.123");
    }

    #[test]
    fn clipping_counts_characters() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("ééééé", 3), "éé…");
    }
}
