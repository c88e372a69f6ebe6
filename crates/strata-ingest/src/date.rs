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

/// A date layout. Slash dates are ambiguous between day-first and month-first, so a file's
/// layout is decided from its values ([`DateEvidence`]) or forced with `--date-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFormat {
    /// `YYYY-MM-DD`, optionally with `T`/space and `HH:MM[:SS]`.
    Iso,
    /// `M/D/YYYY` or `M/D/YY`, optionally with ` H:MM[:SS]` (US).
    Mdy,
    /// `D/M/YYYY` or `D/M/YY`, optionally with ` H:MM[:SS]`.
    Dmy,
    /// `YYYYMMDD`.
    Ymd,
}

impl DateFormat {
    /// The name `--date-format` takes for this layout, e.g. `"dmy"`.
    pub fn name(self) -> &'static str {
        match self {
            DateFormat::Iso => "iso",
            DateFormat::Mdy => "mdy",
            DateFormat::Dmy => "dmy",
            DateFormat::Ymd => "ymd",
        }
    }
}

impl std::str::FromStr for DateFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<DateFormat, String> {
        match s.to_ascii_lowercase().as_str() {
            "iso" | "yyyy-mm-dd" => Ok(DateFormat::Iso),
            "mdy" | "m/d/y" | "mm/dd/yyyy" => Ok(DateFormat::Mdy),
            "dmy" | "d/m/y" | "dd/mm/yyyy" => Ok(DateFormat::Dmy),
            "ymd" | "yyyymmdd" => Ok(DateFormat::Ymd),
            other => Err(format!(
                "unknown date format '{other}': expected iso, mdy, dmy or ymd"
            )),
        }
    }
}

/// Parses a date in `format` into days since 1970-01-01 (time of day as the fraction).
pub fn parse_date(format: DateFormat, s: &str) -> Option<f64> {
    let s = s.trim();
    match format {
        DateFormat::Iso => parse_iso_date(s),
        DateFormat::Ymd => {
            if s.len() != 8 {
                return None;
            }
            let (y, m, d) = (num(&s[..4])?, num(&s[4..6])?, num(&s[6..])?);
            civil(i64::from(y), m, d).map(|d| d as f64)
        }
        DateFormat::Mdy | DateFormat::Dmy => {
            let (a, b, y, secs) = slash_parts(s)?;
            let (m, d) = if format == DateFormat::Mdy {
                (a, b)
            } else {
                (b, a)
            };
            civil(y, m, d).map(|days| days as f64 + secs / 86_400.0)
        }
    }
}

/// Validated civil date to days since the epoch.
fn civil(y: i64, m: u32, d: u32) -> Option<i64> {
    ((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)).then(|| days_from_civil(y, m, d))
}

/// `A/B/Y[Y..] [H:MM[:SS]]` into (A, B, full year, seconds into the day).
fn slash_parts(s: &str) -> Option<(u32, u32, i64, f64)> {
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let mut p = date.split('/');
    let (a, b, y) = (p.next()?, p.next()?, p.next()?);
    if p.next().is_some() || a.len() > 2 || b.len() > 2 || !(y.len() == 2 || y.len() == 4) {
        return None;
    }
    let year = i64::from(num(y)?);
    // Two-digit years: 00–68 → 2000s, 69–99 → 1900s (the POSIX strptime rule).
    let year = if y.len() == 2 {
        if year < 69 { 2000 + year } else { 1900 + year }
    } else {
        year
    };
    let secs = match time {
        None => 0.0,
        Some(t) => {
            let mut hms = t.split(':');
            let h = num(hms.next()?)?;
            let m = num(hms.next()?)?;
            let sec = match hms.next() {
                Some(x) => f64::from(num(x)?),
                None => 0.0,
            };
            if hms.next().is_some() || h > 23 || m > 59 || sec >= 61.0 {
                return None;
            }
            f64::from(h) * 3600.0 + f64::from(m) * 60.0 + sec
        }
    };
    Some((num(a)?, num(b)?, year, secs))
}

/// What one value says about a file's date layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateEvidence {
    /// Only this format reads the value.
    Only(DateFormat),
    /// A slash date both day-first and month-first can read (e.g. `3/4/2010`).
    EitherSlash,
    /// No supported format reads it.
    Unreadable,
}

/// Classifies one date value.
pub fn date_evidence(s: &str) -> DateEvidence {
    let s = s.trim();
    if parse_iso_date(s).is_some() {
        return DateEvidence::Only(DateFormat::Iso);
    }
    if s.len() == 8
        && s.bytes().all(|b| b.is_ascii_digit())
        && parse_date(DateFormat::Ymd, s).is_some()
    {
        return DateEvidence::Only(DateFormat::Ymd);
    }
    match (
        parse_date(DateFormat::Mdy, s).is_some(),
        parse_date(DateFormat::Dmy, s).is_some(),
    ) {
        (true, true) => DateEvidence::EitherSlash,
        (true, false) => DateEvidence::Only(DateFormat::Mdy),
        (false, true) => DateEvidence::Only(DateFormat::Dmy),
        (false, false) => DateEvidence::Unreadable,
    }
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
    fn slash_and_compact_formats() {
        let dec1 = 14_944.0;
        assert_eq!(
            parse_date(DateFormat::Mdy, "12/1/10 8:26"),
            Some(dec1 + (8.0 * 60.0 + 26.0) / 1440.0)
        );
        assert_eq!(parse_date(DateFormat::Mdy, "12/01/2010"), Some(dec1));
        assert_eq!(parse_date(DateFormat::Dmy, "01/12/2010"), Some(dec1));
        assert_eq!(parse_date(DateFormat::Ymd, "20101201"), Some(dec1));
        assert_eq!(
            parse_date(DateFormat::Iso, "2010-12-01 00:00:00"),
            Some(dec1)
        );
        assert_eq!(parse_date(DateFormat::Mdy, "13/1/2010"), None);
        assert_eq!(parse_date(DateFormat::Dmy, "31/4/2010"), None);
        assert_eq!(
            parse_date(DateFormat::Mdy, "1/2/69"),
            Some(days_from_civil(1969, 1, 2) as f64)
        );
    }

    #[test]
    fn evidence_tells_day_first_from_month_first() {
        assert_eq!(
            date_evidence("12/13/10 9:00"),
            DateEvidence::Only(DateFormat::Mdy)
        );
        assert_eq!(
            date_evidence("13/12/2010"),
            DateEvidence::Only(DateFormat::Dmy)
        );
        assert_eq!(date_evidence("3/4/2010"), DateEvidence::EitherSlash);
        assert_eq!(
            date_evidence("2010-12-01"),
            DateEvidence::Only(DateFormat::Iso)
        );
        assert_eq!(
            date_evidence("20101201"),
            DateEvidence::Only(DateFormat::Ymd)
        );
        assert_eq!(date_evidence("yesterday"), DateEvidence::Unreadable);
        assert_eq!("DMY".parse::<DateFormat>(), Ok(DateFormat::Dmy));
        assert!("julian".parse::<DateFormat>().is_err());
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
