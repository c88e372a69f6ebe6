//! A small SVG writer, scales and colours. Every chart is drawn in a fixed coordinate system
//! (`viewBox`) and scaled to the page by CSS, so the numbers here are layout units, not pixels.

use std::fmt::Write;

use crate::html::esc;

/// An SVG element under construction.
pub struct Svg {
    out: String,
}

impl Svg {
    /// An SVG `width` × `height` units, announced to screen readers as `label`.
    pub fn new(width: f64, height: f64, label: &str) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="img" aria-label="{}">"#,
            esc(label)
        );
        Svg { out }
    }

    /// Opens a group whose tooltip is `tip` (a browser shows it on hover).
    pub fn group(&mut self, tip: &str) {
        let _ = write!(self.out, "<g><title>{}</title>", esc(tip));
    }

    /// Closes the group opened by the last [`group`](Self::group).
    pub fn end_group(&mut self) {
        self.out.push_str("</g>");
    }

    /// A rectangle filled with `fill` (a CSS colour); negative sizes are drawn as 0.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}"/>"#,
            w.max(0.0),
            h.max(0.0)
        );
    }

    /// A rectangle with a class for styling (outlines, backgrounds).
    pub fn rect_class(&mut self, x: f64, y: f64, w: f64, h: f64, class: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" class="{class}"/>"#,
            w.max(0.0),
            h.max(0.0)
        );
    }

    /// A circle of radius `r` about (`x`, `y`), filled with `fill` and styled by `class`.
    pub fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str, class: &str) {
        let _ = write!(
            self.out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="{fill}" class="{class}"/>"#
        );
    }

    /// A line from (`x1`, `y1`) to (`x2`, `y2`), styled by `class`.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class: &str) {
        let _ = write!(
            self.out,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{class}"/>"#
        );
    }

    /// A polyline through `points`, in `colour`.
    pub fn polyline(&mut self, points: &[(f64, f64)], colour: &str) {
        self.out.push_str(r#"<polyline points=""#);
        for (i, (x, y)) in points.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            let _ = write!(self.out, "{sep}{x:.1},{y:.1}");
        }
        let _ = write!(
            self.out,
            r#"" fill="none" stroke="{colour}" class="series"/>"#
        );
    }

    /// Text anchored at (`x`, `y`): `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, s: &str) {
        let _ = write!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            esc(s)
        );
    }

    /// Text in a given fill (a cell label that must contrast with its cell). Set as a style:
    /// the style sheet's `fill` for text would override a presentation attribute.
    pub fn text_fill(&mut self, x: f64, y: f64, fill: &str, s: &str) {
        let _ = write!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" class="cell" style="fill:{fill}">{}</text>"#,
            esc(s)
        );
    }

    /// Text rotated by `degrees` about its anchor point.
    pub fn text_rotated(&mut self, x: f64, y: f64, degrees: f64, class: &str, s: &str) {
        let _ = write!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="start" class="{class}" transform="rotate({degrees:.0} {x:.1} {y:.1})">{}</text>"#,
            esc(s)
        );
    }

    /// Closes the element and returns its markup.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// A linear map from a data interval onto a layout interval.
#[derive(Clone, Copy)]
pub struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    /// Maps [`d0`, `d1`] onto [`r0`, `r1`]; a degenerate domain maps to the middle.
    pub fn new(d0: f64, d1: f64, r0: f64, r1: f64) -> Self {
        Scale { d0, d1, r0, r1 }
    }

    /// Where the data value `x` falls in the layout interval; values outside the domain
    /// extrapolate.
    pub fn at(&self, x: f64) -> f64 {
        if self.d1 == self.d0 {
            (self.r0 + self.r1) / 2.0
        } else {
            self.r0 + (x - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
        }
    }
}

/// About `count` round tick values covering [`lo`, `hi`], and the covered interval.
pub fn ticks(lo: f64, hi: f64, count: usize) -> (Vec<f64>, f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo.min(hi), lo.max(hi))
    } else {
        (0.0, 1.0)
    };
    let (lo, hi) = if hi - lo < 1e-12 * lo.abs().max(1.0) {
        let pad = lo.abs().max(1.0) * 0.1;
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / count.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let n = ((end - start) / step).round() as usize;
    let ticks = (0..=n).map(|i| start + i as f64 * step).collect();
    (ticks, start, end)
}

