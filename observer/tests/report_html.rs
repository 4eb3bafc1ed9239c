//! The HTML report opens in headless Chromium: the screenshot is not blank and the charts
//! are there.

use satlab_diagnosis::report::html::CHART_TITLES;
use satlab_record::EventKind;
use satlab_testkit::synth::{Schedule, SeriesPlan, series_run, write_run};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn require(what: &str) {
    if std::env::var("SATLAB_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("{what} is required (SATLAB_REQUIRE_ALL=1)");
    }
    println!("skipped: needs {what}");
}

fn screenshot(browser: &Path, html: &Path, png: &Path) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,2400")
        .arg(format!("file://{}", html.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = SeriesPlan::new(vec![
        (4, 2000.0, 2.0),
        (8, 3800.0, 2.0),
        (16, 5000.0, 2.0),
        (32, 5200.0, 2.0),
        (64, 5100.0, 2.0),
    ]);
    plan.little = true;
    plan.schedule = Schedule::EveryRequests(1000);
    plan.event = Some(EventKind::GcPause);
    write_run(dir.path(), &series_run(&plan)).unwrap();
    let d = observer::analysis::diagnose_and_write(dir.path()).unwrap();
    let html_path = dir.path().join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();

    // Self-contained: five inline SVG charts, no scripts, nothing fetched.
    assert_eq!(html.matches("<svg").count(), CHART_TITLES.len());
    for t in CHART_TITLES {
        assert!(html.contains(t), "missing chart {t}");
    }
    assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("<link"));
    assert!(html.contains(">plateau<"), "the plateau is marked");
    assert!(
        d.spikes.detected && html.contains("spike at "),
        "spikes are marked"
    );

    let Some(browser) = chromium() else {
        return require("chromium (apt-get install chromium)");
    };
    let png_path = dir.path().join("shot.png");
    screenshot(&browser, &html_path, &png_path);
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).expect("a screenshot was written"),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(ch).collect();
    assert!(px.len() > 100_000, "{}x{}", info.width, info.height);
    let lum: Vec<f64> = px
        .iter()
        .map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64)
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let var = lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    assert!(
        var > 100.0,
        "screenshot looks blank (luminance variance {var:.1})"
    );
    // The charts' colours are on screen: the blue throughput line and orange server bars.
    let blue = px
        .iter()
        .filter(|p| p[2] > 200 && p[0] < 80 && p[1] > 80 && p[1] < 140)
        .count();
    let orange = px
        .iter()
        .filter(|p| p[0] > 200 && p[1] > 60 && p[1] < 120 && p[2] < 40)
        .count();
    assert!(
        blue > 500 && orange > 500,
        "blue {blue}, orange {orange} pixels"
    );
}
