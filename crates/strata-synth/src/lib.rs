//! Synthetic customers with planted segments, for tests, benchmarks and demos.
//!
//! Rows are generated and written one at a time, so any number of rows needs no more memory
//! than the output buffer. The same seed and spec give the same bytes on every machine
//! (ChaCha8, and numbers formatted with fixed decimals by integer arithmetic). The true segment
//! of each row can be written to a second file.
//!
//! Kinds, each with planted segments (personas) and about 2% missing cells where a strategy
//! imputes them:
//! - `features`: numeric columns around k planted centres (benchmarks, parity checks);
//! - `demographic`: age, gender, skewed income, education, marital status, region, household;
//! - `psychographic`: a survey of 1–5 Likert items, 0–10 interest scores and a lifestyle;
//! - `behavioral`: one row per customer with recency, frequency, heavy-tailed monetary value,
//!   order value, tenure, days between purchases and channel;
//! - `firmographic`: B2B accounts with NAICS industry codes, employees, revenue, region, spend
//!   per product line, order frequency, tenure and lifecycle stage;
//! - `transactions`: an invoice log (InvoiceNo, CustomerID, InvoiceDate, Quantity, UnitPrice)
//!   with returns (`C` invoices, negative quantities); `rows` counts log lines (the last
//!   invoice is finished, so a few more may be written), and the truth has one line per customer;
//! - `geographic`: customers' latitude and longitude around [`CITIES`] (normal spread in km,
//!   one city on the date line), with 1% missing coordinates.

use std::io::{self, Write};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `dims` numeric columns `f0..`, rows drawn around `clusters` centres (unit spread).
    Features {
        /// Number of numeric columns.
        dims: usize,
        /// Number of planted centres, drawn uniformly in [−10, 10] per column; 0 counts as 1.
        clusters: usize,
    },
    /// The demographic strategy's columns in four personas.
    Demographic,
    /// Survey answers in four personas (the psychographic strategy's columns).
    Psychographic,
    /// Per-customer purchase behaviour in five personas (the behavioral strategy's roles).
    Behavioral,
    /// B2B accounts in four personas (the firmographic strategy's roles).
    Firmographic,
    /// A transaction log of five customer personas (aggregated by the behavioral strategy).
    Transactions,
    /// Customers' coordinates around [`CITIES`] (the demographic strategy's location roles).
    Geographic,
}

/// The cities `Geographic` plants customers around: name, latitude, longitude (degrees), share
/// of the customers, and the standard deviation of their distance along each axis, km.
/// Taveuni (Fiji) straddles the 180° meridian, so about half of its customers have
/// longitudes near −180 and half near 180.
pub const CITIES: [(&str, f64, f64, f64, f64); 6] = [
    ("London", 51.5074, -0.1278, 0.30, 25.0),
    ("Paris", 48.8566, 2.3522, 0.25, 20.0),
    ("Berlin", 52.5200, 13.4050, 0.20, 20.0),
    ("Madrid", 40.4168, -3.7038, 0.12, 18.0),
    ("Rome", 41.9028, 12.4964, 0.08, 15.0),
    ("Taveuni", -16.8500, 179.9700, 0.05, 12.0),
];

/// km per degree of latitude on a sphere of the Earth's mean radius.
const KM_PER_DEGREE: f64 = 111.195;

/// What [`generate`] writes: which kind of customers, how many, from which seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Data rows to write (for `Transactions`, log lines; see the crate docs).
    pub rows: u64,
    /// Seed of the generator: the same seed and spec give the same bytes.
    pub seed: u64,
    /// Which kind of customers.
    pub kind: Kind,
    /// Demographic kind only: also a campaign's columns (`converted`, `treated`, `revenue`)
    /// with the effects [`CAMPAIGN`] plants per persona, drawn from a stream of their own so
    /// the other columns are the same bytes as without them.
    pub campaign: bool,
}

/// What `campaign` plants per demographic persona (in persona order): the conversion rate
/// in control, the campaign's lift of it in rate points when treated, and the mean of
/// `revenue` (normal, standard deviation 10, not moved by the campaign). Half the customers
/// are treated, at random.
pub const CAMPAIGN: [(f64, f64, f64); 4] = [
    (0.05, 0.00, 20.0),
    (0.10, 0.10, 50.0),
    (0.20, 0.02, 80.0),
    (0.08, 0.15, 30.0),
];

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

