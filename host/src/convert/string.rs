//! `StringConverter`: a value's string form in a configurable charset
//! (`converter.encoding`), as Kafka Connect's `org.apache.kafka.connect.storage.StringConverter`.
//! Reads give an optional STRING schema.
//!
//! Supported encodings (Java names and common aliases, case-insensitive): UTF-8 (default),
//! US-ASCII, ISO-8859-1, UTF-16, UTF-16BE, UTF-16LE; others are rejected when the converter
//! is built. As in Java, undecodable input becomes U+FFFD and unencodable characters `?`.
//!
//! Writing uses Java's `toString()` of the value Kafka would hold: numbers as
//! `Double.toString` etc., Decimal as `BigDecimal.toString`, Date/Time/Timestamp as
//! `java.util.Date.toString()` in UTC (`Mon Jan 01 00:00:00 UTC 2024`), arrays as `[a, b]`,
//! maps as `{k=v}`, structs as `Struct{f=v}`. Differences: top-level plain BYTES are written
//! unchanged (Java would write `[B@1b6d3586`) and nested bytes as base64.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::java_text::{
    MILLIS_PER_DAY, big_decimal_to_string, double_to_string, float_to_string, java_date_to_string,
    twos_complement_to_digits,
};
use super::{
    ConvertError, Converter, ConverterKind, DataError, HeaderConverter, Logical, decimal_scale,
    temporal_logical,
};
use crate::data::{Data, Schema, SchemaType, Value};

const NAME: ConverterKind = ConverterKind::String;

/// A Java charset the string converter can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringEncoding {
    #[default]
    Utf8,
    UsAscii,
    Latin1,
    /// Java's `UTF-16`: writes a big-endian byte-order mark; reads honour a BOM, default BE.
    Utf16,
    Utf16Be,
    Utf16Le,
}

impl StringEncoding {
    /// Looks up a Java charset name or alias, case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        let normalized = name.trim().to_ascii_uppercase().replace('_', "-");
        Some(match normalized.as_str() {
            "UTF-8" | "UTF8" | "UNICODE-1-1-UTF-8" => Self::Utf8,
            "US-ASCII" | "ASCII" | "ISO646-US" | "US" | "ASCII7" | "646" => Self::UsAscii,
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "L1" | "ISO-LATIN-1" | "8859-1" | "CP819"
            | "IBM819" | "ISO8859-1:1987" | "819" => Self::Latin1,
            "UTF-16" | "UTF16" | "UNICODE" => Self::Utf16,
            "UTF-16BE" | "UNICODEBIGUNMARKED" | "X-UTF-16BE" => Self::Utf16Be,
            "UTF-16LE" | "UNICODELITTLEUNMARKED" | "X-UTF-16LE" => Self::Utf16Le,
            _ => return None,
        })
    }

    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Self::Utf8 => text.as_bytes().to_vec(),
            Self::UsAscii => text
                .chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .collect(),
            Self::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect(),
            Self::Utf16 | Self::Utf16Be => {
                let bom: &[u8] = if self == Self::Utf16 {
                    &[0xfe, 0xff]
                } else {
                    &[]
                };
                bom.iter()
                    .copied()
                    .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
                    .collect()
            }
            Self::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        }
    }

    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Self::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Self::UsAscii => bytes
                .iter()
                .map(|&b| {
                    if b.is_ascii() {
                        char::from(b)
                    } else {
                        '\u{fffd}'
                    }
                })
                .collect(),
            Self::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Self::Utf16 => match bytes {
                [0xfe, 0xff, rest @ ..] => decode_utf16(rest, u16::from_be_bytes),
                [0xff, 0xfe, rest @ ..] => decode_utf16(rest, u16::from_le_bytes),
                _ => decode_utf16(bytes, u16::from_be_bytes),
            },
            Self::Utf16Be => decode_utf16(bytes, u16::from_be_bytes),
            Self::Utf16Le => decode_utf16(bytes, u16::from_le_bytes),
        }
    }
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    let mut text: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if bytes.len() % 2 == 1 {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    text
}

/// Kafka Connect's `StringConverter`; also a header converter.
#[derive(Debug, Clone, Default)]
pub struct StringConverter {
    encoding: StringEncoding,
}

impl StringConverter {
    pub fn new(encoding: StringEncoding) -> Self {
        Self { encoding }
    }

    /// Reads `converter.encoding`; other keys are ignored.
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Result<Self, ConvertError> {
        let encoding = match settings.get("converter.encoding") {
            None => StringEncoding::Utf8,
            Some(name) => {
                StringEncoding::from_name(name).ok_or_else(|| ConvertError::InvalidSetting {
                    converter: NAME,
                    key: "converter.encoding",
                    value: name.clone(),
                    reason: "unsupported encoding; supported: UTF-8, US-ASCII, ISO-8859-1, \
                             UTF-16, UTF-16BE, UTF-16LE",
                })?
            }
        };
        Ok(Self::new(encoding))
    }

