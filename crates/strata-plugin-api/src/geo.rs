//! Geographic features any strategy can use: roles named `latitude` and `longitude` (degrees)
//! become three features, the customer's unit vector on the sphere, so that k-means distances
//! follow great-circle distance ([`strata_geo`], re-exported here), and optionally a fourth,
//! the distance to the nearest of some points (stores, branches: `--option anchor=LAT,LON`).
//!
//! The host recognises the two role names too: a fit whose strategy binds them reports each
//! segment's centre and radius in km and draws the customers on a map.
//!
//! Weighting: the three coordinates are scaled together (never one by one, which would stretch
//! the globe) so that their total variance is `2 × geo_weight`, as two z-scored numerics would
//! have: by default geography counts as much as two other columns.
//!
//! Invalid coordinates (a latitude outside −90..90, a longitude outside −180..180, or exactly
//! 0, 0) are an error naming the column and an example (`invalid_coordinates=error`, the
//! default), or are treated as missing (`invalid_coordinates=flag`; the host counts them). A
//! missing coordinate takes the customers' mean direction, as a missing numeric takes the
//! median.

use serde::{Deserialize, Serialize};

use crate::encode::Encode;
use crate::error::Error;
use crate::matrix::FeatureMatrix;
use crate::sdk::{Input, Options, Role};
pub use strata_geo::*;

/// The roles a strategy declares to take coordinates.
pub const ROLES: [Role; 2] = [
    Role::numeric("latitude", "Latitude in degrees (-90..90)"),
    Role::numeric("longitude", "Longitude in degrees (-180..180)"),
];

/// The strategy options this module reads.
pub const OPTION_KEYS: [&str; 3] = ["anchor", "invalid_coordinates", "geo_weight"];

/// What to do with coordinates that are not a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInvalid {
    /// Stop with an error naming the column and an example.
    Error,
    /// Treat them as missing; the host counts them (`geo.invalid` in segments.json).
    Flag,
}

/// The geographic features, fitted: a strategy's encoder for its two coordinate columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoEncoder {
    /// The latitude column's header.
    pub latitude: String,
    /// The longitude column's header.
    pub longitude: String,
    /// The unit vector a missing (or flagged) coordinate takes: the training mean direction.
    pub fill: [f64; 3],
    /// The factor on every coordinate of the unit vectors.
    pub weight: f64,
    /// What invalid coordinates do.
    pub on_invalid: OnInvalid,
    /// Points the distance feature measures to (the nearest of them); empty: no such feature.
    pub anchors: Vec<(f64, f64)>,
    /// The distance feature's mean and standard deviation in km on the training customers.
    pub anchor_scale: Option<(f64, f64)>,
}

/// Reads `anchor=LAT,LON[;LAT,LON…]`.
fn parse_anchors(text: &str) -> Result<Vec<(f64, f64)>, Error> {
    text.split(';')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let bad = || {
                Error(format!(
                    "option anchor: '{p}' is not LAT,LON in degrees (e.g. anchor=51.5074,-0.1278; \
                     several: separated by ';')"
                ))
            };
            let (a, b) = p.split_once(',').ok_or_else(bad)?;
            let lat: f64 = a.trim().parse().map_err(|_| bad())?;
            let lon: f64 = b.trim().parse().map_err(|_| bad())?;
            match check(lat, lon) {
                Ok(true) => Ok((lat, lon)),
                Ok(false) => Err(bad()),
                Err(why) => Err(Error(format!(
                    "option anchor: {lat},{lon} is {}",
                    why.describe()
                ))),
            }
        })
        .collect()
}

