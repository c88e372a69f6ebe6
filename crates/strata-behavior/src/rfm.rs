//! RFM scoring: recency, frequency and monetary into quintile scores 1–5, and the named
//! segments marketers use.
//!
//! Cut points are the 20th, 40th, 60th and 80th percentiles of each measure over the customers
//! being scored (linear interpolation). A score counts the cut points a value lies strictly
//! above: F and M score 1 + that count; R scores 5 − that count, because a *smaller* recency
//! (a more recent purchase) is better. Scores therefore move the right way by construction: a
//! customer who bought more recently, more often or for more money never scores lower than one
//! who bought less, and equal values always score the same (many one-time buyers share F = 1).
//!
//! Segment: from R and FM = round-half-up((F + M) / 2), on this grid (rows R, columns FM):
//!
//! | R \ FM | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|
//! | 5 | New Customers | Potential Loyalists | Potential Loyalists | Champions | Champions |
//! | 4 | Promising | Potential Loyalists | Potential Loyalists | Loyal Customers | Loyal Customers |
//! | 3 | About To Sleep | About To Sleep | Need Attention | Loyal Customers | Loyal Customers |
//! | 2 | Hibernating | Hibernating | At Risk | At Risk | Can't Lose Them |
//! | 1 | Lost | Lost | At Risk | At Risk | Can't Lose Them |

use serde::{Deserialize, Serialize};

/// Quintile cut points learned from a customer base (stored in the saved model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmCuts {
    /// The four recency cut points in days since the last purchase, ascending.
    pub recency: [f64; 4],
    /// The four frequency cut points in purchases, ascending.
    pub frequency: [f64; 4],
    /// The four monetary cut points in the data's money units, ascending.
    pub monetary: [f64; 4],
}

/// One customer's scores, each 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmScores {
    /// Recency score: 5 for the most recent purchases.
    pub r: u8,
    /// Frequency score: 5 for the most purchases.
    pub f: u8,
    /// Monetary score: 5 for the most money.
    pub m: u8,
}

impl RfmScores {
    /// Combined frequency–monetary score, rounded half up.
    pub fn fm(&self) -> u8 {
        (self.f + self.m).div_ceil(2)
    }

    /// The named segment of these scores, from R and [`fm`](Self::fm) on the grid in the module
    /// docs.
    pub fn segment(&self) -> RfmSegment {
        RfmSegment::of(self.r, self.fm())
    }
}

fn cuts(values: &[f64]) -> [f64; 4] {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        if v.is_empty() {
            return 0.0;
        }
        let pos = p * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    };
    [q(0.2), q(0.4), q(0.6), q(0.8)]
}

fn above(x: f64, cuts: &[f64; 4]) -> u8 {
    cuts.iter().filter(|&&c| x > c).count() as u8
}

impl RfmCuts {
    /// Learns the cut points; NaN values are left out.
    pub fn fit(recency: &[f64], frequency: &[f64], monetary: &[f64]) -> RfmCuts {
        RfmCuts {
            recency: cuts(recency),
            frequency: cuts(frequency),
            monetary: cuts(monetary),
        }
    }

    /// Scores one customer. A missing (NaN) measure scores 3, the middle.
    pub fn score(&self, recency: f64, frequency: f64, monetary: f64) -> RfmScores {
        let or_mid = |x: f64, s: u8| if x.is_nan() { 3 } else { s };
        RfmScores {
            r: or_mid(recency, 5 - above(recency, &self.recency)),
            f: or_mid(frequency, 1 + above(frequency, &self.frequency)),
            m: or_mid(monetary, 1 + above(monetary, &self.monetary)),
        }
    }
}

/// The named RFM segments, in the order of their segment numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RfmSegment {
    /// Bought recently, often and for much (R 5, FM 4–5).
    Champions,
    /// Buy often and for much, and not long ago (R 3–4, FM 4–5).
    LoyalCustomers,
    /// Recent customers buying moderately (R 4–5, FM 2–3).
    PotentialLoyalists,
    /// Bought very recently, but little so far (R 5, FM 1).
    NewCustomers,
    /// Bought recently, but little so far (R 4, FM 1).
    Promising,
    /// Middling on every measure (R 3, FM 3).
    NeedAttention,
    /// Middling recency, buying little (R 3, FM 1–2).
    AboutToSleep,
    /// Bought well once but not for a while (R 1–2, FM 3–4).
    AtRisk,
    /// Among the best customers by frequency and money, but not seen for a while (R 1–2, FM 5).
    CantLoseThem,
    /// Not seen for a while, and bought little (R 2, FM 1–2).
    Hibernating,
    /// Not seen for the longest, and bought little (R 1, FM 1–2).
    Lost,
}

impl RfmSegment {
    /// Every segment, in the order of their segment numbers ([`index`](Self::index)).
    pub const ALL: [RfmSegment; 11] = [
        RfmSegment::Champions,
        RfmSegment::LoyalCustomers,
        RfmSegment::PotentialLoyalists,
        RfmSegment::NewCustomers,
        RfmSegment::Promising,
        RfmSegment::NeedAttention,
        RfmSegment::AboutToSleep,
        RfmSegment::AtRisk,
        RfmSegment::CantLoseThem,
        RfmSegment::Hibernating,
        RfmSegment::Lost,
    ];

