//! The short segment table `strata fit` prints on stdout. Every function writes to the `out`
//! it is given and returns the write's error, so a closed pipe ends the command quietly
//! instead of panicking (see `main`).

use std::io::{self, Write};

use strata_core::FitReport;
use strata_core::select::KSelection;

/// The `--k auto` / `choose-k` table, with the recommendation and its rule.
pub fn print_k_selection(out: &mut dyn Write, s: &KSelection) -> io::Result<()> {
    let num = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
    };
    writeln!(
        out,
        "Choosing k in {}..{} on {} {} rows (silhouette on {} rows{}):",
        s.range[0],
        s.range[1],
        if s.sampled { "a sample of" } else { "all" },
        s.rows,
        s.silhouette_rows,
        s.silhouette_seed
            .map_or_else(String::new, |seed| format!(", sampled with seed {seed}"))
    )?;
    writeln!(
        out,
        "{:>4}  {:>14}  {:>10}  {:>14}  {:>17}  {:>9}  {:>8}  {:>9}",
        "k",
        "INERTIA",
        "SILHOUETTE",
        "DAVIES-BOULDIN",
        "CALINSKI-HARABASZ",
        "RESAMPLED",
        "SMALLEST",
        "RESTARTS"
    )?;
    for c in &s.candidates {
        writeln!(
            out,
            "{:>4}  {:>14.6e}  {:>10}  {:>14}  {:>17}  {:>9}  {:>8}  {:>9}{}",
            c.k,
            c.inertia,
            num(c.silhouette, 4),
            num(c.davies_bouldin, 4),
            num(c.calinski_harabasz, 1),
            num(c.min_jaccard, 3),
            c.min_share
                .map_or_else(|| "n/a".to_owned(), |s| format!("{:.1}%", s * 100.0)),
            num(c.min_agreement, 3),
            if c.k == s.chosen {
                "  <- recommended"
            } else {
                ""
            }
        )?;
    }
    writeln!(out, "Recommended k = {}: {}.", s.chosen, s.reason)?;
    if let Some(r) = &s.runner_up {
        writeln!(out, "Runner-up k = {}: {}.", r.k, r.why)?;
    }
    if let Some(r) = &s.null_reference {
        writeln!(out, "Against structureless data: {}.", r.reading)?;
    }
    writeln!(
        out,
        "Rule: {} (minimum share {:.1}%, --min-share).",
        s.rule,
        s.min_share * 100.0
    )?;
    writeln!(
        out,
        "RESAMPLED: the weakest segment's mean Jaccard over 20 refits on half-samples (above \
         0.75 stable); SMALLEST: the smallest segment's share; RESTARTS: the restarts' lowest \
         agreement (the optimiser's)."
    )?;
    Ok(())
}

