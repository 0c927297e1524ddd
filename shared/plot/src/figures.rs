//! The plots: single-run time series and multi-run comparisons, built as
//! [`Figure`]s from loaded runs with the pure functions of [`crate::data`].
//! Statistics use every record; only what is drawn is thinned out.

use crate::data::{self, Better, Generation};
use crate::figure::{Axis, Color, Figure, Series, Style};
use crate::load::{Request, RunData};
use serde::Serialize;

/// Most markers drawn per scatter series (a sample, evenly spaced).
pub const MAX_POINTS: usize = 4000;
/// Most points of a rolling-percentile line.
pub const MAX_LINE_POINTS: usize = 1000;
/// Most requests drawn in the request timeline.
pub const MAX_TIMELINE: usize = 1500;
/// Bins of the drawn dispersed throughput (the step function is averaged exactly per bin).
pub const THROUGHPUT_BINS: usize = 600;

/// A per-request latency metric plotted over time.
struct LatencyPlot {
    key: &'static str,
    title: &'static str,
    label: &'static str,
    value: fn(&Request) -> f64,
}

const LATENCY_PLOTS: [LatencyPlot; 3] = [
    LatencyPlot {
        key: "ttft_over_time",
        title: "Time to first token per request",
        label: "TTFT (ms)",
        value: |r| r.ttft_ms,
    },
    LatencyPlot {
        key: "itl_over_time",
        title: "Inter-token latency per request",
        label: "ITL (ms)",
        value: |r| r.itl_ms,
    },
    LatencyPlot {
        key: "latency_over_time",
        title: "Request latency per request",
        label: "Request latency (ms)",
        value: |r| r.latency_ms,
    },
];

fn secs(ns: u64, t0: u64) -> f64 {
    (ns as f64 - t0 as f64) / 1e9
}

fn count(n: usize, what: &str) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out} {what}")
}

/// Every single-run figure that has data for `run`.
pub fn single_run(run: &RunData) -> Vec<Figure> {
    let t0 = run.t0_ns();
    let profiling: Vec<&Request> = run.requests.iter().filter(|r| !r.warmup).collect();
    let warmup = run.requests.len() - profiling.len();
    let mut ok: Vec<&Request> = profiling.iter().copied().filter(|r| !r.error).collect();
    ok.sort_by_key(|r| r.end_ns);
    let errors = profiling.len() - ok.len();
    let left_out = match (warmup, errors) {
        (0, 0) => String::new(),
        (w, 0) => format!("; {} left out", count(w, "warmup requests")),
        (0, e) => format!("; {} left out", count(e, "failed requests")),
        (w, e) => format!(
            "; {} and {} left out",
            count(w, "warmup"),
            count(e, "failed requests")
        ),
    };
    let mut figs = Vec::new();
    for p in &LATENCY_PLOTS {
        let pts: Vec<(f64, f64)> = ok
            .iter()
            .map(|r| (secs(r.end_ns, t0), (p.value)(r)))
            .filter(|(_, y)| y.is_finite())
            .collect();
        if pts.is_empty() {
            continue;
        }
        figs.push(over_time(p, &pts, &left_out));
    }
    figs.push(timeline(&profiling, t0));
    figs.extend(dispersed(&ok, t0));
    figs.extend(timeslices(run, t0));
    figs.extend(schedule_lag(&profiling, t0));
    figs.extend(errors_over_time(&profiling, t0));
    let t_end = profiling.iter().map(|r| r.end_ns).max().unwrap_or(t0);
    figs.extend(server_metrics(run, t0, t_end));
    figs.retain(|f| !f.is_empty());
    figs
}

/// Scatter of every request (a sample when many) under rolling p50/p95/p99.
fn over_time(p: &LatencyPlot, pts: &[(f64, f64)], left_out: &str) -> Figure {
    let idx = data::sample_indices(pts.len(), MAX_POINTS);
    let shown = if idx.len() < pts.len() {
        format!(", {} drawn", count(idx.len(), "evenly spaced"))
    } else {
        String::new()
    };
    let window = data::rolling_window(pts.len());
    let rolling = data::rolling_percentiles(pts, window, MAX_LINE_POINTS);
    let line = |name: &str, color: usize, f: fn(&data::RollingPoint) -> f64| {
        Series::new(
            name,
            Style::Line,
            Color::Palette(color),
            rolling.iter().map(|r| [r.x, f(r)]).collect(),
        )
    };
    Figure {
        key: p.key.into(),
        title: p.title.into(),
        subtitle: format!(
            "{}{shown}{left_out}; rolling percentiles over {}",
            count(pts.len(), "requests"),
            count(window, "requests")
        ),
        x: Axis::new("Request end (s since the first request)"),
        y: Axis::new(p.label),
        series: vec![
            Series::new(
                "request",
                Style::Points,
                Color::Muted,
                idx.iter().map(|&i| [pts[i].0, pts[i].1]).collect(),
            )
            .faded(),
            line("p50", 0, |r| r.p50),
            line("p95", 1, |r| r.p95),
            line("p99", 2, |r| r.p99),
        ],
    }
}