    /// The segment of recency score `r` and frequency–monetary score `fm` (the grid above).
    pub fn of(r: u8, fm: u8) -> RfmSegment {
        use RfmSegment::*;
        match (r, fm) {
            (5, 1) => NewCustomers,
            (5, 4..=5) => Champions,
            (4..=5, 2..=3) => PotentialLoyalists,
            (4, 1) => Promising,
            (3..=4, 4..=5) => LoyalCustomers,
            (3, 3) => NeedAttention,
            (3, 1..=2) => AboutToSleep,
            (2, 1..=2) => Hibernating,
            (1..=2, 3..=4) => AtRisk,
            (1..=2, 5) => CantLoseThem,
            _ => Lost,
        }
    }

    /// The segment's number: its position in [`ALL`](Self::ALL), 0 to 10.
    pub fn index(self) -> u32 {
        Self::ALL.iter().position(|&s| s == self).expect("listed") as u32
    }

    /// The name marketers use, e.g. `"Can't Lose Them"`.
    pub fn name(self) -> &'static str {
        use RfmSegment::*;
        match self {
            Champions => "Champions",
            LoyalCustomers => "Loyal Customers",
            PotentialLoyalists => "Potential Loyalists",
            NewCustomers => "New Customers",
            Promising => "Promising",
            NeedAttention => "Need Attention",
            AboutToSleep => "About To Sleep",
            AtRisk => "At Risk",
            CantLoseThem => "Can't Lose Them",
            Hibernating => "Hibernating",
            Lost => "Lost",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_grid_as_documented() {
        use RfmSegment::*;
        let rows = [
            (
                5,
                [
                    NewCustomers,
                    PotentialLoyalists,
                    PotentialLoyalists,
                    Champions,
                    Champions,
                ],
            ),
            (
                4,
                [
                    Promising,
                    PotentialLoyalists,
                    PotentialLoyalists,
                    LoyalCustomers,
                    LoyalCustomers,
                ],
            ),
            (
                3,
                [
                    AboutToSleep,
                    AboutToSleep,
                    NeedAttention,
                    LoyalCustomers,
                    LoyalCustomers,
                ],
            ),
            (2, [Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem]),
            (1, [Lost, Lost, AtRisk, AtRisk, CantLoseThem]),
        ];
        for (r, segs) in rows {
            for (fm, want) in (1..=5).zip(segs) {
                assert_eq!(RfmSegment::of(r, fm), want, "R{r} FM{fm}");
            }
        }
        assert_eq!(RfmSegment::ALL.len(), 11);
        assert_eq!(RfmSegment::Lost.index(), 10);
    }

    #[test]
    fn quintiles_on_a_simple_base() {
        let r: Vec<f64> = (1..=10).map(f64::from).collect();
        let cuts = RfmCuts::fit(&r, &r, &r);
        // Most recent (1 day) scores R5; least recent R1. Most frequent scores F5.
        assert_eq!(cuts.score(1.0, 10.0, 10.0), RfmScores { r: 5, f: 5, m: 5 });
        assert_eq!(cuts.score(10.0, 1.0, 1.0), RfmScores { r: 1, f: 1, m: 1 });
        assert_eq!(cuts.score(1.0, 10.0, 10.0).segment(), RfmSegment::Champions);
        assert_eq!(cuts.score(10.0, 1.0, 1.0).segment(), RfmSegment::Lost);
        assert_eq!(cuts.score(f64::NAN, 5.0, 5.0).r, 3);
    }

    #[test]
    fn heavy_ties_share_a_score() {
        let f = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 5.0, 9.0];
        let cuts = RfmCuts::fit(&f, &f, &f);
        assert_eq!(cuts.score(1.0, 1.0, 1.0).f, 1);
        assert!(cuts.score(1.0, 9.0, 1.0).f > 1);
    }

    fn base() -> impl Strategy<Value = Vec<(f64, f64, f64)>> {
        prop::collection::vec((0.0..400.0f64, 1.0..50.0f64, -50.0..5000.0f64), 5..200)
    }

    proptest! {
        /// More recent, more frequent, more money never scores lower: for any customer base
        /// and any two customers in it (or scored against it).
        #[test]
        fn scores_point_the_right_way(customers in base(), a in (0.0..400.0f64, 1.0..50.0f64, -50.0..5000.0f64), d in (0.0..100.0f64, 0.0..20.0f64, 0.0..1000.0f64)) {
            let r: Vec<f64> = customers.iter().map(|c| c.0).collect();
            let f: Vec<f64> = customers.iter().map(|c| c.1).collect();
            let m: Vec<f64> = customers.iter().map(|c| c.2).collect();
            let cuts = RfmCuts::fit(&r, &f, &m);
            // `better` bought more recently, more often and for more than `a`.
            let better = ((a.0 - d.0).max(0.0), a.1 + d.1, a.2 + d.2);
            let (sa, sb) = (cuts.score(a.0, a.1, a.2), cuts.score(better.0, better.1, better.2));
            prop_assert!(sb.r >= sa.r, "R {:?} vs {:?}", sb, sa);
            prop_assert!(sb.f >= sa.f, "F {:?} vs {:?}", sb, sa);
            prop_assert!(sb.m >= sa.m, "M {:?} vs {:?}", sb, sa);
            for s in [sa, sb] {
                prop_assert!((1..=5).contains(&s.r) && (1..=5).contains(&s.f) && (1..=5).contains(&s.m));
            }
        }
    }
}
