//! `dashboard.html`: one self-contained page (Chart.js 4 embedded, the data as
//! JSON, no network access) with every plot of every run, the comparison plots
//! recomputed in the page for the runs and statistic selected, log-scale toggles,
//! hover details and each run's configuration; and a small local HTTP server for
//! `--dashboard --port`.

use crate::figure::Color;
use crate::figures::{self, GroupBy, MULTI_SPECS};
use crate::load::RunData;
use crate::render::{PALETTE, Theme};
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use std::net::TcpListener;

/// The page template: `/*DATA*/` and `/*CHARTJS*/` are replaced.
const TEMPLATE: &str = include_str!("../assets/dashboard.html");
/// Chart.js 4.6.1, MIT (`assets/chart.js-LICENSE.md`).
const CHART_JS: &str = include_str!("../assets/chart.umd.min.js");

/// Statistics offered by the statistic selectors.
pub const STATS: [&str; 5] = ["avg", "p50", "p90", "p95", "p99"];

/// The dashboard's data: runs with their statistics, configuration and
/// single-run figures, the multi-run plot definitions, the theme.
pub fn dashboard_data(runs: &[RunData], group_by: GroupBy, theme: Theme) -> Value {
    let groups = figures::groups(runs, group_by);
    let mut metrics: Vec<String> = vec!["output_token_throughput_per_gpu".into()];
    let runs_json: Vec<Value> = runs
        .iter()
        .zip(&groups)
        .map(|(r, g)| {
            let mut stats = Map::new();
            if let Some(obj) = r.summary.as_object() {
                for (tag, v) in obj {
                    if v.get("unit").is_some() && v.get("avg").is_some_and(Value::is_number) {
                        stats.insert(tag.clone(), v.clone());
                        if !metrics.contains(tag) {
                            metrics.push(tag.clone());
                        }
                    }
                }
            }
            json!({
                "name": r.name,
                "dir": r.run.dir.display().to_string(),
                "group": g,
                "model": r.model(),
                "label": r.point_label(),
                "load": r.load_point().map_or(0.0, |p| p.1),
                "gpus": figures::gpus_of(r),
                "config": r.summary["input_config"],
                "stats": stats,
                "figures": figures::single_run(r),
            })
        })
        .collect();
    metrics.sort();
    let (bg, fg, grid) = theme.base();
    json!({
        "theme": theme.name(),
        "palette": PALETTE,
        "colors": {"bg": bg, "fg": fg, "grid": grid,
                   "muted": theme.color(Color::Muted), "error": theme.color(Color::Error)},
        "stats": STATS,
        "metrics": metrics,
        "multi_specs": MULTI_SPECS,
        "runs": runs_json,
    })
}

/// The whole page.
pub fn render_html(runs: &[RunData], group_by: GroupBy, theme: Theme) -> String {
    let data = dashboard_data(runs, group_by, theme).to_string();
    // Inside <script>: no `</` may close it early (`<\/` is the same JSON string).
    let data = data.replace("</", "<\\/");
    TEMPLATE
        .replacen("/*DATA*/", &data, 1)
        .replacen("/*CHARTJS*/", CHART_JS, 1)
}

/// Serves `html` at every path of `http://host:port/` until the process is
/// stopped (Ctrl-C). Returns only when the port cannot be bound.
pub fn serve(
    html: &str,
    host: &str,
    port: u16,
    on_ready: impl FnOnce(&str),
) -> std::io::Result<()> {
    let listener = TcpListener::bind((host, port))?;
    let addr = listener.local_addr()?;
    on_ready(&format!("http://{addr}/"));
    let body = html.as_bytes();
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        // Read the request head; the answer does not depend on it.
        let mut head = Vec::new();
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let get = head.starts_with(b"GET ") || head.starts_with(b"HEAD ");
        let status = if get {
            "200 OK"
        } else {
            "405 Method Not Allowed"
        };
        let header = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            if get { body.len() } else { 0 }
        );
        let _ = s.write_all(header.as_bytes());
        if head.starts_with(b"GET ") {
            let _ = s.write_all(body);
        }
    }
    Ok(())
}