/// One bar per request from start to end (y = request number by start), the
/// time to first token in its own colour; failed requests in red.
fn timeline(profiling: &[&Request], t0: u64) -> Figure {
    let mut reqs: Vec<&Request> = profiling.to_vec();
    reqs.sort_by_key(|r| r.start_ns);
    let idx = data::sample_indices(reqs.len(), MAX_TIMELINE);
    let mut ttft = Vec::new();
    let mut generation = Vec::new();
    let mut err = Vec::new();
    for &i in &idx {
        let r = reqs[i];
        let (s, e, y) = (secs(r.start_ns, t0), secs(r.end_ns, t0), i as f64);
        if r.error {
            err.extend([[s, y], [e, y]]);
        } else if r.ttft_ms.is_finite() {
            let f = s + r.ttft_ms / 1e3;
            ttft.extend([[s, y], [f, y]]);
            generation.extend([[f, y], [e, y]]);
        } else {
            generation.extend([[s, y], [e, y]]);
        }
    }
    let shown = if idx.len() < reqs.len() {
        format!(" ({} drawn)", count(idx.len(), "evenly spaced"))
    } else {
        String::new()
    };
    Figure {
        key: "request_timeline".into(),
        title: "Request timeline".into(),
        subtitle: format!(
            "{}{shown}: start to end, the time to first token in its own colour",
            count(reqs.len(), "requests")
        ),
        x: Axis::new("Time (s since the first request)"),
        y: Axis::new("Request (by start)"),
        series: vec![
            Series::new(
                "time to first token",
                Style::Segments,
                Color::Palette(1),
                ttft,
            ),
            Series::new("generation", Style::Segments, Color::Palette(0), generation),
            Series::new("failed", Style::Segments, Color::Error, err),
        ],
    }
}

/// Dispersed output-token throughput over time.
fn dispersed(ok: &[&Request], t0: u64) -> Option<Figure> {
    let gens: Vec<Generation> = ok
        .iter()
        .filter(|r| r.ttft_ms.is_finite() && r.output_tokens.is_finite())
        .map(|r| Generation {
            start_s: secs(r.start_ns, t0) + r.ttft_ms / 1e3,
            end_s: secs(r.end_ns, t0),
            tokens: r.output_tokens,
        })
        .collect();
    let steps = data::dispersed_throughput(&gens);
    if steps.len() < 2 {
        return None;
    }
    let (pts, how) = if steps.len() > THROUGHPUT_BINS * 2 {
        let mut b = data::step_average(&steps, THROUGHPUT_BINS);
        if let Some(last) = steps.last() {
            b.push((last.0, 0.0));
        }
        (
            b,
            format!("averaged over {THROUGHPUT_BINS} equal time bins"),
        )
    } else {
        (steps, "exact, event by event".to_string())
    };
    Some(Figure {
        key: "dispersed_throughput_over_time".into(),
        title: "Output token throughput over time (dispersed)".into(),
        subtitle: format!(
            "each request's tokens spread evenly from its first token to its end ({}); {how}",
            count(gens.len(), "requests")
        ),
        x: Axis::new("Time (s since the first request)"),
        y: Axis::new("Output tokens/s"),
        series: vec![Series::new(
            "output tokens/s",
            Style::Area,
            Color::Palette(0),
            pts.into_iter().map(|(x, y)| [x, y]).collect(),
        )],
    })
}