impl GeoEncoder {
    /// Whether `input` binds the coordinate roles: `Ok(None)` when neither is bound; an error
    /// when only one is.
    pub fn bound<'i>(input: &'i Input<'_>) -> Result<Option<(&'i str, &'i str)>, Error> {
        let lat = input.role("latitude").next();
        let lon = input.role("longitude").next();
        match (lat, lon) {
            (None, None) => Ok(None),
            (Some(a), Some(b)) => Ok(Some((a.name, b.name))),
            (Some(c), None) | (None, Some(c)) => Err(Error(format!(
                "column '{}' is bound to {} but no column to {}: coordinates need both \
                 (--map latitude=COLUMN --map longitude=COLUMN)",
                c.name,
                c.role,
                if c.role == "latitude" {
                    "longitude"
                } else {
                    "latitude"
                }
            ))),
        }
    }

    /// Fits the features on the bound coordinate columns, with the options `anchor`,
    /// `invalid_coordinates` (`error` or `flag`) and `geo_weight` (a positive number, 1 by
    /// default).
    pub fn fit(input: &Input<'_>, options: &Options) -> Result<Option<GeoEncoder>, Error> {
        let Some((lat_name, lon_name)) = Self::bound(input)? else {
            if let Some(key) = OPTION_KEYS.iter().find(|k| options.get(k).is_some()) {
                return Err(Error(format!(
                    "option {key} is for coordinates, but no column is bound to latitude and \
                     longitude"
                )));
            }
            return Ok(None);
        };
        let on_invalid = match options.get_str("invalid_coordinates") {
            None | Some("error") => OnInvalid::Error,
            Some("flag") => OnInvalid::Flag,
            Some(other) => {
                return Err(Error(format!(
                    "option invalid_coordinates must be error or flag (got '{other}')"
                )));
            }
        };
        let geo_weight = match options.get_str("geo_weight") {
            None => 1.0,
            Some(t) => match t.trim().parse::<f64>() {
                Ok(w) if w.is_finite() && w > 0.0 => w,
                _ => {
                    return Err(Error(format!(
                        "option geo_weight must be a positive number (got '{t}')"
                    )));
                }
            },
        };
        let anchors = match options.get_str("anchor") {
            None => Vec::new(),
            Some(t) => parse_anchors(t)?,
        };
        let mut enc = GeoEncoder {
            latitude: lat_name.to_owned(),
            longitude: lon_name.to_owned(),
            fill: [0.0; 3],
            weight: 1.0,
            on_invalid,
            anchors,
            anchor_scale: None,
        };
        let places = enc.places(input)?;
        let mut sum = [0f64; 3];
        let mut count = 0usize;
        for u in places.iter().flatten() {
            for (s, x) in sum.iter_mut().zip(u) {
                *s += x;
            }
            count += 1;
        }
        if count == 0 {
            return Err(Error(format!(
                "columns '{lat_name}' and '{lon_name}' hold no coordinates a customer could \
                 live at"
            )));
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / count as f64).collect();
        // Unit vectors have E|u|² = 1, so their total variance is 1 − |mean|².
        let total = 1.0 - mean.iter().map(|m| m * m).sum::<f64>();
        enc.weight = if total > 1e-12 {
            (2.0 * geo_weight / total).sqrt()
        } else {
            1.0
        };
        enc.fill = match direction([sum[0], sum[1], sum[2]]) {
            Some((lat, lon)) => unit_vector(lat, lon),
            None => [0.0, 0.0, 1.0],
        };
        if !enc.anchors.is_empty() {
            let d: Vec<f64> = places
                .iter()
                .flatten()
                .map(|u| enc.nearest_anchor_km(*u))
                .collect();
            let m = d.iter().sum::<f64>() / d.len() as f64;
            let sd = (d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
            enc.anchor_scale = Some((m, if sd > 0.0 { sd } else { 1.0 }));
        }
        Ok(Some(enc))
    }

    /// Every row's unit vector; `None` where a coordinate is missing (or invalid and flagged).
    fn places(&self, input: &Input<'_>) -> Result<Vec<Option<[f64; 3]>>, Error> {
        let lat = input.require_column(&self.latitude)?.numeric()?;
        let lon = input.require_column(&self.longitude)?.numeric()?;
        let mut first_bad: Option<(usize, Invalid)> = None;
        let mut bad = 0usize;
        let out = lat
            .iter()
            .zip(lon)
            .enumerate()
            .map(|(i, (&a, &b))| match check(a, b) {
                Ok(true) => Some(unit_vector(a, b)),
                Ok(false) => None,
                Err(why) => {
                    bad += 1;
                    first_bad.get_or_insert((i, why));
                    None
                }
            })
            .collect();
        if let (Some((i, why)), OnInvalid::Error) = (first_bad, self.on_invalid) {
            return Err(Error(format!(
                "columns '{}' and '{}' have {bad} coordinate pair{} that are not places, the \
                 first {}, {} in data row {} ({}): fix them, leave them empty (missing), or \
                 pass --option invalid_coordinates=flag to treat them as missing and count \
                 them",
                self.latitude,
                self.longitude,
                if bad == 1 { "" } else { "s" },
                lat[i],
                lon[i],
                i + 1,
                why.describe()
            )));
        }
        Ok(out)
    }

    fn nearest_anchor_km(&self, u: [f64; 3]) -> f64 {
        let here = direction(u).unwrap_or((0.0, 0.0));
        self.anchors
            .iter()
            .map(|&a| great_circle_km(here, a))
            .fold(f64::INFINITY, f64::min)
    }
}

impl Encode for GeoEncoder {
    fn width(&self) -> usize {
        3 + usize::from(self.anchor_scale.is_some())
    }

