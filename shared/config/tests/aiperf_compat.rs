//! An AIPerf 0.13 user's command lines keep working: every `aiperf profile` option
//! name parses as AIPerf parses it, real AIPerf command lines parse, a
//! repeated flag keeps its last value while list options accumulate, the options
//! without effect are warned about, and `--help` shows the defaults `resolve` applies.

use aiperf_config::compat::{INERT_OPTIONS, InertValue};
use aiperf_config::{Context, ProfileArgs, ProfileConfig, resolve, warnings};

/// One line of the fixture: an option name, how it takes a value, a sample value.
struct Flag {
    name: String,
    kind: String,
    sample: Option<String>,
}

fn fixture() -> Vec<Flag> {
    let text = include_str!("aiperf-0.13-profile-flags.txt");
    let flags: Vec<Flag> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let name = cols.next().unwrap().to_string();
            let kind = cols.next().unwrap_or_else(|| panic!("{l}")).to_string();
            assert!(
                ["flag", "value", "list", "optional-list"].contains(&kind.as_str()),
                "{l}"
            );
            let sample = cols.next().map(str::to_string);
            assert_eq!(sample.is_some(), kind != "flag", "{l}");
            Flag { name, kind, sample }
        })
        .collect();
    assert_eq!(
        flags.len(),
        321,
        "every distinct name of AIPerf 0.13's --help"
    );
    flags
}

fn parse(args: &[&str]) -> Result<ProfileArgs, String> {
    ProfileArgs::try_parse_args(args).map_err(|e| e.to_string())
}

fn ctx() -> Context {
    Context {
        cpus: 2,
        stdout_is_tty: false,
        cli_command: "aiperf-rs profile".into(),
    }
}