/// Tableau's ten categorical colours, then evenly spread hues: segment `i`'s colour, the same
/// in every chart of a report.
pub fn segment_colour(i: usize) -> String {
    const TEN: [&str; 10] = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
        "#9c755f", "#bab0ac",
    ];
    TEN.get(i).map_or_else(
        || format!("hsl({:.0},55%,48%)", (i as f64 * 137.508) % 360.0),
        |c| (*c).to_string(),
    )
}

fn mix(from: (u8, u8, u8), to: (u8, u8, u8), t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let c = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        c(from.0, to.0),
        c(from.1, to.1),
        c(from.2, to.2)
    )
}

const WHITE: (u8, u8, u8) = (0xf7, 0xf7, 0xf7);
const BLUE: (u8, u8, u8) = (0x21, 0x66, 0xac);
const RED: (u8, u8, u8) = (0xb2, 0x18, 0x2b);

/// How far an index sits from 100 on a log scale, in [-1, 1]: ×4 or ÷4 saturates.
pub fn index_strength(index: f64) -> f64 {
    if index <= 0.0 {
        -1.0
    } else {
        ((index / 100.0).log2() / 2.0).clamp(-1.0, 1.0)
    }
}

/// An index's cell colour (blue below 100, red above, pale at 100, grey when undefined) and
/// the text colour that reads on it.
pub fn index_colours(index: Option<f64>) -> (String, &'static str) {
    match index.filter(|i| i.is_finite()) {
        None => ("#dddddd".into(), "#555555"),
        Some(i) => {
            let t = index_strength(i);
            let fill = if t < 0.0 {
                mix(WHITE, BLUE, -t)
            } else {
                mix(WHITE, RED, t)
            };
            (fill, if t.abs() > 0.55 { "#ffffff" } else { "#222222" })
        }
    }
}

/// A share's cell colour on a pale-to-blue scale and the text colour that reads on it.
pub fn share_colours(share: f64) -> (String, &'static str) {
    let t = share.clamp(0.0, 1.0).sqrt();
    (
        mix(WHITE, (0x08, 0x45, 0x94), t),
        if t > 0.6 { "#ffffff" } else { "#222222" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, lo, hi) = ticks(0.03, 0.97, 5);
        assert_eq!(t, vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert!(lo <= 0.03 && hi >= 0.97);
        let (t, lo, hi) = ticks(5.0, 5.0, 4);
        assert!(lo < 5.0 && hi > 5.0 && t.len() >= 2, "{t:?}");
        let (_, lo, hi) = ticks(f64::NAN, 1.0, 4);
        assert_eq!((lo, hi), (0.0, 1.0));
    }

    #[test]
    fn scales_map_ends_and_degenerate_domains() {
        let s = Scale::new(0.0, 10.0, 100.0, 200.0);
        assert_eq!(s.at(0.0), 100.0);
        assert_eq!(s.at(5.0), 150.0);
        assert_eq!(Scale::new(3.0, 3.0, 0.0, 10.0).at(3.0), 5.0);
    }

    #[test]
    fn index_colours_diverge_around_100() {
        assert_eq!(index_strength(100.0), 0.0);
        assert_eq!(index_strength(400.0), 1.0);
        assert_eq!(index_strength(25.0), -1.0);
        assert_eq!(index_strength(-5.0), -1.0);
        assert_eq!(index_colours(Some(100.0)).0, "#f7f7f7");
        assert_eq!(index_colours(Some(1000.0)).0, "#b2182b");
        assert_eq!(index_colours(Some(10.0)).0, "#2166ac");
        assert_eq!(index_colours(None).0, "#dddddd");
    }

    #[test]
    fn segment_colours_are_distinct() {
        let c: std::collections::HashSet<String> = (0..40).map(segment_colour).collect();
        assert_eq!(c.len(), 40);
    }

    #[test]
    fn text_is_escaped() {
        let mut s = Svg::new(10.0, 10.0, "a<b");
        s.text(0.0, 0.0, "start", "t", "R&D <\"x\">");
        let out = s.finish();
        assert!(out.contains("R&amp;D &lt;&quot;x&quot;&gt;"), "{out}");
        assert!(out.contains(r#"aria-label="a&lt;b""#), "{out}");
    }
}
