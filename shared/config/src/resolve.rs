//! Defaults and validation: [`ProfileArgs`] → [`ProfileConfig`]; [`warnings`] for
//! options that are accepted but have no effect.

use crate::defaults as d;
use crate::*;

/// Facts about the machine and invocation that defaults depend on.
#[derive(Debug, Clone)]
pub struct Context {
    /// Logical CPUs.
    pub cpus: usize,
    /// Whether stdout is a terminal (progress display default).
    pub stdout_is_tty: bool,
    /// The command line as typed.
    pub cli_command: String,
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::new(msg))
}

fn positive(name: &str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(x) if x.is_nan() || x <= 0.0 || !x.is_finite() => {
            err(format!("{name} must be a positive number, got {x}"))
        }
        other => Ok(other),
    }
}

fn non_negative(name: &str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(x) if x.is_nan() || x < 0.0 || !x.is_finite() => {
            err(format!("{name} must be zero or positive, got {x}"))
        }
        other => Ok(other),
    }
}

/// Parses `Name:Value` headers. An error names the header by its position, never
/// by its value (a header may hold a secret).
pub fn parse_headers(items: &[String]) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let which = format!(
            "--header #{} (value not shown: it may hold a secret)",
            i + 1
        );
        if item.trim_start().starts_with('{') {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(item)
                .map_err(|e| ConfigError::new(format!("{which}: invalid JSON object: {e}")))?;
            for (k, v) in map {
                let v = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                out.push((k, v));
            }
            continue;
        }
        let Some((k, v)) = item.split_once(':') else {
            return err(format!(
                "{which}: expected NAME:VALUE, e.g. -H 'X-Team:llm'"
            ));
        };
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return err(format!(
                "{which}: invalid header name (empty or with spaces) before the first ':'"
            ));
        }
        out.push((k.to_string(), v.trim().to_string()));
    }
    Ok(out)
}

/// Parses `key:value` body fields (values that parse as JSON keep their type) or JSON objects.
pub fn parse_extra_inputs(
    items: &[String],
) -> Result<serde_json::Map<String, serde_json::Value>, ConfigError> {
    let mut out = serde_json::Map::new();
    for item in items {
        if item.trim_start().starts_with('{') {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(item)
                .map_err(|e| {
                    ConfigError::new(format!("--extra-inputs {item}: invalid JSON object: {e}"))
                })?;
            out.extend(map);
            continue;
        }
        let Some((k, v)) = item.split_once(':') else {
            return err(format!(
                "--extra-inputs {item}: expected KEY:VALUE, e.g. --extra-inputs ignore_eos:true"
            ));
        };
        let value = serde_json::from_str(v.trim())
            .unwrap_or_else(|_| serde_json::Value::String(v.trim().to_string()));
        out.insert(k.trim().to_string(), value);
    }
    Ok(out)
}

