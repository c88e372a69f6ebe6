//! Privacy: no exported segment small enough to single people out (`--min-segment-size`), and
//! customer ids replaced by a keyed hash in every output (`--pseudonymize-ids`).

use hmac::{Hmac, Mac};
use sha2::Sha256;
pub use strata_format::MergedSegment;

/// Folds every segment with fewer than `min` customers into the nearest larger one, smallest
/// first, until none is left below `min` or one segment remains. `sizes` are the k-means
/// segments' sizes (largest first), `centroids` k × d in the feature space. Returns the merges
/// and, per k-means segment, the exported segment it belongs to (exported segments numbered by
/// size, largest first, ties by the lower k-means number).
pub fn merge_small(
    sizes: &[u64],
    centroids: &[f32],
    d: usize,
    min: u64,
) -> (Vec<MergedSegment>, Vec<u32>) {
    let k = sizes.len();
    // `owner[j]`: the k-means segment whose group j is in now; groups keep their root's centroid.
    let mut owner: Vec<usize> = (0..k).collect();
    let mut size = sizes.to_vec();
    let mut merges = Vec::new();
    let dist = |a: usize, b: usize| -> f64 {
        (0..d)
            .map(|f| {
                let x = f64::from(centroids[a * d + f]) - f64::from(centroids[b * d + f]);
                x * x
            })
            .sum()
    };
    loop {
        let roots: Vec<usize> = (0..k).filter(|&j| owner[j] == j).collect();
        if roots.len() < 2 {
            break;
        }
        // The smallest group under the minimum (ties: the higher number, the later-found).
        let Some(&small) = roots
            .iter()
            .filter(|&&j| size[j] < min)
            .min_by(|&&a, &&b| size[a].cmp(&size[b]).then(b.cmp(&a)))
        else {
            break;
        };
        let into = roots
            .iter()
            .copied()
            .filter(|&j| j != small && size[j] >= size[small])
            .min_by(|&a, &b| dist(small, a).total_cmp(&dist(small, b)).then(a.cmp(&b)))
            .expect("another group is at least as large as the smallest");
        merges.push(MergedSegment {
            segment: small,
            size: size[small],
            into,
            exported: 0,
        });
        size[into] += size[small];
        size[small] = 0;
        for o in owner.iter_mut().filter(|o| **o == small) {
            *o = into;
        }
    }
    let mut roots: Vec<usize> = (0..k).filter(|&j| owner[j] == j).collect();
    roots.sort_by(|&a, &b| size[b].cmp(&size[a]).then(a.cmp(&b)));
    let mut exported = vec![0u32; k];
    for (j, e) in exported.iter_mut().enumerate() {
        *e = roots.iter().position(|&r| r == owner[j]).expect("a root") as u32;
    }
    for m in &mut merges {
        m.exported = exported[m.segment] as usize;
    }
    (merges, exported)
}

/// What an error shows instead of a value from a personal column.
pub const WITHHELD: &str = "(withheld: personal data)";

/// An ingest error with the value withheld when it comes from one of the columns bound to a
/// role the strategy marks as personal, so that it reaches neither the terminal nor a log.
pub(crate) fn withhold(
    e: strata_ingest::IngestError,
    info: &strata_host::PluginInfo,
    bindings: &[crate::Binding],
) -> strata_ingest::IngestError {
    match e {
        strata_ingest::IngestError::BadValue {
            path,
            word,
            line,
            column,
            name,
            expected,
            value: _,
        } if bindings
            .iter()
            .any(|b| b.column == name && crate::binding::is_personal(info, &b.role)) =>
        {
            strata_ingest::IngestError::BadValue {
                path,
                word,
                line,
                column,
                name,
                expected,
                value: WITHHELD.into(),
            }
        }
        other => other,
    }
}

/// Replaces customer ids by HMAC-SHA-256 under a secret salt: the same id and salt always give
/// the same pseudonym (so runs can be compared and joined back by whoever holds the salt),
/// and without the salt an id cannot be confirmed by hashing guesses.
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

/// Hex digits of a pseudonym: the first 128 bits of the MAC.
pub const PSEUDONYM_HEX: usize = 32;

impl Pseudonymizer {
    /// A pseudonymizer keyed with `salt` (any length; [`crate::Salt`] enforces the minimum).
    pub fn new(salt: &[u8]) -> Pseudonymizer {
        Pseudonymizer {
            mac: Hmac::<Sha256>::new_from_slice(salt).expect("HMAC takes a key of any length"),
        }
    }

    /// A fingerprint of the salt, stored in the model so `assign` can tell the fit's salt
    /// from another: HMAC-SHA-256 under a fixed key of the salt (not keyed by the salt, so it
    /// is no id's pseudonym), 16 hex digits.
    pub fn fingerprint(salt: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"strata salt fingerprint v1")
            .expect("HMAC takes a key of any length");
        mac.update(salt);
        let tag = mac.finalize().into_bytes();
        tag[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The pseudonym of `id`, written into `out` (cleared first) as lowercase hex.
    pub fn pseudonym(&self, id: &[u8], out: &mut String) {
        let mut mac = self.mac.clone();
        mac.update(id);
        let tag = mac.finalize().into_bytes();
        out.clear();
        for b in &tag[..PSEUDONYM_HEX / 2] {
            out.push(char::from_digit(u32::from(b >> 4), 16).expect("a nibble"));
            out.push(char::from_digit(u32::from(b & 15), 16).expect("a nibble"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_segments_join_the_nearest_larger_one() {
        // Four segments on a line at 0, 10, 11 and 30; sizes 50, 30, 3, 2 (largest first).
        let c = [0.0, 10.0, 11.0, 30.0];
        let (merges, exported) = merge_small(&[50, 30, 3, 2], &c, 1, 5);
        // Segment 3 (2 customers, at 30) goes to its nearest larger: 2 (at 11, size 3); the
        // group of 5 is then large enough.
        assert_eq!(
            merges,
            [MergedSegment {
                segment: 3,
                size: 2,
                into: 2,
                exported: 2
            }]
        );
        assert_eq!(exported, [0, 1, 2, 2]);
        // With a higher minimum the group of 5 joins segment 1 (10 is nearer than 0).
        let (merges, exported) = merge_small(&[50, 30, 3, 2], &c, 1, 10);
        assert_eq!(merges.len(), 2);
        assert_eq!(merges[1].into, 1);
        assert_eq!(exported, [0, 1, 1, 1]);
        // Nothing below the minimum: nothing moves.
        assert_eq!(merge_small(&[5, 5], &[0.0, 1.0], 1, 5).1, [0, 1]);
        // All below: everything ends in one segment.
        assert_eq!(
            merge_small(&[3, 2, 1], &[0.0, 1.0, 2.0], 1, 100).1,
            [0, 0, 0]
        );
    }

    #[test]
    fn merged_groups_are_renumbered_by_size() {
        // 3 joins 2 (30, still under 35), which joins 1: its 70 beats segment 0's 50.
        let (_, exported) = merge_small(&[50, 40, 15, 15], &[0.0, 10.0, 11.0, 12.0], 1, 35);
        assert_eq!(exported, [1, 0, 0, 0]);
    }

    #[test]
    fn pseudonyms_are_keyed_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let p = Pseudonymizer::new(b"Jefe");
        let mut out = String::new();
        p.pseudonym(b"what do ya want for nothing?", &mut out);
        assert_eq!(out, "5bdcc146bf60754e6a042426089575c7");
        let mut other = String::new();
        Pseudonymizer::new(b"another salt").pseudonym(b"what do ya want for nothing?", &mut other);
        assert_ne!(out, other);
    }
}
