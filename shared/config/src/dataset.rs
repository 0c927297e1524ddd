//! Dataset options: input files and their formats, public datasets, synthetic
//! conversation shape, sequence distributions, fixed-schedule (trace replay) windows and
//! trace synthesis. Resolved from [`ProfileArgs`] into [`DatasetConfig`]
//! (`ProfileConfig::dataset`). See `docs/datasets.md` for the user documentation.

use crate::defaults as defs;
use crate::{ConfigError, ProfileArgs, TokenDistribution};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Format of `--input-file` (`--custom-dataset-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum CustomDatasetType {
    /// One JSON object per line, each an independent single-turn conversation
    /// (lines sharing a `session_id` become sequential turns of one session).
    #[value(name = "single_turn", alias = "single-turn")]
    SingleTurn,
    /// One JSON object per line, each a conversation with `turns`.
    #[value(name = "multi_turn", alias = "multi-turn")]
    MultiTurn,
    /// A file (or a directory of files) of entries sampled with replacement.
    #[value(name = "random_pool", alias = "random-pool")]
    RandomPool,
    /// Mooncake trace: `timestamp`, `input_length`, `output_length`, `hash_ids`.
    #[value(name = "mooncake_trace", alias = "mooncake-trace")]
    MooncakeTrace,
    /// Azure LLM inference trace CSV: `TIMESTAMP,ContextTokens,GeneratedTokens`
    /// (aiperf-rs extension).
    #[value(name = "azure_trace", alias = "azure-trace")]
    AzureTrace,
}

impl CustomDatasetType {
    /// The name used on the command line (`mooncake_trace`).
    pub fn name(self) -> &'static str {
        match self {
            CustomDatasetType::SingleTurn => "single_turn",
            CustomDatasetType::MultiTurn => "multi_turn",
            CustomDatasetType::RandomPool => "random_pool",
            CustomDatasetType::MooncakeTrace => "mooncake_trace",
            CustomDatasetType::AzureTrace => "azure_trace",
        }
    }

    /// True for the request-trace formats (`mooncake_trace`, `azure_trace`): rows with
    /// token lengths instead of texts.
    pub fn is_trace(self) -> bool {
        matches!(
            self,
            CustomDatasetType::MooncakeTrace | CustomDatasetType::AzureTrace
        )
    }
}

/// A public dataset (`--public-dataset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PublicDataset {
    /// ShareGPT V3 (`ShareGPT_V3_unfiltered_cleaned_split.json`), read from a local file.
    #[value(name = "sharegpt")]
    Sharegpt,
}

/// Order in which conversations are drawn (`--dataset-sampling-strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DatasetSamplingStrategy {
    /// Dataset order, wrapping around.
    Sequential,
    /// Uniform with replacement.
    Random,
    /// Shuffled order without replacement, reshuffled when exhausted.
    Shuffle,
}

/// One (ISL, OSL) pair of a sequence distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequencePair {
    /// Input length (mean and stddev, tokens).
    pub isl: TokenDistribution,
    /// Output length (mean and stddev, tokens); becomes `max_completion_tokens`.
    pub osl: TokenDistribution,
    /// Probability in percent (all pairs sum to 100).
    pub probability: f64,
}

/// A mixture of (ISL, OSL) pairs (`--seq-dist`, `docs/datasets.md` §1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceDistribution {
    /// The pairs in the order given.
    pub pairs: Vec<SequencePair>,
}

/// Allowed distance of the probability sum from 100 (percent).
pub const SEQ_DIST_TOLERANCE: f64 = 0.01;

const SEQ_DIST_HELP: &str = "use ISL,OSL:PERCENT;... (e.g. 128,64:25;512,128:75), \
ISL|SD,OSL|SD:PERCENT;..., [(ISL,OSL):PERCENT,...] or \
{\"pairs\":[{\"isl\":256,\"isl_stddev\":10,\"osl\":128,\"osl_stddev\":5,\"prob\":40},...]}";

