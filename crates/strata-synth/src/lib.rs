//! Synthetic customers with planted segments, for tests, benchmarks and demos.
//!
//! Rows are generated and written one at a time, so any number of rows needs no more memory
//! than the output buffer. The same seed and spec give the same bytes on every machine
//! (ChaCha8, and numbers formatted with fixed decimals by integer arithmetic). The true segment
//! of each row can be written to a second file.
//!
//! Kinds so far: `features` (numeric columns around k planted centres, for benchmarks and
//! parity checks) and `demographic` (age, gender, skewed income, education, marital status,
//! region, household size in four personas, with ~2% missing values).

use std::io::{self, Write};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `dims` numeric columns `f0..`, rows drawn around `clusters` centres (unit spread).
    Features { dims: usize, clusters: usize },
    /// The demographic strategy's columns in four personas.
    Demographic,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub rows: u64,
    pub seed: u64,
    pub kind: Kind,
}

struct Rng(ChaCha8Rng);

impl Rng {
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.0.next_u64()) * n as u128) >> 64) as usize
    }
    /// Standard normal (Box–Muller; one of the pair is dropped for simplicity).
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Appends `x` with exactly `decimals` decimals, by integer arithmetic (fast and the same on
/// every platform).
fn push_fixed(out: &mut Vec<u8>, x: f64, decimals: u32) {
    let scale = 10i64.pow(decimals);
    let v = (x * scale as f64).round() as i64;
    if v < 0 {
        out.push(b'-');
    }
    let v = v.unsigned_abs();
    let (int, frac) = (v / scale as u64, v % scale as u64);
    out.extend_from_slice(int.to_string().as_bytes());
    if decimals > 0 {
        out.push(b'.');
        let f = frac.to_string();
        out.extend(std::iter::repeat_n(b'0', decimals as usize - f.len()));
        out.extend_from_slice(f.as_bytes());
    }
}

/// One planted demographic segment.
struct Persona {
    weight: f64,
    age: (f64, f64),
    /// Mean of ln(income in k$).
    log_income: f64,
    education: &'static [&'static str],
    marital: &'static [&'static str],
    region: &'static [&'static str],
    household: (u32, u32),
}

const PERSONAS: [Persona; 4] = [
    Persona {
        weight: 0.30,
        age: (27.0, 4.0),
        log_income: 3.5,
        education: &["Bachelor", "Bachelor", "High school"],
        marital: &["Single", "Single", "Married"],
        region: &["Urban"],
        household: (1, 2),
    },
    Persona {
        weight: 0.30,
        age: (39.0, 5.0),
        log_income: 4.2,
        education: &["Bachelor", "High school", "Master"],
        marital: &["Married"],
        region: &["Suburban", "Suburban", "Urban"],
        household: (3, 5),
    },
    Persona {
        weight: 0.20,
        age: (47.0, 6.0),
        log_income: 4.9,
        education: &["Master", "Doctorate", "Master"],
        marital: &["Married", "Single"],
        region: &["Urban"],
        household: (1, 3),
    },
    Persona {
        weight: 0.20,
        age: (68.0, 5.0),
        log_income: 3.6,
        education: &["High school", "Bachelor"],
        marital: &["Married", "Widowed"],
        region: &["Rural", "Rural", "Suburban"],
        household: (1, 2),
    },
];