    pub fn encoding(&self) -> StringEncoding {
        self.encoding
    }

    fn serialize(&self, data: Option<&Data>) -> Result<Option<Vec<u8>>, DataError> {
        let Some(data) = data else {
            return Ok(None);
        };
        let schema = data.schema.as_deref();
        Ok(match &data.value {
            Value::Null => None,
            Value::Bytes(bytes) if schema.and_then(decimal_scale).is_none() => Some(bytes.clone()),
            value => Some(self.encoding.encode(&java_to_string(schema, value)?)),
        })
    }

    fn deserialize(&self, bytes: Option<&[u8]>) -> Data {
        let schema = Some(super::optional_primitive(SchemaType::String));
        match bytes {
            None => Data::new(schema, Value::Null),
            Some(bytes) => Data::new(schema, Value::String(self.encoding.decode(bytes))),
        }
    }
}

/// Java's `toString()` of the object Kafka would hold for this value.
pub(crate) fn java_to_string(schema: Option<&Schema>, value: &Value) -> Result<String, DataError> {
    let mut out = String::new();
    append_java(&mut out, schema, value)?;
    Ok(out)
}

fn append_java(out: &mut String, schema: Option<&Schema>, value: &Value) -> Result<(), DataError> {
    if let Some(schema) = schema {
        if let (Some(scale), Value::Bytes(bytes)) = (decimal_scale(schema), value) {
            let (negative, digits) = twos_complement_to_digits(bytes);
            out.push_str(&big_decimal_to_string(negative, &digits, i64::from(scale?)));
            return Ok(());
        }
        let millis = match (temporal_logical(schema), value) {
            (Some(Logical::Date), Value::Int32(days)) => Some(i64::from(*days) * MILLIS_PER_DAY),
            (Some(Logical::Time), Value::Int32(ms)) => Some(i64::from(*ms)),
            (Some(Logical::Timestamp), Value::Int64(ms)) => Some(*ms),
            _ => None,
        };
        if let Some(millis) = millis {
            out.push_str(&java_date_to_string(millis));
            return Ok(());
        }
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(v) => out.push_str(&v.to_string()),
        Value::Int16(v) => out.push_str(&v.to_string()),
        Value::Int32(v) => out.push_str(&v.to_string()),
        Value::Int64(v) => out.push_str(&v.to_string()),
        Value::Float32(v) => out.push_str(&float_to_string(*v)),
        Value::Float64(v) => out.push_str(&double_to_string(*v)),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => out.push_str(&base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                append_java(out, item_schema, item).map_err(|e| e.at_index(i))?;
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let key_schema = schema.and_then(|s| s.key_schema.as_deref());
            let value_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                append_java(out, key_schema, key).map_err(|e| e.at_index(i))?;
                out.push('=');
                append_java(out, value_schema, value).map_err(|e| e.at_index(i))?;
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push_str("Struct{");
            let mut first = true;
            for (field, value) in s.schema.fields.iter().zip(&s.values) {
                if value.is_null() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&field.name);
                out.push('=');
                append_java(out, Some(&field.schema), value)
                    .map_err(|e| e.in_field(&field.name))?;
            }
            out.push('}');
        }
    }
    Ok(())
}

impl Converter for StringConverter {
    fn from_connect(
        &self,
        topic: &str,
        data: Option<&Data>,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        self.serialize(data)
            .map_err(|source| ConvertError::FromConnect {
                converter: NAME,
                topic: topic.to_string(),
                source,
            })
    }

    fn from_connect_owned(
        &self,
        topic: &str,
        data: Option<Data>,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        match data {
            // Text in UTF-8 is its own encoding: move it.
            Some(Data {
                value: Value::String(text),
                ..
            }) if self.encoding == StringEncoding::Utf8 => Ok(Some(text.into_bytes())),
            data => self.from_connect(topic, data.as_ref()),
        }
    }

    /// `None` bytes give a null value with the optional STRING schema, as Kafka.
    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<Option<Data>, ConvertError> {
        Ok(Some(self.deserialize(bytes)))
    }
}

impl HeaderConverter for StringConverter {
    fn from_connect_header(
        &self,
        topic: &str,
        key: &str,
        data: &Data,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        self.serialize(Some(data))
            .map_err(|source| ConvertError::FromConnectHeader {
                converter: NAME,
                topic: topic.to_string(),
                key: key.to_string(),
                source,
            })
    }

