//! Load-generation options beyond the basic rate/concurrency (`docs/load-modes.md`): prefill concurrency, ramps, warmup overrides,
//! request cancellation, user-centric timing, sweeps.
//!
//! [`LoadConfig`] is a sub-struct of [`crate::ProfileConfig`] (`config.load`), left
//! out of serialized output when everything is default so existing exports do not
//! change.

use crate::{ArrivalPattern, ConfigError, ProfileArgs, ProfileConfig};
use serde::{Deserialize, Serialize};

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::new(msg))
}

/// Warmup settings that differ from profiling (`--warmup-*`). `None` = same as profiling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WarmupConfig {
    /// `--warmup-duration` (s): stop condition.
    pub duration_s: Option<f64>,
    /// `--num-warmup-sessions`: stop condition (sessions started).
    pub num_sessions: Option<u64>,
    /// `--warmup-concurrency`.
    pub concurrency: Option<usize>,
    /// `--warmup-prefill-concurrency`.
    pub prefill_concurrency: Option<usize>,
    /// `--warmup-request-rate`.
    pub request_rate: Option<f64>,
    /// `--warmup-arrival-pattern`.
    pub arrival_pattern: Option<ArrivalPattern>,
    /// `--warmup-grace-period` (s); `None` = wait forever for warmup stragglers.
    pub grace_period_s: Option<f64>,
    /// `--warmup-concurrency-ramp-duration` (s).
    pub concurrency_ramp_s: Option<f64>,
    /// `--warmup-prefill-concurrency-ramp-duration` (s).
    pub prefill_concurrency_ramp_s: Option<f64>,
    /// `--warmup-request-rate-ramp-duration` (s).
    pub request_rate_ramp_s: Option<f64>,
}

/// The sweep value of one run of a sweep (`--concurrency 10,50,100`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Swept option in snake_case: `concurrency` or `request_rate`.
    pub parameter: String,
    /// Its value in this run.
    pub value: f64,
    /// 0-based index of the run in the sweep.
    pub index: usize,
    /// Number of runs in the sweep.
    pub total: usize,
}

impl SweepPoint {
    /// Name of the run's sub-directory, e.g. `concurrency_10`, `request_rate_2.5`.
    pub fn dir_name(&self) -> String {
        format!("{}_{}", self.parameter, format_value(self.value))
    }
}

