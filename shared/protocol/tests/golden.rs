//! Golden bytes of the wire protocol (`docs/protocol.md`).
//!
//! For every message type and every enum variant a representative value is
//! encoded with the crate's own [`encode`] and compared byte for byte with a
//! checked-in file `tests/golden/<name>.hex` (hex, 16 bytes a line, so a diff shows
//! which bytes moved). Each value also goes through a round trip
//! (`encode(decode(encode(x))) == encode(x)`), and its golden bytes are read back
//! with a generic MessagePack reader (`rmpv`), as another language would read them:
//! a map whose keys are the documented field names, in the documented order.
//!
//! When a change to the messages is intended, regenerate the files with
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p aiperf-protocol --test golden
//! ```
//!
//! and check that the diff is exactly what the change implies (and whether it
//! needs a [`aiperf_protocol::PROTOCOL_VERSION`] bump, see `docs/protocol.md`).

mod samples;

use aiperf_protocol::{decode, encode};
use rmpv::Value;
use samples::Sample;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0" && !v.is_empty())
}

/// Bytes as lowercase hex, 16 bytes a line.
fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in bytes.chunks(16) {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&hex.join(" "));
        out.push('\n');
    }
    out
}

/// Parses [`to_hex`] output (whitespace between bytes is ignored).
fn from_hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|_| panic!("bad hex byte {b:?}")))
        .collect()
}

/// Compares `bytes` with the golden file of `name` (or rewrites it when updating).
fn check_golden(name: &str, bytes: &[u8]) {
    let path = golden_dir().join(format!("{name}.hex"));
    if updating() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, to_hex(bytes)).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run UPDATE_GOLDEN=1 cargo test -p aiperf-protocol --test golden",
            path.display()
        )
    });
    assert_eq!(
        to_hex(bytes),
        to_hex(&from_hex(&text)),
        "the encoding of {name} differs from {}",
        path.display()
    );
}

/// The golden bytes of `name` as checked in (the fresh encoding while updating,
/// as the files are being rewritten by another test).
fn golden_bytes(name: &str) -> Vec<u8> {
    if updating() {
        let s = samples::all().into_iter().find(|s| s.name == name);
        return s.unwrap_or_else(|| panic!("no sample {name}")).bytes;
    }
    let path = golden_dir().join(format!("{name}.hex"));
    from_hex(&std::fs::read_to_string(&path).unwrap())
}

/// decode(encode(x)) re-encodes to the same bytes (works for types without `PartialEq`).
fn assert_round_trip<T: Serialize + DeserializeOwned>(name: &str, value: &T) {
    let bytes = encode(value).unwrap();
    let back: T = decode(&bytes).unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
    assert_eq!(
        to_hex(&encode(&back).unwrap()),
        to_hex(&bytes),
        "{name} changed in a round trip"
    );
}

/// decode(encode(x)) == x, for types with `PartialEq`.
fn assert_round_trip_eq<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    name: &str,
    value: &T,
) {
    let back: T = decode(&encode(value).unwrap()).unwrap();
    assert_eq!(&back, value, "{name} changed in a round trip");
    assert_round_trip(name, value);
}

fn map_keys(v: &Value) -> Vec<String> {
    match v {
        Value::Map(entries) => entries
            .iter()
            .map(|(k, _)| {
                k.as_str()
                    .unwrap_or_else(|| panic!("non-string key {k:?}"))
                    .to_string()
            })
            .collect(),
        other => panic!("not a map: {other:?}"),
    }
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no key {key:?} in {v:?}")),
        other => panic!("not a map: {other:?}"),
    }
}

fn read_generic(bytes: &[u8]) -> Value {
    let mut rd = bytes;
    let v = rmpv::decode::read_value(&mut rd).unwrap();
    assert!(rd.is_empty(), "trailing bytes after the message");
    v
}

#[test]
fn every_sample_matches_its_golden_bytes() {
    for s in samples::all() {
        check_golden(s.name, &s.bytes);
    }
}

