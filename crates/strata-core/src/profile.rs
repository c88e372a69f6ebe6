//! Segment profiles in the data's own units: what a marketer reads and what a plugin names.

use strata_host::{CategoricalProfile, NumericProfile, Profile};
use strata_ingest::{ColumnData, MISSING_CODE};

use crate::Binding;

pub use strata_host::Profile as SegmentProfile;

/// Profiles of the `k` segments from the raw columns and each row's segment.
///
/// Numerics: mean over the segment's rows that have a value, beside the overall mean and
/// standard deviation (population). A numeric with no value in a segment is left out of that
/// segment's profile. Categoricals: each category's share of the rows with a value, in the
/// segment and overall, largest segment share first.
pub fn compute_profiles(
    columns: &[(&Binding, &ColumnData)],
    labels: &[u32],
    k: usize,
) -> Vec<Profile> {
    let n = labels.len();
    let mut sizes = vec![0u64; k];
    for &l in labels {
        sizes[l as usize] += 1;
    }
    let mut profiles: Vec<Profile> = (0..k)
        .map(|j| Profile {
            index: j as u32,
            k: k as u32,
            size: sizes[j],
            share: if n == 0 {
                0.0
            } else {
                sizes[j] as f64 / n as f64
            },
            numeric: Vec::new(),
            categorical: Vec::new(),
        })
        .collect();
    for (b, data) in columns {
        match data {
            ColumnData::Numeric(v) => {
                let mut sum = vec![0.0f64; k];
                let mut cnt = vec![0u64; k];
                for (&x, &l) in v.iter().zip(labels) {
                    if !x.is_nan() {
                        sum[l as usize] += x;
                        cnt[l as usize] += 1;
                    }
                }
                let total: u64 = cnt.iter().sum();
                let overall_mean = sum.iter().sum::<f64>() / total.max(1) as f64;
                let var = v
                    .iter()
                    .filter(|x| !x.is_nan())
                    .map(|x| (x - overall_mean).powi(2))
                    .sum::<f64>()
                    / total.max(1) as f64;
                for j in 0..k {
                    if cnt[j] > 0 {
                        profiles[j].numeric.push(NumericProfile {
                            role: b.role.clone(),
                            name: b.column.clone(),
                            mean: sum[j] / cnt[j] as f64,
                            overall_mean,
                            overall_std: var.sqrt(),
                        });
                    }
                }
            }
            ColumnData::Categorical { codes, dict } => {
                let m = dict.len();
                let mut counts = vec![0u64; k * m];
                for (&c, &l) in codes.iter().zip(labels) {
                    if c != MISSING_CODE {
                        counts[l as usize * m + c as usize] += 1;
                    }
                }
                let overall: Vec<u64> = (0..m)
                    .map(|c| (0..k).map(|j| counts[j * m + c]).sum())
                    .collect();
                let overall_total: u64 = overall.iter().sum::<u64>().max(1);
                for j in 0..k {
                    let row = &counts[j * m..(j + 1) * m];
                    let seg_total = row.iter().sum::<u64>().max(1);
                    let mut levels: Vec<(String, f64, f64)> = (0..m)
                        .filter(|&c| overall[c] > 0)
                        .map(|c| {
                            (
                                dict[c].clone(),
                                row[c] as f64 / seg_total as f64,
                                overall[c] as f64 / overall_total as f64,
                            )
                        })
                        .collect();
                    levels.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    profiles[j].categorical.push(CategoricalProfile {
                        role: b.role.clone(),
                        name: b.column.clone(),
                        levels,
                    });
                }
            }
            ColumnData::NotNumeric { .. } => {}
        }
    }
    profiles
}

/// A number for people: whole above 1000, one decimal above 10, else two.
pub fn human_number(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The traits that set a segment apart: the numerics furthest from the overall mean (at least
/// a quarter of a standard deviation) and the category most over-represented (the segment's
/// largest share at 40% or more, at least 1.2× its overall share).
pub fn key_traits(p: &Profile) -> Vec<String> {
    let z = |n: &NumericProfile| {
        if n.overall_std > 0.0 {
            (n.mean - n.overall_mean) / n.overall_std
        } else {
            0.0
        }
    };
    let mut nums: Vec<&NumericProfile> = p.numeric.iter().filter(|n| z(n).abs() >= 0.25).collect();
    nums.sort_by(|a, b| {
        z(b).abs()
            .total_cmp(&z(a).abs())
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut out: Vec<String> = nums
        .iter()
        .take(2)
        .map(|n| {
            format!(
                "{} {} (avg {})",
                n.name,
                human_number(n.mean),
                human_number(n.overall_mean)
            )
        })
        .collect();
    let best_cat = p
        .categorical
        .iter()
        .filter_map(|c| c.levels.first().map(|l| (c, l)))
        .filter(|(_, l)| l.1 >= 0.4 && l.1 >= 1.2 * l.2)
        .max_by(|a, b| (a.1.1 / a.1.2).total_cmp(&(b.1.1 / b.1.2)));
    if let Some((c, l)) = best_cat {
        out.push(format!(
            "{} {} {:.0}% (avg {:.0}%)",
            c.name,
            l.0,
            l.1 * 100.0,
            l.2 * 100.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_host::ColumnKind;

    fn binding(role: &str, column: &str, kind: ColumnKind) -> Binding {
        Binding {
            role: role.into(),
            column: column.into(),
            index: 0,
            kind,
            auto: false,
        }
    }

    #[test]
    fn profiles_in_data_units() {
        let age = binding("age", "Age", ColumnKind::Numeric);
        let g = binding("gender", "G", ColumnKind::Categorical);
        let ages = ColumnData::Numeric(vec![20.0, 30.0, f64::NAN, 60.0]);
        let gs = ColumnData::Categorical {
            codes: vec![0, 0, 1, MISSING_CODE],
            dict: vec!["F".into(), "M".into()],
        };
        let labels = [0, 0, 1, 1];
        let p = compute_profiles(&[(&age, &ages), (&g, &gs)], &labels, 2);
        assert_eq!(p[0].size, 2);
        assert_eq!(p[0].share, 0.5);
        assert_eq!(p[0].numeric[0].mean, 25.0);
        assert_eq!(p[1].numeric[0].mean, 60.0); // the missing age does not count
        assert!((p[0].numeric[0].overall_mean - 110.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            p[0].categorical[0].levels,
            vec![("F".into(), 1.0, 2.0 / 3.0), ("M".into(), 0.0, 1.0 / 3.0)]
        );
        assert_eq!(p[1].categorical[0].levels[0], ("M".into(), 1.0, 1.0 / 3.0));
        let traits = key_traits(&p[0]);
        assert_eq!(traits, vec!["Age 25.0 (avg 36.7)", "G F 100% (avg 67%)"]);
    }
}
