//! `report.html` in a real browser: a fit with `--k auto` and a comparison write their reports,
//! headless Chromium opens each over the DevTools protocol, and the test checks that the page
//! logged nothing (no console message, no exception, no blocked load: the page runs no script
//! and its content security policy forbids any fetch), fetched no resource, and drew every
//! chart it should (an SVG with a size and painted marks). A full-page screenshot of each is
//! kept in `target/test-artifacts/`.
//!
//! Needs Chromium (`scripts/test.sh` installs Debian's `chromium` and sets
//! STRATA_REQUIRE_BROWSER, so a missing browser fails there). Elsewhere, without a browser, the
//! test says it skipped; `STRATA_CHROMIUM` names another binary.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::types::Bounds;
use headless_chrome::{Browser, LaunchOptions};

use crate::util::*;

fn chromium() -> Option<PathBuf> {
    let named = std::env::var_os("STRATA_CHROMIUM").map(PathBuf::from);
    let found = named.or_else(|| {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .flat_map(|name| {
                std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                    .map(move |dir| dir.join(name))
                    .collect::<Vec<_>>()
            })
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => Some(p),
        None if std::env::var_os("STRATA_REQUIRE_BROWSER").is_some() => {
            panic!(
                "STRATA_REQUIRE_BROWSER is set but no Chromium was found (scripts/test.sh installs it)"
            )
        }
        None => {
            eprintln!("SKIPPED: no Chromium found (set STRATA_CHROMIUM or install chromium)");
            None
        }
    }
}

/// What the browser made of a page.
#[derive(Debug)]
struct Rendered {
    /// Console messages, log entries and exceptions, as "source level: text".
    messages: Vec<String>,
    /// Resources the page fetched (it should fetch none).
    resources: Vec<String>,
    /// Per `figure.chart`: id, SVG width and height in CSS pixels, marks drawn with a size.
    charts: Vec<(String, f64, f64, u64)>,
}

const CHARTS_JS: &str = r#"JSON.stringify([...document.querySelectorAll('figure.chart')].map(f => {
  const s = f.querySelector('svg');
  if (!s) return [f.id, 0, 0, 0];
  const r = s.getBoundingClientRect();
  const painted = [...s.querySelectorAll('rect, circle, polyline, line')].filter(m => {
    const b = m.getBoundingClientRect();
    return b.width > 0 || b.height > 0;
  }).length;
  return [f.id, r.width, r.height, painted];
}))"#;

/// Opens `page` in headless Chromium, collects what it logged and drew, and saves a
/// full-page screenshot to `screenshot`.
fn render(browser_path: &Path, page: &Path, screenshot: &Path) -> Rendered {
    let options = LaunchOptions::default_builder()
        .path(Some(browser_path.to_owned()))
        // CI runs as root, where Chromium's sandbox cannot start.
        .sandbox(false)
        .window_size(Some((1280, 900)))
        .args(vec![
            std::ffi::OsStr::new("--disable-background-networking"),
            std::ffi::OsStr::new("--disable-component-update"),
            std::ffi::OsStr::new("--no-first-run"),
        ])
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let browser = Browser::new(options).expect("Chromium starts");
    let tab = browser.new_tab().unwrap();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let sink = messages.clone();
    tab.enable_log().unwrap();
    tab.enable_runtime().unwrap();
    tab.add_event_listener(Arc::new(move |e: &Event| {
        let m = match e {
            Event::LogEntryAdded(e) => {
                let entry = &e.params.entry;
                format!("log {:?}: {}", entry.level, entry.text)
            }
            Event::RuntimeConsoleAPICalled(e) => format!("console {:?}", e.params.Type),
            Event::RuntimeExceptionThrown(e) => {
                format!("exception: {}", e.params.exception_details.text)
            }
            _ => return,
        };
        sink.lock().unwrap().push(m);
    }))
    .unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    tab.navigate_to(&url).unwrap();
    tab.wait_until_navigated().unwrap();

    let eval = |js: &str| -> serde_json::Value {
        let v = tab.evaluate(js, false).unwrap().value.expect("a value");
        serde_json::from_str(v.as_str().expect("a JSON string")).unwrap()
    };
    let resources: Vec<String> = serde_json::from_value(eval(
        "JSON.stringify(performance.getEntriesByType('resource').map(r => r.name))",
    ))
    .unwrap();
    let charts = eval(CHARTS_JS)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap().to_owned(),
                c[1].as_f64().unwrap(),
                c[2].as_f64().unwrap(),
                c[3].as_u64().unwrap(),
            )
        })
        .collect();

    let height = eval("JSON.stringify(document.documentElement.scrollHeight)")
        .as_f64()
        .unwrap();
    tab.set_bounds(Bounds::Normal {
        left: Some(0),
        top: Some(0),
        width: Some(1280.0),
        height: Some(height + 100.0),
    })
    .unwrap();
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    std::fs::write(screenshot, png).unwrap();
    // Events travel on their own thread; give any last one time to land.
    std::thread::sleep(Duration::from_millis(300));
    let messages = messages.lock().unwrap().clone();
    Rendered {
        messages,
        resources,
        charts,
    }
}

fn artifacts() -> PathBuf {
    repo().join("target/test-artifacts")
}