#[test]
fn no_golden_file_without_a_sample() {
    let names: BTreeSet<String> = samples::all()
        .iter()
        .map(|s| format!("{}.hex", s.name))
        .collect();
    assert_eq!(names.len(), samples::all().len(), "duplicate sample names");
    if updating() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        for e in std::fs::read_dir(golden_dir()).unwrap().flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if !names.contains(&file) {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
        return;
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(golden_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(on_disk, names, "golden files and samples differ");
}

#[test]
fn golden_bytes_read_generically_as_documented_maps() {
    for Sample {
        name, tag, keys, ..
    } in samples::all()
    {
        let v = read_generic(&golden_bytes(name));
        match keys {
            Some(keys) => assert_eq!(map_keys(&v), keys, "keys of {name}"),
            None => assert!(matches!(v, Value::Array(_)), "{name} is not an array"),
        }
        if let Some((field, value)) = tag {
            assert_eq!(get(&v, field).as_str(), Some(value), "tag of {name}");
        }
    }
}

#[test]
fn round_trip_control() {
    for (name, m) in samples::to_controller() {
        assert_round_trip(name, &m);
    }
    for (name, m) in samples::from_controller() {
        assert_round_trip(name, &m);
    }
    assert_round_trip_eq("config_document", &samples::config_document());
}

#[test]
fn round_trip_credits() {
    for (name, m) in samples::to_worker() {
        assert_round_trip(name, &m);
    }
    for (name, m) in samples::from_worker() {
        assert_round_trip(name, &m);
    }
    assert_round_trip_eq("credit", &samples::credit());
}

#[test]
fn round_trip_dataset() {
    for (name, m) in samples::dataset_requests() {
        assert_round_trip(name, &m);
    }
    for (name, m) in samples::dataset_replies() {
        assert_round_trip(name, &m);
    }
    assert_round_trip_eq("conversation", &samples::conversation());
    assert_round_trip_eq("conversation_timing", &samples::conversation_timing());
}

#[test]
fn round_trip_events() {
    for (name, m) in samples::events() {
        assert_round_trip(name, &m);
    }
    assert_round_trip_eq("phase_stats", &samples::phase_stats_rate());
}

#[test]
fn round_trip_records() {
    for (name, m) in samples::raw_records() {
        assert_round_trip_eq(name, &m);
    }
    for (name, m) in samples::metric_records() {
        assert_round_trip_eq(name, &m);
    }
}

#[test]
fn round_trip_results_errors_endpoints_and_enums() {
    assert_round_trip_eq("profile_results", &samples::profile_results());
    for (name, e) in samples::errors() {
        // `ErrorDetails` equality ignores the causes: compare the bytes too.
        assert_round_trip_eq(name, &e);
        let back: aiperf_protocol::ErrorDetails = decode(&encode(&e).unwrap()).unwrap();
        assert_eq!(
            (&back.cause, &back.cause_chain, &back.details),
            (&e.cause, &e.cause_chain, &e.details)
        );
    }
    for (name, e) in samples::endpoints() {
        assert_round_trip_eq(name, &e);
    }
    assert_round_trip_eq("service_types", &samples::service_types());
    assert_round_trip_eq("service_states", &samples::service_states());
    assert_round_trip_eq("phases", &samples::phases());
    assert_round_trip_eq("sampling_strategies", &samples::sampling_strategies());
    assert_round_trip_eq("command_statuses", &samples::command_statuses());
    assert_round_trip_eq("load_modes", &samples::load_modes());
    assert_round_trip_eq("metric_kinds", &samples::metric_kinds());
    assert_round_trip_eq("server_metrics_results", &samples::server_metrics_results());
}

/// What another implementation sees of nested values: the credit's fields sit
/// beside the tag, options are nil or absent as documented, tuples are arrays.
#[test]
fn nested_values_have_the_documented_shapes() {
    let credit = read_generic(&golden_bytes("to_worker_credit"));
    assert_eq!(get(&credit, "turn_index").as_u64(), Some(1));
    assert!(get(&credit, "cancel_after_ns").is_nil());

    let cmd = read_generic(&golden_bytes("from_controller_command_cancel"));
    let inner = get(&cmd, "command");
    assert_eq!(map_keys(inner), ["command", "reason"]);
    assert_eq!(get(inner, "command").as_str(), Some("cancel"));
    let configure = read_generic(&golden_bytes("from_controller_command_configure"));
    let inner = get(&configure, "command");
    assert_eq!(map_keys(inner), ["command", "config"]);
    let config = get(inner, "config");
    assert_eq!(
        get(config, "benchmark_grace_period_s").as_f64(),
        Some(f64::INFINITY)
    );
    assert!(get(config, "tokenizer").is_nil());
    let header = &get(config, "headers").as_array().unwrap()[0];
    assert_eq!(header.as_array().unwrap()[1].as_str(), Some("perf"));
    let start = read_generic(&golden_bytes("from_controller_command_start"));
    assert_eq!(map_keys(get(&start, "command")), ["command"]);

    let rec = read_generic(&golden_bytes("metric_record"));
    let metrics = get(&rec, "metrics").as_array().unwrap();
    let first = metrics[0].as_array().unwrap();
    assert_eq!(first[0].as_str(), Some("request_latency"));
    assert!(first[1].is_f64(), "a scalar metric is a float64");
    let list = metrics[1].as_array().unwrap();
    assert!(list[1].is_array(), "a list metric is an array of floats");
    let meta = get(&rec, "metadata");
    let keys = map_keys(meta);
    assert!(keys.contains(&"scheduled_ns".to_string()));
    assert!(
        !keys.contains(&"cancellation_time_ns".to_string()),
        "None with skip_serializing_if is absent"
    );

    let results = read_generic(&golden_bytes("to_controller_results"));
    let m = &get(get(get(&results, "results"), "profiling"), "metrics")
        .as_array()
        .unwrap()[0];
    let p50 = get(m, "percentiles").as_array().unwrap()[0]
        .as_array()
        .unwrap();
    assert_eq!(p50[0].as_u64(), Some(50));

    let err = read_generic(&golden_bytes("error_details_plain"));
    assert_eq!(map_keys(&err), ["code", "type", "message"]);
}

/// The compatibility rules of `docs/protocol.md`, checked on real decodes.
mod compatibility {
    use super::*;
    use aiperf_protocol::{
        control::{FromController, ToController},
        credit::FromWorker,
        events::PhaseStats,
        record::RawResponse,
    };

    /// Writes a MessagePack map of string keys (as another implementation would).
    fn map(entries: Vec<(&str, Value)>) -> Vec<u8> {
        let v = Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        );
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &v).unwrap();
        out
    }

    /// A heartbeat's entries followed by `extra`.
    fn heartbeat(extra: Vec<(&str, Value)>) -> Vec<(&str, Value)> {
        let mut m = vec![
            ("message_type", Value::from("heartbeat")),
            ("service_id", Value::from("record_processor_py")),
            ("state", Value::from("running")),
        ];
        m.extend(extra);
        m
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let bytes = map(heartbeat(vec![("future_field", Value::from(7))]));
        let m: ToController = decode(&bytes).unwrap();
        assert!(
            matches!(m, ToController::Heartbeat { ref service_id, .. } if service_id == "record_processor_py")
        );
    }

    #[test]
    fn field_order_does_not_matter() {
        let mut entries = heartbeat(vec![]);
        entries.reverse();
        let m: ToController = decode(&map(entries)).unwrap();
        assert!(matches!(m, ToController::Heartbeat { .. }));
    }

    #[test]
    fn a_missing_option_field_is_none_and_a_missing_required_field_an_error() {
        let without_error = map(vec![
            ("message_type", Value::from("credit_return")),
            ("phase", Value::from("profiling")),
            ("credit_id", Value::from(3)),
            ("cancelled", Value::from(false)),
            ("worker_id", Value::from("worker_1")),
        ]);
        match decode::<FromWorker>(&without_error).unwrap() {
            FromWorker::CreditReturn { error, .. } => assert_eq!(error, None),
            other => panic!("{other:?}"),
        }
        let without_cancelled = map(vec![
            ("message_type", Value::from("credit_return")),
            ("phase", Value::from("profiling")),
            ("credit_id", Value::from(3)),
            ("worker_id", Value::from("worker_1")),
        ]);
        let err = decode::<FromWorker>(&without_cancelled).unwrap_err();
        assert!(err.to_string().contains("cancelled"), "{err}");
    }

    #[test]
    fn an_unknown_tag_is_an_error() {
        let bytes = map(vec![("message_type", Value::from("teleport"))]);
        assert!(decode::<ToController>(&bytes).is_err());
        let bytes = map(heartbeat(vec![]));
        // The same message without its tag is refused too.
        let mut v = read_generic(&bytes);
        if let Value::Map(m) = &mut v {
            m.retain(|(k, _)| k.as_str() != Some("message_type"));
        }
        let mut untagged = Vec::new();
        rmpv::encode::write_value(&mut untagged, &v).unwrap();
        assert!(decode::<ToController>(&untagged).is_err());
    }

    #[test]
    fn integers_in_float_fields_and_any_integer_width_are_accepted() {
        // `expected_duration_s` is f64: an integer is accepted. `sent` is u64: a
        // uint8 is as good as a uint64.
        let mut stats = map_keys_values(&samples::phase_stats_rate());
        for (k, v) in &mut stats {
            if k == "expected_duration_s" {
                *v = Value::from(30);
            }
        }
        let bytes = map(stats.iter().map(|(k, v)| (k.as_str(), v.clone())).collect());
        let back: PhaseStats = decode(&bytes).unwrap();
        assert_eq!(back.expected_duration_s, Some(30.0));
        assert_eq!(back.sent, samples::phase_stats_rate().sent);
    }

    #[test]
    fn a_bin_string_is_read_as_utf8_text() {
        // We write str; a peer that writes bin (e.g. Python bytes) is still read.
        let bytes = map(vec![
            ("message_type", Value::from("rejected")),
            ("reason", Value::Binary(b"no".to_vec())),
        ]);
        match decode::<FromController>(&bytes).unwrap() {
            FromController::Rejected { reason } => assert_eq!(reason, "no"),
            other => panic!("{other:?}"),
        }
        let raw = map(vec![
            ("perf_ns", Value::from(5)),
            ("data", Value::Binary(b"[DONE]".to_vec())),
        ]);
        let back: RawResponse = decode(&raw).unwrap();
        assert_eq!(back.data, "[DONE]");
        let not_utf8 = map(vec![
            ("message_type", Value::from("rejected")),
            ("reason", Value::Binary(vec![0xff, 0xfe])),
        ]);
        assert!(decode::<FromController>(&not_utf8).is_err());
    }

    #[test]
    fn a_struct_or_tagged_enum_is_also_read_from_an_array() {
        let mut fields = Vec::new();
        rmpv::encode::write_value(
            &mut fields,
            &Value::Array(vec![Value::from(7), Value::from("[DONE]")]),
        )
        .unwrap();
        let back: RawResponse = decode(&fields).unwrap();
        assert_eq!((back.perf_ns, back.data.as_str()), (7, "[DONE]"));
        // So is a tagged enum, its tag first then the variant's fields in order.
        let mut tagged = Vec::new();
        rmpv::encode::write_value(
            &mut tagged,
            &Value::Array(vec![
                Value::from("heartbeat"),
                Value::from("x"),
                Value::from("running"),
            ]),
        )
        .unwrap();
        match decode::<ToController>(&tagged).unwrap() {
            ToController::Heartbeat { service_id, state } => {
                assert_eq!(service_id, "x");
                assert_eq!(state, aiperf_protocol::control::ServiceState::Running);
            }
            other => panic!("{other:?}"),
        }
    }

    fn map_keys_values<T: Serialize>(value: &T) -> Vec<(String, Value)> {
        match read_generic(&encode(value).unwrap()) {
            Value::Map(entries) => entries
                .into_iter()
                .map(|(k, v)| (k.as_str().unwrap().to_string(), v))
                .collect(),
            other => panic!("not a map: {other:?}"),
        }
    }
}
