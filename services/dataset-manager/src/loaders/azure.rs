//! `azure_trace`: the Azure LLM inference trace CSV (aiperf-rs extension).
//!
//! ```csv
//! TIMESTAMP,ContextTokens,GeneratedTokens
//! 2023-11-16 18:15:46.6805900,374,44
//! 2023-11-16 18:15:50.9951690,396,109
//! ```
//!
//! * `TIMESTAMP`: wall-clock `YYYY-MM-DD HH:MM:SS[.fffffff]` (any number of fractional
//!   digits up to 9, no time zone) → milliseconds relative to the earliest row (the
//!   first row of the sorted public files), fractions kept;
//! * `ContextTokens` → a synthetic prompt of exactly that many tokens (corpus text,
//!   like `--isl`);
//! * `GeneratedTokens` → `max_tokens`.
//!
//! Each row is one single-turn conversation. The fixed-schedule window,
//! `--synthesis-max-isl/-max-osl` and `--synthesis-output-len-multiplier` apply as for
//! Mooncake traces (there are no hash ids, so the prefix multipliers do not).

use super::IdGen;
use super::fields::read_file;
use crate::prompt::PromptGenerator;
use crate::synthesis::{TraceInput, TraceRow, filter_rows, synthesize};
use aiperf_config::ProfileConfig;
use aiperf_protocol::dataset::{Conversation, Turn};
use aiperf_tokenizer::Tokenizer;
use std::path::Path;
use std::sync::Arc;

/// The header line.
pub const HEADER: &str = "TIMESTAMP,ContextTokens,GeneratedTokens";

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS[.f…]` (or with a `T`) into nanoseconds since the Unix
/// epoch (no time zone: the value is only used for differences).
pub fn parse_wall_clock(s: &str) -> Option<i128> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let (y, mo, da) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() || y.len() != 4 || mo.len() != 2 || da.len() != 2 {
        return None;
    }
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, da) = (num(y)?, num(mo)?, num(da)?);
    if !(1..=12).contains(&mo) || da < 1 || da > days_in_month(y, mo) {
        return None;
    }
    let (hms, frac) = match time.split_once('.') {
        Some((hms, frac)) => (hms, frac),
        None => (time, ""),
    };
    let mut t = hms.split(':');
    let (h, mi, se) = (t.next()?, t.next()?, t.next()?);
    if t.next().is_some() || h.len() != 2 || mi.len() != 2 || se.len() != 2 {
        return None;
    }
    let (h, mi, se) = (num(h)?, num(mi)?, num(se)?);
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    if frac.len() > 9
        || (!frac.is_empty() && num(frac).is_none())
        || (time.contains('.') && frac.is_empty())
    {
        return None;
    }
    let frac_ns: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let secs = days_from_civil(y, mo, da) * 86_400 + h * 3_600 + mi * 60 + se;
    Some(secs as i128 * 1_000_000_000 + frac_ns)
}

/// Parses the CSV into trace rows (timestamps in ms relative to the earliest row).
pub fn parse_rows(file: &str, text: &str) -> Result<Vec<TraceRow>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, h)) if h.trim().trim_start_matches('\u{feff}') == HEADER => {}
        Some((i, h)) => {
            return Err(format!(
                "{file} line {}: expected the header {HEADER}, got {:?}",
                i + 1,
                h.trim()
            ));
        }
        None => {
            return Err(format!(
                "{file} is empty: expected the header {HEADER} and rows"
            ));
        }
    }
    let mut raw = Vec::new();
    for (i, l) in lines {
        let line = i + 1;
        let cols: Vec<&str> = l.trim().split(',').map(str::trim).collect();
        if cols.len() != 3 {
            return Err(format!(
                "{file} line {line}: expected 3 columns ({HEADER}), got {}",
                cols.len()
            ));
        }
        let field_err = |name: &str, what: &str, got: &str| {
            format!("{file} line {line}: field \"{name}\": expected {what}, got {got:?}")
        };
        let ns = parse_wall_clock(cols[0])
            .ok_or_else(|| field_err("TIMESTAMP", "YYYY-MM-DD HH:MM:SS[.fffffff]", cols[0]))?;
        let context: u64 = match cols[1].parse() {
            Ok(n) if n >= 1 => n,
            _ => return Err(field_err("ContextTokens", "an integer >= 1", cols[1])),
        };
        let generated: u32 = match cols[2].parse() {
            Ok(n) if n >= 1 => n,
            _ => return Err(field_err("GeneratedTokens", "an integer >= 1", cols[2])),
        };
        raw.push((line, ns, context, generated));
    }
    let Some(zero) = raw.iter().map(|r| r.1).min() else {
        return Err(format!("{file} has a header but no rows"));
    };
    Ok(raw
        .into_iter()
        .map(|(line, ns, context, generated)| TraceRow {
            line,
            timestamp: Some((ns - zero) as f64 / 1e6),
            delay: None,
            session_id: None,
            input: TraceInput::Tokens {
                input_length: context,
                hash_ids: Vec::new(),
            },
            output_length: Some(generated as u64),
            extra: None,
        })
        .collect())
}

/// Mixes a row key into the seed (splitmix64 finalizer) so each row's prompt has its
/// own RNG stream, independent of the thread that builds it.
fn row_seed(seed: u64, key: u64) -> u64 {
    let mut z = seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Exact-length prompts for `(key, tokens)` requests, built on all cores; with a seed
/// each prompt depends only on the seed and its key.
pub fn exact_prompts(
    tokenizer: &Arc<Tokenizer>,
    seed: Option<u64>,
    requests: &[(u64, usize)],
) -> Vec<String> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let per = requests.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = requests
            .chunks(per)
            .map(|group| {
                s.spawn(move || {
                    group
                        .iter()
                        .map(|&(key, n)| {
                            PromptGenerator::new(
                                Arc::clone(tokenizer),
                                seed.map(|s| row_seed(s, key)),
                            )
                            .generate(n)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("prompt thread panicked"))
            .collect()
    })
}

/// Loads an Azure trace CSV.
pub fn load(
    path: &Path,
    config: &ProfileConfig,
    tokenizer: Arc<Tokenizer>,
) -> Result<Vec<Conversation>, String> {
    let bytes = read_file(path)?;
    let file = path.display().to_string();
    let text = std::str::from_utf8(&bytes).map_err(|e| format!("{file}: not UTF-8 text: {e}"))?;
    let d = &config.dataset;
    let rows = parse_rows(&file, text)?;
    let mut rows = filter_rows(
        rows,
        d.fixed_schedule_start_offset_ms,
        d.fixed_schedule_end_offset_ms,
        d.synthesis.max_isl,
    );
    synthesize(
        &mut rows,
        &d.synthesis,
        config.isl_block_size.max(1) as u64,
        config.random_seed,
    )?;
    let requests: Vec<(u64, usize)> = rows
        .iter()
        .map(|r| (r.line as u64, r.input_length().unwrap_or(1) as usize))
        .collect();
    let texts = exact_prompts(&tokenizer, config.random_seed, &requests);
    let mut ids = IdGen::new(config.random_seed, []);
    Ok(rows
        .into_iter()
        .zip(texts)
        .map(|(r, text)| Conversation {
            id: ids.next_id(),
            turns: vec![Turn {
                texts: vec![text],
                max_tokens: r.output_length.map(|n| n.min(u32::MAX as u64) as u32),
                timestamp_ms: r.timestamp,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect())
}