/// The fit's summary; `rules`: with each segment's rule (`--rules`).
pub fn print(out: &mut dyn Write, r: &FitReport, rules: bool) -> io::Result<()> {
    if let Some(t) = &r.transactions {
        writeln!(
            out,
            "Transactions: {} rows; {} without a customer id skipped; {} returns or cancellations netted; \
             {} customers (dates read as {}).",
            t.rows, t.rows_without_customer, t.return_rows, t.customers, t.date_format
        )?;
    }
    match &r.kmeans {
        Some(km) => {
            if let Some(sel) = &km.k_selection {
                print_k_selection(out, sel)?;
                writeln!(out)?;
            }
            writeln!(
                out,
                "Segmented {} of {} customers with strategy {} {} into {} segments ({} features, {}).",
                r.rows_used, r.rows, r.strategy, r.strategy_version, r.k, r.features, km.backend
            )?;
            let stopped = if km.converged {
                "converged"
            } else {
                "stopped at --max-iter without converging"
            };
            let q = &km.quality;
            let num = |v: Option<f64>, digits: usize| {
                v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
            };
            let sampled = if q.silhouette_sampled {
                "a sample of"
            } else {
                "all"
            };
            match km.gamma {
                Some(gamma) => {
                    writeln!(
                        out,
                        "k-prototypes: cost {:.4} (squared numeric distance + γ {gamma:.4} per \
                         categorical mismatch), {} passes, {stopped}. Why: {}.",
                        km.inertia, km.iterations, km.algorithm.1
                    )?;
                    writeln!(
                        out,
                        "Quality: silhouette {} on k-prototypes' distance √(numeric² + γ·mismatches) \
                         ({sampled} {} rows; -1 to 1, higher is better); Davies-Bouldin and \
                         Calinski-Harabasz need Euclidean centroids, which modes are not.",
                        num(q.silhouette, 3),
                        q.silhouette_rows,
                    )?;
                }
                None => {
                    writeln!(
                        out,
                        "k-means: inertia {:.4}, {} iterations, {stopped}.",
                        km.inertia, km.iterations,
                    )?;
                    if km.algorithm.1.starts_with("auto") {
                        writeln!(out, "Algorithm: {}.", km.algorithm.1)?;
                    }
                    writeln!(
                        out,
                        "Quality: silhouette {} ({sampled} {} rows; -1 to 1, higher is better), \
                         Davies-Bouldin {} (lower is better), Calinski-Harabasz {} (higher is \
                         better).",
                        num(q.silhouette, 3),
                        q.silhouette_rows,
                        num(q.davies_bouldin, 3),
                        num(q.calinski_harabasz, 1)
                    )?;
                }
            }
            if let Some((r, per_segment)) = &km.resampling {
                let each = if per_segment.len() <= 12 {
                    let each: Vec<String> = per_segment
                        .iter()
                        .enumerate()
                        .map(|(j, s)| format!("{j} {:.2}", s.jaccard))
                        .collect();
                    format!("per segment {}", each.join(", "))
                } else {
                    let weak = per_segment.iter().filter(|s| s.jaccard <= 0.6).count();
                    format!(
                        "{weak} of {} segments unstable; each in segments.json",
                        per_segment.len()
                    )
                };
                writeln!(
                    out,
                    "Stability under resampling: {} (the weakest segment's mean Jaccard {:.3} over \
                     {} refits on half-samples; {each}).",
                    r.reading, r.min_jaccard, r.runs
                )?;
            }
            if let Some(s) = &km.stability {
                writeln!(
                    out,
                    "Stability: {} restarts agree to an adjusted Rand index of at least {:.3} ({}; \
                     a note on the optimiser: restarts that stop in a worse optimum lose to the \
                     best).",
                    s.runs, s.min_agreement, s.reading
                )?;
            }
        }
        None => writeln!(
            out,
            "Scored {} of {} customers with strategy {} {} into RFM segments (quintile scores 1–5).",
            r.rows_used, r.rows, r.strategy, r.strategy_version
        )?,
    }
    let imputed: Vec<String> = r
        .imputed
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    if !imputed.is_empty() {
        writeln!(out, "Missing values imputed: {}.", imputed.join(", "))?;
    }
    if r.rows_dropped > 0 {
        writeln!(out, "Rows dropped for missing values: {}.", r.rows_dropped)?;
    }
    for m in &r.merged {
        if m.size == 0 {
            writeln!(
                out,
                "Merged: k-means segment {} (empty: fewer distinct customers than k) into \
                 k-means segment {}.",
                m.segment, m.into
            )?;
        } else {
            writeln!(
                out,
                "Merged: k-means segment {} ({} customers, under --min-segment-size) into \
                 k-means segment {}; its customers are in segment {}.",
                m.segment, m.size, m.into, m.exported
            )?;
        }
    }
    if r.ids_pseudonymized {
        writeln!(
            out,
            "Ids in the assignments are pseudonyms (HMAC-SHA-256 under your salt)."
        )?;
    }
    if !r.skipped_columns.is_empty() {
        writeln!(
            out,
            "Non-numeric columns left out: {}.",
            r.skipped_columns.join(", ")
        )?;
    }
    if let Some(v) = &r.value_model {
        print_value_model(out, v)?;
    }
    for o in &r.outcomes {
        print_outcome(out, o, &r.segments)?;
    }
    if let Some((how, each)) = &r.geo {
        print_places(out, how, each)?;
    }
    if let (true, Some((how, each))) = (rules, &r.rules) {
        print_rules(out, how, each)?;
    }
    segments_and_files(
        out,
        &r.segments,
        r.value_measure.as_ref(),
        r.value_model.as_ref(),
        &r.strategy,
        &r.written,
    )?;
    let show = |t: f64| {
        if t < 1.0 {
            format!("{:.0} ms", t * 1e3)
        } else {
            format!("{t:.2} s")
        }
    };
    let times: Vec<String> = r
        .timings
        .iter()
        .map(|(s, t)| format!("{s} {}", show(*t)))
        .collect();
    writeln!(out, "Time: {}.", times.join(", "))?;
    Ok(())
}