/// Formats a rate like Python's float repr (`10.0`, `2.5`).
fn py_float(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// The default artifact sub-directory name, e.g. `mock-model-openai-chat-concurrency32`.
pub fn artifact_dir_name(
    model: &str,
    endpoint: EndpointType,
    concurrency: Option<usize>,
    rate: Option<f64>,
) -> String {
    let mut stimulus = Vec::new();
    if let Some(c) = concurrency {
        stimulus.push(format!("concurrency{c}"));
    }
    if let Some(r) = rate {
        stimulus.push(format!("request_rate{}", py_float(r)));
    }
    format!(
        "{}-openai-{}-{}",
        model.replace('/', "_"),
        endpoint.artifact_name(),
        stimulus.join("-")
    )
}

fn parse_external(items: &[String]) -> Result<Vec<ExternalService>, ConfigError> {
    const KNOWN: [&str; 6] = [
        "dataset_manager",
        "timing_manager",
        "worker_manager",
        "records_manager",
        "record_processor",
        "worker",
    ];
    items
        .iter()
        .map(|item| {
            let (t, n) = match item.split_once(':') {
                Some((t, n)) => {
                    let n = n.trim().parse::<usize>().map_err(|_| {
                        ConfigError::new(format!(
                            "--external-service {item}: COUNT must be a positive integer"
                        ))
                    })?;
                    (t, n)
                }
                None => (item.as_str(), 1),
            };
            let t = t.trim().replace('-', "_");
            if !KNOWN.contains(&t.as_str()) {
                return err(format!(
                    "--external-service {item}: unknown service type; use one of {}",
                    KNOWN.join(", ")
                ));
            }
            if n == 0 {
                return err(format!(
                    "--external-service {item}: COUNT must be at least 1"
                ));
            }
            Ok(ExternalService {
                service_type: t,
                count: n,
            })
        })
        .collect()
}

/// Applies defaults and validates. Every error names the option and what to do.
pub fn resolve(a: &ProfileArgs, ctx: &Context) -> Result<ProfileConfig, ConfigError> {
    let models: Vec<String> = a
        .models
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if models.is_empty() {
        return err(
            "no model given: pass -m/--model NAME (the name put in each request's `model` field)",
        );
    }
    let url = normalize_url(a.first_url().unwrap_or(d::URL))?;
    let endpoint_type = a.endpoint_type.unwrap_or(d::ENDPOINT_TYPE);
    let endpoint_path = match &a.custom_endpoint {
        Some(p) if p.starts_with('/') => p.clone(),
        Some(p) => format!("/{p}"),
        None => endpoint_type.default_path().to_string(),
    };
    let request_timeout_s = positive("--request-timeout-seconds", a.request_timeout_seconds)?
        .unwrap_or(d::REQUEST_TIMEOUT_S);
    let request_idle_timeout_s = positive(
        "--request-idle-timeout-seconds",
        a.request_idle_timeout_seconds,
    )?
    .unwrap_or(d::REQUEST_IDLE_TIMEOUT_S);

    let isl_mean = positive(
        "--prompt-input-tokens-mean/--isl",
        a.prompt_input_tokens_mean,
    )?
    .unwrap_or(d::ISL_MEAN);
    let isl_std = non_negative(
        "--prompt-input-tokens-stddev/--isl-stddev",
        a.prompt_input_tokens_stddev,
    )?
    .unwrap_or(d::ISL_STDDEV);
    let osl_mean = positive(
        "--prompt-output-tokens-mean/--osl",
        a.prompt_output_tokens_mean,
    )?;
    let osl_std = non_negative(
        "--prompt-output-tokens-stddev/--osl-stddev",
        a.prompt_output_tokens_stddev,
    )?
    .unwrap_or(d::OSL_STDDEV);
    if osl_mean.is_none() && a.prompt_output_tokens_stddev.is_some() {
        return err("--osl-stddev needs --osl (the mean output length)");
    }
    let block = a
        .prompt_input_tokens_block_size
        .unwrap_or(d::ISL_BLOCK_SIZE);
    if block == 0 {
        return err("--isl-block-size must be at least 1");
    }
    let num_dataset_entries = a.num_dataset_entries.unwrap_or(d::NUM_DATASET_ENTRIES);
    if num_dataset_entries == 0 {
        return err("--num-dataset-entries must be at least 1");
    }

    let a_concurrency = crate::load::single("--concurrency", &a.concurrency)?;
    if a_concurrency == Some(0) {
        return err("--concurrency must be at least 1");
    }
    let request_rate = positive(
        "--request-rate",
        crate::load::single("--request-rate", &a.request_rate)?,
    )?;
    let arrival_pattern = a.arrival_pattern.unwrap_or(if request_rate.is_some() {
        ArrivalPattern::Poisson
    } else {
        ArrivalPattern::ConcurrencyBurst
    });
    if request_rate.is_none() && !matches!(arrival_pattern, ArrivalPattern::ConcurrencyBurst) {
        return err("--arrival-pattern needs --request-rate");
    }
    let arrival_smoothness = positive("--arrival-smoothness", a.arrival_smoothness)?;
    if arrival_smoothness.is_some() && arrival_pattern != ArrivalPattern::Gamma {
        return err("--arrival-smoothness only applies to --arrival-pattern gamma");
    }
    // No rate and no concurrency: closed loop with one request in flight (AIPerf default).
    // User-centric mode is open loop: unlimited unless --concurrency is given.
    let concurrency = match (a_concurrency, request_rate) {
        (None, None) if a.user_centric_rate.is_none() => Some(1),
        (c, _) => c,
    };
    if a.request_count == Some(0) {
        return err("--request-count must be at least 1");
    }
    let benchmark_duration_s = positive("--benchmark-duration", a.benchmark_duration)?;
    if a.benchmark_grace_period.is_some() && benchmark_duration_s.is_none() {
        return err("--benchmark-grace-period only applies with --benchmark-duration");
    }
    let grace = match a.benchmark_grace_period {
        Some(g) if g.is_nan() || g < 0.0 => {
            return err(format!(
                "--benchmark-grace-period must be zero or positive (or inf), got {g}"
            ));
        }
        Some(g) => g,
        None => d::BENCHMARK_GRACE_PERIOD_S,
    };
    let shutdown_grace_s = match a.shutdown_grace_period {
        Some(g) if !g.is_finite() || g < 0.0 => {
            return err(format!(
                "--shutdown-grace-period must be zero or a positive number of seconds, got {g}"
            ));
        }
        Some(g) => g,
        None => d::SHUTDOWN_GRACE_PERIOD_S,
    };
    let request_count = match (a.request_count, benchmark_duration_s) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        // --num-sessions is a stop condition of its own.
        (None, None) if a.conversation_num.is_some() => None,
        (None, None) => Some(d::REQUEST_COUNT),
    };

    let workers = match a.workers_max {
        Some(0) => return err("--workers-max must be at least 1"),
        Some(n) => n,
        None => default_workers(ctx.cpus, concurrency),
    };
    let record_processors = match a.record_processor_service_count {
        Some(0) => return err("--record-processors must be at least 1"),
        Some(n) => n,
        None => default_record_processors(workers),
    };
    let zmq = match &a.zmq_host {
        Some(host) => ZmqTransport::Tcp {
            host: host.clone(),
            base_port: a.zmq_base_port.unwrap_or(d::ZMQ_BASE_PORT),
        },
        None => {
            if a.zmq_base_port.is_some() {
                return err("--zmq-base-port needs --zmq-host (TCP transport)");
            }
            ZmqTransport::Ipc {
                dir: a.zmq_ipc_path.clone().unwrap_or_else(|| {
                    std::env::temp_dir().join(format!(
                        "aiperf-rs-{}-{}",
                        std::process::id(),
                        nanos_suffix()
                    ))
                }),
            }
        }
    };
    let external_services = parse_external(a.external_service.as_deref().unwrap_or_default())?;

    let headers = parse_headers(a.header.as_deref().unwrap_or_default())?;
    let extra = parse_extra_inputs(a.extra_inputs.as_deref().unwrap_or_default())?;

    let artifact_dir = a.output_artifact_dir.clone().unwrap_or_else(|| {
        let name = match (a.user_centric_rate, a.num_users) {
            (Some(q), Some(u)) => format!(
                "{}-openai-{}-user_centric-users{u}-qps{}",
                models[0].replace('/', "_"),
                endpoint_type.artifact_name(),
                py_float(q)
            ),
            _ if a.fixed_schedule == Some(true) => format!(
                "{}-openai-{}-fixed_schedule",
                models[0].replace('/', "_"),
                endpoint_type.artifact_name()
            ),
            _ => artifact_dir_name(&models[0], endpoint_type, concurrency, request_rate),
        };
        std::path::Path::new("artifacts").join(name)
    });
    let prefix = a
        .profile_export_prefix
        .clone()
        .unwrap_or_else(|| d::PROFILE_EXPORT_PREFIX.to_string());
    let prefix = prefix.strip_suffix(".jsonl").unwrap_or(&prefix).to_string();
    if prefix.is_empty() || prefix.contains('/') {
        return err(format!(
            "--profile-export-prefix {prefix:?}: must be a plain file name prefix"
        ));
    }
    let log_level = match (&a.log_level, a.extra_verbose, a.verbose) {
        (Some(l), _, _) => {
            let l = l.to_ascii_lowercase();
            let l = if l == "warning" {
                "warn".to_string()
            } else {
                l
            };
            if !["trace", "debug", "info", "warn", "error", "critical"].contains(&l.as_str()) {
                return err(format!(
                    "--log-level {l}: use one of trace, debug, info, warning, error"
                ));
            }
            if l == "critical" {
                "error".to_string()
            } else {
                l
            }
        }
        (None, Some(true), _) => "trace".to_string(),
        (None, _, Some(true)) => "debug".to_string(),
        _ => d::LOG_LEVEL.to_string(),
    };
    let ui = a.ui_type.unwrap_or(if ctx.stdout_is_tty {
        UiType::Simple
    } else {
        UiType::None
    });
    let dataset = crate::dataset::resolve_dataset(a)?;

    ProfileConfig {
        models,
        url,
        endpoint_type,
        endpoint_path,
        streaming: a.streaming.unwrap_or(false),
        request_timeout_s,
        request_idle_timeout_s,
        api_key: a.api_key.clone(),
        headers,
        redact_headers: a.redact_header.clone().unwrap_or_default(),
        extra_inputs_json: serde_json::Value::Object(extra).to_string(),
        use_legacy_max_tokens: a.use_legacy_max_tokens.unwrap_or(false),
        connection_reuse: a.connection_reuse_strategy.unwrap_or(d::CONNECTION_REUSE),
        tokenizer: a.tokenizer.clone(),
        random_seed: a.random_seed,
        isl: TokenDistribution {
            mean: isl_mean,
            stddev: isl_std,
        },
        isl_block_size: block,
        osl: osl_mean.map(|mean| TokenDistribution {
            mean,
            stddev: osl_std,
        }),
        num_dataset_entries,
        dataset,
        concurrency,
        concurrency_defaulted: a_concurrency.is_none() && concurrency.is_some(),
        request_rate,
        arrival_pattern,
        arrival_smoothness: arrival_smoothness.unwrap_or(d::ARRIVAL_SMOOTHNESS),
        request_count,
        benchmark_duration_s,
        benchmark_grace_period_s: grace,
        shutdown_grace_s,
        warmup_request_count: a.warmup_request_count.unwrap_or(d::WARMUP_REQUEST_COUNT),
        service_mode: a.service_mode.unwrap_or(ServiceMode::InProcess),
        workers,
        record_processors,
        zmq,
        external_services,
        artifact_dir,
        profile_export_prefix: prefix,
        export_level: a.export_level.unwrap_or(d::EXPORT_LEVEL),
        ui,
        log_level,
        cli_command: ctx.cli_command.clone(),
        goodput: crate::goodput::resolve_goodput(a)?,
        use_server_token_count: a.use_server_token_count.unwrap_or(false),
        slice_duration_s: positive("--slice-duration", a.slice_duration)?,
        load: LoadConfig::default(),
        server_metrics: telemetry::resolve_server_metrics(a)?,
        gpu_telemetry: telemetry::resolve_gpu_telemetry(a),
        auto_plot: telemetry::resolve_auto_plot(a),
    }
    .with_load(a)
}

