//! Reading JSONL files and typed fields with precise errors.
//!
//! Every error names the file, the 1-based line, the field and the reason, e.g.
//! `trace.jsonl line 17: field "hash_ids": expected an array of integers, got "abc"`.
//! Blank lines are skipped. Unknown fields are **rejected** (a typo such as
//! `"timestmap"` would otherwise silently change the benchmark); fields of AIPerf that
//! aiperf-rs does not implement (images, audio, raw payloads, …) are rejected with a
//! message saying so.

use serde_json::{Map, Value};
use std::path::Path;

/// One JSON object of a JSONL file, with where it came from.
#[derive(Debug, Clone)]
pub struct Record {
    /// File name as shown in errors.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The object.
    pub obj: Map<String, Value>,
}

/// Reads a file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Parses JSONL text: one object per non-blank line.
pub fn parse_jsonl(file: &str, text: &str) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(trimmed)
            .map_err(|e| format!("{file} line {line}: invalid JSON: {e}"))?;
        match value {
            Value::Object(obj) => out.push(Record {
                file: file.to_string(),
                line,
                obj,
            }),
            other => {
                return Err(format!(
                    "{file} line {line}: expected a JSON object, got {}",
                    describe(&other)
                ));
            }
        }
    }
    Ok(out)
}

/// Reads and parses a JSONL file (UTF-8 required).
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>, String> {
    let bytes = read_file(path)?;
    let text =
        String::from_utf8(bytes).map_err(|e| format!("{}: not UTF-8 text: {e}", path.display()))?;
    parse_jsonl(&path.display().to_string(), &text)
}

/// A short rendering of a JSON value for error messages (at most ~60 characters).
pub fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let head: String = s.chars().take(57).collect();
        format!("{head}...")
    } else {
        s
    }
}

/// Typed access to the fields of one object; `prefix` names nested objects in errors
/// (`turns[2].`).
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// File name.
    pub file: &'a str,
    /// 1-based line.
    pub line: usize,
    /// Prefix of field names (empty at the top level).
    pub prefix: &'a str,
    /// The object.
    pub obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Fields of a top-level record.
    pub fn of(r: &'a Record) -> Self {
        Fields {
            file: &r.file,
            line: r.line,
            prefix: "",
            obj: &r.obj,
        }
    }

    /// An error about the whole line.
    pub fn line_error(&self, reason: impl std::fmt::Display) -> String {
        match self.prefix.trim_end_matches('.') {
            "" => format!("{} line {}: {reason}", self.file, self.line),
            at => format!("{} line {}: {at}: {reason}", self.file, self.line),
        }
    }

    /// An error about one field.
    pub fn error(&self, field: &str, reason: impl std::fmt::Display) -> String {
        format!(
            "{} line {}: field \"{}{field}\": {reason}",
            self.file, self.line, self.prefix
        )
    }

    /// True when the field is present (even `null`).
    pub fn has(&self, field: &str) -> bool {
        self.obj.contains_key(field)
    }

    /// Rejects fields outside `allowed`; `unsupported` gives specific reasons for known
    /// AIPerf fields that aiperf-rs does not implement.
    pub fn check_known(
        &self,
        allowed: &[&str],
        unsupported: &[(&str, &str)],
    ) -> Result<(), String> {
        for key in self.obj.keys() {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            if let Some((_, why)) = unsupported.iter().find(|(k, _)| k == key) {
                return Err(self.error(key, why));
            }
            return Err(self.error(
                key,
                format!("unknown field; expected one of: {}", allowed.join(", ")),
            ));
        }
        Ok(())
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.obj.get(field)
    }

    /// An optional string.
    pub fn opt_str(&self, field: &str) -> Result<Option<&'a str>, String> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.error(field, format!("expected a string, got {}", describe(v)))),
        }
    }

    /// An optional non-empty array of strings.
    pub fn opt_str_array(&self, field: &str) -> Result<Option<Vec<String>>, String> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(self.error(
                        field,
                        format!(
                            "expected an array of strings, got {}",
                            describe(&Value::Array(items.clone()))
                        ),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(Value::Array(_)) => {
                Err(self.error(field, "expected a non-empty array of strings, got []"))
            }
            Some(v) => Err(self.error(
                field,
                format!("expected an array of strings, got {}", describe(v)),
            )),
        }
    }

    /// An optional integer ≥ `min`.
    pub fn opt_u64(&self, field: &str, min: u64) -> Result<Option<u64>, String> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n >= min => Ok(Some(n)),
                _ => {
                    let what = if min == 0 {
                        "an integer >= 0".to_string()
                    } else {
                        format!("an integer >= {min}")
                    };
                    Err(self.error(field, format!("expected {what}, got {}", describe(v))))
                }
            },
        }
    }

    /// An optional `output_length`: an integer ≥ 1 that fits `max_completion_tokens`.
    pub fn opt_output_length(&self, field: &str) -> Result<Option<u32>, String> {
        match self.opt_u64(field, 1)? {
            None => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| self.error(field, format!("{n} is too large (max {})", u32::MAX))),
        }
    }

    /// An optional time in milliseconds: a finite number ≥ 0 (floats allowed).
    pub fn opt_ms(&self, field: &str) -> Result<Option<f64>, String> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() && x >= 0.0 && v.is_number() => Ok(Some(x)),
                _ => Err(self.error(
                    field,
                    format!(
                        "expected a number of milliseconds >= 0, got {}",
                        describe(v)
                    ),
                )),
            },
        }
    }

    /// An optional array of integers ≥ 0 (may be empty).
    pub fn opt_u64_array(&self, field: &str) -> Result<Option<Vec<u64>>, String> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_u64().ok_or(()))
                .collect::<Result<Vec<_>, ()>>()
                .map(Some)
                .map_err(|_| {
                    self.error(
                        field,
                        format!(
                            "expected an array of integers >= 0, got {}",
                            describe(&Value::Array(items.clone()))
                        ),
                    )
                }),
            Some(v) => Err(self.error(
                field,
                format!("expected an array of integers, got {}", describe(v)),
            )),
        }
    }

    /// An optional JSON object, returned as a compact JSON string.
    pub fn opt_object_json(&self, field: &str) -> Result<Option<String>, String> {
        match self.get(field) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.to_string())),
            Some(v) => Err(self.error(
                field,
                format!("expected a JSON object, got {}", describe(v)),
            )),
        }
    }

    /// An optional array of objects.
    pub fn opt_object_array(&self, field: &str) -> Result<Option<&'a Vec<Value>>, String> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                if let Some(bad) = items.iter().find(|v| !v.is_object()) {
                    return Err(self.error(
                        field,
                        format!(
                            "expected an array of objects, got an item {}",
                            describe(bad)
                        ),
                    ));
                }
                Ok(Some(items))
            }
            Some(v) => Err(self.error(
                field,
                format!("expected an array of objects, got {}", describe(v)),
            )),
        }
    }
}

