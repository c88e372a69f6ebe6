//! A transaction log as the per-customer summary the value models read, with the `lifetimes`
//! package's definitions (`summary_data_from_transaction_data`): purchases are grouped into
//! periods (days, or weeks starting on Monday), a customer's purchases in one period count
//! once with their values summed, and then
//! - frequency: the periods with a purchase after the first;
//! - recency: periods from the first purchase's to the last's;
//! - T: periods from the first purchase's to the observation end's;
//! - monetary value: the mean of the repeat periods' sums (0 without a repeat).
//!
//! Purchases after the observation end's period are left out; a customer with none before it
//! has no summary.

/// One purchase of a log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Purchase {
    /// The customer's index (0 ≤ customer < the number of customers).
    pub customer: usize,
    /// The purchase's date, as days since 1970-01-01.
    pub day: i64,
    /// Its value (returns negative).
    pub value: f64,
}

/// The time unit of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Calendar days.
    Day,
    /// Weeks from Monday to Sunday.
    Week,
}

impl Period {
    /// The period a day falls in, numbered so that differences count periods.
    fn of(self, day: i64) -> i64 {
        match self {
            Period::Day => day,
            // 1970-01-01 was a Thursday: day −3 is the Monday a week starts on.
            Period::Week => (day + 3).div_euclid(7),
        }
    }
}

/// One customer's summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Periods with a purchase after the first (x).
    pub frequency: f64,
    /// Periods from the first purchase to the last (t_x).
    pub recency: f64,
    /// Periods from the first purchase to the observation end (T).
    pub t: f64,
    /// Mean of the repeat periods' summed values; 0 without a repeat.
    pub monetary: f64,
}

/// Summarises `purchases` of `customers` customers in `period`s up to the day `as_of`
/// (inclusive of its whole period); `None` for a customer without a purchase by then.
pub fn summarise(
    purchases: &[Purchase],
    customers: usize,
    period: Period,
    as_of: i64,
) -> Vec<Option<Summary>> {
    let end = period.of(as_of);
    // (customer, period, position in the log) of every purchase in the window, in order.
    let mut kept: Vec<(usize, i64, usize)> = purchases
        .iter()
        .enumerate()
        .filter(|(_, p)| p.customer < customers && period.of(p.day) <= end)
        .map(|(i, p)| (p.customer, period.of(p.day), i))
        .collect();
    kept.sort_unstable();
    let mut out = vec![None; customers];
    let mut at = 0;
    while at < kept.len() {
        let customer = kept[at].0;
        let mut periods: Vec<(i64, f64)> = Vec::new();
        while at < kept.len() && kept[at].0 == customer {
            let (_, p, i) = kept[at];
            match periods.last_mut() {
                Some((last, sum)) if *last == p => *sum += purchases[i].value,
                _ => periods.push((p, purchases[i].value)),
            }
            at += 1;
        }
        let first = periods[0].0;
        let last = periods[periods.len() - 1].0;
        let repeats = &periods[1..];
        out[customer] = Some(Summary {
            frequency: repeats.len() as f64,
            recency: (last - first) as f64,
            t: (end - first) as f64,
            monetary: if repeats.is_empty() {
                0.0
            } else {
                repeats.iter().map(|(_, v)| v).sum::<f64>() / repeats.len() as f64
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        // 1970-01-04 (day 3) was a Sunday, 1970-01-05 (day 4) a Monday.
        assert_eq!(Period::Week.of(3), Period::Week.of(-3));
        assert_eq!(Period::Week.of(4), Period::Week.of(3) + 1);
        assert_eq!(Period::Week.of(-4), Period::Week.of(-3) - 1);
    }

    #[test]
    fn purchases_in_one_period_count_once() {
        let p = |customer, day, value| Purchase {
            customer,
            day,
            value,
        };
        let log = [
            p(0, 10, 5.0),
            p(0, 10, 7.0),
            p(0, 12, 1.0),
            p(0, 30, 9.0),
            p(1, 20, 3.0),
            p(0, 100, 50.0),
        ];
        let s = summarise(&log, 3, Period::Day, 40);
        let a = s[0].unwrap();
        assert_eq!((a.frequency, a.recency, a.t), (2.0, 20.0, 30.0));
        assert_eq!(
            a.monetary, 5.0,
            "(1 + 9) / 2: the first period's 12 is left out"
        );
        let b = s[1].unwrap();
        assert_eq!(
            (b.frequency, b.recency, b.t, b.monetary),
            (0.0, 0.0, 20.0, 0.0)
        );
        assert!(s[2].is_none(), "no purchase by the end");
    }
}