/// Each segment's centre and radius, and the coordinates that were not places.
fn print_places(
    out: &mut dyn Write,
    how: &strata_core::GeoReport,
    each: &[Option<strata_core::SegmentGeo>],
) -> io::Result<()> {
    let parts: Vec<String> = each
        .iter()
        .enumerate()
        .filter_map(|(s, g)| {
            g.as_ref()
                .map(|g| format!("{s} {}", g.describe(how.radius_share)))
        })
        .collect();
    writeln!(
        out,
        "Where ({} and {}): {}.",
        how.latitude,
        how.longitude,
        parts.join("; ")
    )?;
    if how.invalid > 0 {
        writeln!(
            out,
            "Warning: {} customers have coordinates that are not places (|latitude| > 90, \
             |longitude| > 180 or exactly 0, 0); they were treated as missing \
             (invalid_coordinates=flag) and are left out of the centres and the map.",
            how.invalid
        )?;
    }
    Ok(())
}

/// Each segment's rule with its precision and recall.
fn print_rules(
    out: &mut dyn Write,
    how: &strata_core::RulesReport,
    each: &[strata_core::SegmentRule],
) -> io::Result<()> {
    writeln!(
        out,
        "Segment rules (decision trees of depth <= {} on {}{}; PRECISION: of the customers a \
         rule catches, the share in the segment; RECALL: of the segment, the share caught):",
        how.max_depth,
        how.columns.join(", "),
        if how.sampled {
            format!(", grown on a sample of {} customers", how.rows)
        } else {
            String::new()
        }
    )?;
    writeln!(out, "{:>4}  {:>9}  {:>6}  RULE", "#", "PRECISION", "RECALL")?;
    let pct = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.1}%", v * 100.0));
    for (s, rule) in each.iter().enumerate() {
        writeln!(
            out,
            "{s:>4}  {:>9}  {:>6}  {}",
            pct(rule.precision),
            pct(rule.recall),
            rule.text
        )?;
    }
    writeln!(out)
}

/// The value model's parameters, with their standard errors.
fn print_value_model(out: &mut dyn Write, v: &strata_core::ValueModelReport) -> io::Result<()> {
    let one = |name: &str, value: Option<f64>, se: Option<f64>| {
        let param = strata_core::show_param;
        let se = se.map_or_else(String::new, |e| format!(" ±{}", param(e)));
        format!("{name} {}{se}", value.map_or_else(|| "n/a".into(), param))
    };
    let (p, e) = (&v.params, v.std_errors.as_ref());
    writeln!(
        out,
        "Value model: BG/NBD {}, {}, {}, {} (log-likelihood {:.2}); Gamma-Gamma {}, {}, {} on {} \
         repeat buyers of {} customers; {}.",
        one("r", Some(p.r), e.map(|e| e.r)),
        one("alpha", Some(p.alpha), e.map(|e| e.alpha)),
        one("a", Some(p.a), e.map(|e| e.a)),
        one("b", Some(p.b), e.map(|e| e.b)),
        v.log_likelihood.bgnbd,
        one("p", p.p, e.and_then(|e| e.p)),
        one("q", p.q, e.and_then(|e| e.q)),
        one("gamma", p.gamma, e.and_then(|e| e.gamma)),
        v.repeat_buyers,
        v.customers,
        match &v.observed_until {
            Some(end) => format!("per {}, observed until {end}", v.period),
            None => "in the summary's own periods".into(),
        }
    )?;
    for n in &v.notes {
        writeln!(out, "note: {n}.")?;
    }
    Ok(())
}

