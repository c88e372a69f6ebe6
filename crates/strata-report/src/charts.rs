//! The four kinds of chart a report draws: horizontal bars, a heat grid, a scatter with
//! centroids, and a line over k. Each returns a finished `<svg>`.

use crate::fmt::{clip, num};
use crate::svg::{Scale, Svg, segment_colour, ticks};

/// Width of a label column holding `labels`, cut at `max_chars`.
fn label_width<'a>(labels: impl Iterator<Item = &'a str>, max_chars: usize) -> f64 {
    let chars = labels.map(|l| l.chars().count().min(max_chars)).max();
    (chars.unwrap_or(0) as f64 * 6.6 + 14.0).clamp(90.0, 300.0)
}

/// One bar of a [`BarRow`].
pub struct Bar {
    pub value: f64,
    pub colour: String,
    /// Printed after the bar.
    pub text: String,
    pub tip: String,
}

/// A labelled row of one or more bars.
pub struct BarRow {
    pub label: String,
    pub bars: Vec<Bar>,
}

/// Horizontal bars from 0, on an axis up to at least `max`, with dashed reference lines at
/// `marks` (value, label).
pub fn hbars(
    rows: &[BarRow],
    max: f64,
    axis: &dyn Fn(f64) -> String,
    marks: &[(f64, String)],
    label: &str,
) -> String {
    const BAR: f64 = 15.0;
    const GAP: f64 = 3.0;
    const ROW_PAD: f64 = 9.0;
    const PLOT: f64 = 500.0;
    const TOP: f64 = 26.0;
    let lw = label_width(rows.iter().map(|r| r.label.as_str()), 40);
    let top = marks.iter().map(|m| m.0).fold(max, f64::max);
    let (tick_values, _, end) = ticks(0.0, if top > 0.0 { top } else { 1.0 }, 5);
    let x = Scale::new(0.0, end, lw, lw + PLOT);
    let row_h = |r: &BarRow| r.bars.len() as f64 * (BAR + GAP) - GAP + ROW_PAD;
    let height = TOP + rows.iter().map(row_h).sum::<f64>() + 8.0;
    let longest_text = rows
        .iter()
        .flat_map(|r| &r.bars)
        .map(|b| b.text.chars().count())
        .max()
        .unwrap_or(0);
    let width = lw + PLOT + longest_text as f64 * 6.4 + 16.0;
    let mut svg = Svg::new(width, height, label);
    for t in &tick_values {
        svg.line(x.at(*t), TOP - 4.0, x.at(*t), height - 6.0, "grid");
        svg.text(x.at(*t), TOP - 9.0, "middle", "small", &axis(*t));
    }
    let mut y = TOP;
    for row in rows {
        let h = row_h(row);
        svg.group(&row.label);
        svg.text(lw - 8.0, y + h / 2.0, "end", "", &clip(&row.label, 40));
        svg.end_group();
        let mut by = y + ROW_PAD / 2.0;
        for bar in &row.bars {
            svg.group(&bar.tip);
            let v = bar.value.max(0.0);
            svg.rect(lw, by, x.at(v) - lw, BAR, &bar.colour);
            svg.text(x.at(v) + 5.0, by + BAR - 3.5, "start", "small", &bar.text);
            svg.end_group();
            by += BAR + GAP;
        }
        y += h;
    }
    svg.line(lw, TOP - 4.0, lw, height - 6.0, "axis");
    for (v, text) in marks {
        svg.line(x.at(*v), TOP - 4.0, x.at(*v), height - 6.0, "band");
        svg.text(x.at(*v) + 3.0, height - 8.0, "start", "small", text);
    }
    svg.finish()
}

/// One cell of a [`heat_grid`].
pub struct Cell {
    pub fill: String,
    pub ink: &'static str,
    pub text: String,
    pub tip: String,
}

/// A column of a [`heat_grid`]: its header and the tooltip that names it in full.
pub struct Column {
    pub header: String,
    pub tip: String,
    /// A colour swatch over the column (a segment's colour).
    pub colour: Option<String>,
}

