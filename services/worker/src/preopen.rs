//! How many connections a worker opens before the first phase starts
//! (`docs/load-modes.md`, "Connections opened ahead").
//!
//! Per phase of the load plan ([`ProfileConfig::phases`]) the requests expected in
//! flight at once are:
//! - the phase's concurrency cap when it has one (closed loop, or a rate capped by
//!   `--concurrency`), never more than its request or session count;
//! - otherwise, for rate modes, one second of arrivals `min(rate × 1 s, 256)`
//!   (the latency that would give the exact figure is not known before the run);
//! - otherwise (trace replay without a cap) [`UNCAPPED_ESTIMATE`].
//!
//! The timing manager sends new sessions to the least-loaded worker, so a worker
//! gets its share `ceil(in flight / workers)`; the largest share over the phases is
//! opened. `AIPERF_HTTP_PREOPEN` overrides the per-worker count (0 disables).

use aiperf_config::{Pacing, PhaseLoad, ProfileConfig};

/// Requests in flight assumed for a phase with neither a cap nor a rate.
pub const UNCAPPED_ESTIMATE: usize = 256;

/// The environment variable overriding the per-worker count.
pub const OVERRIDE_ENV: &str = "AIPERF_HTTP_PREOPEN";

/// Connections one worker opens before the first phase.
pub fn connections_per_worker(config: &ProfileConfig) -> usize {
    if let Some(n) = std::env::var(OVERRIDE_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return n;
    }
    let workers = config.workers.max(1);
    config
        .phases(false)
        .iter()
        .map(|p| expected_in_flight(p).div_ceil(workers))
        .max()
        .unwrap_or(0)
}

/// Requests of `phase` expected in flight at once (see the module doc).
pub fn expected_in_flight(phase: &PhaseLoad) -> usize {
    let by_mode = match (phase.concurrency, phase.pacing) {
        (Some(c), _) => c,
        (None, Pacing::Rate(r)) => rate_estimate(r.rate),
        (None, Pacing::UserCentric { rate, .. }) => rate_estimate(rate),
        (None, Pacing::ClosedLoop | Pacing::FixedSchedule) => UNCAPPED_ESTIMATE,
    };
    let count = phase
        .request_count
        .or(phase.session_count)
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    by_mode.min(count)
}

/// One second of arrivals at `rate` req/s, at least 1, at most [`UNCAPPED_ESTIMATE`].
fn rate_estimate(rate: f64) -> usize {
    if rate.is_finite() && rate > 0.0 {
        (rate.ceil() as usize).clamp(1, UNCAPPED_ESTIMATE)
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_protocol::Phase;

    fn resolve(args: &[&str]) -> ProfileConfig {
        let mut all = vec!["-m", "m", "--url", "http://127.0.0.1:1"];
        all.extend_from_slice(args);
        let args = aiperf_config::ProfileArgs::try_parse_args(all).unwrap();
        let ctx = aiperf_config::Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: String::new(),
        };
        aiperf_config::resolve(&args, &ctx).unwrap()
    }

    #[test]
    fn closed_loop_takes_the_concurrency_capped_by_the_request_count() {
        let p = PhaseLoad::closed_loop(Phase::Profiling, Some(16), Some(100));
        assert_eq!(expected_in_flight(&p), 16);
        let p = PhaseLoad::closed_loop(Phase::Profiling, Some(16), Some(5));
        assert_eq!(expected_in_flight(&p), 5);
    }

    #[test]
    fn an_uncapped_rate_assumes_one_second_of_arrivals_at_most_256() {
        // 10.2 req/s -> ceil = 11; 1000 req/s -> 256; 0.5 req/s -> 1.
        assert_eq!(rate_estimate(10.2), 11);
        assert_eq!(rate_estimate(1000.0), 256);
        assert_eq!(rate_estimate(0.5), 1);
        assert_eq!(rate_estimate(f64::NAN), 1);
    }

    #[test]
    fn each_worker_opens_its_share_rounded_up() {
        // Concurrency 10 over 4 workers: ceil(10 / 4) = 3.
        let c = resolve(&[
            "--concurrency",
            "10",
            "--workers-max",
            "4",
            "--request-count",
            "40",
        ]);
        assert_eq!(c.workers, 4);
        assert_eq!(connections_per_worker(&c), 3);
        // A rate of 20 req/s, 2 workers, no cap: ceil(20 / 2) = 10.
        let c = resolve(&[
            "--request-rate",
            "20",
            "--workers-max",
            "2",
            "--request-count",
            "100",
        ]);
        assert_eq!(c.workers, 2);
        assert_eq!(connections_per_worker(&c), 10);
    }
}
