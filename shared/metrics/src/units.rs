//! Units of metric values: the base unit a value is computed and stored in, the
//! display unit it is exported in, and the conversion between them.
//!
//! Every per-record value and every statistic is computed in the **base** unit
//! (nanoseconds for durations, tokens, tokens/sec/user, %, …). Exports and the
//! console use the **display** unit; conversion is linear (a pure scale), so
//! statistics computed in base units convert exactly like single values
//! (`docs/metrics.md` §8).

/// A unit a metric value can be expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Nanoseconds (`ns`): the base unit of every duration and timestamp.
    Nanoseconds,
    /// Milliseconds (`ms`): display unit of latencies.
    Milliseconds,
    /// Seconds (`sec`): display unit of the benchmark duration.
    Seconds,
    /// Tokens (`tokens`).
    Tokens,
    /// Tokens per second (`tokens/sec`): system throughputs.
    TokensPerSecond,
    /// Tokens per second per user (`tokens/sec/user`): per-request throughputs.
    TokensPerSecondPerUser,
    /// Requests (`requests`): counts of requests.
    Requests,
    /// Requests per second (`requests/sec`).
    RequestsPerSecond,
    /// Percent (`%`), already multiplied by 100.
    Percent,
    /// A dimensionless ratio (`ratio`).
    Ratio,
    /// Bytes (`B`): base unit of data sizes.
    Bytes,
    /// Kilobytes (`KB`, 1024 bytes as AIPerf): display unit of data sizes.
    Kilobytes,
    /// A plain count (`count`), e.g. of transport chunks.
    Count,
}

impl Unit {
    /// The unit string used in exports (`ms`, `tokens/sec/user`, …).
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Nanoseconds => "ns",
            Unit::Milliseconds => "ms",
            Unit::Seconds => "sec",
            Unit::Tokens => "tokens",
            Unit::TokensPerSecond => "tokens/sec",
            Unit::TokensPerSecondPerUser => "tokens/sec/user",
            Unit::Requests => "requests",
            Unit::RequestsPerSecond => "requests/sec",
            Unit::Percent => "%",
            Unit::Ratio => "ratio",
            Unit::Bytes => "B",
            Unit::Kilobytes => "KB",
            Unit::Count => "count",
        }
    }

    /// Size of one of this unit in the smallest unit of its dimension
    /// (nanoseconds for time units, bytes for sizes, 1 for every other unit).
    fn scale(self) -> f64 {
        match self {
            Unit::Nanoseconds => 1.0,
            Unit::Milliseconds => 1e6,
            Unit::Seconds => 1e9,
            Unit::Bytes => 1.0,
            Unit::Kilobytes => 1024.0,
            _ => 1.0,
        }
    }

    /// Whether this is a time unit (ns, ms, sec).
    pub fn is_time(self) -> bool {
        matches!(self, Unit::Nanoseconds | Unit::Milliseconds | Unit::Seconds)
    }

    /// Whether this is a data size unit (B, KB).
    pub fn is_size(self) -> bool {
        matches!(self, Unit::Bytes | Unit::Kilobytes)
    }
}

/// Whether `from` and `to` measure the same scaled dimension (time or size).
fn same_dimension(from: Unit, to: Unit) -> bool {
    (from.is_time() && to.is_time()) || (from.is_size() && to.is_size())
}

/// The divisor `d` such that `value_in_to = value_in_from / d`.
///
/// ns → ms is 1e6, ns → sec is 1e9, ms → ns is 1e-6, B → KB is 1024; units of
/// different dimensions (or unscaled units) convert with a divisor of 1.
pub fn divisor(from: Unit, to: Unit) -> f64 {
    if same_dimension(from, to) {
        to.scale() / from.scale()
    } else {
        1.0
    }
}

/// Converts `value` from unit `from` to unit `to` (see [`divisor`]).
///
/// Always multiplies or divides by an exact power of ten (1e3, 1e6, 1e9) or
/// by 1024, so `300 ms` becomes exactly `3e8 ns` and `187_278_441 ns` exactly the
/// nearest double of `187.278441 ms`.
pub fn convert(value: f64, from: Unit, to: Unit) -> f64 {
    if !same_dimension(from, to) {
        return value;
    }
    let (f, t) = (from.scale(), to.scale());
    if f >= t {
        value * (f / t)
    } else {
        value / (t / f)
    }
}

/// Nanoseconds in one second, as a float.
pub const NANOS_PER_SECOND: f64 = 1e9;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        // 187_278_441 ns / 1e6 = 187.278441 ms
        assert_eq!(
            convert(187_278_441.0, Unit::Nanoseconds, Unit::Milliseconds),
            187.278441
        );
        // 1_309_346_048 ns / 1e9 = 1.309346048 sec
        assert_eq!(
            convert(1_309_346_048.0, Unit::Nanoseconds, Unit::Seconds),
            1.309346048
        );
        // 300 ms * 1e6 = 3e8 ns (divisor ms->ns is 1e-6)
        assert_eq!(
            convert(300.0, Unit::Milliseconds, Unit::Nanoseconds),
            300_000_000.0
        );
        assert_eq!(convert(1500.0, Unit::Milliseconds, Unit::Seconds), 1.5);
        assert_eq!(convert(42.0, Unit::Tokens, Unit::Tokens), 42.0);
        assert_eq!(divisor(Unit::Nanoseconds, Unit::Milliseconds), 1e6);
        assert_eq!(Unit::TokensPerSecondPerUser.symbol(), "tokens/sec/user");
        // 2_560 B / 1024 = 2.5 KB; 1 KB = 1024 B; bytes never convert to time
        assert_eq!(convert(2_560.0, Unit::Bytes, Unit::Kilobytes), 2.5);
        assert_eq!(convert(1.0, Unit::Kilobytes, Unit::Bytes), 1024.0);
        assert_eq!(divisor(Unit::Bytes, Unit::Kilobytes), 1024.0);
        assert_eq!(convert(7.0, Unit::Bytes, Unit::Milliseconds), 7.0);
    }
}
