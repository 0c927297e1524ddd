//! Fault injection (`--fault`): hostile responses for testing a client.
//!
//! A fault is `CASE[=N][@WHEN]`:
//!
//! | case | effect on a selected request |
//! |---|---|
//! | `status=CODE` | answer at once with HTTP `CODE` (400–599) and an OpenAI error body (`429` adds `Retry-After: 1`) |
//! | `reset-after=N` | send `N` body chunks, then reset the connection (TCP RST where the platform allows) |
//! | `stall-after=N` | send `N` body chunks, then nothing more while keeping the connection open |
//! | `garbage-lines` | streaming: SSE comments, unknown fields, a non-SSE text line and invalid UTF-8 before every event |
//! | `invalid-json` | streaming: one `data:` event holding truncated JSON before the second event |
//! | `crlf` | streaming: every line ends with `\r\n` |
//! | `split` | every body chunk is written in pieces cut inside `data:`, inside the first multi-byte UTF-8 character and in the middle |
//! | `non-sse` | a streaming request gets the plain JSON (non-streaming) response |
//! | `big-chunk` | streaming: the first chunk carries a 1 MiB event without content before the first token |
//! | `slow-drip=MS` | every body chunk is written 7 bytes at a time, `MS` ms apart |
//!
//! `WHEN` selects the requests (by arrival order, inference requests only):
//! nothing = every request, `@0.25` = each request with probability 0.25 (a hash
//! of `--random-seed` and the arrival number, so runs repeat), `@1/5` = every
//! fifth request (the 5th, 10th, ...). With several `--fault` flags the first one
//! that selects a request applies to it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::conn::ConnControl;
use crate::generate::{splitmix64, unit};

/// What a fault does to a response.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "case", content = "n")]
pub enum FaultCase {
    /// Answer with this HTTP status and an error body.
    Status(u16),
    /// Reset the connection after this many body chunks.
    ResetAfter(u32),
    /// Stop sending after this many body chunks, keeping the connection open.
    StallAfter(u32),
    /// SSE comments, unknown fields and non-SSE lines between events.
    GarbageLines,
    /// One `data:` event of invalid JSON before the second event.
    InvalidJson,
    /// `\r\n` line endings.
    Crlf,
    /// Body chunks cut at odd byte boundaries.
    Split,
    /// A plain JSON body for a streaming request.
    NonSse,
    /// A 1 MiB event without content before the first token.
    BigChunk,
    /// Body chunks written 7 bytes at a time, this many ms apart.
    SlowDrip(f64),
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultWhen {
    /// Every request.
    Always,
    /// Each request with this probability (seeded, by arrival number).
    Probability(f64),
    /// Every n-th request (1-based arrival numbers n, 2n, ...).
    Every(u64),
}

/// One `--fault` flag.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Fault {
    /// The effect.
    pub case: FaultCase,
    /// The requests it applies to.
    pub when: FaultWhen,
}

const CASES: &str = "status=CODE, reset-after=N, stall-after=N, garbage-lines, invalid-json, crlf, split, non-sse, big-chunk, slow-drip=MS";

impl std::str::FromStr for Fault {
    type Err = String;

