//! Segment profiles in the data's own units: what a marketer reads and what a plugin names.

use rayon::prelude::*;
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
pub fn compute_profiles(columns: &[(&Binding, &ColumnData)], labels: &[u32], k: usize) -> Profiles {
    let mut builder = ProfileBuilder::new(k);
    builder.add(columns, labels);
    builder.finish()
}

/// The segments' profiles, and per numeric column the sum of its values in each segment
/// (for value shares).
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    /// One profile per segment, in segment order.
    pub segments: Vec<Profile>,
    /// One entry per bound numeric column, in binding order.
    pub sums: Vec<ColumnSums>,
}

/// Per-segment sums of one numeric column's values (missing values left out).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSums {
    /// The role the column is bound to.
    pub role: String,
    /// The column's header.
    pub column: String,
    /// The sum in each segment, in the column's units; one entry per segment.
    pub sums: Vec<f64>,
}

/// [`compute_profiles`] over rows that come a table at a time (a streamed fit): the same
/// numbers, from sums and counts per segment. Across tables the overall variance is merged
/// from each table's own (Chan et al.), so one table gives exactly `compute_profiles`.
pub(crate) struct ProfileBuilder {
    k: usize,
    sizes: Vec<u64>,
    columns: Vec<Accumulator>,
}

enum Accumulator {
    Numeric {
        binding: Binding,
        sum: Vec<f64>,
        cnt: Vec<u64>,
        /// Values seen, their mean and sum of squared deviations.
        n: u64,
        mean: f64,
        m2: f64,
    },
    Categorical {
        binding: Binding,
        /// Per segment, rows per code.
        counts: Vec<Vec<u64>>,
        dict: Vec<String>,
    },
}

impl ProfileBuilder {
    /// A builder for `k` segments, with no rows yet.
    pub fn new(k: usize) -> ProfileBuilder {
        ProfileBuilder {
            k,
            sizes: vec![0; k],
            columns: Vec::new(),
        }
    }

    /// Adds rows: the same columns (by binding) in every call, and their segments.
    pub fn add(&mut self, columns: &[(&Binding, &ColumnData)], labels: &[u32]) {
        let k = self.k;
        for &l in labels {
            self.sizes[l as usize] += 1;
        }
        let columns: Vec<_> = columns
            .iter()
            .filter(|(_, d)| !matches!(d, ColumnData::NotNumeric { .. }))
            .collect();
        if self.columns.is_empty() {
            self.columns = columns
                .iter()
                .map(|(b, d)| match d {
                    ColumnData::Categorical { .. } => Accumulator::Categorical {
                        binding: (*b).clone(),
                        counts: vec![Vec::new(); k],
                        dict: Vec::new(),
                    },
                    _ => Accumulator::Numeric {
                        binding: (*b).clone(),
                        sum: vec![0.0; k],
                        cnt: vec![0; k],
                        n: 0,
                        mean: 0.0,
                        m2: 0.0,
                    },
                })
                .collect();
        }
        assert_eq!(
            self.columns.len(),
            columns.len(),
            "the same columns each time"
        );
        // Each column on its own thread, its rows in order as before: the same bits.
        self.columns
            .par_iter_mut()
            .zip(columns)
            .for_each(|(acc, (_, data))| {
                match (acc, data) {
                    (
                        Accumulator::Numeric {
                            sum,
                            cnt,
                            n,
                            mean,
                            m2,
                            ..
                        },
                        ColumnData::Numeric(v),
                    ) => {
                        let mut s = vec![0.0f64; k];
                        let mut c = vec![0u64; k];
                        for (&x, &l) in v.iter().zip(labels) {
                            if !x.is_nan() {
                                s[l as usize] += x;
                                c[l as usize] += 1;
                            }
                        }
                        let nb: u64 = c.iter().sum();
                        if nb == 0 {
                            return;
                        }
                        let mean_b = s.iter().sum::<f64>() / nb as f64;
                        let m2_b = v
                            .iter()
                            .filter(|x| !x.is_nan())
                            .map(|x| (x - mean_b).powi(2))
                            .sum::<f64>();
                        if *n == 0 {
                            (*mean, *m2) = (mean_b, m2_b);
                        } else {
                            let total = (*n + nb) as f64;
                            let delta = mean_b - *mean;
                            *m2 += m2_b + delta * delta * (*n as f64) * (nb as f64) / total;
                            *mean += delta * nb as f64 / total;
                        }
                        *n += nb;
                        for j in 0..k {
                            sum[j] += s[j];
                            cnt[j] += c[j];
                        }
                    }
                    (
                        Accumulator::Categorical {
                            counts, dict: all, ..
                        },
                        ColumnData::Categorical { codes, dict },
                    ) => {
                        // A later table's dictionary extends an earlier one's (a stream keeps one).
                        if dict.len() > all.len() {
                            all.extend_from_slice(&dict[all.len()..]);
                        }
                        for row in counts.iter_mut() {
                            row.resize(all.len(), 0);
                        }
                        for (&c, &l) in codes.iter().zip(labels) {
                            if c != MISSING_CODE {
                                counts[l as usize][c as usize] += 1;
                            }
                        }
                    }
                    _ => unreachable!("a column kept its kind"),
                }
            });
    }

