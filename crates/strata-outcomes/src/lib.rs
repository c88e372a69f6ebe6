//! KPIs and campaign tests by segment: what an outcome column (converted, churned, responded,
//! next-period revenue) looks like in each segment, whether segments differ, and, with a
//! treatment column, a campaign's effect in each segment. No I/O.
//!
//! - A binary outcome is a **rate**: per segment the share of customers with the outcome, a
//!   Wilson score 95% interval, and its lift against the whole base; whether segments differ
//!   is Pearson's chi-square test of independence (segments × outcome, no continuity
//!   correction).
//! - A numeric outcome is a **mean**: per segment a Student's t 95% interval and its lift;
//!   whether segments differ is one-way ANOVA's F test.
//! - With a treatment column (treated or control per customer), per segment the effect of
//!   treatment: rate treated − rate control with Newcombe's hybrid score interval (his method
//!   10, from the two Wilson intervals), or the difference of means with Welch's t interval.
//!   Segments are ranked by the effect; one with fewer than [`MIN_ARM`] customers in either
//!   arm (or, for a rate, fewer than 5 with or without the outcome in either arm) gets a
//!   warning instead of a rank, since its interval says little.
//!
//! Missing values (outcome or treatment) leave a customer out of that outcome's figures.

pub mod dist;

use serde::{Deserialize, Serialize};

/// Fewest customers in each arm for a segment's campaign effect to be ranked.
pub const MIN_ARM: u64 = 30;

/// A binary value as the outcome and treatment columns write them: `1`/`0`, `true`/`false`,
/// `yes`/`no`, `y`/`n`, and for a treatment also `treated`/`control`, `treatment`/`control`
/// (case and surrounding blanks ignored). `None` for anything else.
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "1.0" | "true" | "t" | "yes" | "y" | "treated" | "treatment" | "test" => Some(true),
        "0" | "0.0" | "false" | "f" | "no" | "n" | "control" | "holdout" => Some(false),
        _ => None,
    }
}

/// An outcome column's values, one per customer in the customers' order.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Yes or no (`None`: missing).
    Binary(Vec<Option<bool>>),
    /// A number (`NaN`: missing).
    Numeric(Vec<f64>),
}

/// A two-sided 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// The Wilson score 95% interval of a proportion `successes` of `n`; `None` when n = 0.
pub fn wilson(successes: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let (n, p, z) = (n as f64, successes as f64 / n as f64, dist::Z_975);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// Newcombe's hybrid score 95% interval (method 10) of p₁ − p₂ for `s1` of `n1` and `s2` of
/// `n2`; `None` when either arm is empty.
pub fn newcombe(s1: u64, n1: u64, s2: u64, n2: u64) -> Option<Interval> {
    let (w1, w2) = (wilson(s1, n1)?, wilson(s2, n2)?);
    let (p1, p2) = (s1 as f64 / n1 as f64, s2 as f64 / n2 as f64);
    let d = p1 - p2;
    Some(Interval {
        low: d - ((p1 - w1.low).powi(2) + (w2.high - p2).powi(2)).sqrt(),
        high: d + ((w1.high - p1).powi(2) + (p2 - w2.low).powi(2)).sqrt(),
    })
}

/// Count, mean and sample variance of numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// Welford's update.
    fn add(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }
    fn variance(&self) -> Option<f64> {
        (self.n > 1).then(|| self.m2 / (self.n - 1) as f64)
    }
    /// The t 95% interval of the mean.
    fn interval(&self) -> Option<Interval> {
        let v = self.variance()?;
        let half = dist::t_quantile(0.975, (self.n - 1) as f64) * (v / self.n as f64).sqrt();
        Some(Interval {
            low: self.mean - half,
            high: self.mean + half,
        })
    }
}

/// Welch's 95% interval of mean₁ − mean₂, with its degrees of freedom.
fn welch(a: &Moments, b: &Moments) -> Option<(Interval, f64)> {
    let (va, vb) = (a.variance()? / a.n as f64, b.variance()? / b.n as f64);
    let se2 = va + vb;
    if se2 <= 0.0 {
        return None;
    }
    let df = se2 * se2 / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    let half = dist::t_quantile(0.975, df) * se2.sqrt();
    let d = a.mean - b.mean;
    Some((
        Interval {
            low: d - half,
            high: d + half,
        },
        df,
    ))
}