/// Time-slice bars (`--slice-duration`): average per slice.
fn timeslices(run: &RunData, t0: u64) -> Vec<Figure> {
    const SLICE_PLOTS: [(&str, &str, &str, &str); 4] = [
        (
            "timeslices_ttft",
            "time_to_first_token",
            "Time to first token per time slice",
            "TTFT avg (ms)",
        ),
        (
            "timeslices_itl",
            "inter_token_latency",
            "Inter-token latency per time slice",
            "ITL avg (ms)",
        ),
        (
            "timeslices_latency",
            "request_latency",
            "Request latency per time slice",
            "Request latency avg (ms)",
        ),
        (
            "timeslices_throughput",
            "output_token_throughput",
            "Output token throughput per time slice",
            "Output tokens/s",
        ),
    ];
    let mut figs = Vec::new();
    for (key, tag, title, label) in SLICE_PLOTS {
        let mut complete = Vec::new();
        let mut partial = Vec::new();
        let mut width = 0.0f64;
        let mut partial_width = 0.0f64;
        for s in &run.timeslices {
            let (Some(a), Some(b), Some(v)) = (
                s["start_ns"].as_u64(),
                s["end_ns"].as_u64(),
                s[tag]["avg"].as_f64(),
            ) else {
                continue;
            };
            let (x0, x1) = (secs(a, t0), secs(b, t0));
            if s["is_complete"] == false {
                partial_width = partial_width.max(x1 - x0);
                partial.push([x0, v]);
            } else {
                width = width.max(x1 - x0);
                complete.push([x0, v]);
            }
        }
        if complete.is_empty() && partial.is_empty() {
            continue;
        }
        // Bars leave a tenth of a full slice as a gap.
        let gap = width.max(partial_width) * 0.1;
        let mut series = vec![Series {
            bar_width: width - gap,
            ..Series::new("slice", Style::Bars, Color::Palette(0), complete)
        }];
        if !partial.is_empty() {
            series.push(Series {
                bar_width: (partial_width - gap).max(partial_width * 0.5),
                ..Series::new(
                    "last slice (incomplete)",
                    Style::Bars,
                    Color::Palette(0),
                    partial,
                )
                .faded()
            });
        }
        figs.push(Figure {
            key: key.into(),
            title: title.into(),
            subtitle: format!(
                "{} slices of {} s (the last one clipped at the last request's end)",
                run.timeslices.len(),
                width.max(partial_width)
            ),
            x: Axis::new("Slice start (s since the first request)"),
            y: Axis::new(label),
            series,
        });
    }
    figs
}

/// Schedule lag (start − scheduled time) over time, open-loop runs only.
fn schedule_lag(profiling: &[&Request], t0: u64) -> Option<Figure> {
    let mut pts: Vec<(f64, f64)> = profiling
        .iter()
        .filter(|r| r.schedule_lag_ms.is_finite())
        .map(|r| (secs(r.start_ns, t0), r.schedule_lag_ms))
        .collect();
    if pts.is_empty() {
        return None;
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let idx = data::sample_indices(pts.len(), MAX_POINTS);
    let window = data::rolling_window(pts.len());
    let rolling = data::rolling_percentiles(&pts, window, MAX_LINE_POINTS);
    Some(Figure {
        key: "schedule_lag_over_time".into(),
        title: "Schedule lag per request".into(),
        subtitle: format!(
            "request start minus its scheduled time, {}; rolling p50/p99 over {}",
            count(pts.len(), "requests"),
            count(window, "requests")
        ),
        x: Axis::new("Request start (s since the first request)"),
        y: Axis::new("Lag (ms)"),
        series: vec![
            Series::new(
                "request",
                Style::Points,
                Color::Muted,
                idx.iter().map(|&i| [pts[i].0, pts[i].1]).collect(),
            )
            .faded(),
            Series::new(
                "p50",
                Style::Line,
                Color::Palette(0),
                rolling.iter().map(|r| [r.x, r.p50]).collect(),
            ),
            Series::new(
                "p99",
                Style::Line,
                Color::Palette(2),
                rolling.iter().map(|r| [r.x, r.p99]).collect(),
            ),
        ],
    })
}

/// Failed requests per time bin (by their end), when some failed.
fn errors_over_time(profiling: &[&Request], t0: u64) -> Option<Figure> {
    let ends: Vec<f64> = profiling
        .iter()
        .filter(|r| r.error)
        .map(|r| secs(r.end_ns, t0))
        .collect();
    if ends.is_empty() {
        return None;
    }
    let span = profiling
        .iter()
        .map(|r| secs(r.end_ns, t0))
        .fold(0.0, f64::max);
    let width = data::nice_bin_width(span, 40);
    let bins = data::counts_per_bin(&ends, 0.0, width);
    Some(Figure {
        key: "errors_over_time".into(),
        title: "Failed requests over time".into(),
        subtitle: format!(
            "{} of {}, counted per {width} s by their end",
            count(ends.len(), "failed"),
            count(profiling.len(), "requests")
        ),
        x: Axis::new("Time (s since the first request)"),
        y: Axis::new(format!("Failed requests per {width} s")),
        series: vec![Series {
            bar_width: width * 0.9,
            ..Series::new(
                "failed",
                Style::Bars,
                Color::Error,
                bins.into_iter().map(|(x, y)| [x, y]).collect(),
            )
        }],
    })
}

/// Server-metric gauges over time: KV-cache usage, running and waiting requests,
/// from the first request's start to the last one's end.
fn server_metrics(run: &RunData, t0: u64, t_end: u64) -> Vec<Figure> {
    // (key, title, y label, whether a series is KV-cache usage).
    let groups = [
        (
            "server_kv_cache_usage",
            "Server KV-cache usage",
            "Usage",
            true,
        ),
        (
            "server_running_waiting",
            "Server running and waiting requests",
            "Requests",
            false,
        ),
    ];
    let is_usage = |n: &str| n.contains("cache_usage") || n.contains("token_usage");
    groups
        .iter()
        .filter_map(|(key, title, label, usage)| {
            let series: Vec<Series> = run
                .server_metrics
                .iter()
                .filter(|s| is_usage(&s.name) == *usage)
                .enumerate()
                .map(|(i, s)| {
                    Series::new(
                        s.name.clone(),
                        Style::Step,
                        Color::Palette(i),
                        s.points
                            .iter()
                            .filter(|(t, _)| (t0..=t_end).contains(t))
                            .map(|&(t, v)| [secs(t, t0), v])
                            .collect(),
                    )
                })
                .collect();
            (!series.is_empty()).then(|| Figure {
                key: key.to_string(),
                title: title.to_string(),
                subtitle: "scraped from the server's Prometheus /metrics during the run (server_metrics_export.jsonl)"
                    .into(),
                x: Axis::new("Time (s since the first request)"),
                y: Axis::new(*label),
                series,
            })
        })
        .collect()
}

/// One axis of a multi-run plot: a summary metric and statistic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricAxis {
    /// Summary metric tag; `output_token_throughput_per_gpu` is derived
    /// (`output_token_throughput` / the run's GPU count).
    pub metric: &'static str,
    /// Axis label.
    pub label: &'static str,
    /// Which way is better.
    pub better: Better,
}