    /// The profiles and sums over every row added.
    pub fn finish(self) -> Profiles {
        let k = self.k;
        let rows: u64 = self.sizes.iter().sum();
        let mut profiles: Vec<Profile> = (0..k)
            .map(|j| Profile {
                index: j as u32,
                k: k as u32,
                size: self.sizes[j],
                share: if rows == 0 {
                    0.0
                } else {
                    self.sizes[j] as f64 / rows as f64
                },
                numeric: Vec::new(),
                categorical: Vec::new(),
            })
            .collect();
        let mut sums = Vec::new();
        for acc in self.columns {
            match acc {
                Accumulator::Numeric {
                    binding: b,
                    sum,
                    cnt,
                    n,
                    mean,
                    m2,
                } => {
                    let overall_std = (m2 / n.max(1) as f64).sqrt();
                    for j in (0..k).filter(|&j| cnt[j] > 0) {
                        profiles[j].numeric.push(NumericProfile {
                            role: b.role.clone(),
                            name: b.column.clone(),
                            mean: sum[j] / cnt[j] as f64,
                            overall_mean: mean,
                            overall_std,
                        });
                    }
                    sums.push(ColumnSums {
                        role: b.role.clone(),
                        column: b.column.clone(),
                        sums: sum,
                    });
                }
                Accumulator::Categorical {
                    binding: b,
                    counts,
                    dict,
                } => {
                    let m = dict.len();
                    let overall: Vec<u64> = (0..m)
                        .map(|c| counts.iter().map(|row| row[c]).sum())
                        .collect();
                    let overall_total: u64 = overall.iter().sum::<u64>().max(1);
                    for (j, row) in counts.iter().enumerate() {
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
            }
        }
        Profiles {
            segments: profiles,
            sums,
        }
    }
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
        let all = compute_profiles(&[(&age, &ages), (&g, &gs)], &labels, 2);
        assert_eq!(all.sums.len(), 1);
        assert_eq!(all.sums[0].sums, [50.0, 60.0]);
        let p = &all.segments;
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
        // Row by row through the builder: the same profiles, up to the merged variance.
        let mut b = ProfileBuilder::new(2);
        for i in 0..4 {
            let one = |d: &ColumnData| d.filter(&[0, 1, 2, 3].map(|r| r == i));
            b.add(&[(&age, &one(&ages)), (&g, &one(&gs))], &labels[i..i + 1]);
        }
        let streamed = b.finish();
        assert_eq!(streamed.sums, all.sums);
        let streamed = streamed.segments;
        assert_eq!(streamed[1].categorical, p[1].categorical);
        for (s, w) in streamed.iter().zip(p) {
            assert_eq!(s.size, w.size);
            let (s, w) = (&s.numeric[0], &w.numeric[0]);
            assert_eq!((s.mean, s.overall_mean), (w.mean, w.overall_mean));
            assert!((s.overall_std - w.overall_std).abs() < 1e-12 * w.overall_std);
        }
        let traits = key_traits(&p[0]);
        assert_eq!(traits, vec!["Age 25.0 (avg 36.7)", "G F 100% (avg 67%)"]);
    }
}