    /// Parses `CASE[=N][@WHEN]` (see the module documentation).
    fn from_str(s: &str) -> Result<Fault, String> {
        let s = s.trim();
        let (case, when) = match s.split_once('@') {
            Some((c, w)) => (c, Some(w)),
            None => (s, None),
        };
        let (name, arg) = match case.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (case.trim(), None),
        };
        let need = |what: &str| -> Result<&str, String> {
            arg.ok_or_else(|| format!("--fault {name} needs a value: {name}={what}"))
        };
        let count = |what: &str| -> Result<u32, String> {
            need(what)?
                .parse::<u32>()
                .map_err(|_| format!("--fault {name}={}: not a count", arg.unwrap_or("")))
        };
        let no_arg = |c: FaultCase| -> Result<FaultCase, String> {
            match arg {
                None => Ok(c),
                Some(a) => Err(format!("--fault {name} takes no value, got {name}={a}")),
            }
        };
        let case = match name {
            "status" => {
                let code = need("CODE")?;
                match code.parse::<u16>() {
                    Ok(c @ 400..=599) => FaultCase::Status(c),
                    _ => {
                        return Err(format!(
                            "--fault status={code}: the status must be in 400-599"
                        ));
                    }
                }
            }
            "reset-after" => FaultCase::ResetAfter(count("N")?),
            "stall-after" => FaultCase::StallAfter(count("N")?),
            "slow-drip" => {
                let v = need("MS")?;
                match v.parse::<f64>() {
                    Ok(ms) if ms.is_finite() && (0.0..=60_000.0).contains(&ms) => {
                        FaultCase::SlowDrip(ms)
                    }
                    _ => {
                        return Err(format!(
                            "--fault slow-drip={v}: milliseconds in [0, 60000] expected"
                        ));
                    }
                }
            }
            "garbage-lines" => no_arg(FaultCase::GarbageLines)?,
            "invalid-json" => no_arg(FaultCase::InvalidJson)?,
            "crlf" => no_arg(FaultCase::Crlf)?,
            "split" => no_arg(FaultCase::Split)?,
            "non-sse" => no_arg(FaultCase::NonSse)?,
            "big-chunk" => no_arg(FaultCase::BigChunk)?,
            other => return Err(format!("--fault {other}: unknown case; one of {CASES}")),
        };
        let when = match when.map(str::trim) {
            None => FaultWhen::Always,
            Some(w) => match w.split_once('/') {
                Some(("1", n)) => match n.trim().parse::<u64>() {
                    Ok(n) if n >= 1 => FaultWhen::Every(n),
                    _ => return Err(format!("--fault {s}: @1/N needs a whole N >= 1")),
                },
                Some(_) => {
                    return Err(format!(
                        "--fault {s}: write every N-th request as @1/N (e.g. @1/5)"
                    ));
                }
                None => match w.parse::<f64>() {
                    Ok(p) if p > 0.0 && p <= 1.0 => FaultWhen::Probability(p),
                    _ => {
                        return Err(format!(
                            "--fault {s}: @P needs a probability in (0, 1], or @1/N for every N-th request"
                        ));
                    }
                },
            },
        };
        Ok(Fault { case, when })
    }
}

impl Fault {
    /// Whether this fault (the `index`-th flag) applies to the request with
    /// 0-based arrival number `n_req`.
    fn selects(&self, index: usize, n_req: u64, seed: u64) -> bool {
        match self.when {
            FaultWhen::Always => true,
            FaultWhen::Every(n) => (n_req + 1).is_multiple_of(n),
            FaultWhen::Probability(p) => {
                let h = splitmix64(
                    seed ^ splitmix64(n_req ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9)),
                );
                unit(h) < p
            }
        }
    }
}

/// The fault of request `n_req`: the first of `faults` that selects it.
pub(crate) fn pick(faults: &[Fault], n_req: u64, seed: u64) -> Option<FaultCase> {
    faults
        .iter()
        .enumerate()
        .find(|(i, f)| f.selects(*i, n_req, seed))
        .map(|(_, f)| f.case)
}

/// Size of the `big-chunk` event.
pub(crate) const BIG_CHUNK: usize = 1 << 20;
/// Piece size of `slow-drip`.
const DRIP_PIECE: usize = 7;

/// The lines `garbage-lines` puts before every event: all must be ignored by
/// an SSE client.
const GARBAGE: &[u8] =
    b": mock comment\nretry: 1000\nid: 42\nthis line is not sse\n\xff\xfe not utf-8\n";

/// The event `invalid-json` inserts: a `data:` line whose JSON is cut short.
pub(crate) const INVALID_JSON_EVENT: &[u8] =
    b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" broken\n\n";