impl SequenceDistribution {
    /// Parses any of the four formats of `--seq-dist` (semicolon, semicolon with
    /// `|stddev`, bracket, JSON). Probabilities are percentages that must sum to 100
    /// (± [`SEQ_DIST_TOLERANCE`]); lengths must be ≥ 1 and stddevs ≥ 0.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let bad =
            |why: String| ConfigError::new(format!("--seq-dist {text:?}: {why}; {SEQ_DIST_HELP}"));
        let s = text.trim();
        if s.is_empty() {
            return Err(bad("empty distribution".into()));
        }
        let pairs = if s.starts_with('{') {
            parse_json_pairs(s).map_err(bad)?
        } else if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| bad("missing closing ']'".into()))?;
            parse_bracket_pairs(inner).map_err(bad)?
        } else {
            s.split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (lengths, prob) = p
                        .rsplit_once(':')
                        .ok_or_else(|| format!("pair {p:?} has no ':PERCENT'"))?;
                    let (isl, osl) = lengths
                        .split_once(',')
                        .ok_or_else(|| format!("pair {p:?} needs ISL,OSL"))?;
                    make_pair(isl, osl, prob)
                })
                .collect::<Result<Vec<_>, String>>()
                .map_err(bad)?
        };
        if pairs.is_empty() {
            return Err(bad("no pairs".into()));
        }
        let total: f64 = pairs.iter().map(|p| p.probability).sum();
        if (total - 100.0).abs() > SEQ_DIST_TOLERANCE {
            return Err(bad(format!(
                "probabilities are percentages and must sum to 100, got {total}"
            )));
        }
        Ok(SequenceDistribution { pairs })
    }

    /// The pair selected by `u` ∈ [0, 1): the first pair whose cumulative probability
    /// (as a fraction of the total) exceeds `u`; the last pair for `u` at or beyond the end.
    pub fn pick(&self, u: f64) -> &SequencePair {
        let total: f64 = self.pairs.iter().map(|p| p.probability).sum();
        let mut cumulative = 0.0;
        for p in &self.pairs {
            cumulative += p.probability / total;
            if u < cumulative {
                return p;
            }
        }
        self.pairs.last().expect("a parsed distribution has pairs")
    }
}

fn parse_length(s: &str) -> Result<TokenDistribution, String> {
    let s = s.trim();
    let (mean, sd) = match s.split_once('|') {
        Some((m, sd)) => (m.trim(), Some(sd.trim())),
        None => (s, None),
    };
    let mean: f64 = mean
        .parse()
        .map_err(|_| format!("length {mean:?} is not a number"))?;
    if !mean.is_finite() || mean < 1.0 {
        return Err(format!("length {mean} must be at least 1"));
    }
    let stddev = match sd {
        Some(sd) => {
            let v: f64 = sd
                .parse()
                .map_err(|_| format!("stddev {sd:?} is not a number"))?;
            if !v.is_finite() || v < 0.0 {
                return Err(format!("stddev {v} must be zero or positive"));
            }
            v
        }
        None => 0.0,
    };
    Ok(TokenDistribution { mean, stddev })
}

fn parse_probability(s: &str) -> Result<f64, String> {
    let s = s.trim().trim_end_matches('%');
    let p: f64 = s
        .parse()
        .map_err(|_| format!("probability {s:?} is not a number"))?;
    if !p.is_finite() || p < 0.0 {
        return Err(format!("probability {p} must be zero or positive"));
    }
    Ok(p)
}

fn make_pair(isl: &str, osl: &str, prob: &str) -> Result<SequencePair, String> {
    Ok(SequencePair {
        isl: parse_length(isl)?,
        osl: parse_length(osl)?,
        probability: parse_probability(prob)?,
    })
}

fn parse_bracket_pairs(inner: &str) -> Result<Vec<SequencePair>, String> {
    let mut pairs = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let after_open = rest
            .strip_prefix('(')
            .ok_or_else(|| format!("expected '(' at {rest:?}"))?;
        let close = after_open
            .find(')')
            .ok_or_else(|| "missing ')'".to_string())?;
        let lengths = &after_open[..close];
        let after = after_open[close + 1..].trim_start();
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| format!("pair ({lengths}) has no ':PERCENT'"))?;
        let end = after.find(',').unwrap_or(after.len());
        let prob = &after[..end];
        let (isl, osl) = lengths
            .split_once(',')
            .ok_or_else(|| format!("pair ({lengths}) needs ISL,OSL"))?;
        pairs.push(make_pair(isl, osl, prob)?);
        rest = after[end..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    Ok(pairs)
}

