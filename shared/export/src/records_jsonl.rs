//! `profile_export.jsonl`: one compact JSON object per record (`docs/outputs.md`),
//! `{"metadata":{…},"metrics":{tag:{"value":v,"unit":u},…},"error":{…}}`, and a
//! buffered writer streaming such lines to disk.

use aiperf_protocol::ErrorDetails;
use aiperf_protocol::record::RecordMetadata;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Units whose integral values are written as JSON integers (`100`, not `100.0`).
pub const INTEGER_UNITS: [&str; 3] = ["tokens", "requests", "count"];

/// A per-record metric value, already in its display unit.
///
/// Rule for numbers ([`DisplayValue::number`]): a finite, integral value whose unit
/// is one of [`INTEGER_UNITS`] (token and request counts) becomes [`Int`], printed
/// without a fraction (`100`); every other value is a [`Float`], printed by
/// `serde_json` in its shortest round-trip form (`71.815784`, `7.0`). Non-finite
/// floats are written as `null`.
///
/// [`Int`]: DisplayValue::Int
/// [`Float`]: DisplayValue::Float
#[derive(Debug, Clone, PartialEq)]
pub enum DisplayValue {
    /// An integer (token or request count).
    Int(i64),
    /// A real number.
    Float(f64),
    /// A list of real numbers (e.g. inter-chunk latencies), written as an array.
    List(Vec<f64>),
}

impl DisplayValue {
    /// One number in display unit `unit`, following the rule of the type doc.
    pub fn number(v: f64, unit: &str) -> Self {
        let integral = v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15;
        if integral && INTEGER_UNITS.contains(&unit) {
            DisplayValue::Int(v as i64)
        } else {
            DisplayValue::Float(v)
        }
    }

    /// The JSON value.
    pub fn to_json(&self) -> Value {
        match self {
            DisplayValue::Int(i) => Value::from(*i),
            DisplayValue::Float(f) => Value::from(*f),
            DisplayValue::List(l) => Value::Array(l.iter().map(|f| Value::from(*f)).collect()),
        }
    }
}

impl Serialize for DisplayValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// One line of `profile_export.jsonl`, without the line break.
///
/// `metrics` are `(tag, value, unit)` in display units, written in the given order;
/// a repeated tag keeps its first value. The `error` key is present only for error
/// records; null metadata fields are omitted by [`RecordMetadata`]'s serializer.
pub fn record_line(
    metadata: &RecordMetadata,
    metrics: &[(String, DisplayValue, String)],
    error: Option<&ErrorDetails>,
) -> String {
    let mut m = Map::new();
    for (tag, value, unit) in metrics {
        if m.contains_key(tag) {
            continue;
        }
        let mut entry = Map::new();
        entry.insert("value".into(), value.to_json());
        entry.insert("unit".into(), Value::String(unit.clone()));
        m.insert(tag.clone(), Value::Object(entry));
    }
    let mut o = Map::new();
    o.insert(
        "metadata".into(),
        serde_json::to_value(metadata).unwrap_or(Value::Null),
    );
    o.insert("metrics".into(), Value::Object(m));
    if let Some(e) = error {
        o.insert(
            "error".into(),
            serde_json::to_value(e).unwrap_or(Value::Null),
        );
    }
    Value::Object(o).to_string()
}

/// Streams JSONL lines to a file through a buffer (used by the records manager as
/// records arrive). Lines are written in call order; the buffer is flushed by
/// [`flush`](JsonlWriter::flush), [`finish`](JsonlWriter::finish) or on drop
/// (where errors are lost: prefer `finish`).
#[derive(Debug)]
pub struct JsonlWriter {
    out: BufWriter<File>,
    path: PathBuf,
    lines: u64,
}

impl JsonlWriter {
    /// Creates (or truncates) the file, creating missing parent directories.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::create(&path)?;
        Ok(JsonlWriter {
            out: BufWriter::with_capacity(256 * 1024, file),
            path,
            lines: 0,
        })
    }

    /// Appends `line` and a `\n`. The line must not contain a line break (compact
    /// JSON never does).
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        debug_assert!(
            !line.contains('\n'),
            "a JSONL line cannot contain a line break"
        );
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }

    /// Writes buffered lines to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and closes the file, returning the number of lines written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.lines)
    }

    /// Lines written so far.
    pub fn lines_written(&self) -> u64 {
        self.lines
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_rule() {
        assert_eq!(
            DisplayValue::number(100.0, "tokens"),
            DisplayValue::Int(100)
        );
        assert_eq!(DisplayValue::number(0.0, "requests"), DisplayValue::Int(0));
        assert_eq!(
            DisplayValue::number(100.5, "tokens"),
            DisplayValue::Float(100.5)
        );
        assert_eq!(
            DisplayValue::number(100.0, "ms"),
            DisplayValue::Float(100.0)
        );
        assert_eq!(
            DisplayValue::number(f64::INFINITY, "tokens"),
            DisplayValue::Float(f64::INFINITY)
        );
        assert_eq!(DisplayValue::Int(100).to_json().to_string(), "100");
        assert_eq!(DisplayValue::Float(100.0).to_json().to_string(), "100.0");
        assert_eq!(DisplayValue::Float(f64::NAN).to_json().to_string(), "null");
        assert_eq!(
            DisplayValue::List(vec![7.5, 12.0]).to_json().to_string(),
            "[7.5,12.0]"
        );
        assert_eq!(serde_json::to_string(&DisplayValue::Int(-3)).unwrap(), "-3");
    }

    #[test]
    fn writer_streams_lines() {
        let dir = std::env::temp_dir().join(format!("aiperf-export-jsonl-{}", std::process::id()));
        let path = dir.join("sub").join("x.jsonl");
        let mut w = JsonlWriter::create(&path).unwrap();
        w.write_line(r#"{"a":1}"#).unwrap();
        w.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
        w.write_line(r#"{"b":2}"#).unwrap();
        assert_eq!(w.lines_written(), 2);
        assert_eq!(w.path(), path.as_path());
        assert_eq!(w.finish().unwrap(), 2);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