/// A grid of coloured cells: `rows` down, `columns` across. Short headers (a segment number)
/// stand upright; longer ones are slanted.
pub fn heat_grid(columns: &[Column], rows: &[String], cells: &[Vec<Cell>], label: &str) -> String {
    const W: f64 = 62.0;
    const H: f64 = 24.0;
    const CUT: usize = 26;
    let lw = label_width(rows.iter().map(String::as_str), 42);
    let longest = columns
        .iter()
        .map(|c| c.header.chars().count().min(CUT))
        .max()
        .unwrap_or(0) as f64;
    let slanted = longest > 4.0;
    // Slanted 40 degrees, a header's height is its length times sin(40°) and it reaches
    // its length times cos(40°) to the right.
    let (head, overhang) = if slanted {
        (longest * 6.4 * 0.643 + 26.0, longest * 6.4 * 0.766)
    } else {
        (30.0, 0.0)
    };
    let width = lw + columns.len() as f64 * W + overhang + 10.0;
    let height = head + rows.len() as f64 * H + 6.0;
    let mut svg = Svg::new(width, height, label);
    for (j, c) in columns.iter().enumerate() {
        let cx = lw + j as f64 * W + W / 2.0;
        svg.group(&c.tip);
        if let Some(colour) = &c.colour {
            svg.rect(cx - W / 2.0 + 2.0, head - 8.0, W - 4.0, 5.0, colour);
        }
        if slanted {
            svg.text_rotated(cx - 4.0, head - 14.0, -40.0, "", &clip(&c.header, CUT));
        } else {
            svg.text(cx, head - 14.0, "middle", "title", &c.header);
        }
        svg.end_group();
    }
    for (i, r) in rows.iter().enumerate() {
        let y = head + i as f64 * H;
        svg.group(r);
        svg.text(lw - 8.0, y + H / 2.0 + 4.0, "end", "", &clip(r, 42));
        svg.end_group();
        for (j, cell) in cells[i].iter().enumerate() {
            let x = lw + j as f64 * W;
            svg.group(&cell.tip);
            svg.rect(x + 1.0, y + 1.0, W - 2.0, H - 2.0, &cell.fill);
            svg.text_fill(x + W / 2.0, y + H / 2.0 + 4.0, cell.ink, &cell.text);
            svg.end_group();
        }
    }
    svg.finish()
}

/// A point of a [`scatter`], coloured by its segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    pub segment: usize,
}