fn parse_json_pairs(s: &str) -> Result<Vec<SequencePair>, String> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| format!("invalid JSON: {e}"))?;
    let pairs = v
        .get("pairs")
        .and_then(|p| p.as_array())
        .ok_or_else(|| "JSON needs a \"pairs\" array".to_string())?;
    pairs
        .iter()
        .map(|p| {
            let num = |key: &str, required: bool| -> Result<Option<f64>, String> {
                match p.get(key) {
                    Some(v) => v
                        .as_f64()
                        .map(Some)
                        .ok_or_else(|| format!("\"{key}\" must be a number, got {v}")),
                    None if required => Err(format!("pair {p} has no \"{key}\"")),
                    None => Ok(None),
                }
            };
            let isl = num("isl", true)?.unwrap_or_default().to_string();
            let osl = num("osl", true)?.unwrap_or_default().to_string();
            let isl_sd = num("isl_stddev", false)?.unwrap_or(0.0);
            let osl_sd = num("osl_stddev", false)?.unwrap_or(0.0);
            let prob = match num("prob", false)? {
                Some(x) => x,
                None => num("probability", true)?.unwrap_or_default(),
            };
            make_pair(
                &format!("{isl}|{isl_sd}"),
                &format!("{osl}|{osl_sd}"),
                &prob.to_string(),
            )
        })
        .collect()
}

/// Trace synthesis parameters (`--synthesis-*`, `docs/datasets.md` §6).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SynthesisConfig {
    /// Divide trace timestamps by this (2.0 = twice as fast).
    pub speedup_ratio: f64,
    /// Scale the shared-prefix length.
    pub prefix_len_multiplier: f64,
    /// Spread rows over this many independent prefix trees.
    pub prefix_root_multiplier: u32,
    /// Scale the unique (non-shared) prompt length.
    pub prompt_len_multiplier: f64,
    /// Scale output lengths.
    pub output_len_multiplier: f64,
    /// Drop rows whose `input_length` exceeds this.
    pub max_isl: Option<u64>,
    /// Cap `output_length` at this.
    pub max_osl: Option<u64>,
}

impl Default for SynthesisConfig {
    fn default() -> Self {
        SynthesisConfig {
            speedup_ratio: defs::SYNTHESIS_MULTIPLIER,
            prefix_len_multiplier: defs::SYNTHESIS_MULTIPLIER,
            prefix_root_multiplier: defs::SYNTHESIS_ROOT_MULTIPLIER,
            prompt_len_multiplier: defs::SYNTHESIS_MULTIPLIER,
            output_len_multiplier: defs::SYNTHESIS_MULTIPLIER,
            max_isl: None,
            max_osl: None,
        }
    }
}

impl SynthesisConfig {
    /// True when any of the five multipliers differs from 1 (the synthesizer runs);
    /// `max_isl`/`max_osl` act regardless.
    pub fn is_active(&self) -> bool {
        self.speedup_ratio != 1.0
            || self.prefix_len_multiplier != 1.0
            || self.prefix_root_multiplier != 1
            || self.prompt_len_multiplier != 1.0
            || self.output_len_multiplier != 1.0
    }

    /// True when the prefix/prompt/root multipliers (which need `hash_ids`) are set.
    pub fn changes_hash_ids(&self) -> bool {
        self.prefix_len_multiplier != 1.0
            || self.prompt_len_multiplier != 1.0
            || self.prefix_root_multiplier != 1
    }
}