/// Whether an outcome is a rate or a mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A binary outcome's share of customers with it.
    Rate,
    /// A numeric outcome's mean.
    Mean,
}

impl Kind {
    /// A rate or mean as text: `35.3%`, or `42.96`.
    pub fn show(self, v: f64) -> String {
        match self {
            Kind::Rate => format!("{:.1}%", 100.0 * v),
            Kind::Mean => format!("{v:.2}"),
        }
    }
    /// A difference as text: `+6.5 pts` (rate points), or `+0.62`.
    pub fn show_effect(self, v: f64) -> String {
        match self {
            Kind::Rate => format!("{:+.1} pts", 100.0 * v),
            Kind::Mean => format!("{v:+.2}"),
        }
    }
    /// An interval of rates or means as `[low, high]`; `n/a` without one.
    pub fn show_interval(self, i: Option<Interval>) -> String {
        i.map_or_else(
            || "n/a".to_owned(),
            |i| format!("[{}, {}]", self.show(i.low), self.show(i.high)),
        )
    }
    /// An interval of differences as `[low, high]`; `n/a` without one.
    pub fn show_effect_interval(self, i: Option<Interval>) -> String {
        i.map_or_else(
            || "n/a".to_owned(),
            |i| {
                format!(
                    "[{}, {}]",
                    self.show_effect(i.low),
                    self.show_effect(i.high)
                )
            },
        )
    }
    /// `rate` or `mean`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rate => "rate",
            Kind::Mean => "mean",
        }
    }
}

impl SegmentOutcome {
    /// Its rate or mean, 95% interval and lift as text (`n/a` where there is none).
    pub fn cells(&self, kind: Kind) -> [String; 3] {
        [
            if self.figure.n == 0 {
                "n/a".into()
            } else {
                kind.show(self.figure.value)
            },
            kind.show_interval(self.figure.interval),
            self.lift
                .map_or_else(|| "n/a".into(), |l| format!("{l:.2}")),
        ]
    }
}

impl Test {
    /// The test in words: `chi-square 575.04 on 3 df, p = 2.598e-124` (with its caveat).
    pub fn describe(&self) -> String {
        let p = if self.p_value < 1e-300 {
            "< 1e-300".to_owned()
        } else {
            format!("= {:.3e}", self.p_value)
        };
        let df: Vec<String> = self.df.iter().map(|d| d.to_string()).collect();
        format!(
            "{} {:.2} on {} df, p {p}{}",
            if self.method == "chi-square" {
                "chi-square"
            } else {
                "ANOVA F"
            },
            self.statistic,
            df.join(" and "),
            self.note
                .as_ref()
                .map_or_else(String::new, |n| format!(" ({n})"))
        )
    }
}

/// A figure over a group of customers: how many had a value, the rate or mean, its 95%
/// interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Customers with a value.
    pub n: u64,
    /// Of them, with the outcome (rates only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_outcome: Option<u64>,
    /// The rate (0 to 1) or the mean.
    pub value: f64,
    /// Its 95% interval (Wilson for a rate, Student's t for a mean); `None` with too few
    /// customers.
    pub interval: Option<Interval>,
}

