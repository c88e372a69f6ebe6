//! BG/NBD and Gamma-Gamma on the CDNOW sample against the published estimates (Fader, Hardie
//! & Lee 2005; Fader & Hardie 2013) and `lifetimes` 0.11.3's fit of the same summary.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test, with its place"
)]

use strata_value::{BgNbd, GammaGamma};

/// (x, t_x, T, mean repeat value) per customer, from the committed fixture.
fn cdnow() -> Vec<[f64; 4]> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cdnow_summary.csv"
    );
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            [1, 2, 3, 4].map(|i| rec[i].parse::<f64>().unwrap())
        })
        .collect()
}

fn column(rows: &[[f64; 4]], i: usize) -> Vec<f64> {
    rows.iter().map(|r| r[i]).collect()
}

/// `value` printed to `digits` decimals is `printed`.
fn prints_as(value: f64, digits: i32, printed: f64) -> bool {
    let s = 10f64.powi(digits);
    (value * s).round() == (printed * s).round()
}

#[test]
fn bgnbd_on_cdnow_gives_the_paper_s_estimates() {
    let rows = cdnow();
    assert_eq!(rows.len(), 2357);
    let fit = BgNbd::fit(&column(&rows, 0), &column(&rows, 1), &column(&rows, 2)).unwrap();
    let p = fit.params;
    assert!(fit.converged, "{fit:?}");
    // Fader, Hardie & Lee (2005): r = 0.243, α = 4.414, a = 0.793, b = 2.426.
    assert!(prints_as(p.r, 3, 0.243), "{p:?}");
    assert!(prints_as(p.alpha, 3, 4.414), "{p:?}");
    assert!(prints_as(p.a, 3, 0.793), "{p:?}");
    assert!(prints_as(p.b, 3, 2.426), "{p:?}");
    // lifetimes 0.11.3 on the same summary: 0.2426, 4.4135, 0.7929, 2.4258 (4 decimals), and
    // the paper's log-likelihood, −9582.4.
    for (got, want) in [
        (p.r, 0.2426),
        (p.alpha, 4.4135),
        (p.a, 0.7929),
        (p.b, 2.4258),
    ] {
        assert!(prints_as(got, 4, want), "{got} vs {want}");
    }
    assert!(
        prints_as(fit.log_likelihood, 1, -9582.4),
        "{}",
        fit.log_likelihood
    );
    // Standard errors from the Hessian: lifetimes 0.11.3 prints 0.012557, 0.378221, 0.185719,
    // 0.705345 (autograd's exact Hessian; ours is by central differences: within 1.1e-4).
    let se = fit.std_errors.clone().unwrap();
    for (got, want) in se.iter().zip([0.012557, 0.378221, 0.185719, 0.705345]) {
        assert!((got - want).abs() <= 1e-3 * want, "standard errors {se:?}");
    }
    // Deterministic: the same fit twice.
    let again = BgNbd::fit(&column(&rows, 0), &column(&rows, 1), &column(&rows, 2)).unwrap();
    assert_eq!(again, fit);
}

#[test]
fn gamma_gamma_on_cdnow_repeat_buyers_gives_the_paper_s_estimates() {
    let rows = cdnow();
    let fit = GammaGamma::fit(&column(&rows, 0), &column(&rows, 3)).unwrap();
    let p = fit.params;
    assert!(fit.converged, "{fit:?}");
    // Fader & Hardie (2013): p = 6.25, q = 3.74, γ = 15.44. The paper's γ is 15.44 where the
    // optimum is 15.4478 (lifetimes 0.11.3 prints 15.4477, its optimiser stopping a little
    // short): within 0.01 of the paper, and within 1e-4 relative of lifetimes' 6.2488,
    // 3.7446, 15.4477.
    assert!(prints_as(p.p, 2, 6.25) && prints_as(p.q, 2, 3.74), "{p:?}");
    assert!((p.gamma - 15.44).abs() < 0.01, "{p:?}");
    for (got, want) in [(p.p, 6.2488), (p.q, 3.7446), (p.gamma, 15.4477)] {
        assert!((got - want).abs() <= 1e-4 * want, "{got} vs {want}");
    }
    // lifetimes' standard errors: 1.189687, 0.290166, 4.159994.
    let se = fit.std_errors.unwrap();
    for (got, want) in se.iter().zip([1.189687, 0.290166, 4.159994]) {
        assert!((got - want).abs() <= 1e-3 * want, "standard errors {se:?}");
    }
}