/// One line per option that is accepted but has no effect in aiperf-rs (the AIPerf
/// 0.13 options of [`crate::compat`], GPU telemetry), or is
/// only partly honoured (several `--url`s, `sticky-user-sessions` over https). Printed once per
/// invocation; never contains option values (they may be secrets).
pub fn warnings(a: &ProfileArgs) -> Vec<String> {
    let mut out = Vec::new();
    let mut not_yet = |given: bool, flag: &str, what: &str| {
        if given {
            out.push(format!(
                "{flag} has no effect in aiperf-rs yet: {what} are not implemented"
            ));
        }
    };
    not_yet(
        a.gpu_telemetry.is_some(),
        "--gpu-telemetry",
        "GPU telemetry collectors",
    );
    not_yet(
        a.no_gpu_telemetry.is_some(),
        "--no-gpu-telemetry",
        "GPU telemetry collectors",
    );
    if let Some(urls) = a.urls.as_ref().filter(|u| u.len() > 1) {
        out.push(format!(
            "--url was given {} times: aiperf-rs sends every request to the first one (no load balancing)",
            urls.len()
        ));
    }
    if a.connection_reuse_strategy == Some(ConnectionReuseStrategy::StickyUserSessions)
        && a.first_url().is_some_and(|u| u.starts_with("https://"))
    {
        out.push(
            "--connection-reuse-strategy sticky-user-sessions behaves as pooled for https:// URLs"
                .to_string(),
        );
    }
    out.extend(a.inert.warnings());
    out
}

