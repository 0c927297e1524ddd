//! How a phase schedules its requests, as it travels in phase events and appears
//! in exports (`docs/load-modes.md`).

use serde::{Deserialize, Serialize};

/// The load mode of a phase. On the wire and in exports it is the snake_case
/// string of the variant (`"concurrency"`, `"request_rate"`, `"fixed_schedule"`,
/// `"user_centric"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Closed loop: a new session as soon as a session slot is free.
    Concurrency,
    /// Open loop: one request per tick of an arrival schedule (constant, poisson, gamma).
    RequestRate,
    /// Trace replay: every row of a timestamped dataset at its timestamp.
    FixedSchedule,
    /// `U` simulated users share a total rate, one turn every `U/Q` seconds each.
    UserCentric,
}

impl LoadMode {
    /// The mode's name on the wire and in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::Concurrency => "concurrency",
            LoadMode::RequestRate => "request_rate",
            LoadMode::FixedSchedule => "fixed_schedule",
            LoadMode::UserCentric => "user_centric",
        }
    }

    /// Requests go on a schedule of their own, not when a slot frees (every mode
    /// but [`LoadMode::Concurrency`]).
    pub fn is_open_loop(self) -> bool {
        self != LoadMode::Concurrency
    }
}

impl std::fmt::Display for LoadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_its_export_name() {
        for m in [
            LoadMode::Concurrency,
            LoadMode::RequestRate,
            LoadMode::FixedSchedule,
            LoadMode::UserCentric,
        ] {
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
            let bytes = crate::encode(&m).unwrap();
            assert_eq!(crate::decode::<LoadMode>(&bytes).unwrap(), m);
        }
    }
}
