//! `aiperf-rs plot` end to end: real profiles against the real mock server, then
//! the real binary draws them. Every PNG is decoded and checked (size, not
//! blank); the dashboard is opened in headless Chromium (`.ci/run` installs it),
//! which must render every chart with no error.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(240);

/// The single-run plots a streaming open-loop run with errors, warmup and time
/// slices has.
const SINGLE_RUN: [&str; 11] = [
    "ttft_over_time",
    "itl_over_time",
    "latency_over_time",
    "request_timeline",
    "dispersed_throughput_over_time",
    "timeslices_ttft",
    "timeslices_itl",
    "timeslices_latency",
    "timeslices_throughput",
    "schedule_lag_over_time",
    "errors_over_time",
];

/// The multi-run plots.
const MULTI_RUN: [&str; 4] = [
    "pareto_tps_per_gpu_vs_tps_per_user",
    "pareto_tps_per_gpu_vs_latency",
    "ttft_vs_throughput",
    "latency_vs_throughput",
];

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Decodes a PNG and checks its size and that it is not blank: the luminance
/// varies, and it has more than a handful of colours (text, axes, data).
fn check_png(path: &Path) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 700), "{}", path.display());
    let channels = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let lum: Vec<f64> = px
        .chunks_exact(channels)
        .map(|p| (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0)
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let var = lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    let mut colours: Vec<[u8; 3]> = px
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        var > 50.0,
        "{}: blank? luminance variance {var}",
        path.display()
    );
    assert!(
        colours.len() > 20,
        "{}: only {} colours",
        path.display(),
        colours.len()
    );
}

