//! Segment rules a CRM can apply: for each segment, a short rule over the input columns in
//! the data's own units ("Annual Income (k$) > 69.5 and Spending Score (1-100) <= 40.5"), with
//! its precision and recall on the fitted customers, in words and as an SQL condition.
//!
//! # Method
//!
//! Each segment gets a one-vs-rest classification tree (CART, Gini impurity, at most
//! `max_depth` levels, 3 by default), grown as scikit-learn's `DecisionTreeClassifier` grows
//! one with its defaults: at each node, the split with the largest impurity decrease over
//! every column and every midpoint between consecutive distinct values; a node stops when it
//! is pure or at the depth limit. The rule is the union of the leaves where the segment's
//! customers are the majority, simplified (a subtree whose leaves all say "in" becomes its
//! root's path; bounds on one column along a path become one range).
//!
//! The other known way is a single threshold tree built from the centroids (IMM, Moshkovitz,
//! Dasgupta, Rashtchian & Frost, ICML 2020), whose leaves partition the customers, with a
//! proven bound on the cost it adds. It splits the clustering's own features; those are the
//! strategy's scaled, logged or one-hot transforms, which the plugin ABI does not invert, so
//! its thresholds could not be written in the input's units. One-vs-rest trees work on the
//! input columns directly, categorical ones included, and each segment's rule is as short as
//! that segment allows. Their rules may overlap or leave customers out; precision and recall
//! say by how much.
//!
//! # Columns
//!
//! A numeric (or date) column splits at thresholds; a missing value never satisfies `<=`, so
//! it goes with `>` ("or missing", written out in SQL only when the column has missing
//! values). A categorical column contributes one indicator per value ("region is Urban"), as
//! one-hot columns do in scikit-learn; a missing value is "not" every value.
//!
//! Ties between equally good splits go to the first column (in input order, indicators in
//! dictionary order) and the lowest threshold; scikit-learn draws its column order at random,
//! so on ties its tree can differ. Values are compared as f64 (scikit-learn rounds to f32).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The depth a rule's tree grows to unless asked otherwise.
pub const DEFAULT_MAX_DEPTH: usize = 3;

/// The code of a missing categorical value (as `strata_ingest::MISSING_CODE`).
pub const MISSING_CODE: u32 = u32::MAX;

/// scikit-learn's `FEATURE_THRESHOLD`: values closer than this are not split apart.
const FEATURE_THRESHOLD: f64 = 1e-7;

/// One input column's values, one per customer.
#[derive(Debug, Clone, Copy)]
pub enum Values<'a> {
    /// Numbers (NaN missing).
    Numeric {
        /// One per customer.
        values: &'a [f64],
        /// Days since 1970-01-01, written as dates.
        date: bool,
    },
    /// Categories.
    Categorical {
        /// One per customer, into `dict` ([`MISSING_CODE`] missing).
        codes: &'a [u32],
        /// The distinct values.
        dict: &'a [String],
    },
}

/// An input column the rules may use.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    /// The column's header, as the user's table has it.
    pub name: &'a str,
    /// Its values.
    pub values: Values<'a>,
}

/// How a condition compares its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// At most the threshold.
    #[serde(rename = "<=")]
    Le,
    /// Above the threshold (or missing, when `or_missing`).
    #[serde(rename = ">")]
    Gt,
    /// Equal to the category.
    #[serde(rename = "=")]
    Eq,
    /// Not equal to the category (or missing, when `or_missing`).
    #[serde(rename = "<>")]
    Ne,
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The input column's header.
    pub column: String,
    /// The comparison.
    pub op: Op,
    /// The threshold (numeric columns; days since 1970-01-01 for dates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The category (categorical columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Whether a missing value satisfies it (only ever on `>` and `<>`).
    #[serde(default)]
    pub or_missing: bool,
    /// Whether the column holds dates.
    #[serde(default)]
    pub date: bool,
}

/// A segment's rule: customers matching any of `alternatives` (each a conjunction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The conjunctions, any of which catches a customer; empty: the rule catches no one.
    pub alternatives: Vec<Vec<Condition>>,
}

/// How a rule does on the fitted customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Customers the rule catches.
    pub caught: u64,
    /// Of those, the segment's.
    pub caught_in_segment: u64,
    /// The segment's customers.
    pub in_segment: u64,
}

impl Counts {
    /// The share of the customers the rule catches that belong to the segment; `None` when it
    /// catches no one.
    pub fn precision(&self) -> Option<f64> {
        (self.caught > 0).then(|| self.caught_in_segment as f64 / self.caught as f64)
    }