/// Reasons for AIPerf fields aiperf-rs does not implement (text-only datasets).
pub const UNSUPPORTED_MEDIA: &[(&str, &str)] = &[
    (
        "image",
        "images are not supported by aiperf-rs (text-only datasets)",
    ),
    (
        "images",
        "images are not supported by aiperf-rs (text-only datasets)",
    ),
    (
        "audio",
        "audio is not supported by aiperf-rs (text-only datasets)",
    ),
    (
        "audios",
        "audio is not supported by aiperf-rs (text-only datasets)",
    ),
    (
        "video",
        "video is not supported by aiperf-rs (text-only datasets)",
    ),
    (
        "videos",
        "video is not supported by aiperf-rs (text-only datasets)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_skipped_and_errors_name_the_line() {
        let recs = parse_jsonl("f.jsonl", "\n{\"a\":1}\n   \n{\"b\":2}\n").unwrap();
        assert_eq!(recs.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!(
            parse_jsonl("f.jsonl", "{\"a\":1}\n{oops")
                .unwrap_err()
                .split(": invalid JSON")
                .next(),
            Some("f.jsonl line 2")
        );
        assert_eq!(
            parse_jsonl("f.jsonl", "[1,2]").unwrap_err(),
            "f.jsonl line 1: expected a JSON object, got [1,2]"
        );
    }

    #[test]
    fn typed_fields() {
        let recs = parse_jsonl(
            "t.jsonl",
            r#"{"s":"x","n":5,"f":1.5,"neg":-1,"arr":[1,2],"bad":"abc","o":{"k":1},"ss":["a","b"]}"#,
        )
        .unwrap();
        let f = Fields::of(&recs[0]);
        assert_eq!(f.opt_str("s").unwrap(), Some("x"));
        assert_eq!(f.opt_u64("n", 1).unwrap(), Some(5));
        assert_eq!(f.opt_ms("f").unwrap(), Some(1.5));
        assert_eq!(f.opt_u64_array("arr").unwrap(), Some(vec![1, 2]));
        assert_eq!(
            f.opt_object_json("o").unwrap().as_deref(),
            Some(r#"{"k":1}"#)
        );
        assert_eq!(
            f.opt_str_array("ss").unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(f.opt_str("missing").unwrap(), None);
        assert_eq!(
            f.opt_u64_array("bad").unwrap_err(),
            r#"t.jsonl line 1: field "hash_ids": expected an array of integers, got "abc""#
                .replace("hash_ids", "bad")
        );
        assert!(f.opt_ms("neg").unwrap_err().contains(">= 0, got -1"));
        assert!(
            f.opt_u64("f", 1)
                .unwrap_err()
                .contains("expected an integer >= 1, got 1.5")
        );
        assert!(
            f.opt_str("n")
                .unwrap_err()
                .contains("expected a string, got 5")
        );
        assert!(
            f.opt_object_json("arr")
                .unwrap_err()
                .contains("expected a JSON object")
        );
        let e = f.check_known(&["s"], &[("n", "not here")]).unwrap_err();
        assert!(
            e.contains("field \"") && (e.contains("not here") || e.contains("unknown field")),
            "{e}"
        );
    }
}