/// Index drawn from `weights` (which sum to 1).
fn pick_weighted(rng: &mut Rng, weights: &[f64]) -> usize {
    let u = rng.unit();
    let mut acc = 0.0;
    weights
        .iter()
        .position(|w| {
            acc += w;
            u < acc
        })
        .unwrap_or(weights.len() - 1)
}

/// Appends `x` with `decimals` decimals, or nothing (a missing cell) with probability 2%.
fn push_maybe(line: &mut Vec<u8>, rng: &mut Rng, x: f64, decimals: u32) {
    line.push(b',');
    if rng.unit() >= 0.02 {
        push_fixed(line, x, decimals);
    }
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Survey items: (topic, item) per Likert column, in header order.
const SURVEY_ITEMS: [&str; 12] = [
    "Music: Rock",
    "Music: Pop",
    "Music: Classical",
    "Outdoor: Hiking",
    "Outdoor: Camping",
    "Fashion: Shopping",
    "Fashion: Brands",
    "Tech: Gadgets",
    "Tech: Gaming",
    "Home: Cooking",
    "Home: Gardening",
    "Home: DIY",
];
const SURVEY_INTERESTS: [&str; 4] = [
    "Interest: Travel",
    "Interest: Sports",
    "Interest: Arts",
    "Interest: Finance",
];

/// (weight, mean answer per Likert item, mean interest score, lifestyles).
type SurveyPersona = (f64, [f64; 12], [f64; 4], &'static [&'static str]);
const SURVEY_PERSONAS: [SurveyPersona; 4] = [
    // Outdoor enthusiasts.
    (
        0.30,
        [3.0, 2.5, 2.5, 4.6, 4.4, 2.0, 2.0, 2.5, 2.0, 3.5, 4.0, 3.8],
        [7.5, 8.0, 3.0, 3.5],
        &["Active", "Active", "Rural"],
    ),
    // Trend-led urbanites.
    (
        0.25,
        [3.5, 4.5, 2.0, 2.0, 1.8, 4.6, 4.5, 4.0, 3.0, 2.5, 1.5, 1.8],
        [8.0, 4.0, 6.0, 4.0],
        &["Urban"],
    ),
    // Tech and gaming.
    (
        0.25,
        [4.2, 3.0, 1.8, 2.0, 2.2, 2.2, 3.0, 4.7, 4.6, 2.0, 1.5, 3.0],
        [4.0, 5.0, 3.0, 6.5],
        &["Urban", "Homebody"],
    ),
    // Home and culture.
    (
        0.20,
        [2.0, 2.5, 4.4, 2.5, 2.0, 2.0, 2.0, 1.8, 1.5, 4.6, 4.3, 4.0],
        [5.0, 2.5, 8.0, 5.0],
        &["Homebody", "Homebody", "Rural"],
    ),
];

/// (weight, recency days, purchases, order value, tenure days, channels): medians; each row
/// scatters around them log-normally.
type BehaviourPersona = (f64, f64, f64, f64, f64, &'static [&'static str]);
const BEHAVIOUR_PERSONAS: [BehaviourPersona; 5] = [
    // Champions: recent, frequent, big baskets.
    (
        0.15,
        8.0,
        24.0,
        120.0,
        900.0,
        &["online", "online", "store"],
    ),
    // Loyal regulars.
    (
        0.25,
        20.0,
        12.0,
        55.0,
        1100.0,
        &["store", "store", "online"],
    ),
    // New customers.
    (0.20, 10.0, 2.0, 45.0, 30.0, &["online"]),
    // At risk: used to buy, not lately.
    (0.20, 160.0, 8.0, 70.0, 800.0, &["store", "phone"]),
    // Hibernating.
    (0.20, 420.0, 2.0, 30.0, 700.0, &["store", "online", "phone"]),
];