/// A test of whether segments differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Test {
    /// `chi-square` (rates) or `anova-f` (means).
    pub method: String,
    /// The test statistic.
    pub statistic: f64,
    /// Its degrees of freedom (two for F: between and within).
    pub df: Vec<f64>,
    /// P(a statistic this large | segments do not differ).
    pub p_value: f64,
    /// A caveat (expected counts under 5), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A campaign's effect in a group: the outcome treated and in control, and the difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The treated customers' figure.
    pub treated: Figure,
    /// The control customers' figure.
    pub control: Figure,
    /// treated − control (rate points, or the mean's units).
    pub effect: f64,
    /// Its 95% interval: Newcombe's (rates) or Welch's (means); `None` with too few.
    pub interval: Option<Interval>,
    /// Whether the interval lies above 0: the campaign pays there, on this evidence.
    pub pays: bool,
    /// Rank by effect among the segments that have one (1: the largest); `None` when the
    /// arms are too small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// Why the effect cannot be read (arms too small).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// One segment's figure for an outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentOutcome {
    /// The segment's number.
    pub segment: usize,
    /// Its rate or mean.
    #[serde(flatten)]
    pub figure: Figure,
    /// Its value over the whole base's (1: as the base); `None` when the base's is 0.
    pub lift: Option<f64>,
    /// The campaign's effect in the segment (with a treatment column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment: Option<Effect>,
}

/// An outcome across the segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeReport {
    /// The outcome column.
    pub column: String,
    /// Rate or mean.
    pub kind: Kind,
    /// The whole base's figure.
    pub overall: Figure,
    /// Whether segments differ (`None` with fewer than two segments with values, or a rate
    /// that is 0 or 1 everywhere).
    pub test: Option<Test>,
    /// The treatment column, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment_column: Option<String>,
    /// The campaign's effect over the whole base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment: Option<Effect>,
    /// Per segment, in segment order.
    pub segments: Vec<SegmentOutcome>,
}

/// Per-group tallies of one outcome: totals, and by arm when there is a treatment.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    all: Moments,
    treated: Moments,
    control: Moments,
}

impl Tally {
    fn add(&mut self, x: f64, arm: Option<bool>) {
        self.all.add(x);
        match arm {
            Some(true) => self.treated.add(x),
            Some(false) => self.control.add(x),
            None => {}
        }
    }
}

fn figure(kind: Kind, m: &Moments) -> Figure {
    match kind {
        Kind::Rate => {
            let s = successes(m);
            Figure {
                n: m.n,
                with_outcome: Some(s),
                value: if m.n == 0 { 0.0 } else { m.mean },
                interval: wilson(s, m.n),
            }
        }
        Kind::Mean => Figure {
            n: m.n,
            with_outcome: None,
            value: if m.n == 0 { f64::NAN } else { m.mean },
            interval: m.interval(),
        },
    }
}

/// Successes of a 0/1 series from its count and mean (exact for counts below 2⁵²).
fn successes(m: &Moments) -> u64 {
    (m.mean * m.n as f64).round() as u64
}

fn effect(kind: Kind, t: &Tally) -> Effect {
    let (treated, control) = (figure(kind, &t.treated), figure(kind, &t.control));
    let (st, sc) = (successes(&t.treated), successes(&t.control));
    let small_arm = t.treated.n < MIN_ARM || t.control.n < MIN_ARM;
    let sparse = kind == Kind::Rate
        && [(st, t.treated.n), (sc, t.control.n)]
            .iter()
            .any(|&(s, n)| s < 5 || n - s < 5);
    let interval = match kind {
        Kind::Rate => newcombe(st, t.treated.n, sc, t.control.n),
        Kind::Mean => welch(&t.treated, &t.control).map(|(i, _)| i),
    };
    let warning = if small_arm {
        Some(format!(
            "too few customers to say: {} treated and {} in control (at least {MIN_ARM} each)",
            t.treated.n, t.control.n
        ))
    } else if sparse {
        Some(format!(
            "too few to say: {st} of {} treated and {sc} of {} in control had the outcome (at \
             least 5 with and 5 without in each arm)",
            t.treated.n, t.control.n
        ))
    } else {
        None
    };
    Effect {
        effect: treated.value - control.value,
        pays: warning.is_none() && interval.is_some_and(|i| i.low > 0.0),
        treated,
        control,
        interval,
        rank: None,
        warning,
    }
}