    fn to_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Data, ConvertError> {
        Ok(self.deserialize(bytes))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::data::{Field, Struct};

    fn write(converter: &StringConverter, schema: Option<Schema>, value: Value) -> Option<Vec<u8>> {
        let data = Data::new(schema.map(Arc::new), value);
        converter.from_connect("t", Some(&data)).unwrap()
    }

    fn text(schema: Option<Schema>, value: Value) -> String {
        String::from_utf8(write(&StringConverter::default(), schema, value).unwrap()).unwrap()
    }

    #[test]
    fn writes_java_to_string_of_primitives() {
        assert_eq!(text(None, Value::String("héllo".into())), "héllo");
        assert_eq!(text(None, Value::Boolean(true)), "true");
        assert_eq!(text(None, Value::Int8(-8)), "-8");
        assert_eq!(text(None, Value::Int64(1 << 40)), "1099511627776");
        assert_eq!(text(None, Value::Float64(1.0)), "1.0");
        assert_eq!(text(None, Value::Float32(1e10)), "1.0E10");
        assert_eq!(
            text(Some(Schema::decimal(2)), Value::Bytes(vec![0x30, 0x39])),
            "123.45"
        );
        assert_eq!(
            text(Some(Schema::timestamp()), Value::Int64(1_704_067_200_000)),
            "Mon Jan 01 00:00:00 UTC 2024"
        );
    }

    #[test]
    fn writes_java_to_string_of_containers() {
        let schema = Arc::new(Schema::structure(vec![
            Field {
                name: "a".into(),
                schema: Arc::new(Schema::primitive(SchemaType::Int32)),
            },
            Field {
                name: "b".into(),
                schema: Arc::new(Schema::primitive(SchemaType::String).optional()),
            },
        ]));
        let mut value = Struct::new(schema.clone());
        value.put("a", Value::Int32(1));
        assert_eq!(
            text(Some((*schema).clone()), Value::Struct(value)),
            "Struct{a=1}"
        );
        assert_eq!(
            text(
                None,
                Value::Array(vec![Value::String("x".into()), Value::Null])
            ),
            "[x, null]"
        );
        assert_eq!(
            text(
                None,
                Value::Map(vec![(Value::String("k".into()), Value::Int64(2))])
            ),
            "{k=2}"
        );
    }

    #[test]
    fn nulls_and_bytes() {
        let converter = StringConverter::default();
        assert_eq!(converter.from_connect("t", None).unwrap(), None);
        assert_eq!(write(&converter, None, Value::Null), None);
        assert_eq!(
            write(&converter, None, Value::Bytes(vec![0xff, 0x00])),
            Some(vec![0xff, 0x00])
        );
    }

    #[test]
    fn reads_optional_strings() {
        let converter = StringConverter::default();
        let data = converter
            .to_connect("t", Some("héllo".as_bytes()))
            .unwrap()
            .unwrap();
        assert_eq!(
            data.schema.as_deref(),
            Some(&Schema::primitive(SchemaType::String).optional())
        );
        assert_eq!(data.value, Value::String("héllo".into()));
        let null = converter.to_connect("t", None).unwrap().unwrap();
        assert_eq!(null.value, Value::Null);
        assert!(null.schema.unwrap().optional);
        let lossy = converter
            .to_connect("t", Some(&[b'a', 0xff]))
            .unwrap()
            .unwrap();
        assert_eq!(lossy.value, Value::String("a\u{fffd}".into()));
    }

    #[test]
    fn other_encodings() {
        let mut settings = BTreeMap::new();
        settings.insert("converter.encoding".to_string(), "utf-16le".to_string());
        let converter = StringConverter::from_settings(&settings).unwrap();
        let bytes = write(&converter, None, Value::String("hé".into())).unwrap();
        assert_eq!(bytes, vec![b'h', 0, 0xe9, 0]);
        let back = converter.to_connect("t", Some(&bytes)).unwrap().unwrap();
        assert_eq!(back.value, Value::String("hé".into()));
        assert_eq!(StringEncoding::Latin1.encode("é€"), vec![0xe9, b'?']);
        assert_eq!(StringEncoding::Utf16.encode("a"), vec![0xfe, 0xff, 0, b'a']);
        assert_eq!(StringEncoding::Utf16.decode(&[0xff, 0xfe, b'a', 0]), "a");
        assert_eq!(
            StringEncoding::from_name("ISO_8859_1"),
            Some(StringEncoding::Latin1)
        );
        settings.insert("converter.encoding".to_string(), "Shift_JIS".to_string());
        assert!(StringConverter::from_settings(&settings).is_err());
    }
}