/// (weight, NAICS codes, median employees, revenue per employee, spend share per line
/// [hardware, software, services], orders per year, tenure years, regions, stages).
type FirmPersona = (
    f64,
    &'static [&'static str],
    f64,
    f64,
    [f64; 3],
    f64,
    f64,
    &'static [&'static str],
    &'static [&'static str],
);
const FIRM_PERSONAS: [FirmPersona; 4] = [
    // Small retail and hospitality, many short-lived accounts.
    (
        0.40,
        &["44", "45", "72"],
        12.0,
        90_000.0,
        [0.6, 0.2, 0.2],
        4.0,
        1.5,
        &["South", "West", "Central"],
        &["onboarding", "active", "at risk"],
    ),
    // Mid-size professional services, software-heavy.
    (
        0.25,
        &["54", "52"],
        180.0,
        220_000.0,
        [0.1, 0.6, 0.3],
        12.0,
        5.0,
        &["North", "Central"],
        &["active", "active", "expanding"],
    ),
    // Large manufacturers, hardware and services.
    (
        0.20,
        &["31", "32", "33"],
        2_500.0,
        300_000.0,
        [0.5, 0.1, 0.4],
        20.0,
        9.0,
        &["North", "East"],
        &["active", "expanding"],
    ),
    // Health care and education, services-led, slow buyers.
    (
        0.15,
        &["62", "61"],
        600.0,
        110_000.0,
        [0.2, 0.2, 0.6],
        3.0,
        6.0,
        &["East", "South", "West"],
        &["active", "at risk", "churned"],
    ),
];

/// (weight, invoices per year, lines per invoice, median unit price, return share, days
/// active before the log ends: `None` while still buying).
type TxPersona = (f64, f64, f64, f64, f64, Option<f64>);
const TX_PERSONAS: [TxPersona; 5] = [
    (0.15, 26.0, 4.0, 12.0, 0.04, None),
    (0.25, 10.0, 3.0, 6.0, 0.02, None),
    (0.20, 4.0, 2.0, 5.0, 0.01, None),
    (0.20, 8.0, 3.0, 8.0, 0.08, Some(200.0)),
    (0.20, 2.0, 2.0, 4.0, 0.02, Some(450.0)),
];