/// The 1 MiB event of `big-chunk`: valid JSON, no content.
fn big_event() -> Bytes {
    let head = b"data: {\"choices\":[],\"padding\":\"";
    let tail = b"\"}\n\n";
    let mut b = BytesMut::with_capacity(BIG_CHUNK);
    b.extend_from_slice(head);
    b.resize(BIG_CHUNK - tail.len(), b'x');
    b.extend_from_slice(tail);
    b.freeze()
}

/// Cut points of `split` in a chunk: 3 (inside `data:`), inside the first
/// multi-byte UTF-8 character, and the middle; sorted, deduplicated, inside.
fn split_points(b: &[u8]) -> Vec<usize> {
    let mut cuts = vec![3, b.len() / 2];
    if let Some(i) = b.iter().position(|&c| c >= 0xC0) {
        cuts.push(i + 1);
    }
    cuts.retain(|&c| c > 0 && c < b.len());
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn crlf(b: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(b.len() + 8);
    for &c in b {
        if c == b'\n' {
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(&[c]);
        }
    }
    out.freeze()
}

/// Applies a fault to a response body given as its chunks (one SSE event each
/// when `streaming`). `conn` is the connection, for `reset-after`.
pub(crate) fn apply<S>(
    case: FaultCase,
    streaming: bool,
    inner: S,
    conn: Option<Arc<ConnControl>>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, Infallible>> + Send + Unpin + 'static,
{
    struct St<S> {
        inner: S,
        sent: u32,
        pending: std::collections::VecDeque<Bytes>,
        finished: bool,
    }
    let st = St {
        inner,
        sent: 0,
        pending: Default::default(),
        finished: false,
    };
    futures_util::stream::unfold(st, move |mut st| {
        let conn = conn.clone();
        async move {
            loop {
                if let Some(piece) = st.pending.pop_front() {
                    if let FaultCase::SlowDrip(ms) = case
                        && ms > 0.0
                    {
                        tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
                    }
                    return Some((Ok(piece), st));
                }
                if st.finished {
                    return None;
                }
                match case {
                    FaultCase::ResetAfter(n) if st.sent >= n => {
                        // Pending once: hyper flushes the chunks sent so far
                        // before the reset discards its send buffer.
                        tokio::task::yield_now().await;
                        st.finished = true;
                        if let Some(c) = &conn {
                            c.reset_on_close();
                        }
                        let e = std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "mock fault: reset",
                        );
                        return Some((Err(e), st));
                    }
                    FaultCase::StallAfter(n) if st.sent >= n => {
                        std::future::pending::<()>().await;
                    }
                    _ => {}
                }
                let Some(Ok(chunk)) = st.inner.next().await else {
                    st.finished = true;
                    continue;
                };
                let index = st.sent;
                st.sent += 1;
                let sse = streaming;
                match case {
                    FaultCase::GarbageLines if sse => {
                        let mut b = BytesMut::from(GARBAGE);
                        b.extend_from_slice(&chunk);
                        st.pending.push_back(b.freeze());
                    }
                    FaultCase::InvalidJson if sse && index == 1 => {
                        st.pending.push_back(Bytes::from_static(INVALID_JSON_EVENT));
                        st.pending.push_back(chunk);
                    }
                    FaultCase::Crlf if sse => st.pending.push_back(crlf(&chunk)),
                    FaultCase::BigChunk if sse && index == 0 => {
                        let mut b = BytesMut::from(&big_event()[..]);
                        b.extend_from_slice(&chunk);
                        st.pending.push_back(b.freeze());
                    }
                    FaultCase::Split => {
                        let mut from = 0;
                        for cut in split_points(&chunk) {
                            st.pending.push_back(chunk.slice(from..cut));
                            from = cut;
                        }
                        st.pending.push_back(chunk.slice(from..));
                    }
                    FaultCase::SlowDrip(_) => {
                        let mut from = 0;
                        while from < chunk.len() {
                            let to = (from + DRIP_PIECE).min(chunk.len());
                            st.pending.push_back(chunk.slice(from..to));
                            from = to;
                        }
                    }
                    _ => st.pending.push_back(chunk),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Result<Fault, String> {
        s.parse()
    }

    #[test]
    fn the_flag_syntax() {
        assert_eq!(
            f("stall-after=3@0.1").unwrap(),
            Fault {
                case: FaultCase::StallAfter(3),
                when: FaultWhen::Probability(0.1)
            }
        );
        assert_eq!(f("status=429@1/5").unwrap().when, FaultWhen::Every(5));
        assert_eq!(f("crlf").unwrap().when, FaultWhen::Always);
        assert_eq!(f("slow-drip=2.5").unwrap().case, FaultCase::SlowDrip(2.5));
        for (bad, says) in [
            ("stall-after", "needs a value"),
            ("status=200", "400-599"),
            ("crlf=1", "takes no value"),
            ("explode", "unknown case"),
            ("crlf@0", "probability"),
            ("crlf@2/5", "@1/N"),
            ("crlf@1/0", "N >= 1"),
            ("reset-after=-1", "not a count"),
        ] {
            let e = f(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn selection_by_arrival_number() {
        let faults = [f("status=503@1/3").unwrap(), f("crlf@0.5").unwrap()];
        let picked: Vec<_> = (0..3000).map(|n| pick(&faults, n, 7)).collect();
        assert!(
            picked
                .iter()
                .skip(2)
                .step_by(3)
                .all(|c| *c == Some(FaultCase::Status(503)))
        );
        let crlf = picked
            .iter()
            .filter(|c| **c == Some(FaultCase::Crlf))
            .count();
        // Half of the 2000 requests left by the first fault, give or take.
        assert!((800..1200).contains(&crlf), "{crlf}");
        assert_eq!(
            picked,
            (0..3000).map(|n| pick(&faults, n, 7)).collect::<Vec<_>>()
        );
    }

    async fn run(case: FaultCase, chunks: &[&'static [u8]]) -> Vec<Bytes> {
        let inner = futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, Infallible>(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        );
        apply(case, true, inner, None)
            .map(|r| r.unwrap())
            .collect()
            .await
    }

    #[tokio::test]
    async fn transforms_keep_every_byte_of_the_events() {
        let ev: &[&'static [u8]] = &["data: {\"x\":\"€\"}\n\n".as_bytes(), b"data: [DONE]\n\n"];
        let joined: Vec<u8> = ev.concat();
        let split = run(FaultCase::Split, ev).await;
        assert!(split.len() >= 5, "{split:?}");
        assert_eq!(split.concat(), joined);
        // A piece ends inside the 3-byte euro sign.
        assert!(split.iter().any(|p| std::str::from_utf8(p).is_err()));
        let drip = run(FaultCase::SlowDrip(0.0), ev).await;
        assert!(drip.iter().all(|p| p.len() <= DRIP_PIECE));
        assert_eq!(drip.concat(), joined);
        let c = run(FaultCase::Crlf, ev).await.concat();
        assert_eq!(
            c,
            b"data: {\"x\":\"\xe2\x82\xac\"}\r\n\r\ndata: [DONE]\r\n\r\n"
        );
        let inv = run(FaultCase::InvalidJson, ev).await;
        assert_eq!(inv[1], INVALID_JSON_EVENT);
        let big = run(FaultCase::BigChunk, ev).await;
        assert_eq!(big[0].len(), BIG_CHUNK + ev[0].len());
    }

    #[tokio::test]
    async fn reset_ends_the_body_with_an_error() {
        let inner = futures_util::stream::iter(
            [b"a".as_slice(), b"b", b"c"]
                .map(|c| Ok::<_, Infallible>(Bytes::from_static(c)))
                .to_vec(),
        );
        let out: Vec<_> = apply(FaultCase::ResetAfter(2), true, inner, None)
            .collect()
            .await;
        assert_eq!(out.len(), 3);
        assert!(out[0].is_ok() && out[1].is_ok() && out[2].is_err());
    }
}