fn nanos_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: "aiperf-rs profile".into(),
        }
    }

    fn base() -> ProfileArgs {
        ProfileArgs {
            models: Some(vec!["mock-model".into()]),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_follow_aiperf() {
        let c = resolve(&base(), &ctx()).unwrap();
        assert_eq!(c.url, "http://localhost:8000");
        assert_eq!(
            c.endpoint_url(),
            "http://localhost:8000/v1/chat/completions"
        );
        assert_eq!(c.concurrency, Some(1));
        assert_eq!(c.request_count, Some(10));
        assert_eq!(c.isl.mean, 550.0);
        assert!(c.osl.is_none());
        assert!(!c.streaming);
        assert_eq!(c.workers, 1);
        assert_eq!(c.record_processors, 1);
        assert_eq!(
            c.artifact_dir,
            std::path::Path::new("artifacts/mock-model-openai-chat-concurrency1")
        );
        assert_eq!(c.ui, UiType::None);
    }

    #[test]
    fn artifact_names() {
        assert_eq!(
            artifact_dir_name("Qwen/Qwen3-0.6B", EndpointType::Chat, Some(100), None),
            "Qwen_Qwen3-0.6B-openai-chat-concurrency100"
        );
        assert_eq!(
            artifact_dir_name("m", EndpointType::Chat, Some(8), Some(10.0)),
            "m-openai-chat-concurrency8-request_rate10.0"
        );
    }

    #[test]
    fn missing_model_is_explained() {
        let e = resolve(&ProfileArgs::default(), &ctx())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--model"), "{e}");
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        for a in [
            ProfileArgs {
                concurrency: Some(vec![0]),
                ..base()
            },
            ProfileArgs {
                request_rate: Some(vec![-1.0]),
                ..base()
            },
            ProfileArgs {
                request_count: Some(0),
                ..base()
            },
            ProfileArgs {
                prompt_input_tokens_mean: Some(0.0),
                ..base()
            },
            ProfileArgs {
                benchmark_grace_period: Some(3.0),
                ..base()
            },
            ProfileArgs {
                header: Some(vec!["nocolon".into()]),
                ..base()
            },
            ProfileArgs {
                url: Some("ftp://x".into()),
                ..base()
            },
        ] {
            assert!(resolve(&a, &ctx()).is_err(), "{a:?}");
        }
    }

    #[test]
    fn headers_and_extra_inputs_parse() {
        let h = parse_headers(&["X-A: 1".into(), r#"{"X-B":"2"}"#.into()]).unwrap();
        assert_eq!(
            h,
            vec![("X-A".into(), "1".into()), ("X-B".into(), "2".into())]
        );
        let e = parse_extra_inputs(&[
            "ignore_eos:true".into(),
            "min_tokens:5".into(),
            "tag:abc".into(),
        ])
        .unwrap();
        assert_eq!(
            serde_json::Value::Object(e).to_string(),
            r#"{"ignore_eos":true,"min_tokens":5,"tag":"abc"}"#
        );
    }

    #[test]
    fn duration_without_count_has_no_count() {
        let c = resolve(
            &ProfileArgs {
                benchmark_duration: Some(5.0),
                ..base()
            },
            &ctx(),
        )
        .unwrap();
        assert_eq!(c.request_count, None);
        assert_eq!(c.benchmark_grace_period_s, 30.0);
    }

    #[test]
    fn metric_and_timeslice_flags() {
        let c = resolve(&base(), &ctx()).unwrap();
        assert_eq!(
            (
                c.goodput.as_ref().map(|g| g.to_string()),
                c.use_server_token_count,
                c.slice_duration_s
            ),
            (None, false, None)
        );
        let a = ProfileArgs {
            goodput: Some("  time_to_first_token:300 ".into()),
            use_server_token_count: Some(true),
            slice_duration: Some(0.5),
            ..base()
        };
        let c = resolve(&a, &ctx()).unwrap();
        assert_eq!(
            c.goodput.as_ref().map(|g| g.to_string()).as_deref(),
            Some("time_to_first_token:300")
        );
        assert!(c.use_server_token_count);
        assert_eq!(c.slice_duration_s, Some(0.5));
        assert_eq!(
            resolve(
                &ProfileArgs {
                    goodput: Some(" ".into()),
                    ..base()
                },
                &ctx()
            )
            .unwrap()
            .goodput,
            None
        );
        for bad in [0.0, -1.0, f64::INFINITY] {
            let e = resolve(
                &ProfileArgs {
                    slice_duration: Some(bad),
                    ..base()
                },
                &ctx(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("--slice-duration"), "{e}");
        }
    }
}
