//! Segment profiles in the data's own units: what a marketer reads and what a plugin names.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use strata_compute::exact::{ExactSum, squared_deviations, two_product};
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

/// [`compute_profiles`] over rows that come a table at a time (a streamed fit, `assign`), or
/// in parts made apart and merged (`assign --partial` on many machines, then `strata merge`).
///
/// Every sum is exact ([`ExactSum`]) and every count an integer, so the profiles depend on
/// the rows and their segments only: not on their order, on how they were cut into tables,
/// or on which machine added which part. The overall variance comes from the exact Σx and
/// Σx² (see [`squared_deviations`]), never from a subtraction of rounded sums.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProfileBuilder {
    k: usize,
    sizes: Vec<u64>,
    columns: Vec<Accumulator>,
}

#[derive(Debug, Clone, PartialEq)]
enum Accumulator {
    Numeric {
        binding: Binding,
        /// Per segment, the exact sum and the number of values.
        sum: Vec<ExactSum>,
        cnt: Vec<u64>,
        /// Over every segment, the exact sum of squares (boxed: an exact sum is 0.5 KB).
        squares: Box<ExactSum>,
    },
    Categorical {
        binding: Binding,
        /// Per segment, rows per code.
        counts: Vec<Vec<u64>>,
        dict: Vec<String>,
    },
}

impl Accumulator {
    fn binding(&self) -> &Binding {
        match self {
            Accumulator::Numeric { binding, .. } | Accumulator::Categorical { binding, .. } => {
                binding
            }
        }
    }
}

/// A [`ProfileBuilder`]'s state as data: what `assign --partial` writes and `strata merge`
/// reads. Sums are [`ExactSum::terms`], so a part read back merges to the same bits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialProfile {
    /// Rows per segment.
    pub sizes: Vec<u64>,
    /// The profiled columns, in binding order (personal roles are never among them).
    pub columns: Vec<PartialColumn>,
}