    /// The share of the segment the rule catches; `None` for an empty segment.
    pub fn recall(&self) -> Option<f64> {
        (self.in_segment > 0).then(|| self.caught_in_segment as f64 / self.in_segment as f64)
    }
}

/// One split candidate: a column's numeric values, or one categorical value's indicator.
enum Feature<'a> {
    Numeric {
        column: usize,
        values: &'a [f64],
    },
    Indicator {
        column: usize,
        codes: &'a [u32],
        code: u32,
    },
}

impl Feature<'_> {
    /// The value a split compares (NaN missing; indicators are 0 or 1).
    fn value(&self, row: usize) -> f64 {
        match *self {
            Feature::Numeric { values, .. } => values[row],
            Feature::Indicator { codes, code, .. } => f64::from(u8::from(codes[row] == code)),
        }
    }
}

fn features<'a>(columns: &[Column<'a>]) -> Vec<Feature<'a>> {
    let mut out = Vec::new();
    for (column, c) in columns.iter().enumerate() {
        match c.values {
            Values::Numeric { values, .. } => out.push(Feature::Numeric { column, values }),
            Values::Categorical { codes, dict } => {
                out.extend((0..dict.len() as u32).map(|code| Feature::Indicator {
                    column,
                    codes,
                    code,
                }))
            }
        }
    }
    out
}

/// A node of a grown tree.
#[derive(Debug, Clone)]
enum Node {
    Leaf {
        positive: bool,
    },
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
}

