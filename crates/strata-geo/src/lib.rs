//! Coordinates on the globe, for geographic segments: shared by the plugin SDK (which encodes
//! latitude and longitude as features) and the host (which reports each segment's centre and
//! radius and draws the map), so both read a coordinate the same way.
//!
//! A point is encoded as its unit vector on the sphere. The straight-line (chord) distance
//! between two unit vectors is 2·sin(θ/2) for the central angle θ between them, which grows
//! with θ all the way to the antipode: k-means on unit vectors groups customers by
//! great-circle distance, across the date line and near the poles, where k-means on raw
//! degrees would put 179.9°E and 179.9°W half a world apart. A segment's centre is the mean
//! of its unit vectors, projected back onto the sphere (the spherical mean direction).

/// The Earth's mean radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// The share of a segment's customers its reported radius holds.
pub const RADIUS_SHARE: f64 = 0.8;

/// Why a coordinate pair is not a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Latitude outside −90..90 (or not finite).
    Latitude,
    /// Longitude outside −180..180 (or not finite).
    Longitude,
    /// Exactly 0, 0 ("null island" in the Gulf of Guinea): almost always a failed geocode.
    NullIsland,
}

impl Invalid {
    /// What is wrong, in a phrase.
    pub fn describe(self) -> &'static str {
        match self {
            Invalid::Latitude => "a latitude outside -90..90",
            Invalid::Longitude => "a longitude outside -180..180",
            Invalid::NullIsland => "0, 0 (a failed geocode, not a customer in the Gulf of Guinea)",
        }
    }
}

/// Whether `lat`, `lon` (degrees) is a place; a missing value (NaN) in either is missing, not
/// invalid (`Ok(false)`); `Ok(true)` for a place.
pub fn check(lat: f64, lon: f64) -> Result<bool, Invalid> {
    if lat.is_nan() || lon.is_nan() {
        return Ok(false);
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(Invalid::Latitude);
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(Invalid::Longitude);
    }
    if lat == 0.0 && lon == 0.0 {
        return Err(Invalid::NullIsland);
    }
    Ok(true)
}

/// The unit vector of `lat`, `lon` (degrees): x towards 0°N 0°E, y towards 0°N 90°E, z to the
/// North Pole.
pub fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (phi, lambda) = (lat.to_radians(), lon.to_radians());
    [
        phi.cos() * lambda.cos(),
        phi.cos() * lambda.sin(),
        phi.sin(),
    ]
}

/// The latitude and longitude (degrees) of the direction of `v` (any length but zero); `None`
/// for the zero vector, which points nowhere.
pub fn direction(v: [f64; 3]) -> Option<(f64, f64)> {
    let horizontal = v[0].hypot(v[1]);
    if horizontal == 0.0 && v[2] == 0.0 {
        return None;
    }
    Some((
        v[2].atan2(horizontal).to_degrees(),
        v[1].atan2(v[0]).to_degrees(),
    ))
}