/// A streaming run at a request rate (schedule lag), with warmup, HTTP errors
/// and time slices.
async fn single_run(dir: &Path) {
    let server = mock(aiperf_mock_server::MockConfig {
        error_rate: 10.0,
        random_seed: 5,
        ttft_spread_ms: 10.0,
        ..aiperf_mock_server::MockConfig::default().with_latency(5.0, 1.0)
    })
    .await;
    let args = profile_args(
        &server.url(),
        dir,
        &[
            "--streaming",
            "--request-rate",
            "100",
            "--request-count",
            "150",
            "--warmup-request-count",
            "5",
            "--slice-duration",
            "0.4",
            "--isl",
            "16",
            "--osl",
            "12",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
}

fn plot_cmd(args: &[String]) -> std::process::Output {
    Command::new(BIN)
        .arg("plot")
        .args(args)
        .output()
        .expect("aiperf-rs runs")
}

fn pngs_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .map(|n| n.trim_end_matches(".png").to_string())
        .collect();
    v.sort();
    v
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v = s(v);
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_run_plots_in_both_themes_and_bad_input() {
    let _serial = SERIAL.lock().await;
    let tmp = temp_dir("plot-single");
    let run_dir = tmp.path().join("run");
    single_run(&run_dir).await;

    // Default output: <run>/plots.
    let out = plot_cmd(&[run_dir.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let plots = run_dir.join("plots");
    assert_eq!(pngs_in(&plots), sorted(&SINGLE_RUN), "{}", text(&out));
    for k in SINGLE_RUN {
        check_png(&plots.join(format!("{k}.png")));
    }
    let summary = std::fs::read_to_string(plots.join("summary.txt")).unwrap();
    assert!(summary.contains("1 run(s), single-run plots"), "{summary}");
    assert!(summary.contains("ttft_over_time.png"), "{summary}");
    let log = std::fs::read_to_string(plots.join("aiperf_plot.log")).unwrap();
    assert!(log.contains("records"), "{log}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Plots: 11 PNG files of 1 run(s)"));

    // Dark theme into --output: a dark background.
    let dark = tmp.path().join("dark");
    let out = plot_cmd(&s(&[
        &run_dir.display().to_string(),
        "--theme",
        "dark",
        "--output",
        &dark.display().to_string(),
    ]));
    assert!(out.status.success(), "{}", text(&out));
    check_png(&dark.join("ttft_over_time.png"));
    let img = std::fs::read(dark.join("ttft_over_time.png")).unwrap();
    let mut r = png::Decoder::new(&img[..]).read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    r.next_frame(&mut buf).unwrap();
    assert!(
        buf[0] < 64 && buf[1] < 64 && buf[2] < 64,
        "dark corner pixel: {:?}",
        &buf[..3]
    );

    // A directory without runs: a clear error that says what a run directory holds.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = plot_cmd(&[empty.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no run directory found under"), "{err}");
    assert!(
        err.contains("profile_export.jsonl") && err.contains("profile_export_aiperf.json"),
        "{err}"
    );
    // A path that does not exist.
    let out = plot_cmd(&[tmp.path().join("nope").display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file or directory"));
}

/// Copies the files of a run directory (not sub-directories).
fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Opens `page` in headless Chromium: the DOM after the scripts ran, and a screenshot.
fn chromium(page: &Path, shot: &Path) -> String {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("headless Chromium is needed for the dashboard test: apt-get install -y chromium (.ci/run does)");
    let profile = tempfile::tempdir().unwrap();
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
    ];
    let url = format!("file://{}", page.display());
    let dom = Command::new(bin)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=5000", "--dump-dom", &url])
        .output()
        .unwrap();
    assert!(dom.status.success(), "chromium --dump-dom: {}", text(&dom));
    let shot_out = Command::new(bin)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args([
            "--window-size=1400,1800",
            "--virtual-time-budget=5000",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        shot_out.status.success(),
        "chromium --screenshot: {}",
        text(&shot_out)
    );
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

/// The `data-*` attribute `name` of the status element in a dumped DOM.
fn status_attr(dom: &str, name: &str) -> Option<String> {
    let at = dom.find("id=\"status\"")?;
    let tag_end = at + dom[at..].find('>')?;
    let tag = &dom[dom[..at].rfind('<')?..tag_end];
    let key = format!("{name}=\"");
    let v = tag.find(&key)? + key.len();
    Some(tag[v..v + tag[v..].find('"')?].to_string())
}

fn check_dashboard(html: &Path, min_charts: usize) -> PathBuf {
    let text = std::fs::read_to_string(html).unwrap();
    // Self-contained: the chart library is inside, nothing is fetched.
    assert!(text.contains("Chart.js v4"), "Chart.js embedded");
    assert!(!text.contains("<script src"), "no external script");
    assert!(
        !text.contains("<link") && !text.contains("<img"),
        "nothing loaded from elsewhere"
    );
    let shot = html.with_extension("png");
    let dom = chromium(html, &shot);
    assert_eq!(
        status_attr(&dom, "data-rendered").as_deref(),
        Some("yes"),
        "charts not rendered"
    );
    assert_eq!(status_attr(&dom, "data-errors"), None, "page errors: {dom}");
    let charts: usize = status_attr(&dom, "data-charts").unwrap().parse().unwrap();
    assert!(
        charts >= min_charts,
        "{charts} charts, expected at least {min_charts}"
    );
    assert!(
        dom.contains("<div id=\"errors\"></div>"),
        "errors shown in the page"
    );
    assert!(dom.contains("Run configuration"), "run configuration shown");
    shot
}

fn check_screenshot(shot: &Path) {
    let file = std::fs::File::open(shot).unwrap();
    let mut r = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1400, 1800));
    let ch = info.color_type.samples();
    let mut colours: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(ch)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 50,
        "screenshot blank? {} colours",
        colours.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_auto_plot_multi_run_and_dashboard_in_a_browser() {
    let _serial = SERIAL.lock().await;
    let tmp = temp_dir("plot-sweep");
    let base = tmp.path().join("sweep");
    let server = mock(aiperf_mock_server::MockConfig::default().with_latency(5.0, 1.0)).await;
    let args = profile_args(
        &server.url(),
        &base,
        &[
            "--streaming",
            "--concurrency",
            "1,2,4",
            "--request-count",
            "24",
            "--isl",
            "16",
            "--osl",
            "8",
            "--num-gpus",
            "2",
            "--auto-plot",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("--auto-plot has no effect"));
    // --auto-plot after a sweep: the multi-run plots of its runs.
    let plots = base.join("plots");
    assert_eq!(pngs_in(&plots), sorted(&MULTI_RUN), "{}", text(&out));
    for k in MULTI_RUN {
        check_png(&plots.join(format!("{k}.png")));
    }
    let summary = std::fs::read_to_string(plots.join("summary.txt")).unwrap();
    assert!(summary.contains("3 run(s), multi-run plots"), "{summary}");
    assert!(summary.contains("GPUs: 2"), "{summary}");

    // A cancelled run beside them is skipped with a warning; the others are drawn.
    copy_run(&base.join("concurrency_1"), &base.join("cancelled"));
    std::fs::write(
        base.join("cancelled/.aiperf_results_ready.json"),
        r#"{"ready":true,"was_cancelled":true,"partial":true}"#,
    )
    .unwrap();
    let out = plot_cmd(&s(&[&base.display().to_string(), "--dashboard"]));
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cancelled: skipped: the run was cancelled"),
        "{err}"
    );
    // 4 comparison plots + explore + per run at least the 5 single-run plots of a closed-loop run.
    let shot = check_dashboard(&plots.join("dashboard.html"), 5 + 3 * 5);
    check_screenshot(&shot);

    // --dashboard --port serves the same page.
    let mut child = std::process::Command::new(BIN)
        .args([
            "plot",
            &base.display().to_string(),
            "--dashboard",
            "--output",
        ])
        .arg(tmp.path().join("served"))
        .args(["--port", "0", "--host", "127.0.0.1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() == 0 {
            break;
        }
        if let Some(u) = line.trim().strip_prefix("Dashboard served at ") {
            url = u.split_whitespace().next().unwrap().to_string();
            break;
        }
    }
    assert!(url.starts_with("http://127.0.0.1:"), "no serving line");
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut conn, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut conn, &mut body).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        body.starts_with("HTTP/1.1 200 OK"),
        "{}",
        &body[..body.len().min(200)]
    );
    assert!(body.contains("aiperf-rs dashboard") && body.contains("Chart.js v4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_run_dashboard_in_a_browser_and_auto_plot() {
    let _serial = SERIAL.lock().await;
    let tmp = temp_dir("plot-dash");
    let run_dir = tmp.path().join("run");
    let server = mock(aiperf_mock_server::MockConfig::default().with_latency(5.0, 1.0)).await;
    let args = profile_args(
        &server.url(),
        &run_dir,
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "40",
            "--isl",
            "16",
            "--osl",
            "8",
            "--auto-plot",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    // --auto-plot after one run: its single-run plots.
    let plots = run_dir.join("plots");
    let got = pngs_in(&plots);
    for k in [
        "ttft_over_time",
        "itl_over_time",
        "latency_over_time",
        "request_timeline",
        "dispersed_throughput_over_time",
    ] {
        assert!(got.contains(&k.to_string()), "{k} missing: {got:?}");
    }
    let out = plot_cmd(&s(&[
        &run_dir.display().to_string(),
        "--dashboard",
        "--theme",
        "dark",
    ]));
    assert!(out.status.success(), "{}", text(&out));
    let shot = check_dashboard(&plots.join("dashboard.html"), 5);
    check_screenshot(&shot);
}