/// An outcome by segment: rate or mean with its interval and lift, the test, and the
/// campaign's effect per segment with a treatment column.
fn print_outcome(
    out: &mut dyn Write,
    o: &strata_core::OutcomeReport,
    segments: &[strata_core::SegmentSummary],
) -> io::Result<()> {
    let rate = o.kind == strata_core::OutcomeKind::Rate;
    let kind = o.kind;
    let show = |v: f64| kind.show(v);
    let interval = |i: Option<strata_core::Interval>| kind.show_interval(i);
    let effect = |v: f64| kind.show_effect(v);
    let effect_interval = |i: Option<strata_core::Interval>| kind.show_effect_interval(i);
    writeln!(out)?;
    writeln!(
        out,
        "Outcome {} ({}; {} customers with a value): {} {} overall.",
        o.column,
        kind.name(),
        o.overall.n,
        show(o.overall.value),
        interval(o.overall.interval)
    )?;
    let treated = o.treatment_column.is_some();
    writeln!(
        out,
        "{:>3}  {:>9}  {:>8}  {:>18}  {:>5}{}",
        "#",
        "N",
        if rate { "RATE" } else { "MEAN" },
        "95% INTERVAL",
        "LIFT",
        if treated {
            format!(
                "  {:>9}  {:>9}  {:>10}  {:>24}  {:>4}",
                "TREATED", "CONTROL", "EFFECT", "95% INTERVAL", "RANK"
            )
        } else {
            String::new()
        }
    )?;
    for s in &o.segments {
        let label = segments
            .iter()
            .find(|x| x.index == s.segment)
            .map_or("", |x| x.label.as_str());
        let [value, range, lift] = s.cells(kind);
        let mut line = format!(
            "{:>3}  {:>9}  {:>8}  {:>18}  {:>5}",
            s.segment, s.figure.n, value, range, lift
        );
        if let Some(e) = &s.treatment {
            line.push_str(&format!(
                "  {:>9}  {:>9}  {:>10}  {:>24}  {:>4}",
                show(e.treated.value),
                show(e.control.value),
                effect(e.effect),
                effect_interval(e.interval),
                e.rank.map_or_else(|| "-".into(), |r| r.to_string())
            ));
        }
        writeln!(out, "{line}  {label}")?;
    }
    match &o.test {
        Some(t) => writeln!(out, "Segments differ? {}.", t.describe())?,
        None => writeln!(out, "Segments differ? No test: too few segments or values.")?,
    }
    if let (Some(col), Some(all)) = (&o.treatment_column, &o.treatment) {
        let pays: Vec<String> = {
            let mut p: Vec<&strata_core::SegmentOutcome> = o
                .segments
                .iter()
                .filter(|s| s.treatment.as_ref().is_some_and(|e| e.pays))
                .collect();
            p.sort_by_key(|s| s.treatment.as_ref().and_then(|e| e.rank));
            p.iter().map(|s| s.segment.to_string()).collect()
        };
        let unread: Vec<String> = o
            .segments
            .iter()
            .filter(|s| s.treatment.as_ref().is_some_and(|e| e.warning.is_some()))
            .map(|s| s.segment.to_string())
            .collect();
        writeln!(
            out,
            "Campaign ({col}): {} overall {}; it pays (interval above 0) in segment{} {}{} \
             (95% intervals per segment, not adjusted for comparing {} segments).",
            effect(all.effect),
            effect_interval(all.interval),
            if pays.len() == 1 { "" } else { "s" },
            if pays.is_empty() {
                "none".into()
            } else {
                pays.join(", ")
            },
            if unread.is_empty() {
                String::new()
            } else {
                format!(
                    "; too few customers in an arm to say in {}",
                    unread.join(", ")
                )
            },
            o.segments.len()
        )?;
    }
    Ok(())
}

/// Segments ranked by predicted CLV, with churn risk.
fn print_predicted(
    out: &mut dyn Write,
    segments: &[strata_core::SegmentSummary],
    v: &strata_core::ValueModelReport,
) -> io::Result<()> {
    let mut ranked: Vec<(
        &strata_core::SegmentSummary,
        &strata_core::SegmentPrediction,
    )> = segments
        .iter()
        .filter_map(|s| s.predicted.as_ref().map(|p| (s, p)))
        .collect();
    ranked.sort_by_key(|(s, p)| (p.clv_rank, s.index));
    writeln!(
        out,
        "Predicted over {} {}{}, segments by predicted {}:",
        v.horizon,
        match v.observed_until {
            Some(_) => format!("{}s", v.period),
            None => "periods".into(),
        },
        if v.discount_rate > 0.0 {
            format!(" (discounted {}% a period)", v.discount_rate * 100.0)
        } else {
            String::new()
        },
        if v.params.p.is_some() {
            "CLV"
        } else {
            "purchases (no monetary values: no CLV)"
        }
    )?;
    writeln!(
        out,
        "{:>3}  {:>14}  {:>6}  {:>12}  {:>7}  {:>8}  LABEL",
        "#", "CLV", "SHARE", "CLV/CUSTOMER", "P(ALIVE)", "AT RISK"
    )?;
    let money = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}"));
    for (s, p) in ranked {
        writeln!(
            out,
            "{:>3}  {:>14}  {:>6}  {:>12}  {:>8.3}  {:>7.1}%  {}",
            s.index,
            money(p.clv_total),
            p.clv_share
                .map_or_else(|| "n/a".to_owned(), |v| format!("{:.1}%", v * 100.0)),
            money(p.clv_mean),
            p.p_alive_mean,
            p.at_risk_share * 100.0,
            s.label
        )?;
    }
    writeln!(
        out,
        "AT RISK: customers with P(alive) below {}. RANK above weighs predicted CLV per customer.",
        v.at_risk_below
    )?;
    writeln!(out)
}