/// Great-circle distance in km between two points (degrees), by the haversine formula.
pub fn great_circle_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let (dp, dl) = (p2 - p1, (b.1 - a.1).to_radians());
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Great-circle distance in km for a chord `c` between unit vectors (the inverse of the
/// encoding's distance): R·2·asin(c/2).
pub fn chord_to_km(c: f64) -> f64 {
    2.0 * EARTH_RADIUS_KM * (c / 2.0).clamp(0.0, 1.0).asin()
}

/// The point `km` from (`lat`, `lon`) along the initial bearing `bearing` (degrees clockwise
/// from north), on the sphere; the longitude in −180..180.
pub fn destination(lat: f64, lon: f64, bearing: f64, km: f64) -> (f64, f64) {
    let (p1, l1, t) = (lat.to_radians(), lon.to_radians(), bearing.to_radians());
    let d = km / EARTH_RADIUS_KM;
    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * t.cos())
        .clamp(-1.0, 1.0)
        .asin();
    let l2 = l1 + (t.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
    let lon2 = (l2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
    (p2.to_degrees(), lon2)
}

/// A circle of radius `km` about (`lat`, `lon`) as `points` points on the sphere, for drawing.
pub fn ring(lat: f64, lon: f64, km: f64, points: usize) -> Vec<(f64, f64)> {
    (0..=points)
        .map(|i| destination(lat, lon, 360.0 * i as f64 / points as f64, km))
        .collect()
}

/// A group of places summarised: its centre and how far out its customers live.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The spherical mean direction, degrees.
    pub latitude: f64,
    /// The spherical mean direction, degrees.
    pub longitude: f64,
    /// The distance from the centre within which [`RADIUS_SHARE`] of the places lie, km.
    pub radius_km: f64,
    /// Places summarised (missing ones are left out).
    pub places: u64,
}

/// The centre and radius of `points` (latitude, longitude in degrees; pairs with a missing
/// value are skipped); `None` without a place, or when they balance out to no direction (as
/// two antipodes do).
pub fn spread(points: impl Iterator<Item = (f64, f64)> + Clone) -> Option<Spread> {
    let mut sum = [0f64; 3];
    let mut places = 0u64;
    for (lat, lon) in points.clone() {
        if lat.is_nan() || lon.is_nan() {
            continue;
        }
        let u = unit_vector(lat, lon);
        for (s, x) in sum.iter_mut().zip(u) {
            *s += x;
        }
        places += 1;
    }
    // Rounding leaves a speck of a vector where places balance out: that is no direction.
    let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm <= 1e-9 * places as f64 {
        return None;
    }
    let (latitude, longitude) = direction(sum)?;
    let mut d: Vec<f64> = points
        .filter(|(a, b)| !a.is_nan() && !b.is_nan())
        .map(|p| great_circle_km((latitude, longitude), p))
        .collect();
    d.sort_by(f64::total_cmp);
    // The smallest distance holding at least RADIUS_SHARE of the places.
    let at = ((RADIUS_SHARE * d.len() as f64).ceil() as usize).clamp(1, d.len()) - 1;
    Some(Spread {
        latitude,
        longitude,
        radius_km: d[at],
        places,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONDON: (f64, f64) = (51.5074, -0.1278);
    const PARIS: (f64, f64) = (48.8566, 2.3522);
    const NEW_YORK: (f64, f64) = (40.7128, -74.0060);
    const SYDNEY: (f64, f64) = (-33.8688, 151.2093);

    /// Published great-circle distances (a spherical Earth of mean radius): London–Paris
    /// 344 km, London–New York 5,570 km, London–Sydney 16,994 km.
    #[test]
    fn distances_between_capitals() {
        assert!((great_circle_km(LONDON, PARIS) - 343.6).abs() < 0.5);
        assert!((great_circle_km(LONDON, NEW_YORK) - 5570.2).abs() < 0.5);
        assert!((great_circle_km(LONDON, SYDNEY) - 16994.0).abs() < 0.5);
        assert_eq!(great_circle_km(PARIS, PARIS), 0.0);
    }

    /// The encoding's chord gives back the great-circle distance, so k-means distances on
    /// unit vectors order customers as the globe does.
    #[test]
    fn chords_between_unit_vectors_are_great_circle_distances() {
        for (a, b) in [
            (LONDON, PARIS),
            (LONDON, SYDNEY),
            ((10.0, 179.9), (10.0, -179.9)),
            ((89.9, 0.0), (89.9, 180.0)),
        ] {
            let (u, v) = (unit_vector(a.0, a.1), unit_vector(b.0, b.1));
            let chord = u
                .iter()
                .zip(v)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt();
            let km = great_circle_km(a, b);
            assert!(
                (chord_to_km(chord) - km).abs() < 1e-6 * km.max(1.0),
                "{a:?} {b:?}"
            );
        }
        // Across the date line: 0.2 degrees of longitude at 10°N, about 22 km, not half a world.
        assert!(great_circle_km((10.0, 179.9), (10.0, -179.9)) < 23.0);
    }

    #[test]
    fn directions_round_trip_and_centres_cross_the_date_line() {
        for p in [LONDON, SYDNEY, (-45.0, -179.0), (0.0, 180.0)] {
            let (lat, lon) = direction(unit_vector(p.0, p.1)).unwrap();
            assert!((lat - p.0).abs() < 1e-9 && (lon - p.1).abs().rem_euclid(360.0) < 1e-9);
        }
        let s = spread([(0.0, 179.0), (0.0, -179.0), (f64::NAN, 3.0)].into_iter()).unwrap();
        assert!(
            s.latitude.abs() < 1e-9 && (s.longitude.abs() - 180.0).abs() < 1e-9,
            "{s:?}"
        );
        assert_eq!(s.places, 2);
        assert!((s.radius_km - great_circle_km((0.0, 180.0), (0.0, 179.0))).abs() < 1e-6);
        assert_eq!(spread([(0.0, 0.5), (0.0, -179.5)].into_iter()), None);
    }

    #[test]
    fn the_radius_holds_eighty_percent() {
        // Ten places on the equator, 0..9 degrees east of the first: the centre is near 4.5°E
        // and eight of them lie within the radius.
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (0.0, f64::from(i))).collect();
        let s = spread(pts.iter().copied()).unwrap();
        let within = pts
            .iter()
            .filter(|p| great_circle_km((s.latitude, s.longitude), **p) <= s.radius_km)
            .count();
        assert_eq!(within, 8);
    }

    #[test]
    fn destinations_lie_at_their_distance() {
        for (bearing, km) in [(0.0, 100.0), (90.0, 343.6), (225.0, 5000.0)] {
            let p = destination(LONDON.0, LONDON.1, bearing, km);
            assert!(
                (great_circle_km(LONDON, p) - km).abs() < 1e-6,
                "{bearing} {p:?}"
            );
        }
        // Due east across the date line wraps the longitude.
        let p = destination(0.0, 179.9, 90.0, 50.0);
        assert!(p.1 < -179.0, "{p:?}");
        assert_eq!(ring(10.0, 20.0, 30.0, 12).len(), 13);
    }

    #[test]
    fn invalid_coordinates_are_named() {
        assert_eq!(check(91.0, 0.0), Err(Invalid::Latitude));
        assert_eq!(check(10.0, -180.5), Err(Invalid::Longitude));
        assert_eq!(check(0.0, 0.0), Err(Invalid::NullIsland));
        assert_eq!(check(f64::NAN, 3.0), Ok(false));
        assert_eq!(check(f64::INFINITY, 3.0), Err(Invalid::Latitude));
        assert_eq!(check(0.0, 0.1), Ok(true));
    }
}