fn resolved(args: &[&str]) -> ProfileConfig {
    let a = parse(args).unwrap();
    resolve(&a, &ctx()).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Splits a shell command line into words (quotes, backslash-newline continuations).
fn shell_words(line: &str) -> Vec<String> {
    let line = line.replace("\\\n", " ");
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unbalanced quote in {line}");
    if in_word {
        words.push(cur);
    }
    words
}

/// The arguments after `aiperf profile`.
fn profile_args(line: &str) -> Vec<String> {
    let words = shell_words(line);
    assert_eq!(&words[..2], ["aiperf", "profile"], "{line}");
    words[2..].to_vec()
}

// ------------------------------------------------------------------ (a) command lines

/// Complete command lines as AIPerf 0.13's documentation gives them, verbatim.
const COMMAND_LINES: &[&str] = &[
    // a synthetic baseline
    "aiperf profile -m Qwen/Qwen3-0.6B --url http://host:8000 --endpoint-type chat --streaming \\
  --concurrency 100 --request-count 1000 --isl 1000 --osl 500",
    // a Mooncake trace replayed five times faster
    "aiperf profile -m M --url U --endpoint-type chat --streaming \\
  --input-file mooncake_trace_5min.jsonl --custom-dataset-type mooncake_trace \\
  --fixed-schedule --synthesis-speedup-ratio 5",
    // plots after the run
    "aiperf profile --auto-plot",
    // AIPerf's own `profile --help` examples (its CLI options page)
    "aiperf profile --model Qwen/Qwen3-0.6B --url localhost:8000 --endpoint-type chat --streaming",
    "aiperf profile --model your_model --url localhost:8000 --concurrency 10 --request-count 100",
    "aiperf profile --model your_model --url localhost:8000 --request-rate 5.0 --benchmark-duration 60",
    "aiperf profile --model your_model --url localhost:8000 --benchmark-duration 300 --benchmark-grace-period 30",
    "aiperf profile --model your_model --url localhost:8000 --input-file trace.jsonl --fixed-schedule",
    "aiperf profile --model your_model --url localhost:8000 --public-dataset sharegpt --num-sessions 50",
    "aiperf profile --model your_model --url localhost:8000 --goodput \"request_latency:250 inter_token_latency:10\"",
];

/// Option fragments as AIPerf 0.13's documentation quotes them (`... --flag value`),
/// verbatim; each is parsed after `-m m`.
const FRAGMENTS: &[&str] = &[
    // parser conventions and example command lines
    "--goodput \"a:1 b:2\"",
    "--server-metrics url1 url2",
    "--endpoint-type chat",
    "--custom-dataset-type mooncake_trace",
    "--concurrency 10,50,100",
    "--goodput \"time_to_first_token:<ms> inter_token_latency:<ms>\"",
    "--slice-duration 10",
    "--request-cancellation-rate 20 --request-cancellation-delay 0.5",
    "--streaming --user-centric-rate 1.0 --num-users 15 --session-turns-mean 20 \\
  --shared-system-prompt-length 1000 --user-context-prompt-length 20000 --isl 26 --osl 100 \\
  --num-dataset-entries 1000 --benchmark-duration 100",
    "--arrival-pattern gamma",
    // datasets
    "--prompt-corpus coding",
    "--public-dataset sharegpt",
    "--synthesis-speedup-ratio 5",
    "--system-prompt TEXT",
    // exports
    "--export-level summary",
    "--profile-export-prefix foo",
    "--server-metrics-formats json csv jsonl parquet",
    "--export-level raw",
    // metrics
    "--goodput \"tag:value tag:value\"",
    "--extra-inputs ignore_eos:true",
    // timing
    "--concurrency 4",
    // AIPerf's option descriptions
    "--extra-inputs temperature:0.7 top_p:0.9",
    "--header X-Custom-Header:value",
    "--audio-depths 16 24",
    "--server-metrics node1:8081 node2:9090/metrics",
    "--gpu-telemetry dashboard node1:9400",
    "--gpu-telemetry pynvml",
    "--stream metrics timing",
    "--search-recipe max-throughput-ttft-sla --ttft-sla-ms 200",
    "--search-sla 'time_to_first_token:p95:lt:200' --search-sla 'request_error_rate:avg:lt:1'",
    "--session-header X-Session-ID",
    "--image-source ./source_images",
    "--mlflow-tag team:perf",
];

#[test]
fn reference_command_lines_parse() {
    for line in COMMAND_LINES {
        let args = profile_args(line);
        if let Err(e) = ProfileArgs::try_parse_args(&args) {
            panic!("{line}\n{e}");
        }
    }
    for fragment in FRAGMENTS {
        let mut args = vec!["-m".to_string(), "m".to_string()];
        args.extend(shell_words(fragment));
        if let Err(e) = ProfileArgs::try_parse_args(&args) {
            panic!("{fragment}\n{e}");
        }
    }
}

#[test]
fn the_seed_baseline_resolves_as_written() {
    let c = resolved(&[
        "-m",
        "Qwen/Qwen3-0.6B",
        "--url",
        "http://host:8000",
        "--endpoint-type",
        "chat",
        "--streaming",
        "--concurrency",
        "100",
        "--request-count",
        "1000",
        "--isl",
        "1000",
        "--osl",
        "500",
    ]);
    assert_eq!(c.url, "http://host:8000");
    assert_eq!(c.concurrency, Some(100));
    assert_eq!(c.request_count, Some(1000));
    assert_eq!(c.isl.mean, 1000.0);
    assert_eq!(c.osl.map(|o| o.mean), Some(500.0));
    assert!(c.streaming);
}

// ------------------------------------------------------------------ (b) every name

#[test]
fn every_aiperf_option_name_is_accepted_as_aiperf_parses_it() {
    for f in fixture() {
        let mut with_value = vec!["-m", "m", f.name.as_str()];
        if let Some(s) = &f.sample {
            with_value.push(s);
        }
        if let Err(e) = parse(&with_value) {
            panic!("{} {:?} is rejected: {e}", f.name, f.sample);
        }
        match f.kind.as_str() {
            // A flag takes no value: the next option is parsed as an option.
            "flag" => {
                let a = parse(&[f.name.as_str(), "-m", "x"])
                    .unwrap_or_else(|e| panic!("{}: {e}", f.name));
                assert_eq!(a.models, Some(vec!["x".to_string()]), "{}", f.name);
            }
            // Zero or more values: alone it is accepted too.
            "optional-list" => {
                parse(&["-m", "m", f.name.as_str()]).unwrap_or_else(|e| panic!("{}: {e}", f.name));
            }
            // A value option without its value is an error.
            _ => assert!(
                parse(&["-m", "m", f.name.as_str()]).is_err(),
                "{} accepted without a value",
                f.name
            ),
        }
    }
}

#[test]
fn every_inert_spelling_is_an_aiperf_name() {
    let names: Vec<String> = fixture().into_iter().map(|f| f.name).collect();
    for o in INERT_OPTIONS {
        for n in o.names() {
            assert!(
                names.contains(&format!("--{n}")),
                "--{n} is not an AIPerf 0.13 option"
            );
        }
        if let Some(s) = o.short {
            assert!(names.contains(&format!("-{s}")), "-{s}");
        }
    }
}

#[test]
fn list_options_take_space_separated_values() {
    let a = parse(&[
        "-m",
        "m",
        "--extra-inputs",
        "temperature:0.7",
        "top_p:0.9",
        "--audio-depths",
        "16",
        "24",
    ])
    .unwrap();
    assert_eq!(
        a.extra_inputs,
        Some(vec!["temperature:0.7".into(), "top_p:0.9".into()])
    );
    assert_eq!(
        a.inert.get("audio-depths"),
        Some(&InertValue::Values(vec!["16".into(), "24".into()]))
    );
}

#[test]
fn enum_values_accept_dash_or_underscore() {
    for (flag, a, b) in [
        ("--custom-dataset-type", "mooncake_trace", "mooncake-trace"),
        (
            "--arrival-pattern",
            "concurrency_burst",
            "concurrency-burst",
        ),
        (
            "--connection-reuse-strategy",
            "sticky-user-sessions",
            "sticky_user_sessions",
        ),
    ] {
        let x = parse(&["-m", "m", flag, a]).unwrap();
        let y = parse(&["-m", "m", flag, b]).unwrap();
        assert_eq!(x, y, "{flag}");
    }
}

// ------------------------------------------------------------------ (c) repeats

#[test]
fn a_repeated_flag_keeps_its_last_value() {
    let a = parse(&[
        "-m",
        "m",
        "--concurrency",
        "5",
        "--concurrency",
        "7",
        "--isl",
        "100",
        "--isl",
        "200",
        "--endpoint-type",
        "completions",
        "--endpoint-type",
        "chat",
        "--streaming",
        "--streaming",
        "--wandb-project",
        "first",
        "--wandb-project",
        "second",
        "--no-allow-dataset-wrap",
        "--allow-dataset-wrap",
        "--auto-plot",
        "--no-auto-plot",
    ])
    .unwrap();
    assert_eq!(a.concurrency, Some(vec![7]));
    assert_eq!(a.prompt_input_tokens_mean, Some(200.0));
    assert_eq!(a.endpoint_type, Some(aiperf_config::EndpointType::Chat));
    assert_eq!(a.streaming, Some(true));
    assert_eq!(
        a.inert.get("wandb-project"),
        Some(&InertValue::Values(vec!["second".into()]))
    );
    assert_eq!(
        a.inert.get("allow-dataset-wrap"),
        Some(&InertValue::Flag(true))
    );
    let c = resolve(&a, &ctx()).unwrap();
    assert!(!c.auto_plot);
    // A comma list given last is still a sweep.
    let a = parse(&["-m", "m", "--concurrency", "5", "--concurrency", "1,2"]).unwrap();
    assert_eq!(a.concurrency, Some(vec![1, 2]));
}

#[test]
fn list_options_accumulate() {
    let a = parse(&[
        "-m",
        "m",
        "-H",
        "A:1",
        "--header",
        "B:2",
        "C:3",
        "--extra-inputs",
        "a:1",
        "--extra-inputs",
        "b:2",
        "--goodput",
        "time_to_first_token:100",
        "--goodput",
        "inter_token_latency:5 request_latency:300",
        "--url",
        "http://a:1",
        "--url",
        "http://b:2",
        "--server-metrics",
        "n1:8081",
        "--server-metrics",
        "n2:9090/metrics",
        "http://n3:1/m",
        "--wandb-tag",
        "x",
        "--wandb-tag",
        "y",
    ])
    .unwrap();
    assert_eq!(
        a.header,
        Some(vec!["A:1".into(), "B:2".into(), "C:3".into()])
    );
    assert_eq!(a.extra_inputs, Some(vec!["a:1".into(), "b:2".into()]));
    assert_eq!(
        a.inert.get("wandb-tag"),
        Some(&InertValue::Values(vec!["x".into(), "y".into()]))
    );
    let c = resolve(&a, &ctx()).unwrap();
    assert_eq!(
        c.headers,
        vec![
            ("A".to_string(), "1".to_string()),
            ("B".into(), "2".into()),
            ("C".into(), "3".into())
        ]
    );
    assert_eq!(c.extra_inputs_json, r#"{"a":1,"b":2}"#);
    assert_eq!(
        c.goodput.as_ref().map(|g| g.to_string()).as_deref(),
        Some("time_to_first_token:100 inter_token_latency:5 request_latency:300")
    );
    // Several URLs: the first one is used, with a warning.
    assert_eq!(c.url, "http://a:1");
    assert!(
        warnings(&a)
            .iter()
            .any(|w| w.contains("--url was given 2 times"))
    );
    assert_eq!(
        c.server_metrics.urls,
        vec![
            "http://n1:8081/metrics",
            "http://n2:9090/metrics",
            "http://n3:1/m"
        ]
    );
}

// ------------------------------------------------------------------ (d) warnings

#[test]
fn every_option_without_effect_is_warned_about_by_name() {
    for f in fixture() {
        let bare = f.name.trim_start_matches('-');
        let by_short = INERT_OPTIONS
            .iter()
            .find(|o| f.name.len() == 2 && o.short.is_some_and(|c| bare == c.to_string()));
        let Some(o) = aiperf_config::compat::find(bare).or(by_short) else {
            continue;
        };
        let mut args = vec!["-m", "m", f.name.as_str()];
        if let Some(s) = &f.sample {
            args.push(s);
        }
        let a = parse(&args).unwrap();
        let w = warnings(&a);
        assert_eq!(w.len(), 1, "{}: {w:?}", f.name);
        let shown = if o.negation == Some(f.name.trim_start_matches('-')) {
            f.name.clone()
        } else {
            format!("--{}", o.name)
        };
        assert!(
            w[0].starts_with(&format!("{shown} has no effect in aiperf-rs")),
            "{}: {w:?}",
            f.name
        );
        assert!(w[0].contains(o.reason), "{w:?}");
    }
}

#[test]
fn implemented_options_give_no_warning() {
    let a = parse(&[
        "-m",
        "m",
        "--streaming",
        "--concurrency",
        "4",
        "--connection-reuse-strategy",
        "never",
        "--system-prompt",
        "Be brief.",
        "-vv",
    ])
    .unwrap();
    assert_eq!(warnings(&a), Vec::<String>::new());
    let c = resolve(&a, &ctx()).unwrap();
    assert_eq!(c.log_level, "trace");
    assert_eq!(
        c.connection_reuse,
        aiperf_config::ConnectionReuseStrategy::Never
    );
    assert_eq!(c.dataset.system_prompt.as_deref(), Some("Be brief."));
}

#[test]
fn not_yet_implemented_options_warn_and_keep_their_values() {
    let a = parse(&[
        "-m",
        "m",
        "--server-metrics",
        "node1:8081",
        "--server-metrics-formats",
        "json",
        "parquet",
        "--gpu-telemetry",
        "dashboard",
        "node1:9400",
        "--auto-plot",
        "--connection-reuse-strategy",
        "sticky-user-sessions",
        "--url",
        "https://example.com",
    ])
    .unwrap();
    let w = warnings(&a);
    // Server metrics are implemented (docs/server-metrics.md): no warning.
    assert!(!w.iter().any(|l| l.contains("--server-metrics")), "{w:?}");
    for flag in [
        "--gpu-telemetry ",
        "--connection-reuse-strategy sticky-user-sessions ",
    ] {
        assert!(w.iter().any(|l| l.starts_with(flag)), "{flag}: {w:?}");
    }
    // --auto-plot is implemented (docs/plots.md): no warning.
    assert!(!w.iter().any(|l| l.contains("--auto-plot")), "{w:?}");
    let c = resolve(&a, &ctx()).unwrap();
    assert!(c.server_metrics.enabled);
    assert_eq!(c.server_metrics.urls, vec!["http://node1:8081/metrics"]);
    assert_eq!(
        c.server_metrics.formats,
        vec![
            aiperf_config::ServerMetricsFormat::Json,
            aiperf_config::ServerMetricsFormat::Parquet
        ]
    );
    assert_eq!(c.gpu_telemetry.sources, vec!["dashboard", "node1:9400"]);
    assert!(c.auto_plot);

    let c = resolved(&["-m", "m", "--no-server-metrics", "--no-gpu-telemetry"]);
    assert!(!c.server_metrics.enabled && !c.gpu_telemetry.enabled);
    // Defaults: enabled, as in AIPerf, and left out of the serialized config.
    let c = resolved(&["-m", "m"]);
    assert!(c.server_metrics.enabled && c.gpu_telemetry.enabled && !c.auto_plot);
    let v = serde_json::to_value(&c).unwrap();
    for key in [
        "server_metrics",
        "gpu_telemetry",
        "auto_plot",
        "connection_reuse",
    ] {
        assert!(v.get(key).is_none(), "{key} in {v}");
    }
}

#[test]
fn warnings_never_show_option_values() {
    let a = parse(&[
        "-m",
        "m",
        "--mlflow-tracking-uri",
        "https://user:hunter2@mlflow.example",
        "--otel-resource-attributes",
        "token=hunter2",
        "--url",
        "http://u:hunter2@a:1",
        "--url",
        "http://b:2",
    ])
    .unwrap();
    let w = warnings(&a);
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w.iter().all(|l| !l.contains("hunter2")), "{w:?}");
}

// ------------------------------------------------------------------ --help

fn long_help() -> String {
    ProfileArgs::command().render_long_help().to_string()
}

#[test]
fn help_hides_inert_options_and_points_to_the_doc() {
    let help = long_help();
    for o in INERT_OPTIONS {
        assert!(
            !help.contains(&format!("--{} ", o.name)) && !help.contains(&format!("--{}\n", o.name)),
            "--{} is listed in --help",
            o.name
        );
    }
    assert!(help.contains("docs/cli-compatibility.md"));
    assert!(help.contains("--system-prompt <TEXT>"));
    assert!(help.contains("--connection-reuse-strategy"));
}

/// The text of `[default: …]` in the help paragraph of the option `--long`.
fn shown_default(help: &str, long: &str) -> Option<String> {
    let start = help
        .find(&format!("--{long} "))
        .or_else(|| help.find(&format!("--{long}\n")))?;
    let rest = &help[start..];
    // The option's paragraph ends where the next option starts.
    let end = rest[2..].find("\n  -").map(|i| i + 2).unwrap_or(rest.len());
    let para = &rest[..end];
    let d = para.find("[default: ")?;
    let v = &para[d + "[default: ".len()..];
    Some(v[..v.find(']')?].to_string())
}

#[test]
fn help_shows_the_defaults_resolve_applies() {
    let help = long_help();
    let cmd = ProfileArgs::command();
    // Configurations that make every defaulted option apply.
    let base = resolved(&["-m", "m"]);
    let timed = resolved(&["-m", "m", "--benchmark-duration", "1"]);
    let with_osl = resolved(&["-m", "m", "--osl", "10"]);
    let with_cancel = resolved(&["-m", "m", "--request-cancellation-rate", "10"]);
    let tcp = resolved(&["-m", "m", "--zmq-host", "127.0.0.1"]);
    let n = |x: f64| format!("{x}");
    for (id, shown) in aiperf_config::defaults::help_defaults() {
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id() == id)
            .unwrap_or_else(|| panic!("{id} is not an option"));
        let long = arg.get_long().unwrap();
        assert_eq!(
            shown_default(&help, long).as_deref(),
            Some(shown.as_str()),
            "--{long} in --help"
        );
        let d = &base.dataset;
        let applied = match id {
            "urls" => {
                assert_eq!(base.url, aiperf_config::normalize_url(&shown).unwrap());
                continue;
            }
            "endpoint_type" => enum_name(&base.endpoint_type),
            "request_timeout_seconds" => n(base.request_timeout_s),
            "request_idle_timeout_seconds" => n(base.request_idle_timeout_s),
            "prompt_input_tokens_mean" => n(base.isl.mean),
            "prompt_input_tokens_stddev" => n(base.isl.stddev),
            "prompt_input_tokens_block_size" => base.isl_block_size.to_string(),
            "prompt_output_tokens_stddev" => n(with_osl.osl.unwrap().stddev),
            "num_dataset_entries" => base.num_dataset_entries.to_string(),
            "request_count" => base.request_count.unwrap().to_string(),
            "benchmark_grace_period" => n(timed.benchmark_grace_period_s),
            "shutdown_grace_period" => n(base.shutdown_grace_s),
            "warmup_request_count" => base.warmup_request_count.to_string(),
            "arrival_smoothness" => n(base.arrival_smoothness),
            "profile_export_prefix" => base.profile_export_prefix.clone(),
            "export_level" => enum_name(&base.export_level),
            "zmq_base_port" => match &tcp.zmq {
                aiperf_config::ZmqTransport::Tcp { base_port, .. } => base_port.to_string(),
                other => panic!("{other:?}"),
            },
            "log_level" => base.log_level.clone(),
            "conversation_turn_mean" => n(d.turns.mean),
            "conversation_turn_stddev" => n(d.turns.stddev),
            "conversation_turn_delay_mean" => n(d.turn_delay_ms.mean),
            "conversation_turn_delay_stddev" => n(d.turn_delay_ms.stddev),
            "conversation_turn_delay_ratio" => n(d.turn_delay_ratio),
            "prompt_prefix_pool_size" => d.prefix_prompt_pool_size.to_string(),
            "prompt_prefix_length" => d.prefix_prompt_length.to_string(),
            "synthesis_speedup_ratio" => n(d.synthesis.speedup_ratio),
            "synthesis_prefix_len_multiplier" => n(d.synthesis.prefix_len_multiplier),
            "synthesis_prefix_root_multiplier" => d.synthesis.prefix_root_multiplier.to_string(),
            "synthesis_prompt_len_multiplier" => n(d.synthesis.prompt_len_multiplier),
            "synthesis_output_len_multiplier" => n(d.synthesis.output_len_multiplier),
            "request_cancellation_delay" => n(with_cancel.load.request_cancellation_delay_s),
            "num_gpus" => base.load.gpus().to_string(),
            "connection_reuse_strategy" => enum_name(&base.connection_reuse),
            "server_metrics_interval" => n(base.server_metrics.interval_s),
            "server_metrics_flush" => n(base.server_metrics.flush_s),
            "server_metrics_formats" => base
                .server_metrics
                .formats
                .iter()
                .map(enum_name)
                .collect::<Vec<_>>()
                .join(" "),
            other => panic!("no resolve check for the default of {other}: add one"),
        };
        assert_eq!(
            applied, shown,
            "--{long}: resolve applies {applied}, --help shows {shown}"
        );
    }
    assert_eq!(shown_default(&help, "request-count").as_deref(), Some("10"));
}

/// The command-line spelling of an enum value, for comparing with `--help`.
fn enum_name<T: clap::ValueEnum>(v: &T) -> String {
    v.to_possible_value().unwrap().get_name().to_string()
}

// ------------------------------------------------------------------ docs

#[test]
fn the_compatibility_doc_lists_every_inert_option() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli-compatibility.md"),
    )
    .expect("docs/cli-compatibility.md");
    for o in INERT_OPTIONS {
        for n in o.names() {
            assert!(doc.contains(&format!("`--{n}`")), "--{n} is not in the doc");
        }
    }
}
