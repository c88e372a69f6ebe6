//! The places stage: for a strategy that binds the roles `latitude` and `longitude` (degrees),
//! each segment's centre on the globe (the spherical mean direction), the radius holding 80%
//! of its customers ([`strata_geo`]), the count of coordinates that are not places, and a
//! sample of customers for the report's map.
//!
//! The roles are recognised by name, so any strategy built with the SDK's
//! [`geo`](https://docs.rs/strata-plugin-api) roles gets them. The map's points are rounded to
//! 0.1° (about 11 km): a report is shared, and a customer's home is personal.

use strata_format::geo::{GeoReport, SegmentGeo};
use strata_ingest::ColumnData;

use crate::Binding;
use crate::profile::Profiles;

/// Customers drawn on the report's map (a seeded sample above it).
pub(crate) const MAP_POINTS: usize = 2_000;

/// What the stage found.
pub(crate) struct Places {
    pub report: GeoReport,
    /// Per segment, in segment order; `None` for a segment without a place.
    pub segments: Vec<Option<SegmentGeo>>,
    /// (latitude, longitude, segment) of the map's customers, rounded to 0.1°.
    pub points: Vec<(f64, f64, usize)>,
}

/// The places of the `k` segments `labels` over `columns` (the profiled ones, or a streamed
/// fit's sample of them; `customers` is how many the fit segmented); `None` unless both
/// coordinate roles are bound to numeric columns.
pub(crate) fn find(
    columns: &[(&Binding, &ColumnData)],
    labels: &[u32],
    k: usize,
    seed: u64,
) -> Option<Places> {
    let numeric = |role: &str| {
        columns.iter().find_map(|(b, c)| match c {
            ColumnData::Numeric(v) if b.role == role => Some((b.column.clone(), v)),
            _ => None,
        })
    };
    let ((lat_name, lat), (lon_name, lon)) = (numeric("latitude")?, numeric("longitude")?);
    let n = labels.len();
    let (mut missing, mut invalid) = (0u64, 0u64);
    let mut by_segment: Vec<Vec<(f64, f64)>> = vec![Vec::new(); k];
    let mut valid = vec![false; n];
    for i in 0..n {
        match strata_geo::check(lat[i], lon[i]) {
            Ok(true) => {
                valid[i] = true;
                by_segment[labels[i] as usize].push((lat[i], lon[i]));
            }
            Ok(false) => missing += 1,
            Err(_) => invalid += 1,
        }
    }
    let segments: Vec<Option<SegmentGeo>> = by_segment
        .iter()
        .map(|pts| {
            strata_geo::spread(pts.iter().copied()).map(|s| SegmentGeo {
                latitude: s.latitude,
                longitude: s.longitude,
                radius_km: s.radius_km,
                places: s.places,
            })
        })
        .collect();
    let mut drawn = strata_quality::sample_rows(n, n.min(MAP_POINTS), seed);
    drawn.sort_unstable();
    let round = |x: f64| (x * 10.0).round() / 10.0;
    let points = drawn
        .into_iter()
        .filter(|&i| valid[i])
        .map(|i| (round(lat[i]), round(lon[i]), labels[i] as usize))
        .collect();
    Some(Places {
        report: GeoReport {
            latitude: lat_name,
            longitude: lon_name,
            radius_share: strata_geo::RADIUS_SHARE,
            places: valid.iter().filter(|&&v| v).count() as u64,
            missing,
            invalid,
            customers: n as u64,
            method: format!(
                "a segment's centre is the direction of the mean of its customers' unit vectors \
                 on the sphere; its radius is the great-circle distance within which {:.0}% of \
                 them live (Earth radius {} km); customers with a coordinate missing or not a \
                 place are left out",
                strata_geo::RADIUS_SHARE * 100.0,
                strata_geo::EARTH_RADIUS_KM
            ),
        },
        segments,
        points,
    })
}

/// The profiles a strategy names segments from, with each segment's `latitude` and
/// `longitude` means replaced by its spherical centre: an arithmetic mean of longitudes puts a
/// segment on the 180° meridian half a world away.
pub(crate) fn for_labels(profiles: &Profiles, places: Option<&Places>) -> Profiles {
    let mut p = profiles.clone();
    let Some(places) = places else {
        return p;
    };
    for (profile, centre) in p.segments.iter_mut().zip(&places.segments) {
        let Some(c) = centre else { continue };
        for n in &mut profile.numeric {
            match n.role.as_str() {
                "latitude" => n.mean = c.latitude,
                "longitude" => n.mean = c.longitude,
                _ => {}
            }
        }
    }
    p
}