/// The resolved dataset options (`ProfileConfig::dataset`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetConfig {
    /// `--input-file`: the dataset file (or random-pool directory, or ShareGPT JSON).
    pub input_file: Option<PathBuf>,
    /// `--custom-dataset-type`; `None` = detected from the file.
    pub custom_dataset_type: Option<CustomDatasetType>,
    /// `--public-dataset`.
    pub public_dataset: Option<PublicDataset>,
    /// `--dataset-sampling-strategy` as given; `None` = the default of the dataset
    /// ([`DatasetConfig::sampling_strategy_or_default`]).
    pub sampling_strategy: Option<DatasetSamplingStrategy>,
    /// `--prompt-prefix-pool-size`: number of prefix prompts (0 = none).
    pub prefix_prompt_pool_size: usize,
    /// `--prompt-prefix-length`: tokens per prefix prompt.
    pub prefix_prompt_length: usize,
    /// `--shared-system-prompt-length`: tokens of the system prompt shared by all
    /// conversations.
    pub shared_system_prompt_length: Option<usize>,
    /// `--user-context-prompt-length`: tokens of the per-conversation user context.
    pub user_context_prompt_length: Option<usize>,
    /// `--system-prompt` (or the text of `--system-prompt-file`): a system message
    /// sent verbatim at the start of every conversation.
    pub system_prompt: Option<String>,
    /// Turns per synthetic conversation (`--session-turns-mean/-stddev`).
    pub turns: TokenDistribution,
    /// Think time in ms before synthetic turns ≥ 1 (`--session-turn-delay-mean/-stddev`).
    pub turn_delay_ms: TokenDistribution,
    /// Multiplier of every synthetic delay (`--session-delay-ratio`).
    pub turn_delay_ratio: f64,
    /// `--conversation-num/--num-sessions`: conversations built by `random_pool`; the
    /// timing side may also treat it as a session-count stop condition.
    pub num_conversations: Option<usize>,
    /// `--seq-dist`: (ISL, OSL) mixture overriding `--isl/--osl` for synthetic prompts.
    pub seq_dist: Option<SequenceDistribution>,
    /// Fixed schedule as chosen by the user: `Some(true)` = `--fixed-schedule`,
    /// `Some(false)` = `--no-fixed-schedule`, `None` = automatic (on for timestamped
    /// files). The dataset manager makes the final decision (see `build_dataset`).
    pub fixed_schedule: Option<bool>,
    /// `--fixed-schedule-auto-offset` as given; see [`DatasetConfig::auto_offset`].
    pub fixed_schedule_auto_offset: Option<bool>,
    /// `--fixed-schedule-start-offset` (ms of the trace): rows before it are dropped;
    /// the schedule zero.
    pub fixed_schedule_start_offset_ms: Option<u64>,
    /// `--fixed-schedule-end-offset` (ms of the trace): rows after it are dropped.
    pub fixed_schedule_end_offset_ms: Option<u64>,
    /// `--synthesis-*`.
    pub synthesis: SynthesisConfig,
    /// `--ignore-trace-delays`: drop timestamps and delays of files.
    pub ignore_trace_delays: bool,
    /// `--replay-speedup`: the timestamps and inter-turn delays of `--input-file` rows
    /// are divided by it (`None` = recorded speed).
    pub replay_speedup: Option<f64>,
}

impl Default for DatasetConfig {
    fn default() -> Self {
        DatasetConfig {
            input_file: None,
            custom_dataset_type: None,
            public_dataset: None,
            sampling_strategy: None,
            prefix_prompt_pool_size: defs::PREFIX_POOL_SIZE,
            prefix_prompt_length: defs::PREFIX_LENGTH,
            shared_system_prompt_length: None,
            user_context_prompt_length: None,
            system_prompt: None,
            turns: TokenDistribution {
                mean: defs::TURN_MEAN,
                stddev: defs::TURN_STDDEV,
            },
            turn_delay_ms: TokenDistribution {
                mean: defs::TURN_DELAY_MEAN_MS,
                stddev: defs::TURN_DELAY_STDDEV_MS,
            },
            turn_delay_ratio: defs::TURN_DELAY_RATIO,
            num_conversations: None,
            seq_dist: None,
            fixed_schedule: None,
            fixed_schedule_auto_offset: None,
            fixed_schedule_start_offset_ms: None,
            fixed_schedule_end_offset_ms: None,
            synthesis: SynthesisConfig::default(),
            ignore_trace_delays: false,
            replay_speedup: None,
        }
    }
}

