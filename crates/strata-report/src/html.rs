//! The page around the charts: escaping, the document shell with its style sheet and content
//! security policy, sections, fact lists and tables.

use std::fmt::Write;

use crate::Fact;

/// `s` with `&`, `<`, `>`, `"` and `'` escaped, safe in text and in quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// No script, no fetch of any kind: the page draws from its own markup and style alone. The
/// browser enforces this, and reports anything that tries otherwise as a console error.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 0; color: #222; background: #fafafa; }
header { background: #1f2d3d; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 0; color: #c9d3dd; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 32px 40px; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 16px 20px; margin: 18px 0; }
h2 { font-size: 18px; margin: 0 0 6px; }
p.how { color: #555; margin: 0 0 12px; max-width: 70em; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px 18px; margin: 0; }
dl.facts div { border-left: 3px solid #4e79a7; padding-left: 8px; }
dl.facts dt { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #666; }
dl.facts dd { margin: 0; font-size: 17px; font-weight: 600; }
dl.facts dd small { display: block; font-size: 12px; font-weight: 400; color: #666; overflow-wrap: anywhere; }
ul.notes { margin: 12px 0 0; padding-left: 20px; color: #7a4b00; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #666; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
figure.chart { margin: 12px 0 4px; overflow-x: auto; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: #555; margin-top: 4px; }
ul.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(330px, 1fr)); gap: 8px 20px; }
p.absent { color: #666; font-style: italic; }
svg text { font-family: inherit; font-size: 12px; fill: #333; }
svg text.small { font-size: 11px; fill: #555; }
svg text.title { font-size: 13px; font-weight: 600; fill: #222; }
svg text.cell { font-size: 11px; }
svg text.centroid { font-size: 12px; font-weight: 700; fill: #111; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg line.axis { stroke: #999; stroke-width: 1; }
svg line.grid { stroke: #e6e6e6; stroke-width: 1; }
svg line.mark { stroke: #555; stroke-width: 1.5; stroke-dasharray: 4 3; }
svg line.band { stroke: #c0392b; stroke-width: 1; stroke-dasharray: 3 3; }
svg rect.frame { fill: none; stroke: #ccc; }
svg rect.track { fill: #f1f1f1; }
svg polyline.series { stroke-width: 2; }
svg circle.point { fill-opacity: .55; }
svg circle.centroid { stroke: #111; stroke-width: 2; }
svg circle.chosen { stroke: #111; stroke-width: 2; }
footer { color: #777; font-size: 12px; text-align: center; padding: 0 0 24px; }
"#;

/// A report page being assembled.
pub struct Page {
    body: String,
}

impl Page {
    pub fn new() -> Self {
        Page {
            body: String::new(),
        }
    }

    /// Opens a section with a heading and a line on how to read it.
    pub fn section(&mut self, id: &str, title: &str, how: &str) {
        let _ = write!(
            self.body,
            r#"<section id="{}"><h2>{}</h2>"#,
            esc(id),
            esc(title)
        );
        if !how.is_empty() {
            let _ = write!(self.body, r#"<p class="how">{}</p>"#, esc(how));
        }
    }

    pub fn end_section(&mut self) {
        self.body.push_str("</section>");
    }

    /// A chart: its SVG and a caption.
    pub fn figure(&mut self, id: &str, svg: &str, caption: &str) {
        let _ = write!(
            self.body,
            r#"<figure class="chart" id="{}">{svg}<figcaption>{}</figcaption></figure>"#,
            esc(id),
            esc(caption)
        );
    }

    /// Raw markup the caller built (escaped already).
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
    }

    /// A paragraph saying why a chart is not there.
    pub fn absent(&mut self, why: &str) {
        let _ = write!(self.body, r#"<p class="absent">{}</p>"#, esc(why));
    }

    pub fn facts(&mut self, facts: &[Fact]) {
        self.body.push_str(r#"<dl class="facts">"#);
        for f in facts {
            let _ = write!(
                self.body,
                "<div><dt>{}</dt><dd>{}",
                esc(&f.label),
                esc(&f.value)
            );
            if let Some(h) = &f.hint {
                let _ = write!(self.body, "<small>{}</small>", esc(h));
            }
            self.body.push_str("</dd></div>");
        }
        self.body.push_str("</dl>");
    }

    pub fn notes(&mut self, notes: &[String]) {
        if notes.is_empty() {
            return;
        }
        self.body.push_str(r#"<ul class="notes">"#);
        for n in notes {
            let _ = write!(self.body, "<li>{}</li>", esc(n));
        }
        self.body.push_str("</ul>");
    }

    /// A legend of segment colours.
    pub fn legend(&mut self, entries: &[(String, String)]) {
        self.body.push_str(r#"<ul class="legend">"#);
        for (colour, label) in entries {
            let _ = write!(
                self.body,
                r#"<li><span class="swatch" style="background:{colour}"></span>{}</li>"#,
                esc(label)
            );
        }
        self.body.push_str("</ul>");
    }

    /// The whole document.
    pub fn finish(self, title: &str, subtitle: &str, generator: &str) -> String {
        format!(
            r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="generator" content="{gen}">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>{title}</h1><p>{subtitle}</p></header>
<main>
{body}
</main>
<footer>Made by {gen}. This page is self-contained: it loads nothing and runs no script.</footer>
</body>
</html>
"#,
            gen = esc(generator),
            title = esc(title),
            subtitle = esc(subtitle),
            body = self.body
        )
    }
}

/// An HTML table: header cells (a leading `#` marks a numeric, right-aligned column) and rows
/// of already-escaped cell markup.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let numeric: Vec<bool> = head.iter().map(|h| h.starts_with('#')).collect();
    let mut out = String::from("<table><thead><tr>");
    for h in head {
        match h.strip_prefix('#') {
            Some(h) => {
                let _ = write!(out, r#"<th class="n">{}</th>"#, esc(h));
            }
            None => {
                let _ = write!(out, "<th>{}</th>", esc(h));
            }
        }
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if numeric.get(i).copied().unwrap_or(false) {
                let _ = write!(out, r#"<td class="n">{cell}</td>"#);
            } else {
                let _ = write!(out, "<td>{cell}</td>");
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href='x'>"R&D"</a>"#),
            "&lt;a href=&#39;x&#39;&gt;&quot;R&amp;D&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn tables_right_align_numeric_columns() {
        let t = table(&["segment", "#size"], &[vec!["a".into(), "12".into()]]);
        assert!(t.contains(r#"<th class="n">size</th>"#), "{t}");
        assert!(t.contains(r#"<td>a</td><td class="n">12</td>"#), "{t}");
    }
}