/// Pearson's chi-square test of independence of a k × 2 table (segments with customers).
fn chi_square(groups: &[Moments]) -> Option<Test> {
    let rows: Vec<(f64, f64)> = groups
        .iter()
        .filter(|m| m.n > 0)
        .map(|m| {
            let s = successes(m) as f64;
            (s, m.n as f64 - s)
        })
        .collect();
    let (yes, no): (f64, f64) = rows.iter().fold((0.0, 0.0), |a, r| (a.0 + r.0, a.1 + r.1));
    let total = yes + no;
    if rows.len() < 2 || yes == 0.0 || no == 0.0 {
        return None;
    }
    let mut statistic = 0.0;
    let mut small = false;
    for &(s, f) in &rows {
        let n = s + f;
        for (observed, column) in [(s, yes), (f, no)] {
            let expected = n * column / total;
            small |= expected < 5.0;
            statistic += (observed - expected).powi(2) / expected;
        }
    }
    let df = (rows.len() - 1) as f64;
    Some(Test {
        method: "chi-square".into(),
        statistic,
        df: vec![df],
        p_value: dist::chi2_sf(statistic, df),
        note: small.then(|| {
            "some expected counts are under 5: the chi-square p-value is approximate".into()
        }),
    })
}

/// One-way ANOVA's F test over the segments with customers.
fn anova(groups: &[Moments]) -> Option<Test> {
    let g: Vec<&Moments> = groups.iter().filter(|m| m.n > 0).collect();
    let n: u64 = g.iter().map(|m| m.n).sum();
    if g.len() < 2 || n <= g.len() as u64 {
        return None;
    }
    let grand = g.iter().map(|m| m.mean * m.n as f64).sum::<f64>() / n as f64;
    let between: f64 = g
        .iter()
        .map(|m| m.n as f64 * (m.mean - grand).powi(2))
        .sum();
    let within: f64 = g.iter().map(|m| m.m2).sum();
    let (d1, d2) = ((g.len() - 1) as f64, (n - g.len() as u64) as f64);
    if within <= 0.0 {
        return None;
    }
    let statistic = (between / d1) / (within / d2);
    Some(Test {
        method: "anova-f".into(),
        statistic,
        df: vec![d1, d2],
        p_value: dist::f_sf(statistic, d1, d2),
        note: None,
    })
}