/// One profiled column's tallies per segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "tally", rename_all = "snake_case")]
pub enum PartialColumn {
    /// A numeric column: per segment the exact sum of its values (as terms) and how many
    /// there were, and the exact sum of squares over all of them.
    Numeric {
        /// The role, column and kind.
        binding: Binding,
        /// Per segment, [`ExactSum::terms`] of the values.
        sums: Vec<Vec<f64>>,
        /// Per segment, the values that were not missing.
        counts: Vec<u64>,
        /// [`ExactSum::terms`] of every value's square.
        squares: Vec<f64>,
    },
    /// A categorical column: per category, its rows in each segment.
    Categorical {
        /// The role, column and kind.
        binding: Binding,
        /// Each category and its count per segment, in the order first seen.
        levels: Vec<(String, Vec<u64>)>,
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
                        sum: vec![ExactSum::new(); k],
                        cnt: vec![0; k],
                        squares: Box::default(),
                    },
                })
                .collect();
        }
        assert_eq!(
            self.columns.len(),
            columns.len(),
            "the same columns each time"
        );
        // Each column on its own thread; exact sums, so the order rows are added in does not
        // matter.
        self.columns
            .par_iter_mut()
            .zip(columns)
            .for_each(|(acc, (_, data))| match (acc, data) {
                (
                    Accumulator::Numeric {
                        sum, cnt, squares, ..
                    },
                    ColumnData::Numeric(v),
                ) => {
                    for (&x, &l) in v.iter().zip(labels) {
                        if !x.is_nan() {
                            sum[l as usize].add(x);
                            cnt[l as usize] += 1;
                            let (p, e) = two_product(x, x);
                            squares.add(p);
                            squares.add(e);
                        }
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
            });
    }

    /// Adds the rows another builder saw. Both must profile the same `k` segments and the
    /// same columns (role, header and kind, in order), or neither has seen a row with a
    /// column yet; categories are matched by their text.
    pub fn merge(&mut self, other: ProfileBuilder) -> Result<(), String> {
        if other.k != self.k {
            return Err(format!(
                "profiles of {} segments cannot merge with profiles of {}",
                other.k, self.k
            ));
        }
        for (a, b) in self.sizes.iter_mut().zip(&other.sizes) {
            *a += b;
        }
        if other.columns.is_empty() {
            return Ok(());
        }
        if self.columns.is_empty() {
            self.columns = other.columns;
            return Ok(());
        }
        let same =
            |a: &Binding, b: &Binding| (&a.role, &a.column, a.kind) == (&b.role, &b.column, b.kind);
        if self.columns.len() != other.columns.len()
            || self
                .columns
                .iter()
                .zip(&other.columns)
                .any(|(a, b)| !same(a.binding(), b.binding()))
        {
            return Err("the parts profile different columns".into());
        }
        for (acc, part) in self.columns.iter_mut().zip(other.columns) {
            match (acc, part) {
                (
                    Accumulator::Numeric {
                        sum, cnt, squares, ..
                    },
                    Accumulator::Numeric {
                        sum: s,
                        cnt: c,
                        squares: q,
                        ..
                    },
                ) => {
                    for (a, b) in sum.iter_mut().zip(&s) {
                        a.merge(b);
                    }
                    for (a, b) in cnt.iter_mut().zip(c) {
                        *a += b;
                    }
                    squares.merge(&q);
                }
                (
                    Accumulator::Categorical { counts, dict, .. },
                    Accumulator::Categorical {
                        counts: c, dict: d, ..
                    },
                ) => {
                    let known: std::collections::HashMap<&str, usize> = dict
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (v.as_str(), i))
                        .collect();
                    let at: Vec<Option<usize>> =
                        d.iter().map(|v| known.get(v.as_str()).copied()).collect();
                    let mut codes = Vec::with_capacity(d.len());
                    for (v, at) in d.into_iter().zip(at) {
                        codes.push(at.unwrap_or_else(|| {
                            dict.push(v);
                            dict.len() - 1
                        }));
                    }
                    for (row, part) in counts.iter_mut().zip(c) {
                        row.resize(dict.len(), 0);
                        for (code, n) in codes.iter().zip(part) {
                            row[*code] += n;
                        }
                    }
                }
                _ => unreachable!("bindings of one kind checked above"),
            }
        }
        Ok(())
    }

    /// What was added, as data that serialises ([`PartialProfile`]).
    pub fn to_partial(&self) -> PartialProfile {
        PartialProfile {
            sizes: self.sizes.clone(),
            columns: self
                .columns
                .iter()
                .map(|acc| match acc {
                    Accumulator::Numeric {
                        binding,
                        sum,
                        cnt,
                        squares,
                    } => PartialColumn::Numeric {
                        binding: binding.clone(),
                        sums: sum.iter().map(ExactSum::terms).collect(),
                        counts: cnt.clone(),
                        squares: squares.terms(),
                    },
                    Accumulator::Categorical {
                        binding,
                        counts,
                        dict,
                    } => PartialColumn::Categorical {
                        binding: binding.clone(),
                        levels: dict
                            .iter()
                            .enumerate()
                            .map(|(c, v)| {
                                (
                                    v.clone(),
                                    counts
                                        .iter()
                                        .map(|r| r.get(c).copied().unwrap_or(0))
                                        .collect(),
                                )
                            })
                            .collect(),
                    },
                })
                .collect(),
        }
    }

    /// The builder a [`PartialProfile`] was made from; an error when its shapes disagree.
    pub fn from_partial(p: PartialProfile) -> Result<ProfileBuilder, String> {
        let k = p.sizes.len();
        let check = |what: &str, len: usize, col: &Binding| {
            if len == k {
                Ok(())
            } else {
                Err(format!(
                    "column '{}' has {len} {what} for {k} segments",
                    col.column
                ))
            }
        };
        let columns = p
            .columns
            .into_iter()
            .map(|c| match c {
                PartialColumn::Numeric {
                    binding,
                    sums,
                    counts,
                    squares,
                } => {
                    check("sums", sums.len(), &binding)?;
                    check("counts", counts.len(), &binding)?;
                    Ok(Accumulator::Numeric {
                        sum: sums.iter().map(|t| ExactSum::from_terms(t)).collect(),
                        cnt: counts,
                        squares: Box::new(ExactSum::from_terms(&squares)),
                        binding,
                    })
                }
                PartialColumn::Categorical { binding, levels } => {
                    for (_, n) in &levels {
                        check("counts", n.len(), &binding)?;
                    }
                    let counts = (0..k)
                        .map(|j| levels.iter().map(|(_, n)| n[j]).collect())
                        .collect();
                    Ok(Accumulator::Categorical {
                        dict: levels.into_iter().map(|(v, _)| v).collect(),
                        counts,
                        binding,
                    })
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(ProfileBuilder {
            k,
            sizes: p.sizes,
            columns,
        })
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
                    squares,
                } => {
                    let n: u64 = cnt.iter().sum();
                    let mut total = ExactSum::new();
                    for s in &sum {
                        total.merge(s);
                    }
                    let mean = if n == 0 {
                        0.0
                    } else {
                        total.value() / n as f64
                    };
                    let overall_std =
                        (squared_deviations(n, &total, &squares) / n.max(1) as f64).sqrt();
                    let sum: Vec<f64> = sum.iter().map(ExactSum::value).collect();
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