/// Points coloured by segment with each segment's centroid drawn large and numbered.
pub fn scatter(
    points: &[Dot],
    centroids: &[(Dot, String)],
    x_title: &str,
    y_title: &str,
    label: &str,
) -> String {
    const W: f64 = 680.0;
    const H: f64 = 460.0;
    const L: f64 = 34.0;
    const B: f64 = 36.0;
    const PAD: f64 = 14.0;
    let all = points.iter().chain(centroids.iter().map(|(d, _)| d));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for d in all {
        x0 = x0.min(d.x);
        x1 = x1.max(d.x);
        y0 = y0.min(d.y);
        y1 = y1.max(d.y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    let x = Scale::new(x0, x1, L + PAD, W - PAD);
    let y = Scale::new(y0, y1, H - B - PAD, PAD);
    let mut svg = Svg::new(W, H, label);
    svg.rect_class(L, 0.0, W - L, H - B, "frame");
    if x0 < 0.0 && x1 > 0.0 {
        svg.line(x.at(0.0), 0.0, x.at(0.0), H - B, "grid");
    }
    if y0 < 0.0 && y1 > 0.0 {
        svg.line(L, y.at(0.0), W, y.at(0.0), "grid");
    }
    for p in points {
        svg.circle(
            x.at(p.x),
            y.at(p.y),
            2.6,
            &segment_colour(p.segment),
            "point",
        );
    }
    for (c, tip) in centroids {
        svg.group(tip);
        svg.circle(
            x.at(c.x),
            y.at(c.y),
            8.0,
            &segment_colour(c.segment),
            "centroid",
        );
        svg.text(
            x.at(c.x),
            y.at(c.y) - 12.0,
            "middle",
            "centroid",
            &c.segment.to_string(),
        );
        svg.end_group();
    }
    svg.text((L + W) / 2.0, H - 10.0, "middle", "", x_title);
    svg.text_rotated(14.0, H - B - 6.0, -90.0, "", y_title);
    svg.finish()
}

/// Customers on a map: an equirectangular projection about `lon0` (longitudes measured from
/// it, so a segment on the 180° meridian is not cut in two), stretched by the cosine of the
/// middle latitude so a km is as long across as up, a graticule, each segment's centre
/// numbered and its radius drawn. No tiles and no coastlines: the page loads nothing.
pub fn geo_map(
    points: &[Dot],
    centres: &[(Dot, String)],
    rings: &[(Vec<(f64, f64)>, usize)],
    lon0: f64,
    label: &str,
) -> String {
    const W: f64 = 680.0;
    const H: f64 = 460.0;
    const PAD: f64 = 30.0;
    // x: degrees east of lon0 in −180..180; y: latitude.
    let east = |lon: f64| (lon - lon0 + 540.0).rem_euclid(360.0) - 180.0;
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    let mut take = |lon: f64, lat: f64| {
        let x = east(lon);
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(lat);
        y1 = y1.max(lat);
    };
    for d in points.iter().chain(centres.iter().map(|(d, _)| d)) {
        take(d.x, d.y);
    }
    for (ring, _) in rings {
        for &(lat, lon) in ring {
            take(lon, lat);
        }
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    // Equal km per unit both ways at the middle latitude; the larger span fills the frame.
    let stretch = ((y0 + y1) / 2.0).to_radians().cos().max(0.05);
    let (span_x, span_y) = ((x1 - x0).max(1e-6) * stretch, (y1 - y0).max(1e-6));
    let unit = ((W - 2.0 * PAD) / span_x).min((H - 2.0 * PAD) / span_y);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let px = |lon: f64| W / 2.0 + (east(lon) - cx) * stretch * unit;
    let py = |lat: f64| H / 2.0 - (lat - cy) * unit;
    let mut svg = Svg::new(W, H, label);
    svg.rect_class(0.0, 0.0, W, H, "frame");
    // Graticule: about five lines each way, at round degrees, labelled at the edges.
    let (lat_ticks, _, _) = ticks(y0, y1, 5);
    for t in lat_ticks.iter().filter(|t| (-90.0..=90.0).contains(*t)) {
        let y = py(*t);
        if (0.0..=H).contains(&y) {
            svg.line(0.0, y, W, y, "grid");
            svg.text(4.0, y - 3.0, "start", "small", &degrees(*t, 'N', 'S'));
        }
    }
    // Round longitudes: ticks over the unwrapped span, wrapped back for placing and naming.
    let (lon_ticks, _, _) = ticks(x0 + lon0, x1 + lon0, 5);
    for t in &lon_ticks {
        let lon = (t + 540.0).rem_euclid(360.0) - 180.0;
        let x = px(lon);
        if (0.0..=W).contains(&x) {
            svg.line(x, 0.0, x, H, "grid");
            svg.text(x + 3.0, H - 4.0, "start", "small", &degrees(lon, 'E', 'W'));
        }
    }
    for p in points {
        svg.circle(px(p.x), py(p.y), 2.4, &segment_colour(p.segment), "point");
    }
    for (ring, segment) in rings {
        let pts: Vec<(f64, f64)> = ring.iter().map(|&(lat, lon)| (px(lon), py(lat))).collect();
        svg.polyline(&pts, &segment_colour(*segment));
    }
    for (c, tip) in centres {
        svg.group(tip);
        svg.circle(
            px(c.x),
            py(c.y),
            7.0,
            &segment_colour(c.segment),
            "centroid",
        );
        svg.text(
            px(c.x),
            py(c.y) - 11.0,
            "middle",
            "centroid",
            &c.segment.to_string(),
        );
        svg.end_group();
    }
    svg.finish()
}

/// "51.5°N", "0.1°W".
fn degrees(v: f64, positive: char, negative: char) -> String {
    let v = if v.abs() < 1e-9 { 0.0 } else { v };
    format!(
        "{}°{}",
        num(v.abs()),
        if v < 0.0 { negative } else { positive }
    )
}

/// One metric over k: a line through the values, the chosen k marked. `values` must hold at
/// least one finite value.
pub fn k_line(
    ks: &[usize],
    values: &[Option<f64>],
    chosen: usize,
    title: &str,
    colour: &str,
) -> String {
    const W: f64 = 360.0;
    const H: f64 = 220.0;
    const L: f64 = 56.0;
    const T: f64 = 26.0;
    const B: f64 = 34.0;
    let known: Vec<(usize, f64)> = ks
        .iter()
        .zip(values)
        .filter_map(|(&k, v)| v.filter(|v| v.is_finite()).map(|v| (k, v)))
        .collect();
    let lo = known.iter().map(|p| p.1).fold(f64::MAX, f64::min);
    let hi = known.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let (yt, y0, y1) = ticks(lo, hi, 4);
    let (k0, k1) = (
        ks.first().copied().unwrap_or(0) as f64,
        ks.last().copied().unwrap_or(1) as f64,
    );
    let x = Scale::new(k0, k1, L + 10.0, W - 14.0);
    let y = Scale::new(y0, y1, H - B, T);
    let mut svg = Svg::new(W, H, title);
    svg.text(L, 16.0, "start", "title", title);
    for t in &yt {
        svg.line(L, y.at(*t), W - 6.0, y.at(*t), "grid");
        svg.text(L - 6.0, y.at(*t) + 4.0, "end", "small", &num(*t));
    }
    let every = ks.len().div_ceil(12).max(1);
    for (i, k) in ks.iter().enumerate() {
        if i % every == 0 || *k == chosen {
            svg.text(
                x.at(*k as f64),
                H - B + 16.0,
                "middle",
                "small",
                &k.to_string(),
            );
        }
    }
    svg.text((L + W) / 2.0, H - 4.0, "middle", "small", "k (segments)");
    svg.line(L, H - B, W - 6.0, H - B, "axis");
    svg.line(
        x.at(chosen as f64),
        T - 4.0,
        x.at(chosen as f64),
        H - B,
        "mark",
    );
    let line: Vec<(f64, f64)> = known
        .iter()
        .map(|&(k, v)| (x.at(k as f64), y.at(v)))
        .collect();
    svg.polyline(&line, colour);
    for &(k, v) in &known {
        svg.group(&format!("k = {k}: {}", num(v)));
        let class = if k == chosen { "chosen" } else { "" };
        let r = if k == chosen { 5.5 } else { 3.5 };
        svg.circle(x.at(k as f64), y.at(v), r, colour, class);
        svg.end_group();
    }
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(s: &str, tag: &str) -> usize {
        s.matches(&format!("<{tag} ")).count()
    }

    #[test]
    fn bars_draw_one_rect_per_bar_and_the_marks() {
        let rows = vec![
            BarRow {
                label: "Loyal".into(),
                bars: vec![Bar {
                    value: 0.4,
                    colour: "#000".into(),
                    text: "40%".into(),
                    tip: "t".into(),
                }],
            },
            BarRow {
                label: "New".into(),
                bars: vec![Bar {
                    value: 0.0,
                    colour: "#000".into(),
                    text: "0%".into(),
                    tip: "t".into(),
                }],
            },
        ];
        let s = hbars(
            &rows,
            0.4,
            &|v| format!("{v}"),
            &[(0.25, "shifted".into())],
            "x",
        );
        assert_eq!(count(&s, "rect"), 2, "{s}");
        assert!(s.contains("shifted") && s.contains("class=\"band\""), "{s}");
    }

    #[test]
    fn a_scatter_draws_every_point_and_centroid() {
        let pts: Vec<Dot> = (0..50)
            .map(|i| Dot {
                x: i as f64,
                y: (i * i) as f64,
                segment: i % 3,
            })
            .collect();
        let c: Vec<(Dot, String)> = (0..3)
            .map(|s| {
                (
                    Dot {
                        x: 1.0,
                        y: 2.0,
                        segment: s,
                    },
                    format!("segment {s}"),
                )
            })
            .collect();
        let s = scatter(&pts, &c, "PC1", "PC2", "x");
        assert_eq!(count(&s, "circle"), 53);
        // One point alone still lands inside the frame.
        let one = scatter(&pts[..1], &[], "a", "b", "x");
        assert!(!one.contains("NaN") && !one.contains("inf"), "{one}");
    }

    #[test]
    fn k_lines_skip_missing_values_and_mark_the_choice() {
        let s = k_line(
            &[2, 3, 4],
            &[None, Some(0.4), Some(0.5)],
            3,
            "Silhouette",
            "#4e79a7",
        );
        assert_eq!(count(&s, "circle"), 2);
        assert_eq!(s.matches("class=\"chosen\"").count(), 1);
        assert!(s.contains("class=\"mark\""));
        assert!(!s.contains("NaN"), "{s}");
    }
}