#[test]
fn impossible_summaries_are_refused_with_the_customer() {
    let e = BgNbd::fit(&[1.0, 2.5], &[1.0, 2.0], &[3.0, 3.0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "customer 1: frequency 2.5 is not a whole number of at least 0"
    );
    let e = BgNbd::fit(&[1.0], &[4.0], &[3.0]).unwrap_err();
    assert!(
        e.to_string()
            .contains("recency 4 is not between 0 and T = 3"),
        "{e}"
    );
    let e = BgNbd::fit(&[0.0], &[1.0], &[3.0]).unwrap_err();
    assert!(
        e.to_string().contains("no repeat purchase, yet recency 1"),
        "{e}"
    );
    let e = GammaGamma::fit(&[2.0], &[0.0]).unwrap_err();
    assert!(e.to_string().contains("not above 0"), "{e}");
    assert!(GammaGamma::fit(&[0.0, 0.0], &[0.0, 0.0]).is_err());
}

/// Per-customer predictions from the models built with lifetimes' own parameters equal
/// lifetimes' predictions (`tests/fixtures/make_predictions.py`, lifetimes 0.11.3) for all
/// 2,357 customers: P(alive), expected purchases over 39 weeks, expected value per purchase,
/// and CLV over 52 periods at 1% a period.
#[test]
fn predictions_equal_lifetimes_for_every_customer() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cdnow_predictions.csv"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let param = |line: &str, key: &str| -> f64 {
        let rest = &line[line.find(&format!(" {key}=")).unwrap() + key.len() + 2..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let mut lines = text.lines();
    let (bg_line, gg_line) = (lines.next().unwrap(), lines.next().unwrap());
    let bg = BgNbd {
        r: param(bg_line, "r"),
        alpha: param(bg_line, "alpha"),
        a: param(bg_line, "a"),
        b: param(bg_line, "b"),
    };
    let gg = GammaGamma {
        p: param(gg_line, "p"),
        q: param(gg_line, "q"),
        gamma: param(gg_line, "v"),
    };
    let rest: String = lines.map(|l| format!("{l}\n")).collect();
    let mut r = csv::Reader::from_reader(rest.as_bytes());
    let rows = cdnow();
    let close = |got: f64, want: f64| (got - want).abs() <= 1e-9 * want.abs().max(1e-12);
    let mut n = 0;
    for (rec, c) in r.records().zip(&rows) {
        let rec = rec.unwrap();
        let want: Vec<f64> = (1..5).map(|i| rec[i].parse().unwrap()).collect();
        let [x, t_x, t, m] = *c;
        let p_alive = bg.p_alive(x, t_x, t);
        let expected = bg.expected_purchases(39.0, x, t_x, t);
        let value = gg.expected_value(x, m);
        let clv = strata_value::clv(&bg, value, 52, 0.01, x, t_x, t);
        for (what, got, want) in [
            ("P(alive)", p_alive, want[0]),
            ("expected purchases", expected, want[1]),
            ("expected value", value, want[2]),
            ("CLV", clv, want[3]),
        ] {
            assert!(
                close(got, want),
                "customer {}: {what} {got} vs lifetimes {want}",
                &rec[0]
            );
        }
        n += 1;
    }
    assert_eq!(n, 2357);
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The CDNOW sample log summarised by day and by week equals lifetimes 0.11.3's
/// `summary_data_from_transaction_data` (tests/fixtures/make_summaries.py) for every customer.
#[test]
fn log_summaries_equal_lifetimes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    let text = std::fs::read_to_string(format!("{dir}cdnow_sample.txt")).unwrap();
    let mut ids: Vec<String> = Vec::new();
    let mut log = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let customer = match ids.iter().position(|i| i == f[0]) {
            Some(c) => c,
            None => {
                ids.push(f[0].to_owned());
                ids.len() - 1
            }
        };
        let date: i64 = f[2].parse().unwrap();
        log.push(strata_value::Purchase {
            customer,
            day: days(date / 10_000, date / 100 % 100, date % 100),
            value: f[4].parse().unwrap(),
        });
    }
    assert_eq!(days(1970, 1, 1), 0);
    for (period, name) in [
        (strata_value::Period::Day, "D"),
        (strata_value::Period::Week, "W"),
    ] {
        let got = strata_value::summarise(&log, ids.len(), period, days(1997, 9, 30));
        let mut r =
            csv::Reader::from_path(format!("{dir}cdnow_sample_summary_{name}.csv")).unwrap();
        let mut n = 0;
        for rec in r.records() {
            let rec = rec.unwrap();
            let c = ids.iter().position(|i| i == &rec[0]).unwrap();
            let s = got[c].unwrap();
            let want: Vec<f64> = (1..5).map(|i| rec[i].parse().unwrap()).collect();
            assert_eq!(
                [s.frequency, s.recency, s.t],
                [want[0], want[1], want[2]],
                "{}",
                &rec[0]
            );
            assert!(
                (s.monetary - want[3]).abs() <= 1e-12 * want[3].abs(),
                "{} {name}",
                &rec[0]
            );
            n += 1;
        }
        assert_eq!(n, 2357);
        assert_eq!(got.iter().flatten().count(), 2357);
    }
}