impl DatasetConfig {
    /// True when nothing differs from the defaults (used to keep `input_config` short).
    pub fn is_default(&self) -> bool {
        *self == DatasetConfig::default()
    }

    /// True for the synthetic dataset (no `--input-file`, no `--public-dataset`).
    pub fn is_synthetic(&self) -> bool {
        self.input_file.is_none() && self.public_dataset.is_none()
    }

    /// The sampling strategy: as given, else `shuffle` for synthetic data and
    /// `sequential` for files, traces and public datasets.
    pub fn sampling_strategy_or_default(&self) -> DatasetSamplingStrategy {
        self.sampling_strategy.unwrap_or(if self.is_synthetic() {
            DatasetSamplingStrategy::Shuffle
        } else {
            DatasetSamplingStrategy::Sequential
        })
    }

    /// The factor file timestamps are divided by: `--synthesis-speedup-ratio` or
    /// `--replay-speedup` (they exclude each other).
    pub fn timestamp_speedup(&self) -> f64 {
        self.synthesis.speedup_ratio * self.replay_speedup.unwrap_or(1.0)
    }

    /// Whether the fixed schedule starts at the first timestamp: as given, else on
    /// unless a start offset is set (AIPerf 0.13 phase default).
    pub fn auto_offset(&self) -> bool {
        self.fixed_schedule_auto_offset
            .unwrap_or(self.fixed_schedule_start_offset_ms.is_none())
    }

    /// Checks the options that depend on the file format, once it is known (given or
    /// detected): `--synthesis-*` prefix/prompt/root multipliers need `mooncake_trace`
    /// (they rewrite `hash_ids`); `--synthesis-max-isl/-max-osl` and the output
    /// multiplier need a trace format; `random_pool` has no timestamps.
    pub fn check_type(&self, t: CustomDatasetType) -> Result<(), ConfigError> {
        let s = &self.synthesis;
        if s.changes_hash_ids() && t != CustomDatasetType::MooncakeTrace {
            return Err(ConfigError::new(format!(
                "--synthesis-prefix-len-multiplier, --synthesis-prompt-len-multiplier and \
                 --synthesis-prefix-root-multiplier rewrite hash_ids and only apply to \
                 --custom-dataset-type mooncake_trace (the file is {})",
                t.name()
            )));
        }
        if !t.is_trace()
            && (s.max_isl.is_some() || s.max_osl.is_some() || s.output_len_multiplier != 1.0)
        {
            return Err(ConfigError::new(format!(
                "--synthesis-max-isl, --synthesis-max-osl and --synthesis-output-len-multiplier \
                 only apply to mooncake_trace and azure_trace files (the file is {})",
                t.name()
            )));
        }
        if t == CustomDatasetType::RandomPool {
            if self.fixed_schedule == Some(true) {
                return Err(ConfigError::new(
                    "--fixed-schedule: a random_pool dataset has no timestamps; drop --fixed-schedule",
                ));
            }
            if s.speedup_ratio != 1.0 {
                return Err(ConfigError::new(
                    "--synthesis-speedup-ratio: a random_pool dataset has no timestamps to speed up",
                ));
            }
        }
        Ok(())
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::new(msg))
}

fn finite_at_least(
    name: &str,
    v: Option<f64>,
    min: f64,
    strict: bool,
) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(x) if !x.is_finite() || x < min || (strict && x == min) => {
            let what = if strict {
                format!("greater than {min}")
            } else {
                format!("at least {min}")
            };
            err(format!("{name} must be a number {what}, got {x}"))
        }
        other => Ok(other),
    }
}