/// Writes the CSV (and, if given, `id,segment` truth) for `spec`.
pub fn generate(
    spec: &Spec,
    out: &mut dyn Write,
    mut truth: Option<&mut dyn Write>,
) -> io::Result<()> {
    let mut rng = Rng(ChaCha8Rng::seed_from_u64(spec.seed));
    let mut line = Vec::with_capacity(512);
    match &spec.kind {
        Kind::Features { dims, clusters } => {
            let (d, k) = (*dims, (*clusters).max(1));
            let centres: Vec<f64> = (0..k * d).map(|_| rng.unit() * 20.0 - 10.0).collect();
            line.extend_from_slice(b"id");
            for f in 0..d {
                line.extend_from_slice(format!(",f{f}").as_bytes());
            }
            line.push(b'\n');
            out.write_all(&line)?;
            if let Some(t) = truth.as_deref_mut() {
                t.write_all(b"id,segment\n")?;
            }
            for i in 1..=spec.rows {
                line.clear();
                let c = rng.below(k);
                line.extend_from_slice(i.to_string().as_bytes());
                for f in 0..d {
                    line.push(b',');
                    push_fixed(&mut line, centres[c * d + f] + rng.normal(), 3);
                }
                line.push(b'\n');
                out.write_all(&line)?;
                if let Some(t) = truth.as_deref_mut() {
                    writeln!(t, "{i},{c}")?;
                }
            }
        }
        Kind::Demographic => {
            out.write_all(
                b"customer_id,age,gender,income,education,marital_status,region,household_size\n",
            )?;
            if let Some(t) = truth.as_deref_mut() {
                t.write_all(b"customer_id,segment\n")?;
            }
            for i in 1..=spec.rows {
                line.clear();
                let u = rng.unit();
                let mut acc = 0.0;
                let p = PERSONAS.iter().position(|p| {
                    acc += p.weight;
                    u < acc
                });
                let p = p.unwrap_or(PERSONAS.len() - 1);
                let Persona {
                    age: (am, asd),
                    log_income: li,
                    education: edu,
                    marital: mar,
                    region: reg,
                    household: (h0, h1),
                    ..
                } = PERSONAS[p];
                let pick = |rng: &mut Rng, v: &[&str]| v[rng.below(v.len())].to_owned();
                let age = (am + asd * rng.normal()).round().clamp(18.0, 90.0);
                let income = (li + 0.35 * rng.normal()).exp();
                let mut fields = vec![format!("C{i:08}")];
                fields.push(format!("{age}"));
                fields.push(pick(&mut rng, &["Female", "Male"]));
                let mut inc = Vec::new();
                push_fixed(&mut inc, income, 1);
                fields.push(String::from_utf8(inc).expect("ascii"));
                fields.push(pick(&mut rng, edu));
                fields.push(pick(&mut rng, mar));
                fields.push(pick(&mut rng, reg));
                fields.push((h0 + rng.below((h1 - h0 + 1) as usize) as u32).to_string());
                for f in fields.iter_mut().skip(1) {
                    if rng.unit() < 0.02 {
                        f.clear();
                    }
                }
                line.extend_from_slice(fields.join(",").as_bytes());
                line.push(b'\n');
                out.write_all(&line)?;
                if let Some(t) = truth.as_deref_mut() {
                    writeln!(t, "C{i:08},{p}")?;
                }
            }
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(spec: &Spec) -> (String, String) {
        let (mut out, mut truth) = (Vec::new(), Vec::new());
        generate(spec, &mut out, Some(&mut truth)).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(truth).unwrap(),
        )
    }

    #[test]
    fn fixed_decimals() {
        let mut v = Vec::new();
        for (x, d) in [(1.5, 3), (-0.0004, 3), (-2.25, 1), (12.0, 0), (0.05, 3)] {
            push_fixed(&mut v, x, d);
            v.push(b' ');
        }
        assert_eq!(String::from_utf8(v).unwrap(), "1.500 0.000 -2.3 12 0.050 ");
    }

    #[test]
    fn features_are_deterministic_and_shaped() {
        let spec = Spec {
            rows: 50,
            seed: 7,
            kind: Kind::Features {
                dims: 3,
                clusters: 4,
            },
        };
        let (a, t) = run(&spec);
        assert_eq!(a, run(&spec).0, "same seed, same bytes");
        assert_ne!(
            a,
            run(&Spec {
                seed: 8,
                ..spec.clone()
            })
            .0
        );
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines[0], "id,f0,f1,f2");
        assert_eq!(lines.len(), 51);
        assert!(lines[1..].iter().all(|l| l.split(',').count() == 4));
        let t: Vec<&str> = t.lines().collect();
        assert_eq!(t.len(), 51);
        assert!(
            t[1..]
                .iter()
                .all(|l| l.split(',').nth(1).unwrap().parse::<usize>().unwrap() < 4)
        );
    }

    #[test]
    fn demographic_rows_have_every_column_and_some_missing() {
        let (a, t) = run(&Spec {
            rows: 2000,
            seed: 1,
            kind: Kind::Demographic,
        });
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines.len(), 2001);
        assert!(lines[1..].iter().all(|l| l.split(',').count() == 8));
        let empty = lines[1..]
            .iter()
            .flat_map(|l| l.split(','))
            .filter(|f| f.is_empty())
            .count();
        assert!((100..600).contains(&empty), "{empty} missing cells");
        assert_eq!(t.lines().count(), 2001);
    }
}