/// The log covers 2024-01-01 to 2025-12-31 (days since 1970-01-01).
const TX_START: i64 = 19_723;
const TX_DAYS: f64 = 731.0;

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
            write_truth_header(&mut truth, "id")?;
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
                write_truth(&mut truth, i, c)?;
            }
        }
        Kind::Demographic => {
            out.write_all(
                b"customer_id,age,gender,income,education,marital_status,region,household_size",
            )?;
            out.write_all(if spec.campaign {
                b",converted,treated,revenue\n"
            } else {
                b"\n"
            })?;
            let mut campaign_rng = Rng(ChaCha8Rng::seed_from_u64(spec.seed ^ 0xCA4B_A167));
            write_truth_header(&mut truth, "customer_id")?;
            let weights: Vec<f64> = PERSONAS.iter().map(|p| p.weight).collect();
            for i in 1..=spec.rows {
                line.clear();
                let p = pick_weighted(&mut rng, &weights);
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
                if spec.campaign {
                    let (base, lift, revenue) = CAMPAIGN[p];
                    let r = &mut campaign_rng;
                    let treated = r.unit() < 0.5;
                    let rate = if treated { base + lift } else { base };
                    let converted = r.unit() < rate;
                    fields.push(u8::from(converted).to_string());
                    fields.push(if treated { "treated" } else { "control" }.into());
                    let mut rev = Vec::new();
                    push_fixed(&mut rev, revenue + 10.0 * r.normal(), 2);
                    fields.push(String::from_utf8(rev).expect("ascii"));
                }
                line.extend_from_slice(fields.join(",").as_bytes());
                line.push(b'\n');
                out.write_all(&line)?;
                write_truth(&mut truth, format_args!("C{i:08}"), p)?;
            }
        }
        Kind::Psychographic => {
            line.extend_from_slice(b"respondent_id");
            for name in SURVEY_ITEMS.iter().chain(&SURVEY_INTERESTS) {
                line.extend_from_slice(format!(",{name}").as_bytes());
            }
            line.extend_from_slice(b",Lifestyle\n");
            out.write_all(&line)?;
            write_truth_header(&mut truth, "respondent_id")?;
            let weights: Vec<f64> = SURVEY_PERSONAS.iter().map(|p| p.0).collect();
            for i in 1..=spec.rows {
                line.clear();
                let p = pick_weighted(&mut rng, &weights);
                let (_, items, interests, lifestyles) = SURVEY_PERSONAS[p];
                line.extend_from_slice(format!("R{i:08}").as_bytes());
                for m in items {
                    let answer = (m + 0.8 * rng.normal()).round().clamp(1.0, 5.0);
                    push_maybe(&mut line, &mut rng, answer, 0);
                }
                for m in interests {
                    let score = (m + 1.5 * rng.normal()).round().clamp(0.0, 10.0);
                    push_maybe(&mut line, &mut rng, score, 0);
                }
                line.push(b',');
                line.extend_from_slice(lifestyles[rng.below(lifestyles.len())].as_bytes());
                line.push(b'\n');
                out.write_all(&line)?;
                write_truth(&mut truth, format_args!("R{i:08}"), p)?;
            }
        }
        Kind::Behavioral => {
            out.write_all(b"customer_id,recency,frequency,monetary,avg_order_value,tenure,interpurchase_days,channel\n")?;
            write_truth_header(&mut truth, "customer_id")?;
            let weights: Vec<f64> = BEHAVIOUR_PERSONAS.iter().map(|p| p.0).collect();
            for i in 1..=spec.rows {
                line.clear();
                let p = pick_weighted(&mut rng, &weights);
                let (_, recency, purchases, order_value, tenure, channels) = BEHAVIOUR_PERSONAS[p];
                let spread =
                    |rng: &mut Rng, median: f64, sigma: f64| median * (sigma * rng.normal()).exp();
                let tenure = spread(&mut rng, tenure, 0.3).round().max(1.0);
                let recency = spread(&mut rng, recency, 0.5).round().min(tenure);
                let frequency = spread(&mut rng, purchases, 0.4).round().max(1.0);
                // Heavy-tailed: a few customers spend far more per order than the rest.
                let aov = spread(&mut rng, order_value, 0.6);
                let monetary = aov * frequency;
                let gap = if frequency > 1.0 {
                    (tenure - recency).max(0.0) / (frequency - 1.0)
                } else {
                    0.0
                };
                line.extend_from_slice(format!("{i}").as_bytes());
                push_maybe(&mut line, &mut rng, recency, 0);
                push_maybe(&mut line, &mut rng, frequency, 0);
                push_maybe(&mut line, &mut rng, monetary, 2);
                push_maybe(&mut line, &mut rng, aov, 2);
                push_maybe(&mut line, &mut rng, tenure, 0);
                push_maybe(&mut line, &mut rng, gap, 1);
                line.push(b',');
                line.extend_from_slice(channels[rng.below(channels.len())].as_bytes());
                line.push(b'\n');
                out.write_all(&line)?;
                write_truth(&mut truth, i, p)?;
            }
        }
        Kind::Firmographic => {
            out.write_all(b"account_id,industry,employees,revenue,region,spend_hardware,spend_software,spend_services,purchase_frequency,tenure,lifecycle_stage\n")?;
            write_truth_header(&mut truth, "account_id")?;
            let weights: Vec<f64> = FIRM_PERSONAS.iter().map(|p| p.0).collect();
            for i in 1..=spec.rows {
                line.clear();
                let p = pick_weighted(&mut rng, &weights);
                let (_, codes, employees, per_head, mix, orders, tenure, regions, stages) =
                    FIRM_PERSONAS[p];
                let employees = (employees * (0.7 * rng.normal()).exp()).round().max(1.0);
                let revenue = employees * per_head * (0.3 * rng.normal()).exp();
                // Spend with us grows with size, less than proportionally.
                let total = 400.0 * employees.powf(0.8) * (0.4 * rng.normal()).exp();
                line.extend_from_slice(format!("A{i:07},").as_bytes());
                line.extend_from_slice(codes[rng.below(codes.len())].as_bytes());
                push_maybe(&mut line, &mut rng, employees, 0);
                push_maybe(&mut line, &mut rng, revenue, 0);
                line.push(b',');
                line.extend_from_slice(regions[rng.below(regions.len())].as_bytes());
                for share in mix {
                    let s = (share * (0.25 * rng.normal()).exp()).min(1.0);
                    push_maybe(&mut line, &mut rng, total * s, 2);
                }
                let orders = (orders * (0.4 * rng.normal()).exp()).round();
                let tenure = (tenure * (0.4 * rng.normal()).exp()).max(0.1);
                push_maybe(&mut line, &mut rng, orders, 0);
                push_maybe(&mut line, &mut rng, tenure, 1);
                line.push(b',');
                line.extend_from_slice(stages[rng.below(stages.len())].as_bytes());
                line.push(b'\n');
                out.write_all(&line)?;
                write_truth(&mut truth, format_args!("A{i:07}"), p)?;
            }
        }
        Kind::Geographic => {
            out.write_all(b"customer_id,latitude,longitude\n")?;
            write_truth_header(&mut truth, "customer_id")?;
            let weights: Vec<f64> = CITIES.iter().map(|c| c.3).collect();
            for i in 1..=spec.rows {
                line.clear();
                let c = pick_weighted(&mut rng, &weights);
                let (_, lat0, lon0, _, sd) = CITIES[c];
                let lat = lat0 + rng.normal() * sd / KM_PER_DEGREE;
                let mut lon = lon0 + rng.normal() * sd / (KM_PER_DEGREE * lat0.to_radians().cos());
                if lon > 180.0 {
                    lon -= 360.0;
                }
                line.extend_from_slice(format!("C{i:08},").as_bytes());
                if rng.unit() >= 0.01 {
                    push_fixed(&mut line, lat, 5);
                    line.push(b',');
                    push_fixed(&mut line, lon, 5);
                } else {
                    line.push(b',');
                }
                line.push(b'\n');
                out.write_all(&line)?;
                write_truth(&mut truth, format_args!("C{i:08}"), c)?;
            }
        }
        Kind::Transactions => {
            out.write_all(b"InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice\n")?;
            write_truth_header(&mut truth, "CustomerID")?;
            let weights: Vec<f64> = TX_PERSONAS.iter().map(|p| p.0).collect();
            let (mut written, mut invoice, mut customer) = (0u64, 100_000u64, 0u64);
            while written < spec.rows {
                customer += 1;
                let p = pick_weighted(&mut rng, &weights);
                let (_, per_year, lines, price, returns, stops) = TX_PERSONAS[p];
                let first = rng.unit() * TX_DAYS * 0.9;
                let last = stops.map_or(TX_DAYS, |before_end| {
                    (TX_DAYS - before_end).max(first + 1.0)
                });
                let id = 10_000 + customer;
                // Purchases as a Poisson process: exponential gaps at the persona's rate.
                let (mut day, before) = (first, written);
                while day < last && written < spec.rows {
                    invoice += 1;
                    // Only what was bought can be returned: a first invoice is a purchase.
                    let is_return = rng.unit() < returns && written > before;
                    let n_lines = 1 + rng.below((2.0 * lines) as usize);
                    let minute = rng.below(10 * 60) + 8 * 60;
                    let (y, m, d) = civil_from_days(TX_START + day as i64);
                    let date =
                        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", minute / 60, minute % 60);
                    for _ in 0..n_lines {
                        line.clear();
                        let qty = 1 + rng.below(12) as i64;
                        let unit = price * (0.5 * rng.normal()).exp();
                        let (no, qty) = if is_return {
                            (format!("C{invoice}"), -qty)
                        } else {
                            (invoice.to_string(), qty)
                        };
                        line.extend_from_slice(format!("{no},{id},{date},{qty},").as_bytes());
                        push_fixed(&mut line, unit, 2);
                        line.push(b'\n');
                        out.write_all(&line)?;
                        written += 1;
                    }
                    day += -(rng.unit().max(f64::MIN_POSITIVE)).ln() * 365.0 / per_year;
                }
                // A customer whose first purchase would fall after its last is not in the log.
                if written > before {
                    write_truth(&mut truth, id, p)?;
                }
            }
        }
    }
    out.flush()
}

