//! The psychographic strategy's unit tests: scaling, scale inference, cosine rows, saved state
//! and labels.

use super::*;
use crate::label::FALLBACK_LABEL;
use strata_plugin_api::label::MAX_LABEL_CHARS;
use strata_plugin_api::testing::{level, numeric, profile};
use strata_plugin_api::{CategoricalStat, Column, ColumnKind, MISSING_CODE, NumericStat, Values};

fn opts(json: &str) -> Options {
    Options::from_json(json).unwrap()
}

const EUCLIDEAN: &str = r#"{"metric":"euclidean"}"#;

/// Fits and transforms `input`; returns the features and the row-major matrix.
fn run(input: &Input, options: &Options) -> (Fitted<State>, Vec<f32>) {
    let fitted = Psychographic::fit(input, options).unwrap();
    let d = fitted.features.len();
    let mut buf = vec![f32::NAN; input.n_rows() * d];
    Psychographic::transform(
        &fitted.state,
        input,
        &mut FeatureMatrix::new(&mut buf, d).unwrap(),
    )
    .unwrap();
    (fitted, buf)
}

#[test]
fn likert_and_interests_scale_to_unit_interval() {
    let q = [1.0, 3.0, 5.0, 2.0];
    let interest = [2.0, 4.0, 10.0, 6.0];
    let inp = Input::new(
        4,
        vec![
            numeric("likert", "Q1", &q),
            numeric("interests", "Travel", &interest),
        ],
    )
    .unwrap();
    let (f, buf) = run(&inp, &opts(EUCLIDEAN));
    assert_eq!(f.features, vec!["Q1", "Travel"]);
    assert_eq!(buf, vec![0.0, 0.0, 0.5, 0.25, 1.0, 1.0, 0.25, 0.5]);
    match &f.state.encoders[0] {
        Encoder::Likert { scale, .. } => assert_eq!(*scale, LikertScale::OneToFive),
        e => panic!("{e:?}"),
    }
    // A declared 1-7 scale puts 5 at 4/6.
    let (_, buf) = run(
        &inp,
        &opts(r#"{"metric":"euclidean","likert_scale":"1-7"}"#),
    );
    assert!((buf[4] - 4.0 / 6.0).abs() < 1e-6, "{buf:?}");
    // New answers outside the training range are clamped to [0, 1].
    let wide = [-1.0, 12.0];
    let interest2 = [0.0, 20.0];
    let new = Input::new(
        2,
        vec![
            numeric("likert", "Q1", &wide),
            numeric("interests", "Travel", &interest2),
        ],
    )
    .unwrap();
    let mut out = vec![f32::NAN; 4];
    Psychographic::transform(
        &f.state,
        &new,
        &mut FeatureMatrix::new(&mut out, 2).unwrap(),
    )
    .unwrap();
    assert_eq!(out, vec![0.0, 0.0, 1.0, 1.0]);
}

#[test]
fn constant_interest_is_zero_not_nan() {
    let v = [3.0, 3.0, 3.0];
    let inp = Input::new(3, vec![numeric("interests", "Flat", &v)]).unwrap();
    let (_, buf) = run(&inp, &opts(EUCLIDEAN));
    assert_eq!(buf, vec![0.0; 3]);
}

#[test]
fn scale_is_inferred_as_the_smallest_that_fits() {
    let infer = |lo, hi| LikertScale::infer("Q", lo, hi).unwrap();
    assert_eq!(infer(2.0, 4.0), LikertScale::OneToFive);
    assert_eq!(infer(1.0, 5.0), LikertScale::OneToFive);
    assert_eq!(infer(1.0, 6.0), LikertScale::OneToSeven);
    assert_eq!(infer(1.0, 8.0), LikertScale::ZeroToTen);
    assert_eq!(infer(0.0, 3.0), LikertScale::ZeroToTen);
    let e = LikertScale::infer("Fear of heights", 1.0, 12.0).unwrap_err();
    assert!(
        e.0.contains("'Fear of heights'") && e.0.contains("from 1 to 12"),
        "{e}"
    );
    // Through fit, per item.
    let a = [1.0, 7.0, 4.0];
    let b = [-2.0, 3.0, 1.0];
    let inp = Input::new(3, vec![numeric("likert", "Q7", &a)]).unwrap();
    let f = Psychographic::fit(&inp, &Options::default()).unwrap();
    assert!(matches!(
        f.state.encoders[0],
        Encoder::Likert {
            scale: LikertScale::OneToSeven,
            ..
        }
    ));
    let inp = Input::new(
        3,
        vec![numeric("likert", "Q7", &a), numeric("likert", "Qneg", &b)],
    )
    .unwrap();
    let e = Psychographic::fit(&inp, &Options::default()).unwrap_err();
    assert!(
        e.0.contains("'Qneg'") && e.0.contains("from -2 to 3"),
        "{e}"
    );
}

#[test]
fn declared_scale_is_checked_and_bad_values_refused() {
    let a = [1.0, 6.0, 3.0];
    let inp = Input::new(3, vec![numeric("likert", "Q2", &a)]).unwrap();
    let e = Psychographic::fit(&inp, &opts(r#"{"likert_scale":"1-5"}"#)).unwrap_err();
    assert!(
        e.0.contains("'Q2'") && e.0.contains("from 1 to 6") && e.0.contains("1-5"),
        "{e}"
    );
    assert!(Psychographic::fit(&inp, &opts(r#"{"likert_scale":"1 – 7"}"#)).is_ok());
    assert!(Psychographic::fit(&inp, &opts(r#"{"likert_scale":"auto"}"#)).is_ok());
    let e = Psychographic::fit(&inp, &opts(r#"{"likert_scale":"1-4"}"#)).unwrap_err();
    assert!(e.0.contains("expected 1-5, 1-7, 0-10 or auto"), "{e}");
    let e = Psychographic::fit(&inp, &opts(r#"{"metric":"manhattan"}"#)).unwrap_err();
    assert!(e.0.contains("expected cosine or euclidean"), "{e}");
    let e = Psychographic::fit(&inp, &opts(r#"{"scale":"zscore"}"#)).unwrap_err();
    assert!(e.0.contains("--scale"), "{e}");
}

#[test]
fn missing_answers_take_the_training_median() {
    let q = [1.0, 2.0, f64::NAN, 5.0];
    let interest = [0.0, f64::NAN, 8.0, 10.0];
    let inp = Input::new(
        4,
        vec![
            numeric("likert", "Q1", &q),
            numeric("interests", "Arts", &interest),
        ],
    )
    .unwrap();
    let (f, buf) = run(&inp, &opts(EUCLIDEAN));
    // Q1 median 2 → 0.25; Arts median 8 → 0.8.
    assert_eq!(buf[2 * 2], 0.25);
    assert!((buf[2 + 1] - 0.8).abs() < 1e-6, "{buf:?}");
    match &f.state.encoders[1] {
        Encoder::Interest { scaler } => assert_eq!(scaler.impute, 8.0),
        e => panic!("{e:?}"),
    }
    let all_missing = [f64::NAN, f64::NAN];
    let inp = Input::new(2, vec![numeric("likert", "Empty", &all_missing)]).unwrap();
    let e = Psychographic::fit(&inp, &Options::default()).unwrap_err();
    assert!(e.0.contains("'Empty'") && e.0.contains("no values"), "{e}");
}

fn mixed_input<'a>(q1: &'a [f64], q2: &'a [f64], codes: &'a [u32], dict: &[&'a str]) -> Input<'a> {
    Input::new(
        q1.len(),
        vec![
            numeric("likert", "Q1", q1),
            numeric("likert", "Q2", q2),
            Column {
                role: "lifestyle",
                name: "Lifestyle",
                kind: ColumnKind::Categorical,
                values: Values::Categorical {
                    codes,
                    dict: dict.to_vec(),
                },
            },
        ],
    )
    .unwrap()
}

#[test]
fn cosine_rows_have_unit_length_and_euclidean_rows_do_not() {
    let q1 = [1.0, 5.0, 3.0, 1.0];
    let q2 = [1.0, 4.0, 2.0, 1.0];
    let codes = [0, 1, MISSING_CODE, 0];
    let inp = mixed_input(&q1, &q2, &codes, &["Urban", "Active"]);
    let (f, _) = run(&inp, &Options::default());
    assert_eq!(f.state.metric, Distance::Cosine);
    assert_eq!(
        f.features,
        vec!["Q1", "Q2", "Lifestyle=Active", "Lifestyle=Urban"]
    );
    // Score rows where the last has bottom answers and a category unseen in training.
    let new_codes = [0, 1, MISSING_CODE, 2];
    let new = mixed_input(&q1, &q2, &new_codes, &["Urban", "Active", "Other"]);
    let mut cos = vec![f32::NAN; 16];
    Psychographic::transform(
        &f.state,
        &new,
        &mut FeatureMatrix::new(&mut cos, 4).unwrap(),
    )
    .unwrap();
    let norms: Vec<f64> = cos
        .chunks(4)
        .map(|r| r.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt())
        .collect();
    for n in &norms[..3] {
        assert!((n - 1.0).abs() < 1e-6, "{norms:?}");
    }
    assert_eq!(&cos[12..], &[0.0; 4], "a row of zeros stays zero");
    let (f, euc) = run(&inp, &opts(EUCLIDEAN));
    assert_eq!(f.state.metric, Distance::Euclidean);
    let w = strata_plugin_api::prep::ONE_HOT_WEIGHT as f32;
    assert_eq!(&euc[4..8], &[1.0, 0.75, w, 0.0]);
    assert!((euc[4..8].iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() > 0.1);
    // Cosine rows are the Euclidean rows divided by their length.
    let n1 = euc[4..8].iter().map(|x| x * x).sum::<f32>().sqrt();
    for j in 0..4 {
        assert!((cos[4 + j] - euc[4 + j] / n1).abs() < 1e-6);
    }
}

#[test]
fn state_round_trips_through_json_and_scores_the_same() {
    let q1 = [1.0, 5.0, f64::NAN, 2.0];
    let q2 = [3.0, 4.0, 2.0, 1.0];
    let codes = [0, 1, MISSING_CODE, 0];
    let inp = mixed_input(&q1, &q2, &codes, &["Urban", "Active"]);
    let (f, buf) = run(&inp, &opts(r#"{"likert_scale":"1-7"}"#));
    let json = serde_json::to_string(&f.state).unwrap();
    assert!(json.contains(r#""scale":"1-7""#), "{json}");
    assert!(json.contains(r#""metric":"cosine""#), "{json}");
    let back: State = serde_json::from_str(&json).unwrap();
    assert_eq!(back, f.state);
    let mut again = vec![f32::NAN; buf.len()];
    Psychographic::transform(
        &back,
        &inp,
        &mut FeatureMatrix::new(&mut again, f.features.len()).unwrap(),
    )
    .unwrap();
    assert_eq!(again, buf);
}

#[test]
fn no_columns_names_the_roles() {
    let inp = Input::new(3, vec![]).unwrap();
    let e = Psychographic::fit(&inp, &Options::default()).unwrap_err();
    assert!(e.0.contains("likert, interests, lifestyle, values"), "{e}");
}

fn stat<'a>(role: &'a str, name: &'a str, z: f64) -> NumericStat<'a> {
    NumericStat {
        role,
        name,
        mean: 3.0 + z,
        overall_mean: 3.0,
        overall_std: 1.0,
    }
}

fn lifestyle<'a>(top: &'a str, share: f64, overall: f64) -> CategoricalStat<'a> {
    CategoricalStat {
        role: "lifestyle",
        name: "Lifestyle",
        levels: vec![
            level(top, share, overall),
            level("Other", 1.0 - share, 1.0 - overall),
        ],
    }
}

#[test]
fn labels_name_the_strongest_lifts() {
    let items = vec![
        stat("likert", "Outdoor: Hiking", 1.4),
        stat("likert", "Outdoor: Camping", 1.1),
        stat("interests", "Interest: Sports", 0.9),
        stat("likert", "Fashion: Brands", -1.0),
        stat("likert", "Fashion: Trends", -0.7),
        stat("likert", "Music: Pop", 0.2),
    ];
    assert_eq!(
        segment_label(&profile(items.clone(), vec![])),
        "High Outdoor: Hiking & Camping, low Fashion: Brands"
    );
    assert_eq!(
        segment_label(&profile(items, vec![lifestyle("Active", 0.8, 0.3)])),
        "High Outdoor: Hiking & Camping, low Fashion: Brands, mostly Active"
    );
    // Different groups are joined whole; a weak negative is left out.
    assert_eq!(
        segment_label(&profile(
            vec![
                stat("likert", "Rock", 0.8),
                stat("interests", "Travel", 1.2),
                stat("likert", "Opera", -0.3),
                stat("likert", "Hiphop, Rap", 0.1),
            ],
            vec![lifestyle("Active", 0.45, 0.3)], // under half the segment
        )),
        "High Travel & Rock"
    );
    // Only lows; a comma inside a name does not read as a separator.
    assert_eq!(
        segment_label(&profile(
            vec![
                stat("likert", "Pop", -0.9),
                stat("likert", "Hiphop, Rap", -0.6)
            ],
            vec![],
        )),
        "Low Pop & Hiphop/Rap"
    );
    // Only a dominant category; a yes/no value carries its column name.
    assert_eq!(
        segment_label(&profile(
            vec![stat("likert", "Pop", 0.1)],
            vec![lifestyle("Yes", 0.9, 0.4)],
        )),
        "Mainstream, mostly Lifestyle: Yes"
    );
    // Nothing stands out; a category common everywhere is not "over-represented".
    assert_eq!(
        segment_label(&profile(
            vec![stat("likert", "Pop", 0.1), stat("likert", "Rock", -0.2)],
            vec![lifestyle("Urban", 0.8, 0.75)],
        )),
        FALLBACK_LABEL
    );
    assert_eq!(segment_label(&profile(vec![], vec![])), FALLBACK_LABEL);
}

#[test]
fn long_names_still_fit_the_host_limit() {
    let a = "A".repeat(70);
    let b = "B".repeat(20);
    let c = "C".repeat(70);
    let items = vec![
        stat("likert", &a, 2.0),
        stat("likert", &b, 1.0),
        stat("likert", &c, -1.0),
    ];
    // The low item goes first, then the second high one.
    let label = segment_label(&profile(items.clone(), vec![]));
    assert_eq!(label, format!("High {a} & {b}"));
    let b = "B".repeat(70);
    let label = segment_label(&profile(
        vec![stat("likert", &a, 2.0), stat("likert", &b, 1.0)],
        vec![],
    ));
    assert_eq!(label, format!("High {a}"));
    // Only a category, too long: cut, not dropped for the fallback.
    let long_value = "V".repeat(200);
    let label = segment_label(&profile(vec![], vec![lifestyle(&long_value, 0.9, 0.2)]));
    assert!(
        label.starts_with("Mainstream, mostly VVV") && label.ends_with('…'),
        "{label}"
    );
    let huge = "X".repeat(300);
    let label = segment_label(&profile(vec![stat("likert", &huge, 2.0)], vec![]));
    assert_eq!(label.chars().count(), MAX_LABEL_CHARS);
    assert!(label.ends_with('…'));
}

#[test]
fn docs_cover_options_and_labels() {
    let d = Psychographic::docs();
    for needle in [
        "likert_scale",
        "metric=cosine|euclidean",
        "median",
        "Labels",
    ] {
        assert!(d.contains(needle), "{needle}");
    }
    assert!(ROLES.iter().all(|r| r.multi && !r.required));
}