/// A multi-run plot: one point per run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiSpec {
    /// File name stem.
    pub key: &'static str,
    /// Title.
    pub title: &'static str,
    /// X.
    pub x: MetricAxis,
    /// Y.
    pub y: MetricAxis,
    /// Highlight the Pareto frontier (else: join each series' points in load order).
    pub pareto: bool,
}

const PER_GPU: MetricAxis = MetricAxis {
    metric: "output_token_throughput_per_gpu",
    label: "Output tokens/s per GPU",
    better: Better::Higher,
};

/// The multi-run plots (`../shared/reference` server-metrics-and-plots.md §2.2).
pub const MULTI_SPECS: [MultiSpec; 4] = [
    MultiSpec {
        key: "pareto_tps_per_gpu_vs_tps_per_user",
        title: "Throughput per GPU vs per user (Pareto)",
        x: MetricAxis {
            metric: "output_token_throughput_per_user",
            label: "Output tokens/s per user",
            better: Better::Higher,
        },
        y: PER_GPU,
        pareto: true,
    },
    MultiSpec {
        key: "pareto_tps_per_gpu_vs_latency",
        title: "Throughput per GPU vs request latency (Pareto)",
        x: MetricAxis {
            metric: "request_latency",
            label: "Request latency (ms)",
            better: Better::Lower,
        },
        y: PER_GPU,
        pareto: true,
    },
    MultiSpec {
        key: "ttft_vs_throughput",
        title: "Time to first token vs request throughput",
        x: MetricAxis {
            metric: "time_to_first_token",
            label: "TTFT (ms)",
            better: Better::Lower,
        },
        y: MetricAxis {
            metric: "request_throughput",
            label: "Requests/s",
            better: Better::Higher,
        },
        pareto: false,
    },
    MultiSpec {
        key: "latency_vs_throughput",
        title: "Request latency vs output token throughput",
        x: MetricAxis {
            metric: "output_token_throughput",
            label: "Output tokens/s",
            better: Better::Higher,
        },
        y: MetricAxis {
            metric: "request_latency",
            label: "Request latency (ms)",
            better: Better::Lower,
        },
        pareto: false,
    },
];

/// How multi-run series are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// By model; by parent directory when every run has the same model.
    Auto,
    /// By the first model name.
    Model,
    /// By parent directory (the experiment).
    Dir,
}

/// The series name of each run.
pub fn groups(runs: &[RunData], by: GroupBy) -> Vec<String> {
    let models: Vec<String> = runs.iter().map(RunData::model).collect();
    let dirs: Vec<String> = runs
        .iter()
        .map(|r| {
            r.run
                .dir
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into())
        })
        .collect();
    let by = match by {
        GroupBy::Auto if models.iter().all(|m| *m == models[0]) => GroupBy::Dir,
        GroupBy::Auto => GroupBy::Model,
        b => b,
    };
    if by == GroupBy::Dir { dirs } else { models }
}

