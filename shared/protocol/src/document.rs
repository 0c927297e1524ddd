//! The run's configuration as it travels in [`crate::control::Command::Configure`]:
//! a self-describing MessagePack document, not a Rust type.
//!
//! Why a document: the protocol is the contract between services and must not
//! depend on the configuration crate's Rust definitions, and a service written in
//! another language needs to read the few keys it cares about without a schema.
//! The controller encodes its resolved configuration (`aiperf_config::ProfileConfig`,
//! via `ProfileConfig::to_document`) into a [`ConfigDocument`]; on the wire it is a
//! nested MessagePack map whose keys are the configuration's field names (exactly the
//! map `ProfileConfig` itself would serialize to), so it reads as ordinary maps,
//! arrays, strings and numbers in any language. A Rust service decodes the whole
//! document back into its configuration type with [`ConfigDocument::decode`], or
//! reads single keys with [`ConfigDocument::get`].
//!
//! The value model is MessagePack's own ([`Value`]), not JSON's: floats keep
//! infinities (an unlimited grace period is `+inf`), integers keep their full
//! 64-bit range and map keys need not be strings.

use crate::CodecError;
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One MessagePack value (extension types are not used by the protocol).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A floating-point number (float 32 is widened).
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// A byte string (`bin`).
    Bin(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// A map, in wire order.
    Map(Vec<(Value, Value)>),
}

impl Value {
    /// The entry of a map whose key is the string `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is a non-negative one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::UInt(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as a float, if this is any number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::UInt(n) => Some(*n as f64),
            Value::Int(n) => Some(*n as f64),
            _ => None,
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(n) => s.serialize_i64(*n),
            Value::UInt(n) => s.serialize_u64(*n),
            Value::Float(x) => s.serialize_f64(*x),
            Value::Str(v) => s.serialize_str(v),
            Value::Bin(v) => s.serialize_bytes(v),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any MessagePack value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(u64::try_from(n).map_or(Value::Int(n), Value::UInt))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::UInt(n))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Float(x))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bin(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bin(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Value::Map(entries))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(de::Error::custom("MessagePack has no enum values"))
    }
}

/// The configuration a service receives with `configure`: a MessagePack map with
/// the keys of the controller's resolved configuration (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConfigDocument(Value);

impl ConfigDocument {
    /// Encodes any serializable configuration (its named-field MessagePack form).
    pub fn encode<T: Serialize>(config: &T) -> Result<ConfigDocument, CodecError> {
        let bytes = crate::encode(config)?;
        Ok(ConfigDocument(crate::decode(&bytes)?))
    }

    /// Decodes the document into a configuration type: the same as decoding the
    /// nested map straight off the wire.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, CodecError> {
        crate::decode(&crate::encode(&self.0)?)
    }

    /// A top-level key, e.g. `get("tokenizer")`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The whole document.
    pub fn root(&self) -> &Value {
        &self.0
    }
}

impl From<Value> for ConfigDocument {
    fn from(root: Value) -> Self {
        ConfigDocument(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Closed,
        Rate { per_s: f64 },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        name: String,
        grace_s: f64,
        seed: Option<u64>,
        big: u64,
        offset: i32,
        headers: Vec<(String, String)>,
        modes: Vec<Mode>,
    }

    fn sample() -> Sample {
        Sample {
            name: "m".into(),
            grace_s: f64::INFINITY,
            seed: None,
            big: u64::MAX,
            offset: -3,
            headers: vec![("a".into(), "b".into())],
            modes: vec![Mode::Closed, Mode::Rate { per_s: 2.5 }],
        }
    }

    #[test]
    fn a_document_decodes_back_to_the_value_it_was_made_from() {
        let doc = ConfigDocument::encode(&sample()).unwrap();
        assert_eq!(doc.decode::<Sample>().unwrap(), sample());
    }

    #[test]
    fn on_the_wire_a_document_is_the_value_s_own_nested_map() {
        let doc = ConfigDocument::encode(&sample()).unwrap();
        assert_eq!(
            crate::encode(&doc).unwrap(),
            crate::encode(&sample()).unwrap()
        );
    }

    #[test]
    fn keys_are_readable_without_the_rust_type() {
        let doc = ConfigDocument::encode(&sample()).unwrap();
        assert_eq!(doc.get("name").and_then(Value::as_str), Some("m"));
        assert_eq!(doc.get("big").and_then(Value::as_u64), Some(u64::MAX));
        assert_eq!(doc.get("offset"), Some(&Value::Int(-3)));
        assert_eq!(doc.get("seed"), Some(&Value::Nil));
        assert_eq!(
            doc.get("grace_s").and_then(Value::as_f64),
            Some(f64::INFINITY)
        );
        let modes = doc.get("modes").unwrap();
        assert_eq!(
            modes,
            &Value::Array(vec![
                Value::Str("closed".into()),
                Value::Map(vec![(
                    Value::Str("rate".into()),
                    Value::Map(vec![(Value::Str("per_s".into()), Value::Float(2.5))])
                )]),
            ])
        );
        assert_eq!(doc.get("missing"), None);
    }
}