/// The segment table: size, share, value share (with a value measure), rank, label, traits.
fn print_segments(
    out: &mut dyn Write,
    segments: &[strata_core::SegmentSummary],
    value_measure: Option<&strata_core::ValueMeasure>,
    predicted: bool,
    strategy: &str,
) -> io::Result<()> {
    let label_w = segments
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let has_value = value_measure.is_some();
    writeln!(
        out,
        "{:>3}  {:>9}  {:>6}  {}{:>4}  {:<label_w$}  KEY TRAITS",
        "#",
        "SIZE",
        "SHARE",
        if has_value { " VALUE  " } else { "" },
        "RANK",
        "LABEL"
    )?;
    for s in segments {
        let value = match (has_value, s.value_share) {
            (false, _) => String::new(),
            (true, Some(v)) => format!("{:>5.1}%  ", v * 100.0),
            (true, None) => format!("{:>6}  ", "n/a"),
        };
        writeln!(
            out,
            "{:>3}  {:>9}  {:>5.1}%  {value}{:>4}  {:<label_w$}  {}",
            s.index,
            s.size,
            s.share * 100.0,
            s.attractiveness.rank,
            s.label,
            s.key_traits.join("; ")
        )?;
    }
    writeln!(out)?;
    match value_measure {
        Some(m) if predicted => writeln!(
            out,
            "VALUE: the segment's share of the total {} ({}). RANK: attractiveness from size and \
             predicted CLV per customer (segments.json says how).",
            m.role,
            m.columns.join(" + ")
        ),
        Some(m) => writeln!(
            out,
            "VALUE: the segment's share of the total {} ({}). RANK: attractiveness from size and \
             value per customer (segments.json says how).",
            m.role,
            m.columns.join(" + ")
        ),
        None => writeln!(
            out,
            "RANK: attractiveness from size (strategy {} has no value measure; segments.json \
             says how).",
            strategy
        ),
    }
}

/// The segment table between blank lines, then a `wrote FILE` line per file: how `fit`,
/// `assign` and `merge` end.
fn segments_and_files(
    out: &mut dyn Write,
    segments: &[strata_core::SegmentSummary],
    value_measure: Option<&strata_core::ValueMeasure>,
    value_model: Option<&strata_core::ValueModelReport>,
    strategy: &str,
    written: &[std::path::PathBuf],
) -> io::Result<()> {
    writeln!(out)?;
    print_segments(
        out,
        segments,
        value_measure,
        value_model.is_some(),
        strategy,
    )?;
    writeln!(out)?;
    if let Some(v) = value_model {
        print_predicted(out, segments, v)?;
    }
    for p in written {
        writeln!(out, "wrote {}", p.display())?;
    }
    Ok(())
}

/// What `strata assign` prints.
pub fn print_assign(out: &mut dyn Write, r: &strata_core::AssignReport) -> io::Result<()> {
    writeln!(
        out,
        "Scored {} of {} customers with strategy {} {} (model fitted with {}) into {} segments \
         ({}).",
        r.rows_used,
        r.rows,
        r.strategy,
        r.strategy_version,
        r.model_strategy_version,
        r.k,
        r.backend
    )?;
    if r.rows_dropped > 0 {
        writeln!(out, "Rows left out for missing values: {}.", r.rows_dropped)?;
    }
    segments_and_files(
        out,
        &r.segments,
        r.value_measure.as_ref(),
        None,
        &r.strategy,
        &r.written,
    )?;
    Ok(())
}

/// What `strata merge` prints: the parts and customers, then the segments as `assign` does.
pub fn print_merge(out: &mut dyn Write, r: &strata_core::MergeReport) -> io::Result<()> {
    writeln!(
        out,
        "Merged {} parts: {} of {} customers scored into {} segments.",
        r.parts, r.rows_used, r.rows, r.k
    )?;
    segments_and_files(
        out,
        &r.segments,
        r.value_measure.as_ref(),
        None,
        &r.strategy,
        &r.written,
    )?;
    Ok(())
}