/// An outcome's report over `k` segments: `segments[i]` is customer i's segment, `treated[i]`
/// their arm (`None`: no treatment column, or missing).
pub fn report(
    column: &str,
    values: &Values,
    segments: &[u32],
    k: usize,
    treatment: Option<(&str, &[Option<bool>])>,
) -> OutcomeReport {
    let kind = match values {
        Values::Binary(_) => Kind::Rate,
        Values::Numeric(_) => Kind::Mean,
    };
    let mut by_segment = vec![Tally::default(); k];
    let mut overall = Tally::default();
    for (i, &seg) in segments.iter().enumerate() {
        let x = match values {
            Values::Binary(v) => v[i].map(|b| f64::from(u8::from(b))),
            Values::Numeric(v) => Some(v[i]).filter(|x| !x.is_nan()),
        };
        let Some(x) = x else { continue };
        let arm = treatment.and_then(|(_, t)| t[i]);
        by_segment[seg as usize].add(x, arm);
        overall.add(x, arm);
    }
    let base = figure(kind, &overall.all);
    let groups: Vec<Moments> = by_segment.iter().map(|t| t.all).collect();
    let test = match kind {
        Kind::Rate => chi_square(&groups),
        Kind::Mean => anova(&groups),
    };
    let mut segs: Vec<SegmentOutcome> = by_segment
        .iter()
        .enumerate()
        .map(|(j, t)| {
            let figure = figure(kind, &t.all);
            SegmentOutcome {
                segment: j,
                lift: (base.value != 0.0 && t.all.n > 0).then(|| figure.value / base.value),
                figure,
                treatment: treatment.map(|_| effect(kind, t)),
            }
        })
        .collect();
    // Rank the readable effects, largest first; ties to the lower segment.
    let mut order: Vec<usize> = (0..segs.len())
        .filter(|&j| {
            segs[j]
                .treatment
                .as_ref()
                .is_some_and(|e| e.warning.is_none())
        })
        .collect();
    order.sort_by(|&a, &b| {
        let e = |j: usize| segs[j].treatment.as_ref().map_or(0.0, |e| e.effect);
        e(b).total_cmp(&e(a)).then(a.cmp(&b))
    });
    for (rank, j) in order.into_iter().enumerate() {
        if let Some(e) = segs[j].treatment.as_mut() {
            e.rank = Some(rank + 1);
        }
    }
    OutcomeReport {
        column: column.to_owned(),
        kind,
        overall: base,
        test,
        treatment_column: treatment.map(|(name, _)| name.to_owned()),
        treatment: treatment.map(|_| effect(kind, &overall)),
        segments: segs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_the_usual_spellings() {
        for t in ["1", "TRUE", " yes ", "Y", "treated", "Treatment"] {
            assert_eq!(parse_flag(t), Some(true), "{t}");
        }
        for f in ["0", "false", "No", "n", "control", "holdout"] {
            assert_eq!(parse_flag(f), Some(false), "{f}");
        }
        assert_eq!(parse_flag("maybe"), None);
    }

    #[test]
    fn wilson_and_newcombe_known_values() {
        // Newcombe (1998), table II, example (a): 56/70 vs 48/80 → (0.0524, 0.3339).
        let d = newcombe(56, 70, 48, 80).unwrap();
        assert!(
            (d.low - 0.0524).abs() < 5e-5 && (d.high - 0.3339).abs() < 5e-5,
            "{d:?}"
        );
        // Wilson of 0 of 10: (0, 0.2775).
        let w = wilson(0, 10).unwrap();
        assert!(w.low == 0.0 && (w.high - 0.2775).abs() < 5e-5, "{w:?}");
        assert!(wilson(0, 0).is_none());
    }

    #[test]
    fn segments_rates_tests_and_ranked_effects() {
        // Two segments of 200: segment 0 converts 30% treated, 10% control; segment 1 12%
        // and 10%.
        let mut seg = Vec::new();
        let mut conv = Vec::new();
        let mut arm = Vec::new();
        for (s, rate_t, rate_c) in [(0u32, 30, 10), (1, 12, 10)] {
            for i in 0..200 {
                let treated = i % 2 == 0;
                let within = i / 2;
                let rate = if treated { rate_t } else { rate_c };
                seg.push(s);
                arm.push(Some(treated));
                conv.push(Some(within < rate));
            }
        }
        let r = report(
            "converted",
            &Values::Binary(conv),
            &seg,
            2,
            Some(("treated", &arm)),
        );
        assert_eq!(r.kind, Kind::Rate);
        assert_eq!(r.overall.n, 400);
        assert_eq!(r.segments[0].figure.with_outcome, Some(40));
        assert!((r.segments[0].figure.value - 0.2).abs() < 1e-12);
        assert!((r.segments[0].lift.unwrap() - 0.2 / 0.155).abs() < 1e-12);
        let e0 = r.segments[0].treatment.as_ref().unwrap();
        assert!((e0.effect - 0.2).abs() < 1e-12);
        assert!(e0.pays && e0.rank == Some(1));
        let e1 = r.segments[1].treatment.as_ref().unwrap();
        assert!(!e1.pays && e1.rank == Some(2));
        let t = r.test.unwrap();
        assert_eq!(t.df, vec![1.0]);
        assert!(t.p_value < 0.05, "{t:?}");
    }

    #[test]
    fn means_and_small_arms() {
        let seg = [0u32, 0, 0, 1, 1, 1];
        let v = Values::Numeric(vec![1.0, 2.0, 3.0, 10.0, f64::NAN, 12.0]);
        let arm = [
            Some(true),
            Some(false),
            Some(true),
            None,
            Some(true),
            Some(false),
        ];
        let r = report("revenue", &v, &seg, 2, Some(("t", &arm)));
        assert_eq!(r.segments[1].figure.n, 2, "the missing value is left out");
        assert!((r.segments[1].figure.value - 11.0).abs() < 1e-12);
        let e = r.segments[0].treatment.as_ref().unwrap();
        assert!(e.warning.as_ref().unwrap().contains("too few customers"));
        assert_eq!(e.rank, None);
        assert_eq!(r.test.unwrap().method, "anova-f");
    }
}