/// The value of `metric`'s `stat` for a run; per-GPU throughput divides by
/// `gpus`. Single-value metrics (throughputs) only have `avg`, used for any stat.
pub fn run_value(run: &RunData, metric: &str, stat: &str, gpus: f64) -> Option<f64> {
    let get = |tag: &str| run.stat(tag, stat).or_else(|| run.stat(tag, "avg"));
    if metric == PER_GPU.metric {
        get("output_token_throughput").map(|v| v / gpus)
    } else {
        get(metric)
    }
}

/// The GPU count used for per-GPU throughput: `--num-gpus` of the run, else 1.
pub fn gpus_of(run: &RunData) -> f64 {
    run.num_gpus().unwrap_or(1) as f64
}

/// The multi-run figures (statistic `stat` of each metric).
pub fn multi_run(runs: &[RunData], group: &[String], stat: &str) -> Vec<Figure> {
    MULTI_SPECS
        .iter()
        .filter_map(|spec| multi_figure(spec, runs, group, stat))
        .collect()
}

fn multi_figure(
    spec: &MultiSpec,
    runs: &[RunData],
    group: &[String],
    stat: &str,
) -> Option<Figure> {
    let mut names: Vec<&String> = Vec::new();
    for g in group {
        if !names.contains(&g) {
            names.push(g);
        }
    }
    let mut series = Vec::new();
    for (gi, name) in names.iter().enumerate() {
        // (x, y, run index, load value) of this group's runs with both values.
        let mut pts: Vec<(f64, f64, usize, f64)> = runs
            .iter()
            .enumerate()
            .filter(|(i, _)| group[*i] == **name)
            .filter_map(|(i, r)| {
                let g = gpus_of(r);
                let x = run_value(r, spec.x.metric, stat, g)?;
                let y = run_value(r, spec.y.metric, stat, g)?;
                let load = r.load_point().map_or(i as f64, |p| p.1);
                Some((x, y, i, load))
            })
            .collect();
        if pts.is_empty() {
            continue;
        }
        let mk = |name: String, style, pts: &[(f64, f64, usize, f64)]| Series {
            labels: pts.iter().map(|p| runs[p.2].point_label()).collect(),
            runs: pts.iter().map(|p| p.2).collect(),
            ..Series::new(
                name,
                style,
                Color::Palette(gi),
                pts.iter().map(|p| [p.0, p.1]).collect(),
            )
        };
        if spec.pareto {
            let xy: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1)).collect();
            let on = data::pareto_frontier(&xy, spec.x.better);
            let mut front: Vec<_> = pts.iter().zip(&on).filter(|p| *p.1).map(|p| *p.0).collect();
            front.sort_by(|a, b| a.0.total_cmp(&b.0));
            let rest: Vec<_> = pts
                .iter()
                .zip(&on)
                .filter(|p| !*p.1)
                .map(|p| *p.0)
                .collect();
            series.push(mk(
                format!("{name} (Pareto frontier)"),
                Style::LinePoints,
                &front,
            ));
            if !rest.is_empty() {
                series.push(mk(format!("{name} (dominated)"), Style::Points, &rest).faded());
            }
        } else {
            pts.sort_by(|a, b| a.3.total_cmp(&b.3));
            series.push(mk((*name).clone(), Style::LinePoints, &pts));
        }
    }
    if series.is_empty() {
        return None;
    }
    let gpus: Vec<String> = runs.iter().map(|r| format!("{}", gpus_of(r))).collect();
    let per_gpu_note = if spec.y.metric == PER_GPU.metric {
        if runs.iter().all(|r| r.num_gpus().is_none()) {
            "; GPU count unknown (profile with --num-gpus N): 1 GPU assumed".to_string()
        } else {
            let mut g = gpus.clone();
            g.dedup();
            format!("; GPUs: {}", g.join(", "))
        }
    } else {
        String::new()
    };
    let param = runs
        .iter()
        .find_map(|r| r.load_point().map(|p| p.0))
        .unwrap_or_else(|| "run".into());
    Some(Figure {
        key: spec.key.into(),
        title: spec.title.into(),
        subtitle: format!("{stat} of each run, labelled with its {param}{per_gpu_note}"),
        x: Axis::new(format!("{} ({stat})", spec.x.label)),
        y: Axis::new(format!("{} ({stat})", spec.y.label)),
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(1_000_000, "requests"), "1,000,000 requests");
        assert_eq!(count(999, "x"), "999 x");
        assert_eq!(count(1000, "x"), "1,000 x");
    }
}