/// Asserts a clean page with exactly `expected` charts, each drawn.
fn check(r: &Rendered, expected: &[&str]) {
    assert!(r.messages.is_empty(), "the page logged: {:#?}", r.messages);
    assert!(
        r.resources.is_empty(),
        "the page fetched: {:?}",
        r.resources
    );
    let ids: Vec<&str> = r.charts.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(ids, expected);
    for (id, w, h, painted) in &r.charts {
        assert!(*w > 50.0 && *h > 50.0, "{id} is {w} × {h}");
        assert!(*painted > 0, "{id} painted nothing");
    }
}

#[test]
fn fit_and_compare_reports_render_in_chromium() {
    let Some(chrome) = chromium() else { return };
    let input = shared("mall_customers/Mall_Customers.csv");
    let features = [
        "-s",
        "features",
        "--id-column",
        "CustomerID",
        "--map",
        "features=Annual Income (k$),Spending Score (1-100)",
    ];
    let mut auto = features.to_vec();
    auto.extend(["--k", "auto"]);
    let (_a, run_a, _) = fit_ok(&input, &auto);
    let mut six = features.to_vec();
    six.extend(["--k", "6"]);
    let (_b, run_b, _) = fit_ok(&input, &six);

    let shot = artifacts().join("report-fit.png");
    let fit = render(&chrome, &run_a.join("report.html"), &shot);
    check(
        &fit,
        &[
            "chart-sizes",
            "chart-attractiveness",
            "chart-profile",
            "chart-map",
            "chart-k-0",
            "chart-k-1",
            "chart-k-2",
            "chart-k-3",
        ],
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
    eprintln!("screenshot: {}", shot.display());

    let cmp_dir = tempfile::tempdir().unwrap();
    let cmp = cmp_dir.path().join("cmp");
    let o = run(&[
        "compare",
        run_a.to_str().unwrap(),
        run_b.to_str().unwrap(),
        "--out",
        cmp.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let shot = artifacts().join("report-compare.png");
    let compare = render(&chrome, &cmp.join("report.html"), &shot);
    check(
        &compare,
        &["chart-migration", "chart-psi", "chart-attractiveness"],
    );
    eprintln!("screenshot: {}", shot.display());
}

/// The harness itself can fail: a page that tries a fetch and has an empty chart is caught.
#[test]
fn a_broken_page_is_caught() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        r#"<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
</head><body>
<img src="https://example.invalid/tracker.png">
<figure class="chart" id="chart-empty"><svg viewBox="0 0 10 10" width="0" height="0"></svg></figure>
<figure class="chart" id="chart-ok"><svg viewBox="0 0 100 100" width="100" height="100"><rect width="50" height="50" fill="red"/></svg></figure>
</body></html>"#,
    )
    .unwrap();
    let r = render(&chrome, &page, &dir.path().join("broken.png"));
    assert!(
        r.messages
            .iter()
            .any(|m| m.contains("Error") && m.contains("Content Security Policy")),
        "{:?}",
        r.messages
    );
    assert_eq!(r.charts.len(), 2);
    assert_eq!(r.charts[0].1, 0.0, "the empty chart has no size");
    assert_eq!(r.charts[0].3, 0, "and paints nothing");
    assert!(r.charts[1].3 > 0, "{:?}", r.charts);
}

/// A fit with a value model and outcomes with a treatment: the predicted-value chart and the
/// outcome tables render.
#[test]
fn value_and_outcome_sections_render_in_chromium() {
    let Some(chrome) = chromium() else { return };
    let log = shared(super::behavioral::DEC2010);
    let ids = log_customer_ids(&log);
    let dir = tempfile::tempdir().unwrap();
    let outcomes = dir.path().join("outcomes.csv");
    let mut table = String::from("CustomerID,responded,arm\n");
    for (i, id) in ids.iter().enumerate() {
        let arm = if i % 2 == 0 { "treated" } else { "control" };
        table.push_str(&format!("{id},{},{arm}\n", u8::from(i % 7 < 2 + i % 2)));
    }
    std::fs::write(&outcomes, table).unwrap();
    let (_d, out, _) = fit_log(
        &log,
        &[
            "--value-model",
            "bgnbd",
            "--horizon",
            "90",
            "--k",
            "4",
            "--outcome",
            "responded",
            "--treatment",
            "arm",
            "--outcomes",
            outcomes.to_str().unwrap(),
        ],
    );
    let shot = artifacts().join("report-value.png");
    let page = render(&chrome, &out.join("report.html"), &shot);
    check(
        &page,
        &[
            "chart-sizes",
            "chart-value",
            "chart-attractiveness",
            "chart-profile",
            "chart-map",
        ],
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Predicted value and churn risk"));
    assert!(html.contains("<h3>responded (rate)</h3>"));
    assert!(html.contains("Campaign (arm) over the whole base"));
    eprintln!("screenshot: {}", shot.display());
}

/// A geographic fit's report: the map of customers and centres draws in Chromium with
/// nothing fetched (no tiles), beside the other charts.
#[test]
fn the_geographic_map_renders_in_chromium() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("geo.csv");
    synth_to(&file, "geographic", 5_000, 3);
    let (_d, out, _) = fit_ok(&file, &super::geographic::CITIES_FIT);
    let shot = artifacts().join("report-geo.png");
    let page = render(&chrome, &out.join("report.html"), &shot);
    check(
        &page,
        &[
            "chart-sizes",
            "chart-attractiveness",
            "chart-profile",
            "chart-map",
            "chart-geo",
        ],
    );
    let geo = page.charts.iter().find(|c| c.0 == "chart-geo").unwrap();
    assert!(
        geo.3 > 1000,
        "customers, rings and centres painted: {geo:?}"
    );
    eprintln!("screenshot: {}", shot.display());
}