/// `10` for integral values, `2.5` otherwise.
pub fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Resolved load-generation options (`ProfileConfig::load`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadConfig {
    /// `--prefill-concurrency`: max requests waiting for their first token.
    pub prefill_concurrency: Option<usize>,
    /// `--concurrency-ramp-duration` (s).
    pub concurrency_ramp_s: Option<f64>,
    /// `--prefill-concurrency-ramp-duration` (s).
    pub prefill_concurrency_ramp_s: Option<f64>,
    /// `--request-rate-ramp-duration` (s).
    pub request_rate_ramp_s: Option<f64>,
    /// `--warmup-*` settings.
    pub warmup: WarmupConfig,
    /// `--request-cancellation-rate` in percent (0–100).
    pub request_cancellation_rate: Option<f64>,
    /// `--request-cancellation-delay` (s) after the request was fully sent.
    pub request_cancellation_delay_s: f64,
    /// `--user-centric-rate` (total requests/s).
    pub user_centric_rate: Option<f64>,
    /// `--num-users`.
    pub num_users: Option<usize>,
    /// `--num-gpus` (`None` = 1).
    pub num_gpus: Option<usize>,
    /// Set for each run of a sweep.
    pub sweep: Option<SweepPoint>,
}

impl LoadConfig {
    /// True when nothing differs from the defaults.
    pub fn is_default(&self) -> bool {
        *self == LoadConfig::default()
    }

    /// GPUs for per-GPU throughput.
    pub fn gpus(&self) -> usize {
        self.num_gpus.unwrap_or(crate::defaults::NUM_GPUS).max(1)
    }
}

impl ProfileConfig {
    /// Resolves `self.load` from the arguments (see [`resolve_load`]).
    pub(crate) fn with_load(mut self, a: &ProfileArgs) -> Result<ProfileConfig, ConfigError> {
        resolve_load(a, &mut self)?;
        Ok(self)
    }

    /// Whether a warmup phase runs (`--warmup-request-count`, `--warmup-duration` or
    /// `--num-warmup-sessions`).
    pub fn warmup_enabled(&self) -> bool {
        self.warmup_request_count > 0
            || self.load.warmup.duration_s.is_some()
            || self.load.warmup.num_sessions.is_some()
    }

    /// The session-count stop condition (`--num-sessions/--conversation-num`).
    pub fn num_sessions(&self) -> Option<u64> {
        self.dataset.num_conversations.map(|n| n as u64)
    }
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

fn at_least_one(name: &str, v: Option<usize>) -> Result<Option<usize>, ConfigError> {
    if v == Some(0) {
        return err(format!("{name} must be at least 1"));
    }
    Ok(v)
}

/// The single value of a sweepable option; a comma list is a sweep (see [`expand_sweep`]).
pub fn single<T: Copy>(name: &str, v: &Option<Vec<T>>) -> Result<Option<T>, ConfigError> {
    match v.as_deref() {
        None | Some([]) => Ok(None),
        Some([x]) => Ok(Some(*x)),
        Some(_) => err(format!(
            "{name} has several values: a sweep runs one profile per value (aiperf-rs profile expands it)"
        )),
    }
}

/// Resolves and validates the load options into `cfg.load` (called at the end of
/// [`crate::resolve`], so `cfg` already holds the basic load settings).
pub fn resolve_load(a: &ProfileArgs, cfg: &mut ProfileConfig) -> Result<(), ConfigError> {
    let mut l = LoadConfig {
        num_gpus: at_least_one("--num-gpus", a.num_gpus)?,
        ..LoadConfig::default()
    };

    // --- user-centric (§3.4)
    l.user_centric_rate = positive("--user-centric-rate", a.user_centric_rate)?;
    l.num_users = at_least_one("--num-users", a.num_users)?;
    if let Some(q) = l.user_centric_rate {
        if a.request_rate.is_some() {
            return err(
                "--user-centric-rate and --request-rate are mutually exclusive: user-centric mode sets the rate itself",
            );
        }
        if a.arrival_pattern.is_some() {
            return err(
                "--arrival-pattern does not apply with --user-centric-rate (each user sends one turn every num_users/rate seconds)",
            );
        }
        if cfg.dataset.fixed_schedule == Some(true) {
            return err(
                "--user-centric-rate and --fixed-schedule are mutually exclusive; drop one",
            );
        }
        if l.num_users.is_none() {
            return err(format!(
                "--user-centric-rate {q} needs --num-users N (the number of simulated users)"
            ));
        }
        if cfg.dataset.is_synthetic() && cfg.dataset.turns.mean.round() < 2.0 {
            return err(
                "--user-centric-rate needs multi-turn conversations: set --session-turns-mean 2 or more",
            );
        }
        if a.benchmark_grace_period.is_none() && cfg.benchmark_duration_s.is_some() {
            cfg.benchmark_grace_period_s = f64::INFINITY;
        }
    } else if l.num_users.is_some() {
        return err("--num-users only applies with --user-centric-rate");
    }

    // --- prefill concurrency and ramps (§2.3, §8)
    l.prefill_concurrency = at_least_one("--prefill-concurrency", a.prefill_concurrency)?;
    if let Some(p) = l.prefill_concurrency {
        if !cfg.streaming {
            return err(
                "--prefill-concurrency needs --streaming (the first token ends the prefill)",
            );
        }
        if let Some(c) = cfg.concurrency
            && p > c
        {
            return err(format!(
                "--prefill-concurrency {p} must be at most --concurrency {c}"
            ));
        }
    }
    l.concurrency_ramp_s = positive("--concurrency-ramp-duration", a.concurrency_ramp_duration)?;
    if l.concurrency_ramp_s.is_some() && a.concurrency.is_none() {
        return err("--concurrency-ramp-duration needs --concurrency (the target of the ramp)");
    }
    l.prefill_concurrency_ramp_s = positive(
        "--prefill-concurrency-ramp-duration",
        a.prefill_concurrency_ramp_duration,
    )?;
    if l.prefill_concurrency_ramp_s.is_some() && l.prefill_concurrency.is_none() {
        return err("--prefill-concurrency-ramp-duration needs --prefill-concurrency");
    }
    l.request_rate_ramp_s = positive("--request-rate-ramp-duration", a.request_rate_ramp_duration)?;
    if l.request_rate_ramp_s.is_some() {
        if l.user_centric_rate.is_some() {
            return err("--request-rate-ramp-duration is not available with --user-centric-rate");
        }
        if cfg.dataset.fixed_schedule == Some(true) {
            return err(
                "--request-rate-ramp-duration is not available with --fixed-schedule (the trace sets the times)",
            );
        }
        if cfg.request_rate.is_none() {
            return err(
                "--request-rate-ramp-duration needs --request-rate (the target of the ramp)",
            );
        }
    }
    for (name, ramp) in [
        ("--concurrency-ramp-duration", l.concurrency_ramp_s),
        (
            "--prefill-concurrency-ramp-duration",
            l.prefill_concurrency_ramp_s,
        ),
    ] {
        if ramp.is_some()
            && (l.user_centric_rate.is_some() || cfg.dataset.fixed_schedule == Some(true))
        {
            return err(format!(
                "{name} is not available with --fixed-schedule or --user-centric-rate"
            ));
        }
    }

    // --- warmup (§5)
    let w = &mut l.warmup;
    w.duration_s = positive("--warmup-duration", a.warmup_duration)?;
    w.num_sessions = a.num_warmup_sessions;
    if w.num_sessions == Some(0) {
        return err("--num-warmup-sessions must be at least 1");
    }
    if w.num_sessions.is_some() && a.warmup_request_count.is_some_and(|n| n > 0) {
        return err(
            "--warmup-request-count and --num-warmup-sessions are mutually exclusive; give one warmup stop condition",
        );
    }
    w.concurrency = at_least_one("--warmup-concurrency", a.warmup_concurrency)?;
    w.prefill_concurrency =
        at_least_one("--warmup-prefill-concurrency", a.warmup_prefill_concurrency)?;
    w.request_rate = positive("--warmup-request-rate", a.warmup_request_rate)?;
    w.arrival_pattern = a.warmup_arrival_pattern;
    w.grace_period_s = match a.warmup_grace_period {
        Some(g) if g.is_nan() || g < 0.0 => {
            return err(format!(
                "--warmup-grace-period must be zero or positive (or inf), got {g}"
            ));
        }
        Some(g) if g.is_infinite() => None,
        other => other,
    };
    w.concurrency_ramp_s = positive(
        "--warmup-concurrency-ramp-duration",
        a.warmup_concurrency_ramp_duration,
    )?;
    w.prefill_concurrency_ramp_s = positive(
        "--warmup-prefill-concurrency-ramp-duration",
        a.warmup_prefill_concurrency_ramp_duration,
    )?;
    w.request_rate_ramp_s = positive(
        "--warmup-request-rate-ramp-duration",
        a.warmup_request_rate_ramp_duration,
    )?;
    let warmup_on = a.warmup_request_count.is_some_and(|n| n > 0)
        || w.duration_s.is_some()
        || w.num_sessions.is_some();
    if !warmup_on {
        let given = [
            ("--warmup-concurrency", w.concurrency.is_some()),
            (
                "--warmup-prefill-concurrency",
                w.prefill_concurrency.is_some(),
            ),
            ("--warmup-request-rate", w.request_rate.is_some()),
            ("--warmup-arrival-pattern", w.arrival_pattern.is_some()),
            ("--warmup-grace-period", a.warmup_grace_period.is_some()),
            (
                "--warmup-concurrency-ramp-duration",
                w.concurrency_ramp_s.is_some(),
            ),
            (
                "--warmup-prefill-concurrency-ramp-duration",
                w.prefill_concurrency_ramp_s.is_some(),
            ),
            (
                "--warmup-request-rate-ramp-duration",
                w.request_rate_ramp_s.is_some(),
            ),
        ];
        if let Some((name, _)) = given.iter().find(|(_, g)| *g) {
            return err(format!(
                "{name} needs a warmup: give --warmup-request-count, --warmup-duration or --num-warmup-sessions"
            ));
        }
    }
    if w.arrival_pattern
        .is_some_and(|p| p != ArrivalPattern::ConcurrencyBurst)
        && w.request_rate.is_none()
        && cfg.request_rate.is_none()
    {
        return err(
            "--warmup-arrival-pattern needs a rate: --warmup-request-rate or --request-rate",
        );
    }
    if let (Some(p), Some(c)) = (
        w.prefill_concurrency.or(l.prefill_concurrency),
        w.concurrency.or(cfg.concurrency),
    ) && p > c
    {
        return err(format!(
            "--warmup-prefill-concurrency {p} must be at most the warmup concurrency {c}"
        ));
    }
    if w.prefill_concurrency.is_some() && !cfg.streaming {
        return err("--warmup-prefill-concurrency needs --streaming");
    }

    // --- request cancellation (§6)
    l.request_cancellation_rate = match a.request_cancellation_rate {
        Some(p) if !(0.0..=100.0).contains(&p) => {
            return err(format!(
                "--request-cancellation-rate is a percentage between 0 and 100, got {p}"
            ));
        }
        other => other,
    };
    let delay = non_negative("--request-cancellation-delay", a.request_cancellation_delay)?;
    if delay.is_some() && l.request_cancellation_rate.is_none() {
        return err("--request-cancellation-delay only applies with --request-cancellation-rate");
    }
    l.request_cancellation_delay_s = delay.unwrap_or(crate::defaults::REQUEST_CANCELLATION_DELAY_S);
    cfg.load = l;
    Ok(())
}

/// One run of a sweep: its sweep point and its single-valued arguments.
#[derive(Debug, Clone)]
pub struct SweepRun {
    /// Which value of the swept option this run uses.
    pub point: SweepPoint,
    /// The arguments of the run (the swept option has one value).
    pub args: ProfileArgs,
}

/// Expands comma lists of sweepable options (`--concurrency 10,50,100`,
/// `--request-rate 5,10,20`) into one run per value. Returns an empty list when no
/// option has more than one value (not a sweep).
pub fn expand_sweep(a: &ProfileArgs) -> Result<Vec<SweepRun>, ConfigError> {
    let conc = a.concurrency.as_ref().filter(|v| v.len() > 1);
    let rate = a.request_rate.as_ref().filter(|v| v.len() > 1);
    if conc.is_some() && rate.is_some() {
        return err(
            "--concurrency and --request-rate cannot both be swept; give a list to one of them",
        );
    }
    if conc.is_none() && rate.is_none() {
        return Ok(Vec::new());
    }
    if a.fixed_schedule == Some(true) {
        return err(
            "sweeps (comma lists) are not available with --fixed-schedule: the trace sets the load",
        );
    }
    if a.user_centric_rate.is_some() && rate.is_some() {
        return err("--request-rate cannot be swept with --user-centric-rate");
    }
    let mut runs = Vec::new();
    if let Some(values) = conc {
        for (i, v) in values.iter().enumerate() {
            let mut args = a.clone();
            args.concurrency = Some(vec![*v]);
            runs.push(SweepRun {
                point: SweepPoint {
                    parameter: "concurrency".into(),
                    value: *v as f64,
                    index: i,
                    total: values.len(),
                },
                args,
            });
        }
    } else if let Some(values) = rate {
        for (i, v) in values.iter().enumerate() {
            let mut args = a.clone();
            args.request_rate = Some(vec![*v]);
            runs.push(SweepRun {
                point: SweepPoint {
                    parameter: "request_rate".into(),
                    value: *v,
                    index: i,
                    total: values.len(),
                },
                args,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for r in &runs {
        if !seen.insert(r.point.dir_name()) {
            return err(format!(
                "--{} lists {} twice",
                r.point.parameter.replace('_', "-"),
                format_value(r.point.value)
            ));
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, resolve};

    fn ctx() -> Context {
        Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: "aiperf-rs profile".into(),
        }
    }

    fn base() -> ProfileArgs {
        ProfileArgs {
            models: Some(vec!["m".into()]),
            ..Default::default()
        }
    }

    fn rejected(a: ProfileArgs, needle: &str) {
        let e = resolve(&a, &ctx()).expect_err(needle).to_string();
        assert!(e.contains(needle), "{e:?} lacks {needle:?}");
    }

    #[test]
    fn validation_rules_of_0_13() {
        let uc = |a: ProfileArgs| ProfileArgs {
            user_centric_rate: Some(1.0),
            num_users: Some(4),
            conversation_turn_mean: Some(3.0),
            ..a
        };
        rejected(
            ProfileArgs {
                request_rate: Some(vec![2.0]),
                ..uc(base())
            },
            "--request-rate",
        );
        rejected(
            ProfileArgs {
                arrival_pattern: Some(ArrivalPattern::Poisson),
                ..uc(base())
            },
            "--arrival-pattern",
        );
        rejected(
            ProfileArgs {
                num_users: None,
                ..uc(base())
            },
            "--num-users",
        );
        rejected(
            ProfileArgs {
                conversation_turn_mean: Some(1.0),
                ..uc(base())
            },
            "--session-turns-mean",
        );
        rejected(
            ProfileArgs {
                num_users: Some(3),
                ..base()
            },
            "--num-users only applies",
        );
        rejected(
            ProfileArgs {
                request_cancellation_delay: Some(1.0),
                ..base()
            },
            "--request-cancellation-rate",
        );
        rejected(
            ProfileArgs {
                request_cancellation_rate: Some(120.0),
                ..base()
            },
            "between 0 and 100",
        );
        rejected(
            ProfileArgs {
                prefill_concurrency: Some(2),
                concurrency: Some(vec![4]),
                ..base()
            },
            "--streaming",
        );
        rejected(
            ProfileArgs {
                prefill_concurrency: Some(8),
                concurrency: Some(vec![4]),
                streaming: Some(true),
                ..base()
            },
            "at most --concurrency",
        );
        rejected(
            ProfileArgs {
                request_rate_ramp_duration: Some(2.0),
                ..base()
            },
            "needs --request-rate",
        );
        rejected(
            ProfileArgs {
                request_rate_ramp_duration: Some(2.0),
                ..uc(base())
            },
            "not available with --user-centric-rate",
        );
        rejected(
            ProfileArgs {
                concurrency_ramp_duration: Some(2.0),
                ..base()
            },
            "needs --concurrency",
        );
        rejected(
            ProfileArgs {
                warmup_request_count: Some(3),
                num_warmup_sessions: Some(2),
                ..base()
            },
            "mutually exclusive",
        );
        rejected(
            ProfileArgs {
                warmup_concurrency: Some(2),
                ..base()
            },
            "needs a warmup",
        );
        rejected(
            ProfileArgs {
                warmup_grace_period: Some(2.0),
                ..base()
            },
            "needs a warmup",
        );
        rejected(
            ProfileArgs {
                concurrency: Some(vec![2, 4]),
                ..base()
            },
            "sweep",
        );
    }

    #[test]
    fn user_centric_defaults() {
        let a = ProfileArgs {
            user_centric_rate: Some(2.0),
            num_users: Some(4),
            conversation_turn_mean: Some(3.0),
            benchmark_duration: Some(5.0),
            ..base()
        };
        let c = resolve(&a, &ctx()).unwrap();
        assert_eq!(
            c.concurrency, None,
            "user-centric is not limited unless --concurrency is given"
        );
        assert!(
            c.benchmark_grace_period_s.is_infinite(),
            "grace defaults to inf"
        );
        assert_eq!(c.load.num_users, Some(4));
    }

    #[test]
    fn session_count_replaces_the_default_request_count() {
        let c = resolve(
            &ProfileArgs {
                conversation_num: Some(5),
                ..base()
            },
            &ctx(),
        )
        .unwrap();
        assert_eq!(c.request_count, None);
        assert_eq!(c.num_sessions(), Some(5));
        let c = resolve(&base(), &ctx()).unwrap();
        assert!(
            c.load.is_default(),
            "plain runs keep `load` out of the exports"
        );
    }

    #[test]
    fn warmup_overrides() {
        let a = ProfileArgs {
            warmup_duration: Some(1.0),
            warmup_concurrency: Some(2),
            warmup_request_rate: Some(50.0),
            warmup_arrival_pattern: Some(ArrivalPattern::Constant),
            warmup_grace_period: Some(f64::INFINITY),
            ..base()
        };
        let c = resolve(&a, &ctx()).unwrap();
        assert!(c.warmup_enabled());
        assert_eq!(c.load.warmup.grace_period_s, None);
        assert_eq!(c.load.warmup.request_rate, Some(50.0));
    }

    #[test]
    fn sweeps_expand_one_run_per_value() {
        assert!(
            expand_sweep(&ProfileArgs {
                concurrency: Some(vec![4]),
                ..base()
            })
            .unwrap()
            .is_empty()
        );
        let runs = expand_sweep(&ProfileArgs {
            concurrency: Some(vec![10, 50, 100]),
            ..base()
        })
        .unwrap();
        assert_eq!(
            runs.iter().map(|r| r.point.dir_name()).collect::<Vec<_>>(),
            ["concurrency_10", "concurrency_50", "concurrency_100"]
        );
        assert_eq!(runs[1].args.concurrency, Some(vec![50]));
        let c = resolve(&runs[2].args, &ctx()).unwrap();
        assert_eq!(c.concurrency, Some(100));
        let runs = expand_sweep(&ProfileArgs {
            request_rate: Some(vec![5.0, 2.5]),
            ..base()
        })
        .unwrap();
        assert_eq!(runs[1].point.dir_name(), "request_rate_2.5");
        assert!(
            expand_sweep(&ProfileArgs {
                concurrency: Some(vec![1, 2]),
                request_rate: Some(vec![1.0, 2.0]),
                ..base()
            })
            .is_err()
        );
        assert!(
            expand_sweep(&ProfileArgs {
                concurrency: Some(vec![1, 2]),
                fixed_schedule: Some(true),
                ..base()
            })
            .is_err()
        );
        assert!(
            expand_sweep(&ProfileArgs {
                concurrency: Some(vec![2, 2]),
                ..base()
            })
            .is_err()
        );
    }
}