fn write_truth_header(truth: &mut Option<&mut dyn Write>, id: &str) -> io::Result<()> {
    match truth {
        Some(t) => writeln!(t, "{id},segment"),
        None => Ok(()),
    }
}

fn write_truth(
    truth: &mut Option<&mut dyn Write>,
    id: impl std::fmt::Display,
    segment: usize,
) -> io::Result<()> {
    match truth {
        Some(t) => writeln!(t, "{id},{segment}"),
        None => Ok(()),
    }
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
            campaign: false,
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
    fn a_campaign_adds_its_columns_and_leaves_the_others_as_they_were() {
        let plain = Spec {
            rows: 4000,
            seed: 3,
            kind: Kind::Demographic,
            campaign: false,
        };
        let (a, ta) = run(&plain);
        let (b, tb) = run(&Spec {
            campaign: true,
            ..plain.clone()
        });
        assert_eq!(ta, tb, "the same personas");
        let mut treated = [0u32; 2];
        for (x, y) in a.lines().zip(b.lines()).skip(1) {
            assert!(y.starts_with(x), "the demographic columns are unchanged");
            let extra: Vec<&str> = y[x.len() + 1..].split(',').collect();
            assert!(matches!(extra[0], "0" | "1"));
            treated[usize::from(extra[1] == "treated")] += 1;
            assert!(extra[2].parse::<f64>().unwrap().is_finite());
        }
        assert!(
            treated[0].abs_diff(treated[1]) < 300,
            "{treated:?}: about half treated"
        );
        assert!(
            b.lines()
                .next()
                .unwrap()
                .ends_with(",converted,treated,revenue")
        );
    }

    #[test]
    fn every_kind_is_deterministic_rectangular_and_labelled() {
        for (kind, width) in [
            (Kind::Psychographic, 18),
            (Kind::Behavioral, 8),
            (Kind::Firmographic, 11),
            (Kind::Transactions, 5),
        ] {
            let spec = Spec {
                rows: 3000,
                seed: 5,
                kind: kind.clone(),
                campaign: false,
            };
            let (a, t) = run(&spec);
            assert_eq!(
                (a.clone(), t.clone()),
                run(&spec),
                "{kind:?}: same seed, same bytes"
            );
            let lines: Vec<&str> = a.lines().collect();
            assert!(lines.len() > 3000, "{kind:?}");
            assert!(
                lines.iter().all(|l| l.split(',').count() == width),
                "{kind:?}: every line has {width} fields"
            );
            let ids: std::collections::HashSet<&str> = lines[1..]
                .iter()
                .map(|l| {
                    l.split(',')
                        .nth(if kind == Kind::Transactions { 1 } else { 0 })
                        .unwrap()
                })
                .collect();
            let truth: Vec<&str> = t.lines().skip(1).collect();
            assert_eq!(
                truth.len(),
                ids.len(),
                "{kind:?}: one truth line per customer"
            );
            assert!(
                truth
                    .iter()
                    .all(|l| ids.contains(l.split(',').next().unwrap()))
            );
            let segments: std::collections::HashSet<&str> =
                truth.iter().map(|l| l.split(',').nth(1).unwrap()).collect();
            assert!(segments.len() >= 4, "{kind:?}: {segments:?}");
        }
        // Returns are in the log, as C invoices with negative quantities.
        let (log, _) = run(&Spec {
            rows: 3000,
            seed: 5,
            kind: Kind::Transactions,
            campaign: false,
        });
        let returns: Vec<&str> = log.lines().filter(|l| l.starts_with('C')).collect();
        assert!(!returns.is_empty());
        assert!(
            returns
                .iter()
                .all(|l| l.split(',').nth(3).unwrap().starts_with('-'))
        );
    }

    #[test]
    fn days_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(TX_START), (2024, 1, 1));
        assert_eq!(civil_from_days(TX_START + 59), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn demographic_rows_have_every_column_and_some_missing() {
        let (a, t) = run(&Spec {
            rows: 2000,
            seed: 1,
            kind: Kind::Demographic,
            campaign: false,
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
