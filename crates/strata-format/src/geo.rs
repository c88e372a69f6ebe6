//! Where segments are (`geo` in `segments.json`): for a strategy that binds the roles
//! `latitude` and `longitude`, each segment's centre on the globe and the radius holding most
//! of its customers.

use serde::{Deserialize, Serialize};

/// How the places were summarised (`geo` at the top of segments.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoReport {
    /// The latitude column's header.
    pub latitude: String,
    /// The longitude column's header.
    pub longitude: String,
    /// The share of a segment's customers its radius holds.
    pub radius_share: f64,
    /// Customers with a place (both coordinates valid) among those summarised.
    pub places: u64,
    /// Customers with a coordinate missing.
    pub missing: u64,
    /// Customers whose coordinates are not a place (|lat| > 90, |lon| > 180 or exactly 0, 0),
    /// kept as missing under `--option invalid_coordinates=flag`.
    pub invalid: u64,
    /// Customers summarised: every one a held fit segmented, a seeded sample of a streamed
    /// fit's.
    pub customers: u64,
    /// How the centres and radii are found, in a sentence.
    pub method: String,
}

/// One segment's place (`geo` of a segment in segments.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentGeo {
    /// The centre's latitude, degrees: the direction of the mean of the customers' unit
    /// vectors.
    pub latitude: f64,
    /// The centre's longitude, degrees (−180..180).
    pub longitude: f64,
    /// The great-circle distance from the centre within which `radius_share` of the
    /// segment's customers live, km.
    pub radius_km: f64,
    /// The segment's customers with a place.
    pub places: u64,
}

impl SegmentGeo {
    /// "51.51°N 0.13°W, 80% within 31 km".
    pub fn describe(&self, share: f64) -> String {
        format!(
            "{:.2}°{} {:.2}°{}, {:.0}% within {} km",
            self.latitude.abs(),
            if self.latitude < 0.0 { 'S' } else { 'N' },
            self.longitude.abs(),
            if self.longitude < 0.0 { 'W' } else { 'E' },
            share * 100.0,
            if self.radius_km < 10.0 {
                format!("{:.1}", self.radius_km)
            } else {
                format!("{:.0}", self.radius_km)
            }
        )
    }
}
