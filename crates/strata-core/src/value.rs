//! What a segment is worth: its share of a value measure's total, from the profiles'
//! per-segment sums. The types and the attractiveness score are `strata-format`'s.

use crate::profile::ColumnSums;
pub use strata_format::value::{
    ATTRACTIVENESS_RULE, Attractiveness, SegmentValue, ValueMeasure, attractiveness,
};

/// The value measure and each segment's part of it, from the profiles' per-segment sums:
/// the first of `value_roles` with bound numeric columns, its columns summed.
pub fn segment_values(
    sums: &[ColumnSums],
    value_roles: &[&str],
    sizes: &[u64],
) -> Option<(ValueMeasure, Vec<SegmentValue>)> {
    let role = value_roles
        .iter()
        .find(|r| sums.iter().any(|c| c.role == **r))?;
    let columns: Vec<&ColumnSums> = sums.iter().filter(|c| c.role == *role).collect();
    let per_segment: Vec<f64> = (0..sizes.len())
        .map(|j| columns.iter().map(|c| c.sums[j]).sum())
        .collect();
    let total: f64 = per_segment.iter().sum();
    let values = per_segment
        .iter()
        .zip(sizes)
        .map(|(&v, &n)| SegmentValue {
            total: v,
            per_customer: if n == 0 { 0.0 } else { v / n as f64 },
            share: (total > 0.0).then(|| v / total),
        })
        .collect();
    let measure = ValueMeasure {
        role: (*role).to_owned(),
        columns: columns.iter().map(|c| c.column.clone()).collect(),
        total,
    };
    Some((measure, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(role: &str, column: &str, s: &[f64]) -> ColumnSums {
        ColumnSums {
            role: role.into(),
            column: column.into(),
            sums: s.to_vec(),
        }
    }

    #[test]
    fn value_shares_sum_the_value_role_columns() {
        let all = [
            sums("age", "Age", &[100.0, 100.0]),
            sums("spend", "Fresh", &[30.0, 10.0]),
            sums("spend", "Milk", &[30.0, 30.0]),
        ];
        let (m, v) = segment_values(&all, &["spend"], &[3, 1]).unwrap();
        assert_eq!(m.columns, ["Fresh", "Milk"]);
        assert_eq!(m.total, 100.0);
        assert_eq!(v[0].total, 60.0);
        assert_eq!(v[0].per_customer, 20.0);
        assert_eq!(v[0].share, Some(0.6));
        assert_eq!(v[1].per_customer, 40.0);
        assert!(segment_values(&all, &["monetary"], &[3, 1]).is_none());
        // Net of returns a total can be negative: no share is made up.
        let neg = [sums("monetary", "monetary", &[-5.0, 2.0])];
        assert_eq!(
            segment_values(&neg, &["monetary"], &[1, 1]).unwrap().1[0].share,
            None
        );
    }
}