    fn feature_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["x", "y", "z"]
            .iter()
            .map(|a| format!("{}/{} {a}", self.latitude, self.longitude))
            .collect();
        if self.anchor_scale.is_some() {
            names.push("km to the nearest anchor".into());
        }
        names
    }

    fn write(
        &self,
        input: &Input<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error> {
        let places = self.places(input)?;
        for axis in 0..3 {
            out.set_column(
                offset + axis,
                places
                    .iter()
                    .map(|p| (p.unwrap_or(self.fill)[axis] * self.weight) as f32),
            );
        }
        if let Some((m, sd)) = self.anchor_scale {
            out.set_column(
                offset + 3,
                places
                    .iter()
                    .map(|p| ((self.nearest_anchor_km(p.unwrap_or(self.fill)) - m) / sd) as f32),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ColumnKind;
    use crate::sdk::{Column, Values};

    fn input<'a>(lat: &'a [f64], lon: &'a [f64]) -> Input<'a> {
        Input::new(
            lat.len(),
            vec![
                Column {
                    role: "latitude",
                    name: "lat",
                    kind: ColumnKind::Numeric,
                    values: Values::Numeric(lat),
                },
                Column {
                    role: "longitude",
                    name: "lon",
                    kind: ColumnKind::Numeric,
                    values: Values::Numeric(lon),
                },
            ],
        )
        .unwrap()
    }

    fn features(enc: &GeoEncoder, inp: &Input<'_>) -> Vec<f32> {
        let d = enc.width();
        let mut buf = vec![0f32; inp.n_rows() * d];
        let mut m = FeatureMatrix::new(&mut buf, d).unwrap();
        enc.write(inp, &mut m, 0).unwrap();
        buf
    }

    /// London, Paris and Berlin: feature distances, unscaled, are the chords of their
    /// great-circle distances; the weight sets the block's total variance to 2.
    #[test]
    fn feature_distances_follow_great_circle_distance() {
        let (lat, lon) = ([51.5074, 48.8566, 52.52], [-0.1278, 2.3522, 13.405]);
        let inp = input(&lat, &lon);
        let enc = GeoEncoder::fit(&inp, &Options::default()).unwrap().unwrap();
        let f = features(&enc, &inp);
        let row = |i: usize| &f[i * 3..i * 3 + 3];
        let dist = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| f64::from(x - y).powi(2))
                .sum::<f64>()
                .sqrt()
                / enc.weight
        };
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let km = great_circle_km((lat[i], lon[i]), (lat[j], lon[j]));
            assert!(
                (chord_to_km(dist(row(i), row(j))) - km).abs() < 0.05,
                "{i}-{j}: {km}"
            );
        }
        let var: f64 = (0..3)
            .map(|a| {
                let v: Vec<f64> = (0..3).map(|r| f64::from(f[r * 3 + a])).collect();
                let m = v.iter().sum::<f64>() / 3.0;
                v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 3.0
            })
            .sum();
        assert!((var - 2.0).abs() < 1e-4, "{var}");
        assert_eq!(enc.feature_names(), ["lat/lon x", "lat/lon y", "lat/lon z"]);
    }

    #[test]
    fn invalid_coordinates_are_errors_or_flagged() {
        let (lat, lon) = ([51.5, 95.0, 0.0, f64::NAN], [0.1, 3.0, 0.0, 2.0]);
        let inp = input(&lat, &lon);
        let e = GeoEncoder::fit(&inp, &Options::default()).unwrap_err();
        assert!(
            e.0.contains("2 coordinate pairs that are not places, the first 95, 3 in data row 2")
                && e.0.contains("latitude outside -90..90")
                && e.0.contains("invalid_coordinates=flag"),
            "{e}"
        );
        let flag = Options::from_json(r#"{"invalid_coordinates":"flag"}"#).unwrap();
        let enc = GeoEncoder::fit(&inp, &flag).unwrap().unwrap();
        // Flagged and missing rows take the mean direction: the one valid place.
        let f = features(&enc, &inp);
        assert_eq!(&f[0..3], &f[3..6]);
        assert_eq!(&f[0..3], &f[9..12]);
        let bad = Options::from_json(r#"{"invalid_coordinates":"drop"}"#).unwrap();
        assert!(
            GeoEncoder::fit(&inp, &bad)
                .unwrap_err()
                .0
                .contains("error or flag")
        );
    }

    #[test]
    fn an_anchor_adds_the_distance_to_the_nearest() {
        let (lat, lon) = ([51.5074, 48.8566, 52.52], [-0.1278, 2.3522, 13.405]);
        let inp = input(&lat, &lon);
        let o = Options::from_json(r#"{"anchor":"51.5074,-0.1278; 52.52,13.405"}"#).unwrap();
        let enc = GeoEncoder::fit(&inp, &o).unwrap().unwrap();
        assert_eq!(enc.width(), 4);
        // London and Berlin sit on anchors; Paris is 344 km from London.
        let (m, sd) = enc.anchor_scale.unwrap();
        assert!((m - 343.56 / 3.0).abs() < 0.1, "{m}");
        let f = features(&enc, &inp);
        assert!((f64::from(f[4 + 3]) * sd + m - 343.56).abs() < 0.1);
        for bad in ["51.5", "x,1", "95,0"] {
            let o = Options::from_json(&format!(r#"{{"anchor":"{bad}"}}"#)).unwrap();
            assert!(GeoEncoder::fit(&inp, &o).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_coordinate_alone_is_an_error() {
        let lat = [1.0, 2.0];
        let inp = Input::new(
            2,
            vec![Column {
                role: "latitude",
                name: "lat",
                kind: ColumnKind::Numeric,
                values: Values::Numeric(&lat),
            }],
        )
        .unwrap();
        let e = GeoEncoder::fit(&inp, &Options::default()).unwrap_err();
        assert!(e.0.contains("no column to longitude"), "{e}");
    }
}