#[test]
fn a_large_summary_fitted_from_a_sample_s_optimum_reaches_the_full_optimum() {
    // Twelve near-copies of CDNOW, each row's T moved by its own ten-millionths of a week so
    // that no two rows merge: 28,284 distinct rows, above SAMPLE_ROWS, so the fit starts from
    // a sample's optimum and polishes it by Newton steps on every row.
    let base = cdnow();
    let mut rows = Vec::new();
    for _copy in 0..12 {
        for r in &base {
            let shift = rows.len() as f64 * 1e-7;
            rows.push([r[0], r[1], r[2] + shift]);
        }
    }
    assert!(rows.len() > strata_value::SAMPLE_ROWS);
    let (x, t_x, t) = (
        rows.iter().map(|r| r[0]).collect::<Vec<_>>(),
        rows.iter().map(|r| r[1]).collect::<Vec<_>>(),
        rows.iter().map(|r| r[2]).collect::<Vec<_>>(),
    );
    let fit = BgNbd::fit(&x, &t_x, &t).unwrap();
    assert!(fit.converged);
    assert!(
        fit.iterations < 50,
        "Newton steps, not the fallback: {fit:?}"
    );
    // The reference: Nelder–Mead on every row from the usual start, per customer.
    let nll = |p: &[f64]| {
        let m = BgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        };
        -(0..x.len())
            .map(|i| m.log_likelihood(x[i], t_x[i], t[i]))
            .sum::<f64>()
    };
    let reference = strata_value::optimize::minimise_positive(nll, &[1.0; 4], 20_000);
    let ours = [fit.params.r, fit.params.alpha, fit.params.a, fit.params.b];
    for (a, b) in ours.iter().zip(&reference.x) {
        assert!(
            (a - b).abs() / b < 1e-5,
            "{ours:?} against {:?}",
            reference.x
        );
    }
    assert!(
        (fit.log_likelihood + reference.value).abs() < 1e-6 * reference.value.abs(),
        "{} against {}",
        fit.log_likelihood,
        -reference.value
    );
}

#[test]
fn predictions_in_bulk_equal_one_at_a_time() {
    let rows = cdnow();
    let bg = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let gg = GammaGamma {
        p: 6.25,
        q: 3.74,
        gamma: 15.44,
    };
    let summaries: Vec<strata_value::Summary> = rows
        .iter()
        .map(|&[x, t_x, t, m]| strata_value::Summary {
            frequency: x,
            recency: t_x,
            t,
            monetary: m,
        })
        .collect();
    let bulk = strata_value::predict(&bg, &gg, 52, 0.01, &summaries);
    for (p, &[x, t_x, t, m]) in bulk.iter().zip(&rows) {
        assert_eq!(p.p_alive, bg.p_alive(x, t_x, t));
        assert_eq!(p.expected_purchases, bg.expected_purchases(52.0, x, t_x, t));
        let value = gg.expected_value(x, m);
        assert_eq!(p.expected_value, value);
        let one = strata_value::clv(&bg, value, 52, 0.01, x, t_x, t);
        assert!(
            (p.clv - one).abs() <= 1e-12 * one.abs(),
            "{} against {one}",
            p.clv
        );
    }
}
