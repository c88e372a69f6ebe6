//! The firmographic strategy's `--option`s: industry grouping, readable names for industry
//! and region codes, and the revenue unit; each checked against the roles bound.

use std::collections::BTreeMap;

use strata_plugin_api::prep::Scale;
use strata_plugin_api::{Error, Input, Options};

use crate::ROLES;

/// The options a fit was asked for, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--scale`, z-score by default.
    pub scale: Scale,
    /// `--option industry_level`.
    pub industry_level: Option<u8>,
    /// `--option industry_names`, empty when not given.
    pub industry_names: BTreeMap<String, String>,
    /// `--option region_names`, empty when not given.
    pub region_names: BTreeMap<String, String>,
    /// `--option revenue_unit`, 1 when not given.
    pub revenue_unit: f64,
}

impl Settings {
    /// Reads and checks the options, and that the roles they refer to are bound in `input`.
    pub fn parse(options: &Options, input: &Input<'_>) -> Result<Settings, Error> {
        options.check_known(&[
            "industry_level",
            "industry_names",
            "region_names",
            "revenue_unit",
        ])?;
        let scale = options.scale_or(Scale::Zscore)?;
        input.require_columns(ROLES)?;
        let bound = |role: &str| input.role(role).next().is_some();
        let needs = |key: &str, role: &str| {
            Error(format!(
                "--option {key} needs the {role} role bound (--map {role}=COLUMN)"
            ))
        };
        let industry_level = option_text(options, "industry_level")
            .map(|t| parse_industry_level(&t))
            .transpose()?;
        let industry_names = option_text(options, "industry_names")
            .map(|t| parse_names("industry_names", &t))
            .transpose()?;
        let region_names = option_text(options, "region_names")
            .map(|t| parse_names("region_names", &t))
            .transpose()?;
        let revenue_unit = option_text(options, "revenue_unit")
            .map(|t| parse_revenue_unit(&t))
            .transpose()?;
        if !bound("industry") {
            if industry_level.is_some() {
                return Err(needs("industry_level", "industry"));
            }
            if industry_names.is_some() {
                return Err(needs("industry_names", "industry"));
            }
        }
        if region_names.is_some() && !bound("region") {
            return Err(needs("region_names", "region"));
        }
        if revenue_unit.is_some() && !bound("revenue") {
            return Err(needs("revenue_unit", "revenue"));
        }
        let industry_names = industry_names.unwrap_or_default();
        if let Some(n) = industry_level {
            let too_fine = industry_names
                .keys()
                .find(|k| k.bytes().all(|b| b.is_ascii_digit()) && k.len() > usize::from(n));
            if let Some(code) = too_fine {
                return Err(Error(format!(
                    "--option industry_names names code '{code}', which has more digits than \
                     industry_level={n} keeps; name the {n}-digit codes"
                )));
            }
        }

        Ok(Settings {
            scale,
            industry_level,
            industry_names,
            region_names: region_names.unwrap_or_default(),
            revenue_unit: revenue_unit.unwrap_or(1.0),
        })
    }
}

/// Parses `--option industry_level=N`.
pub fn parse_industry_level(text: &str) -> Result<u8, Error> {
    match text.trim().parse::<u8>() {
        Ok(n) if (1..=6).contains(&n) => Ok(n),
        _ => Err(Error(format!(
            "--option industry_level must be a whole number from 1 to 6 (the leading digits of \
             the industry code to keep, e.g. 2 for NAICS sectors), got '{text}'"
        ))),
    }
}

/// Parses `--option KEY=CODE:NAME,CODE:NAME`.
pub fn parse_names(key: &str, text: &str) -> Result<BTreeMap<String, String>, Error> {
    let bad = |what: String| {
        Error(format!(
            "--option {key}: {what}; expected CODE:NAME pairs separated by commas, \
             e.g. --option {key}=1:Horeca,2:Retail"
        ))
    };
    let mut map = BTreeMap::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(bad(format!("'{text}' has an empty entry")));
        }
        let Some((code, name)) = item.split_once(':') else {
            return Err(bad(format!("'{item}' has no ':'")));
        };
        let (code, name) = (code.trim(), name.trim());
        if code.is_empty() || name.is_empty() {
            return Err(bad(format!("'{item}' needs both a code and a name")));
        }
        if map.insert(code.to_owned(), name.to_owned()).is_some() {
            return Err(bad(format!("code '{code}' is named twice")));
        }
    }
    Ok(map)
}

/// Parses `--option revenue_unit=X`.
pub fn parse_revenue_unit(text: &str) -> Result<f64, Error> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(Error(format!(
            "--option revenue_unit must be a positive number (currency units per unit of the \
             revenue column, e.g. 1000 when revenue is in thousands), got '{text}'"
        ))),
    }
}

/// An option's text: strings as they are, anything else as its JSON.
fn option_text(options: &Options, key: &str) -> Option<String> {
    options
        .get(key)
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
}