/// Resolves and validates the dataset options of `a`. Errors name the option and what
/// to do.
pub(crate) fn resolve_dataset(a: &ProfileArgs) -> Result<DatasetConfig, ConfigError> {
    let mut d = DatasetConfig {
        input_file: a.input_file.clone(),
        custom_dataset_type: a.custom_dataset_type,
        public_dataset: a.public_dataset,
        sampling_strategy: a.dataset_sampling_strategy,
        ..DatasetConfig::default()
    };
    if let Some(p) = &d.input_file
        && p.as_os_str().is_empty()
    {
        return err("--input-file is empty; give the path of the dataset file");
    }
    if d.custom_dataset_type.is_some() && d.input_file.is_none() {
        return err("--custom-dataset-type needs --input-file FILE (the file in that format)");
    }
    if d.custom_dataset_type.is_some() && d.public_dataset.is_some() {
        return err(
            "--custom-dataset-type and --public-dataset are mutually exclusive; use one dataset source",
        );
    }
    let has_file = d.input_file.is_some() && d.public_dataset.is_none();

    // --- fixed schedule
    d.fixed_schedule = match (a.fixed_schedule, a.no_fixed_schedule) {
        (Some(true), Some(true)) => {
            return err(
                "--fixed-schedule and --no-fixed-schedule are mutually exclusive; pass one",
            );
        }
        (Some(true), _) => Some(true),
        (_, Some(true)) => Some(false),
        // `--fixed-schedule false` is the CLI default: automatic.
        _ => None,
    };
    if d.fixed_schedule == Some(true) && !has_file {
        return err(
            "--fixed-schedule needs a timestamped --input-file (mooncake_trace, azure_trace, or \
             single_turn/multi_turn rows with \"timestamp\")",
        );
    }
    d.fixed_schedule_auto_offset = a.fixed_schedule_auto_offset;
    d.fixed_schedule_start_offset_ms = a.fixed_schedule_start_offset;
    d.fixed_schedule_end_offset_ms = a.fixed_schedule_end_offset;
    for (name, given) in [
        (
            "--fixed-schedule-auto-offset",
            a.fixed_schedule_auto_offset.is_some(),
        ),
        (
            "--fixed-schedule-start-offset",
            a.fixed_schedule_start_offset.is_some(),
        ),
        (
            "--fixed-schedule-end-offset",
            a.fixed_schedule_end_offset.is_some(),
        ),
    ] {
        if given && (!has_file || d.fixed_schedule == Some(false)) {
            return err(format!(
                "{name} needs a fixed schedule: a timestamped --input-file (and no --no-fixed-schedule)"
            ));
        }
    }
    if a.fixed_schedule_auto_offset == Some(true) && a.fixed_schedule_start_offset.is_some() {
        return err(
            "--fixed-schedule-auto-offset and --fixed-schedule-start-offset are mutually exclusive: \
             the schedule starts either at the first timestamp or at the start offset",
        );
    }
    if let (Some(s), Some(e)) = (a.fixed_schedule_start_offset, a.fixed_schedule_end_offset)
        && s > e
    {
        return err(format!(
            "--fixed-schedule-start-offset {s} is after --fixed-schedule-end-offset {e}; the start must be <= the end"
        ));
    }
    if d.sampling_strategy.is_some() && d.fixed_schedule == Some(true) {
        return err(
            "--dataset-sampling-strategy cannot be used with --fixed-schedule: a trace is replayed in \
             timestamp order; drop one of them",
        );
    }
    d.ignore_trace_delays = a.ignore_trace_delays.unwrap_or(false);
    if d.ignore_trace_delays {
        if !has_file {
            return err("--ignore-trace-delays only applies to an --input-file dataset");
        }
        if d.fixed_schedule == Some(true) {
            return err(
                "--ignore-trace-delays drops the timestamps that --fixed-schedule replays; drop one of them",
            );
        }
    }

    // --- synthesis
    let s = SynthesisConfig {
        speedup_ratio: finite_at_least(
            "--synthesis-speedup-ratio",
            a.synthesis_speedup_ratio,
            0.0,
            true,
        )?
        .unwrap_or(defs::SYNTHESIS_MULTIPLIER),
        prefix_len_multiplier: finite_at_least(
            "--synthesis-prefix-len-multiplier",
            a.synthesis_prefix_len_multiplier,
            0.0,
            true,
        )?
        .unwrap_or(defs::SYNTHESIS_MULTIPLIER),
        prefix_root_multiplier: match a.synthesis_prefix_root_multiplier {
            Some(0) => return err("--synthesis-prefix-root-multiplier must be at least 1"),
            Some(n) => n,
            None => defs::SYNTHESIS_ROOT_MULTIPLIER,
        },
        prompt_len_multiplier: finite_at_least(
            "--synthesis-prompt-len-multiplier",
            a.synthesis_prompt_len_multiplier,
            0.0,
            true,
        )?
        .unwrap_or(defs::SYNTHESIS_MULTIPLIER),
        output_len_multiplier: finite_at_least(
            "--synthesis-output-len-multiplier",
            a.synthesis_output_len_multiplier,
            0.0,
            true,
        )?
        .unwrap_or(defs::SYNTHESIS_MULTIPLIER),
        max_isl: match a.synthesis_max_isl {
            Some(0) => return err("--synthesis-max-isl must be at least 1"),
            other => other,
        },
        max_osl: match a.synthesis_max_osl {
            Some(0) => return err("--synthesis-max-osl must be at least 1"),
            other => other,
        },
    };
    let synthesis_given = [
        a.synthesis_speedup_ratio.is_some(),
        a.synthesis_prefix_len_multiplier.is_some(),
        a.synthesis_prefix_root_multiplier.is_some(),
        a.synthesis_prompt_len_multiplier.is_some(),
        a.synthesis_output_len_multiplier.is_some(),
        a.synthesis_max_isl.is_some(),
        a.synthesis_max_osl.is_some(),
    ]
    .contains(&true);
    if synthesis_given && !has_file {
        return err(
            "--synthesis-* options transform a trace file: give --input-file with a mooncake_trace or azure_trace",
        );
    }
    d.synthesis = s;
    d.replay_speedup = finite_at_least("--replay-speedup", a.replay_speedup, 0.0, true)?;
    if d.replay_speedup.is_some() {
        if !has_file {
            return err(
                "--replay-speedup speeds up the timestamps and delays of an --input-file; give the file",
            );
        }
        if a.synthesis_speedup_ratio.is_some() {
            return err(
                "--replay-speedup and --synthesis-speedup-ratio are mutually exclusive; give one speed-up",
            );
        }
    }

    // --- synthetic shape
    let pool = a.prompt_prefix_pool_size.unwrap_or(defs::PREFIX_POOL_SIZE);
    let pool_len = a.prompt_prefix_length.unwrap_or(defs::PREFIX_LENGTH);
    if (pool > 0) != (pool_len > 0) {
        return err(
            "--prompt-prefix-pool-size and --prompt-prefix-length go together: give both (number of \
             prefix prompts and tokens per prefix), e.g. --num-prefix-prompts 10 --prefix-prompt-length 512",
        );
    }
    d.prefix_prompt_pool_size = pool;
    d.prefix_prompt_length = pool_len;
    for (name, v) in [
        (
            "--shared-system-prompt-length",
            a.shared_system_prompt_length,
        ),
        ("--user-context-prompt-length", a.user_context_prompt_length),
    ] {
        if v == Some(0) {
            return err(format!("{name} must be at least 1 token"));
        }
    }
    d.shared_system_prompt_length = a.shared_system_prompt_length;
    d.user_context_prompt_length = a.user_context_prompt_length;
    d.system_prompt = system_prompt(a)?;
    if d.system_prompt.is_some() && d.shared_system_prompt_length.is_some() {
        return err(
            "--system-prompt/--system-prompt-file and --shared-system-prompt-length both set the system \
             message; give one of them",
        );
    }
    if pool > 0
        && (d.shared_system_prompt_length.is_some() || d.user_context_prompt_length.is_some())
    {
        return err(
            "the prefix prompt pool (--num-prefix-prompts/--prefix-prompt-length) and shared prompts \
             (--shared-system-prompt-length/--user-context-prompt-length) are mutually exclusive; use one kind",
        );
    }
    if d.user_context_prompt_length.is_some() && a.num_dataset_entries.is_none() {
        return err(
            "--user-context-prompt-length needs --num-dataset-entries N (one distinct context prompt per conversation)",
        );
    }
    let turn_mean = finite_at_least(
        "--conversation-turn-mean/--session-turns-mean",
        a.conversation_turn_mean,
        1.0,
        false,
    )?;
    let turn_sd = finite_at_least(
        "--conversation-turn-stddev/--session-turns-stddev",
        a.conversation_turn_stddev,
        0.0,
        false,
    )?;
    let delay_mean = finite_at_least(
        "--conversation-turn-delay-mean/--session-turn-delay-mean",
        a.conversation_turn_delay_mean,
        0.0,
        false,
    )?;
    let delay_sd = finite_at_least(
        "--conversation-turn-delay-stddev/--session-turn-delay-stddev",
        a.conversation_turn_delay_stddev,
        0.0,
        false,
    )?;
    let ratio = finite_at_least(
        "--conversation-turn-delay-ratio/--session-delay-ratio",
        a.conversation_turn_delay_ratio,
        0.0,
        false,
    )?;
    d.turns = TokenDistribution {
        mean: turn_mean.unwrap_or(defs::TURN_MEAN),
        stddev: turn_sd.unwrap_or(defs::TURN_STDDEV),
    };
    d.turn_delay_ms = TokenDistribution {
        mean: delay_mean.unwrap_or(defs::TURN_DELAY_MEAN_MS),
        stddev: delay_sd.unwrap_or(defs::TURN_DELAY_STDDEV_MS),
    };
    d.turn_delay_ratio = ratio.unwrap_or(defs::TURN_DELAY_RATIO);
    if let Some(text) = &a.seq_dist {
        d.seq_dist = Some(SequenceDistribution::parse(text)?);
    }
    if !d.is_synthetic() {
        let synthetic_only = [
            ("--prompt-prefix-pool-size/--prompt-prefix-length", pool > 0),
            (
                "--shared-system-prompt-length",
                d.shared_system_prompt_length.is_some(),
            ),
            (
                "--user-context-prompt-length",
                d.user_context_prompt_length.is_some(),
            ),
            (
                "--conversation-turn-mean/--session-turns-mean",
                turn_mean.is_some(),
            ),
            (
                "--conversation-turn-stddev/--session-turns-stddev",
                turn_sd.is_some(),
            ),
            (
                "--conversation-turn-delay-mean/--session-turn-delay-mean",
                delay_mean.is_some(),
            ),
            (
                "--conversation-turn-delay-stddev/--session-turn-delay-stddev",
                delay_sd.is_some(),
            ),
            (
                "--conversation-turn-delay-ratio/--session-delay-ratio",
                ratio.is_some(),
            ),
            ("--seq-dist", d.seq_dist.is_some()),
        ];
        if let Some((name, _)) = synthetic_only.iter().find(|(_, given)| *given) {
            return err(format!(
                "{name} shapes synthetic prompts and does not apply to --input-file/--public-dataset \
                 datasets; drop it or the dataset file"
            ));
        }
    }

    // --- conversation count
    match a.conversation_num {
        Some(0) => return err("--conversation-num/--num-sessions must be at least 1"),
        Some(_) if a.request_count.is_some() => {
            return err(
                "--request-count and --conversation-num/--num-sessions are mutually exclusive; give one stop condition",
            );
        }
        other => d.num_conversations = other,
    }

    if let Some(t) = d.custom_dataset_type {
        d.check_type(t)?;
    }
    Ok(d)
}

/// The verbatim system message: `--system-prompt TEXT`, or the text of
/// `--system-prompt-file` without its final line break.
fn system_prompt(a: &ProfileArgs) -> Result<Option<String>, ConfigError> {
    let text = match (&a.system_prompt, &a.system_prompt_file) {
        (Some(_), Some(_)) => {
            return err(
                "--system-prompt and --system-prompt-file are mutually exclusive; give the text or the file",
            );
        }
        (Some(t), None) => t.clone(),
        (None, Some(path)) => {
            let t = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(format!(
                    "--system-prompt-file {}: cannot read it: {e}",
                    path.display()
                ))
            })?;
            let t = t.strip_suffix('\n').unwrap_or(&t);
            t.strip_suffix('\r').unwrap_or(t).to_string()
        }
        (None, None) => return Ok(None),
    };
    if text.trim().is_empty() {
        return err("--system-prompt/--system-prompt-file: the system prompt is empty");
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests;