/// The rule of every segment `0..k` of `labels`, trees grown on `train` (row indices; every
/// row when `None`) to at most `max_depth` levels. Segments are independent and run in
/// parallel; the result does not depend on the thread count.
pub fn rules(
    columns: &[Column<'_>],
    labels: &[u32],
    k: usize,
    train: Option<&[usize]>,
    max_depth: usize,
) -> Vec<Rule> {
    let n = labels.len();
    let all: Vec<usize>;
    let train = match train {
        Some(t) => t,
        None => {
            all = (0..n).collect();
            &all
        }
    };
    let feats = features(columns);
    // Each feature's training rows with a value, in ascending order of it (stable: ties keep
    // row order), shared by every segment's tree.
    let sorted: Vec<Vec<usize>> = feats
        .par_iter()
        .map(|f| {
            let mut rows: Vec<usize> = train
                .iter()
                .copied()
                .filter(|&r| !f.value(r).is_nan())
                .collect();
            rows.sort_by(|&a, &b| f.value(a).total_cmp(&f.value(b)));
            rows
        })
        .collect();
    (0..k)
        .into_par_iter()
        .map(|s| {
            let tree = grow(&feats, &sorted, labels, s as u32, train, n, max_depth);
            Rule {
                alternatives: extract(&tree, &feats, columns),
            }
        })
        .collect()
}

/// Grows one segment's tree level by level: at each level one pass per feature over its
/// sorted rows evaluates every open node's splits at once.
fn grow(
    feats: &[Feature<'_>],
    sorted: &[Vec<usize>],
    labels: &[u32],
    segment: u32,
    train: &[usize],
    n: usize,
    max_depth: usize,
) -> Vec<Node> {
    const SETTLED: u32 = u32::MAX;
    let mut node_of = vec![SETTLED; n];
    for &r in train {
        node_of[r] = 0;
    }
    let is_in = |r: usize| labels[r] == segment;
    // The tree, and the open nodes of this level: (tree index, customers, segment's).
    let mut tree = vec![Node::Leaf { positive: false }];
    let pos0 = train.iter().filter(|&&r| is_in(r)).count() as u64;
    let mut open: Vec<(usize, u64, u64)> = vec![(0, train.len() as u64, pos0)];
    for depth in 0..=max_depth {
        // Leaves: depth limit, pure nodes; the rest look for a split.
        let mut splitting = Vec::new();
        for (slot, &(node, total, pos)) in open.iter().enumerate() {
            let positive = 2 * pos > total;
            tree[node] = Node::Leaf { positive };
            if depth < max_depth && pos > 0 && pos < total && total >= 2 {
                splitting.push(slot);
            }
        }
        if splitting.is_empty() {
            break;
        }
        // Best split per open slot: (score, feature, threshold).
        let mut best: Vec<Option<(f64, usize, f64)>> = vec![None; open.len()];
        let slots = open.len();
        let mut left_n = vec![0u64; slots];
        let mut left_pos = vec![0u64; slots];
        let mut last = vec![f64::NAN; slots];
        for (fi, f) in feats.iter().enumerate() {
            left_n.iter_mut().for_each(|v| *v = 0);
            left_pos.iter_mut().for_each(|v| *v = 0);
            last.iter_mut().for_each(|v| *v = f64::NAN);
            for &r in &sorted[fi] {
                let slot = node_of[r];
                if slot == SETTLED {
                    continue;
                }
                let j = slot as usize;
                let v = f.value(r);
                let prev = last[j];
                if !prev.is_nan() && v > prev + FEATURE_THRESHOLD {
                    let (_, total, pos) = open[j];
                    let (ln, lp) = (left_n[j], left_pos[j]);
                    let (rn, rp) = (total - ln, pos - lp);
                    let score = purity(ln, lp) + purity(rn, rp);
                    if best[j].is_none_or(|(b, _, _)| score > b) {
                        let mut threshold = prev / 2.0 + v / 2.0;
                        if threshold == v || threshold.is_infinite() {
                            threshold = prev;
                        }
                        best[j] = Some((score, fi, threshold));
                    }
                }
                left_n[j] += 1;
                left_pos[j] += u64::from(is_in(r));
                last[j] = v;
            }
        }
        // Children of the nodes that split; their rows move to the next level's slots.
        let mut next: Vec<(usize, u64, u64)> = Vec::new();
        let mut child_slot: Vec<Option<(u32, u32)>> = vec![None; slots];
        for &slot in &splitting {
            let Some((_, feature, threshold)) = best[slot] else {
                continue;
            };
            let (left, right) = (tree.len(), tree.len() + 1);
            tree.push(Node::Leaf { positive: false });
            tree.push(Node::Leaf { positive: false });
            tree[open[slot].0] = Node::Split {
                feature,
                threshold,
                left,
                right,
            };
            child_slot[slot] = Some((next.len() as u32, next.len() as u32 + 1));
            next.push((left, 0, 0));
            next.push((right, 0, 0));
        }
        for &r in train {
            let slot = node_of[r];
            if slot == SETTLED {
                continue;
            }
            node_of[r] = match child_slot[slot as usize] {
                None => SETTLED,
                Some((l, rr)) => {
                    let Node::Split {
                        feature, threshold, ..
                    } = tree[open[slot as usize].0]
                    else {
                        unreachable!("a slot with children was split")
                    };
                    // NaN is never <= a threshold: missing values go right.
                    let c = if feats[feature].value(r) <= threshold {
                        l
                    } else {
                        rr
                    };
                    next[c as usize].1 += 1;
                    next[c as usize].2 += u64::from(is_in(r));
                    c
                }
            };
        }
        open = next;
        if open.is_empty() {
            break;
        }
    }
    tree
}

/// n·(1 − Gini) of a node of `n` customers, `pos` of them the segment's, up to a constant: the
/// split maximising the children's sum is the one scikit-learn's proxy improvement picks.
fn purity(n: u64, pos: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (p, q) = (pos as f64, (n - pos) as f64);
    (p * p + q * q) / n as f64
}

/// The conjunctions of the tree's "in" leaves, simplified.
fn extract(tree: &[Node], feats: &[Feature<'_>], columns: &[Column<'_>]) -> Vec<Vec<Condition>> {
    // Whether every leaf under a node is "in" (such a subtree is its path alone).
    fn all_in(tree: &[Node], i: usize) -> bool {
        match tree[i] {
            Node::Leaf { positive } => positive,
            Node::Split { left, right, .. } => all_in(tree, left) && all_in(tree, right),
        }
    }
    fn walk(
        tree: &[Node],
        i: usize,
        path: &mut Vec<(usize, bool, f64)>,
        out: &mut Vec<Vec<(usize, bool, f64)>>,
    ) {
        if all_in(tree, i) {
            out.push(path.clone());
            return;
        }
        if let Node::Split {
            feature,
            threshold,
            left,
            right,
        } = tree[i]
        {
            path.push((feature, false, threshold));
            walk(tree, left, path, out);
            path.pop();
            path.push((feature, true, threshold));
            walk(tree, right, path, out);
            path.pop();
        }
    }
    let mut paths = Vec::new();
    walk(tree, 0, &mut Vec::new(), &mut paths);
    paths
        .into_iter()
        .map(|p| conjunction(&p, feats, columns))
        .collect()
}

/// One path's splits (feature, went right, threshold) as conditions, one range per numeric
/// column and one test per category.
fn conjunction(
    path: &[(usize, bool, f64)],
    feats: &[Feature<'_>],
    columns: &[Column<'_>],
) -> Vec<Condition> {
    let mut out: Vec<Condition> = Vec::new();
    for &(f, right, threshold) in path {
        match feats[f] {
            Feature::Numeric { column, values } => {
                let c = &columns[column];
                let op = if right { Op::Gt } else { Op::Le };
                let date = matches!(c.values, Values::Numeric { date: true, .. });
                if let Some(prev) = out
                    .iter_mut()
                    .find(|x| x.column == c.name && x.op == op && x.category.is_none())
                {
                    let t = prev.threshold.expect("numeric");
                    prev.threshold = Some(if right {
                        t.max(threshold)
                    } else {
                        t.min(threshold)
                    });
                    continue;
                }
                // A `> t` after a `<= u` on the same column: missing values were already
                // sent left-out by `<=`, so "or missing" cannot hold.
                let bounded = out
                    .iter()
                    .any(|x| x.column == c.name && x.op == Op::Le && x.category.is_none());
                out.push(Condition {
                    column: c.name.to_owned(),
                    op,
                    threshold: Some(threshold),
                    category: None,
                    or_missing: right && !bounded && values.iter().any(|v| v.is_nan()),
                    date,
                });
                if !right {
                    for x in out.iter_mut().filter(|x| x.column == c.name) {
                        x.or_missing = false;
                    }
                }
            }
            Feature::Indicator {
                column,
                codes,
                code,
            } => {
                let c = &columns[column];
                let Values::Categorical { dict, .. } = c.values else {
                    unreachable!("indicators come from categorical columns")
                };
                let value = dict[code as usize].clone();
                if right {
                    // "is v" makes every other test on the column redundant.
                    out.retain(|x| x.column != c.name);
                    out.push(Condition {
                        column: c.name.to_owned(),
                        op: Op::Eq,
                        threshold: None,
                        category: Some(value),
                        or_missing: false,
                        date: false,
                    });
                } else if !out.iter().any(|x| x.column == c.name && x.op == Op::Eq) {
                    out.push(Condition {
                        column: c.name.to_owned(),
                        op: Op::Ne,
                        threshold: None,
                        category: Some(value),
                        or_missing: codes.contains(&MISSING_CODE),
                        date: false,
                    });
                }
            }
        }
    }
    out
}

impl Condition {
    /// Whether row `r` of `column` satisfies it (the same test SQL makes).
    fn holds(&self, values: &Values<'_>, r: usize) -> bool {
        match (*values, self.op) {
            (Values::Numeric { values, .. }, Op::Le) => values[r] <= self.threshold.unwrap_or(0.0),
            (Values::Numeric { values, .. }, Op::Gt) => {
                let v = values[r];
                if v.is_nan() {
                    self.or_missing
                } else {
                    v > self.threshold.unwrap_or(0.0)
                }
            }
            (Values::Categorical { codes, dict }, op) => {
                let c = codes[r];
                if c == MISSING_CODE {
                    return op == Op::Ne && self.or_missing;
                }
                let same = self.category.as_deref() == Some(dict[c as usize].as_str());
                (op == Op::Eq) == same
            }
            (Values::Numeric { .. }, _) => false,
        }
    }

    /// The condition in words: "Age <= 40.5", "region is Urban", "income > 72.5 (or missing)".
    pub fn text(&self) -> String {
        let missing = if self.or_missing { " (or missing)" } else { "" };
        match (self.op, &self.category) {
            (Op::Eq, Some(v)) => format!("{} is {v}", self.column),
            (Op::Ne, Some(v)) => format!("{} is not {v}{missing}", self.column),
            (op, _) => {
                let sym = if op == Op::Le { "<=" } else { ">" };
                format!(
                    "{} {sym} {}{missing}",
                    self.column,
                    self.show_threshold(false)
                )
            }
        }
    }

    /// The condition as SQL over the input's columns (ANSI double-quoted identifiers).
    pub fn sql(&self) -> String {
        let col = format!("\"{}\"", self.column.replace('"', "\"\""));
        let body = match (self.op, &self.category) {
            (Op::Eq, Some(v)) => format!("{col} = '{}'", v.replace('\'', "''")),
            (Op::Ne, Some(v)) => format!("{col} <> '{}'", v.replace('\'', "''")),
            (op, _) => {
                let sym = if op == Op::Le { "<=" } else { ">" };
                format!("{col} {sym} {}", self.show_threshold(true))
            }
        };
        if self.or_missing {
            format!("({body} OR {col} IS NULL)")
        } else {
            body
        }
    }

    /// The threshold as the data have it: a number, or for a date the last day `<=` keeps
    /// (thresholds fall between whole days).
    fn show_threshold(&self, sql: bool) -> String {
        let t = self.threshold.unwrap_or(f64::NAN);
        if self.date {
            let day = civil(t.floor() as i64);
            return if sql { format!("DATE '{day}'") } else { day };
        }
        format!("{t}")
    }
}

/// Days since 1970-01-01 as YYYY-MM-DD.
fn civil(days: i64) -> String {
    let (y, m, d) = strata_arrow_text::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A conjunction in words; a lower and an upper bound on one column read as one range,
/// "39.5 < Annual Income (k$) <= 69.5", where the first of the two stood.
fn conjunction_text(c: &[Condition]) -> String {
    let bound = |col: &str, op: Op| {
        c.iter()
            .find(|x| x.column == col && x.op == op && x.category.is_none())
    };
    let mut parts = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    for x in c {
        if x.category.is_none() && done.contains(&x.column.as_str()) {
            continue;
        }
        match (
            x.category.is_none(),
            bound(&x.column, Op::Gt),
            bound(&x.column, Op::Le),
        ) {
            (true, Some(lo), Some(hi)) => {
                done.push(&x.column);
                parts.push(format!(
                    "{} < {} <= {}",
                    lo.show_threshold(false),
                    x.column,
                    hi.show_threshold(false)
                ));
            }
            _ => parts.push(x.text()),
        }
    }
    parts.join(" and ")
}

impl Rule {
    /// Each condition beside the values of its column (`None`: no such column, which no
    /// row satisfies), looked up once rather than per row.
    fn resolve<'r, 'c>(
        &'r self,
        columns: &'r [Column<'c>],
    ) -> Vec<Vec<(&'r Condition, Option<&'r Values<'c>>)>> {
        self.alternatives
            .iter()
            .map(|conj| {
                conj.iter()
                    .map(|c| {
                        let col = columns.iter().find(|col| col.name == c.column);
                        (c, col.map(|col| &col.values))
                    })
                    .collect()
            })
            .collect()
    }

    /// Whether row `r` matches the rule; `columns` as given to [`rules`].
    pub fn matches(&self, columns: &[Column<'_>], r: usize) -> bool {
        matches_resolved(&self.resolve(columns), r)
    }

    /// Its precision and recall counts for `segment` over every row of `labels`.
    pub fn counts(&self, columns: &[Column<'_>], labels: &[u32], segment: u32) -> Counts {
        let resolved = self.resolve(columns);
        let (caught, both, inside) = (0..labels.len())
            .into_par_iter()
            .map(|r| {
                let m = matches_resolved(&resolved, r);
                let s = labels[r] == segment;
                (u64::from(m), u64::from(m && s), u64::from(s))
            })
            .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        Counts {
            caught,
            caught_in_segment: both,
            in_segment: inside,
        }
    }

    /// The rule in words: conjunctions joined by "and", alternatives by "or".
    pub fn text(&self) -> String {
        self.join(
            "no rule of this depth catches more of the segment than of the rest",
            "every customer",
            conjunction_text,
            " or ",
        )
    }

    /// The rule as an SQL condition (for a WHERE clause); `FALSE` when it catches no one.
    pub fn sql(&self) -> String {
        self.join(
            "FALSE",
            "TRUE",
            |c| {
                c.iter()
                    .map(Condition::sql)
                    .collect::<Vec<_>>()
                    .join(" AND ")
            },
            "\n   OR ",
        )
    }

    /// The alternatives written by `conj` and joined by `or` (parenthesised when several);
    /// `none` without alternatives, `all` for an empty conjunction.
    fn join(
        &self,
        none: &str,
        all: &str,
        conj: impl Fn(&[Condition]) -> String,
        or: &str,
    ) -> String {
        let parts: Vec<String> = self
            .alternatives
            .iter()
            .map(|c| {
                if c.is_empty() {
                    all.to_owned()
                } else {
                    conj(c)
                }
            })
            .collect();
        match parts.as_slice() {
            [] => none.to_owned(),
            [one] => one.clone(),
            _ => parts
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(or),
        }
    }
}

/// Whether row `r` satisfies any of the resolved conjunctions.
fn matches_resolved(resolved: &[Vec<(&Condition, Option<&Values<'_>>)>], r: usize) -> bool {
    resolved.iter().any(|conj| {
        conj.iter()
            .all(|(c, values)| values.is_some_and(|v| c.holds(v, r)))
    })
}

#[cfg(test)]
mod tests;
