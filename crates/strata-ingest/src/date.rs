//! ISO 8601 dates to days since 1970-01-01.

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DD`, optionally followed by `T` or a space and `HH:MM[:SS[.fff]]` and `Z`,
/// into days since 1970-01-01 (time of day as the fraction).
pub fn parse_iso_date(s: &str) -> Option<f64> {
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim_end_matches('Z'))),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (i64::from(num(y)?), num(m)?, num(d)?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut days = days_from_civil(y, m, d) as f64;
    if let Some(t) = time {
        let mut hms = t.split(':');
        let h = num(hms.next()?)?;
        let min = num(hms.next()?)?;
        let sec: f64 = match hms.next() {
            Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                s.parse().ok()?
            }
            Some(_) => return None,
            None => 0.0,
        };
        if hms.next().is_some() || h > 23 || min > 59 || sec >= 61.0 {
            return None;
        }
        days += (f64::from(h) * 3600.0 + f64::from(min) * 60.0 + sec) / 86_400.0;
    }
    Some(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(parse_iso_date("2010-12-01"), Some(14_944.0));
        assert_eq!(parse_iso_date("2010-12-01 12:00:00"), Some(14_944.5));
        assert_eq!(parse_iso_date("2010-12-01T06:00Z"), Some(14_944.25));
    }

    #[test]
    fn rejects_impossible_and_other_formats() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "12/1/10",
            "2024-1-5",
            "2024-01-01 25:00",
            "soon",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
        assert!(parse_iso_date("2024-02-29").is_some());
    }
}