/// What `strata compare` prints: the counts, the PSI, a row per matched segment pair and the
/// migration matrix.
pub fn print_compare(out: &mut dyn Write, c: &strata_compare::Comparison) -> io::Result<()> {
    writeln!(
        out,
        "A: {} customers ({}). B: {} customers ({}).",
        c.customers_a, c.a, c.customers_b, c.b
    )?;
    writeln!(
        out,
        "In both: {}; new in B: {}; gone from A: {}; moved to another segment: {} ({:.1}% of \
         those in both).",
        c.in_both,
        c.new,
        c.gone,
        c.moved,
        100.0 * c.moved_share
    )?;
    writeln!(
        out,
        "Population stability index: {:.4} ({}; {}). Segments matched by {}.",
        c.psi, c.reading, c.psi_bands, c.matching
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>3} {:>3}  {:>7}  {:>7}  {:>7}  {:<7}  {:>7}  {:>7}  {:>4}  LABEL (A → B)",
        "A", "B", "A SHARE", "B SHARE", "PSI", "READING", "GROWTH", "SHIFT%", "RANK"
    )?;
    let opt = |v: Option<usize>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    for s in &c.segments {
        let label = match (&s.a_label, &s.b_label) {
            (Some(a), Some(b)) if a == b => a.clone(),
            (Some(a), Some(b)) => format!("{a} → {b}"),
            (Some(a), None) => format!("{a} → (gone)"),
            (None, Some(b)) => format!("(new) → {b}"),
            (None, None) => String::new(),
        };
        writeln!(
            out,
            "{:>3} {:>3}  {:>6.1}%  {:>6.1}%  {:>7.4}  {:<7}  {:>7}  {:>7}  {:>4}  {label}",
            opt(s.a_segment),
            opt(s.b_segment),
            100.0 * s.a_share,
            100.0 * s.b_share,
            s.psi,
            s.reading,
            s.growth.map_or_else(|| "-".into(), |g| format!("{g:.2}x")),
            s.shift_pct
                .map_or_else(|| "-".into(), |p| format!("{p:.1}")),
            s.attractiveness
                .as_ref()
                .map_or_else(|| "-".into(), |a| a.rank.to_string()),
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Migration (rows: A's segments; columns: B's; customers in both runs):"
    )?;
    write!(out, "{:>6}", "")?;
    for j in 0..c.b_labels.len() {
        write!(out, " {:>8}", format!("B{j}"))?;
    }
    writeln!(out, " {:>8}", "GONE")?;
    for (i, row) in c.migration.iter().enumerate() {
        write!(out, "{:>6}", format!("A{i}"))?;
        for v in row {
            write!(out, " {v:>8}")?;
        }
        writeln!(out, " {:>8}", c.gone_by_segment[i])?;
    }
    write!(out, "{:>6}", "NEW")?;
    for v in &c.new_by_segment {
        write!(out, " {v:>8}")?;
    }
    writeln!(out)?;
    print_predicted_change(out, c)
}

/// Predicted value before and now, where a run had a value model.
fn print_predicted_change(out: &mut dyn Write, c: &strata_compare::Comparison) -> io::Result<()> {
    if c.segments.iter().all(|s| s.predicted.is_none()) {
        return Ok(());
    }
    writeln!(out)?;
    match &c.predicted_clv {
        Some(t) if t.same_horizon => writeln!(
            out,
            "Predicted CLV over all customers: {:.2} → {:.2} ({}).",
            t.a,
            t.b,
            t.change_pct
                .map_or_else(|| "n/a".into(), |p| format!("{p:+.1}%"))
        )?,
        Some(_) => writeln!(
            out,
            "Predicted CLV: the runs predict over different horizons, so their totals are not \
             compared."
        )?,
        None => {}
    }
    writeln!(
        out,
        "{:>3} {:>3}  {:>12}  {:>12}  {:>8}  {:>9}  {:>9}",
        "A", "B", "CLV/CUST A", "CLV/CUST B", "CHANGE", "P(ALIVE) A", "P(ALIVE) B"
    )?;
    let opt = |v: Option<usize>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let money = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    let alive = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
    for s in &c.segments {
        let Some(p) = &s.predicted else { continue };
        writeln!(
            out,
            "{:>3} {:>3}  {:>12}  {:>12}  {:>8}  {:>10}  {:>10}",
            opt(s.a_segment),
            opt(s.b_segment),
            money(p.a_clv_mean),
            money(p.b_clv_mean),
            p.clv_change_pct
                .map_or_else(|| "-".into(), |v| format!("{v:+.1}%")),
            alive(p.a_p_alive_mean),
            alive(p.b_p_alive_mean)
        )?;
    }
    Ok(())
}
