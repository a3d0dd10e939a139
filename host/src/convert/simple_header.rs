//! `SimpleHeaderConverter`: header values as plain UTF-8 strings, as Kafka Connect's default
//! header converter `org.apache.kafka.connect.storage.SimpleHeaderConverter`. Writing follows
//! `Values.convertToString`; reading infers a schema as `Values.parseString` does.
//!
//! Written forms: strings as-is; numbers as Java prints them; booleans; bytes as base64;
//! Decimal as `BigDecimal.toString`; Date/Time/Timestamp as `yyyy-MM-dd`, `HH:mm:ss.SSSZ` or
//! `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC, chosen like Kafka by the millisecond value (under a day
//! → time, whole days → date, else timestamp); arrays `[1,2]`, maps `{"k":1}` and structs
//! `{"f":1}` with nested strings quoted (only `\` and `"` escaped).
//!
//! Reading: `null`, `true`/`false` (→ BOOLEAN), the three temporal forms above (strict, UTC),
//! integers → the smallest of INT8/16/32/64 (integral values like `1.0` and `1e3` included),
//! other numbers → FLOAT32 if finite as a float, else FLOAT64, else a Decimal; `[…]` and
//! `{…}` with elements of one common type (numbers widen) → ARRAY/MAP; anything else → STRING
//! with the original text. Simplifications versus Kafka: lists or maps whose elements are all
//! null (or empty) come back schemaless; quoted strings inside them are unescaped (`\"`,
//! `\\`); times are parsed in UTC rather than the JVM's zone; bytes that are not UTF-8 come
//! back as BYTES instead of a string with replacement characters.

use std::sync::Arc;

use base64::Engine as _;

use super::java_text::{
    DecimalText, MILLIS_PER_DAY, big_decimal_to_string, digits_to_twos_complement,
    double_to_string, float_to_string, format_date, format_time, format_timestamp, parse_date,
    parse_time, parse_timestamp, twos_complement_to_digits,
};
use super::{ConvertError, HeaderConverter, Logical, decimal_scale, temporal_logical};
use crate::data::{Data, Schema, SchemaType, Value};

/// Kafka Connect's `SimpleHeaderConverter`. Has no settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleHeaderConverter;

impl HeaderConverter for SimpleHeaderConverter {
    fn from_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        data: &Data,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        if data.value.is_null() {
            return Ok(None);
        }
        Ok(Some(
            convert_to_string(data.schema.as_deref(), &data.value).into_bytes(),
        ))
    }

    fn to_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Data, ConvertError> {
        let Some(bytes) = bytes else {
            return Ok(Data::schemaless(Value::Null));
        };
        Ok(match std::str::from_utf8(bytes) {
            Ok(text) => parse_string(text),
            Err(_) => Data::new(
                Some(Arc::new(Schema::primitive(SchemaType::Bytes))),
                Value::Bytes(bytes.to_vec()),
            ),
        })
    }
}

/// `Values.convertToString`.
pub(crate) fn convert_to_string(schema: Option<&Schema>, value: &Value) -> String {
    let mut out = String::new();
    append(&mut out, schema, value, false);
    out
}

fn append(out: &mut String, schema: Option<&Schema>, value: &Value, embedded: bool) {
    if let Some(schema) = schema {
        if let (Some(Ok(scale)), Value::Bytes(bytes)) = (decimal_scale(schema), value) {
            let (negative, digits) = twos_complement_to_digits(bytes);
            out.push_str(&big_decimal_to_string(negative, &digits, i64::from(scale)));
            return;
        }
        let millis = match (temporal_logical(schema), value) {
            (Some(Logical::Date), Value::Int32(days)) => Some(i64::from(*days) * MILLIS_PER_DAY),
            (Some(Logical::Time), Value::Int32(ms)) => Some(i64::from(*ms)),
            (Some(Logical::Timestamp), Value::Int64(ms)) => Some(*ms),
            _ => None,
        };
        if let Some(millis) = millis {
            // Kafka's `dateFormatFor` picks the pattern from the value, not the schema.
            out.push_str(&if millis < MILLIS_PER_DAY {
                format_time(millis)
            } else if millis % MILLIS_PER_DAY == 0 {
                format_date(millis)
            } else {
                format_timestamp(millis)
            });
            return;
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
        Value::String(s) if embedded => {
            out.push('"');
            out.push_str(&s.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
        }
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(b);
            if embedded {
                out.push('"');
                out.push_str(&encoded);
                out.push('"');
            } else {
                out.push_str(&encoded);
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, item_schema, item, true);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let key_schema = schema.and_then(|s| s.key_schema.as_deref());
            let value_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, key_schema, key, true);
                out.push(':');
                append(out, value_schema, value, true);
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push('{');
            for (i, (field, value)) in s.schema.fields.iter().zip(&s.values).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, None, &Value::String(field.name.clone()), true);
                out.push(':');
                // `Struct.get` applies the field's default to a null value.
                let value = match (&field.schema.default, value) {
                    (Some(default), Value::Null) => default,
                    _ => value,
                };
                append(out, Some(&field.schema), value, true);
            }
            out.push('}');
        }
    }
}

fn required(ty: SchemaType) -> Option<Arc<Schema>> {
    Some(Arc::new(Schema::primitive(ty)))
}

/// `Values.parseString` (simplified, see the module docs).
pub(crate) fn parse_string(text: &str) -> Data {
    let string = || {
        Data::new(
            required(SchemaType::String),
            Value::String(text.to_string()),
        )
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return string();
    }
    match trimmed {
        "null" => return Data::schemaless(Value::Null),
        "true" => return Data::new(required(SchemaType::Boolean), Value::Boolean(true)),
        "false" => return Data::new(required(SchemaType::Boolean), Value::Boolean(false)),
        _ => {}
    }
    if trimmed.starts_with(['[', '{']) {
        let mut parser = Embedded {
            text: trimmed,
            pos: 0,
        };
        if let Ok(data) = parser.value(0)
            && parser.at_end()
        {
            return data;
        }
        return string();
    }
    scalar(&trimmed.replace("\\:", ":")).unwrap_or_else(string)
}

/// A temporal or numeric literal.
fn scalar(token: &str) -> Option<Data> {
    let first = token.chars().next()?;
    if first.is_ascii_digit() {
        if let Some(ms) = parse_timestamp(token) {
            return Some(Data::new(
                Some(Arc::new(Schema::timestamp())),
                Value::Int64(ms),
            ));
        }
        if let Some(ms) = parse_time(token) {
            let ms = i32::try_from(ms).ok()?;
            return Some(Data::new(Some(Arc::new(Schema::time())), Value::Int32(ms)));
        }
        if let Some(days) = parse_date(token) {
            let days = i32::try_from(days).ok()?;
            return Some(Data::new(
                Some(Arc::new(Schema::date())),
                Value::Int32(days),
            ));
        }
    }
    if !(first.is_ascii_digit() || first == '+' || first == '-') {
        return None;
    }
    let decimal = DecimalText::parse(token)?;
    if let Some(v) = decimal.exact_i64() {
        return Some(if let Ok(v) = i8::try_from(v) {
            Data::new(required(SchemaType::Int8), Value::Int8(v))
        } else if let Ok(v) = i16::try_from(v) {
            Data::new(required(SchemaType::Int16), Value::Int16(v))
        } else if let Ok(v) = i32::try_from(v) {
            Data::new(required(SchemaType::Int32), Value::Int32(v))
        } else {
            Data::new(required(SchemaType::Int64), Value::Int64(v))
        });
    }
    if decimal.scale != 0 {
        if let Ok(v) = token.parse::<f32>()
            && v.is_finite()
        {
            return Some(Data::new(required(SchemaType::Float32), Value::Float32(v)));
        }
        if let Ok(v) = token.parse::<f64>()
            && v.is_finite()
        {
            return Some(Data::new(required(SchemaType::Float64), Value::Float64(v)));
        }
    }
    let scale = i32::try_from(decimal.scale).ok()?;
    Some(Data::new(
        Some(Arc::new(Schema::decimal(scale))),
        Value::Bytes(digits_to_twos_complement(decimal.negative, &decimal.digits)),
    ))
}

const MAX_DEPTH: usize = 100;

/// Parser for the embedded values of `[…]` and `{…}` header strings.
struct Embedded<'a> {
    text: &'a str,
    pos: usize,
}

impl Embedded<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn at_end(&mut self) -> bool {
        self.skip_whitespace();
        self.pos == self.text.len()
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_whitespace();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Data, ()> {
        if depth > MAX_DEPTH {
            return Err(());
        }
        self.skip_whitespace();
        if self.eat('"') {
            return self.quoted();
        }
        if self.eat('[') {
            return self.array(depth);
        }
        if self.eat('{') {
            return self.map(depth);
        }
        // Unquoted temporal literals contain ':' (a delimiter), so try them first.
        for len in [24, 13] {
            if let Some(candidate) = self.rest().get(..len)
                && let Some(data) = scalar(candidate).filter(|d| {
                    d.schema
                        .as_deref()
                        .is_some_and(|s| temporal_logical(s).is_some())
                })
                && self.rest()[len..]
                    .trim_start()
                    .chars()
                    .next()
                    .is_none_or(|c| matches!(c, ',' | ']' | '}'))
            {
                self.pos += len;
                return Ok(data);
            }
        }
        let end = self
            .rest()
            .find([',', ':', '[', ']', '{', '}', '"'])
            .unwrap_or(self.rest().len());
        let token = self.rest()[..end].trim().to_string();
        self.pos += end;
        match token.as_str() {
            "null" => Ok(Data::schemaless(Value::Null)),
            "true" => Ok(Data::new(
                required(SchemaType::Boolean),
                Value::Boolean(true),
            )),
            "false" => Ok(Data::new(
                required(SchemaType::Boolean),
                Value::Boolean(false),
            )),
            _ => scalar(&token).ok_or(()),
        }
    }

    fn quoted(&mut self) -> Result<Data, ()> {
        let mut content = String::new();
        let mut chars = self.rest().char_indices();
        loop {
            let (at, c) = chars.next().ok_or(())?;
            match c {
                '"' => {
                    self.pos += at + 1;
                    break;
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('"' | '\\'))) => content.push(escaped),
                    Some((_, other)) => {
                        content.push('\\');
                        content.push(other);
                    }
                    None => return Err(()),
                },
                c => content.push(c),
            }
        }
        if let Some(data) = scalar(&content).filter(|d| {
            d.schema
                .as_deref()
                .is_some_and(|s| temporal_logical(s).is_some())
        }) {
            return Ok(data);
        }
        Ok(Data::new(
            required(SchemaType::String),
            Value::String(content),
        ))
    }

    fn array(&mut self, depth: usize) -> Result<Data, ()> {
        let mut items = Vec::new();
        if !self.eat(']') {
            loop {
                items.push(self.value(depth + 1)?);
                if self.eat(']') {
                    break;
                }
                if !self.eat(',') {
                    return Err(());
                }
            }
        }
        let Some(item_schema) = common_schema(&items)? else {
            return Ok(Data::schemaless(Value::Array(
                items.into_iter().map(|d| d.value).collect(),
            )));
        };
        let values = items
            .into_iter()
            .map(|d| widen(d.value, item_schema.ty))
            .collect();
        Ok(Data::new(
            Some(Arc::new(Schema::array(item_schema))),
            Value::Array(values),
        ))
    }

    fn map(&mut self, depth: usize) -> Result<Data, ()> {
        let mut keys = Vec::new();
        let mut values = Vec::new();
        if !self.eat('}') {
            loop {
                let key = self.value(depth + 1)?;
                if key.value.is_null() || !self.eat(':') {
                    return Err(());
                }
                keys.push(key);
                values.push(self.value(depth + 1)?);
                if self.eat('}') {
                    break;
                }
                if !self.eat(',') {
                    return Err(());
                }
            }
        }
        let key_schema = common_schema(&keys)?;
        let value_schema = common_schema(&values)?;
        let (Some(key_schema), Some(value_schema)) = (key_schema, value_schema) else {
            let entries = keys
                .into_iter()
                .map(|k| k.value)
                .zip(values.into_iter().map(|v| v.value));
            return Ok(Data::schemaless(Value::Map(entries.collect())));
        };
        let entries = keys
            .into_iter()
            .zip(values)
            .map(|(k, v)| {
                (
                    widen(k.value, key_schema.ty),
                    widen(v.value, value_schema.ty),
                )
            })
            .collect();
        Ok(Data::new(
            Some(Arc::new(Schema::map(key_schema, value_schema))),
            Value::Map(entries),
        ))
    }
}

fn numeric_rank(schema: &Schema) -> Option<u8> {
    if schema.name.is_some() {
        return None;
    }
    Some(match schema.ty {
        SchemaType::Int8 => 0,
        SchemaType::Int16 => 1,
        SchemaType::Int32 => 2,
        SchemaType::Int64 => 3,
        SchemaType::Float32 => 4,
        SchemaType::Float64 => 5,
        _ => return None,
    })
}

/// The one schema all non-null elements share (numbers widen to the widest type; nulls make
/// it optional); `Ok(None)` when every element is null; `Err` when types conflict.
fn common_schema(items: &[Data]) -> Result<Option<Arc<Schema>>, ()> {
    let mut common: Option<Schema> = None;
    let mut any_null = false;
    for item in items {
        let Some(schema) = item.schema.as_deref() else {
            any_null |= item.value.is_null();
            if !item.value.is_null() {
                return Err(());
            }
            continue;
        };
        common = Some(match common {
            None => schema.clone(),
            Some(previous) if previous == *schema => previous,
            Some(previous) => match (numeric_rank(&previous), numeric_rank(schema)) {
                (Some(a), Some(b)) if b > a => schema.clone(),
                (Some(_), Some(_)) => previous,
                _ => return Err(()),
            },
        });
    }
    Ok(common.map(|mut schema| {
        schema.optional |= any_null;
        Arc::new(schema)
    }))
}

/// Converts a number to a wider numeric type (other values unchanged).
fn widen(value: Value, ty: SchemaType) -> Value {
    let as_i64 = match value {
        Value::Int8(v) => i64::from(v),
        Value::Int16(v) => i64::from(v),
        Value::Int32(v) => i64::from(v),
        Value::Int64(v) => v,
        Value::Float32(v) if ty == SchemaType::Float64 => return Value::Float64(f64::from(v)),
        other => return other,
    };
    match ty {
        SchemaType::Int16 => i16::try_from(as_i64).map_or(value, Value::Int16),
        SchemaType::Int32 => i32::try_from(as_i64).map_or(value, Value::Int32),
        SchemaType::Int64 => Value::Int64(as_i64),
        SchemaType::Float32 => Value::Float32(as_i64 as f32),
        SchemaType::Float64 => Value::Float64(as_i64 as f64),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Field, Struct};

    fn write(schema: Option<Schema>, value: Value) -> String {
        let data = Data::new(schema.map(Arc::new), value);
        let bytes = SimpleHeaderConverter
            .from_connect_header("t", "h", &data)
            .unwrap()
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    fn read(text: &str) -> Data {
        SimpleHeaderConverter
            .to_connect_header("t", "h", Some(text.as_bytes()))
            .unwrap()
    }

    fn prim(ty: SchemaType) -> Option<Arc<Schema>> {
        Some(Arc::new(Schema::primitive(ty)))
    }

    #[test]
    fn writes_values_convert_to_string() {
        assert_eq!(
            write(None, Value::String("plain \"text\"".into())),
            "plain \"text\""
        );
        assert_eq!(write(None, Value::Int32(42)), "42");
        assert_eq!(write(None, Value::Float64(2.5)), "2.5");
        assert_eq!(write(None, Value::Boolean(false)), "false");
        assert_eq!(write(None, Value::Bytes(vec![1, 2, 3])), "AQID");
        assert_eq!(
            write(Some(Schema::decimal(2)), Value::Bytes(vec![0x30, 0x39])),
            "123.45"
        );
        assert_eq!(
            write(Some(Schema::date()), Value::Int32(19723)),
            "2024-01-01"
        );
        assert_eq!(
            write(Some(Schema::time()), Value::Int32(3_600_000)),
            "01:00:00.000Z"
        );
        assert_eq!(
            write(Some(Schema::timestamp()), Value::Int64(1_704_067_200_500)),
            "2024-01-01T00:00:00.500Z"
        );
        assert_eq!(
            write(
                None,
                Value::Array(vec![
                    Value::String("a\"b".into()),
                    Value::Null,
                    Value::Int8(1)
                ])
            ),
            r#"["a\"b",null,1]"#
        );
        let schema = Arc::new(Schema::structure(vec![Field {
            name: "n".into(),
            schema: Arc::new(Schema::primitive(SchemaType::String)),
        }]));
        let mut value = Struct::new(schema.clone());
        value.put("n", Value::String("x".into()));
        assert_eq!(
            write(Some((*schema).clone()), Value::Struct(value)),
            r#"{"n":"x"}"#
        );
        let null = Data::schemaless(Value::Null);
        assert_eq!(
            SimpleHeaderConverter
                .from_connect_header("t", "h", &null)
                .unwrap(),
            None
        );
    }

    #[test]
    fn reads_with_type_inference() {
        assert_eq!(
            read("true"),
            Data::new(prim(SchemaType::Boolean), Value::Boolean(true))
        );
        assert_eq!(
            read("42"),
            Data::new(prim(SchemaType::Int8), Value::Int8(42))
        );
        assert_eq!(
            read("-300"),
            Data::new(prim(SchemaType::Int16), Value::Int16(-300))
        );
        assert_eq!(
            read("70000"),
            Data::new(prim(SchemaType::Int32), Value::Int32(70000))
        );
        assert_eq!(
            read("5000000000"),
            Data::new(prim(SchemaType::Int64), Value::Int64(5_000_000_000))
        );
        assert_eq!(
            read("1.0"),
            Data::new(prim(SchemaType::Int8), Value::Int8(1))
        );
        assert_eq!(
            read("1.5"),
            Data::new(prim(SchemaType::Float32), Value::Float32(1.5))
        );
        assert_eq!(
            read("1e300"),
            Data::new(prim(SchemaType::Float64), Value::Float64(1e300))
        );
        assert_eq!(
            read("2024-01-01"),
            Data::new(Some(Arc::new(Schema::date())), Value::Int32(19723))
        );
        assert_eq!(
            read("01:00:00.000Z"),
            Data::new(Some(Arc::new(Schema::time())), Value::Int32(3_600_000))
        );
        assert_eq!(
            read("hello world"),
            Data::new(
                prim(SchemaType::String),
                Value::String("hello world".into())
            )
        );
        assert_eq!(
            read(" 12abc"),
            Data::new(prim(SchemaType::String), Value::String(" 12abc".into()))
        );
        assert_eq!(
            read(""),
            Data::new(prim(SchemaType::String), Value::String(String::new()))
        );
        assert_eq!(read("null"), Data::schemaless(Value::Null));
        assert_eq!(
            SimpleHeaderConverter
                .to_connect_header("t", "h", None)
                .unwrap(),
            Data::schemaless(Value::Null)
        );
        let bytes = SimpleHeaderConverter
            .to_connect_header("t", "h", Some(&[0xff]))
            .unwrap();
        assert_eq!(bytes.value, Value::Bytes(vec![0xff]));
        let big = read("123456789012345678901234567890");
        assert_eq!(big.schema.as_deref(), Some(&Schema::decimal(0)));
    }

    #[test]
    fn reads_arrays_and_maps() {
        assert_eq!(
            read("[1,2,300]"),
            Data::new(
                Some(Arc::new(Schema::array(Arc::new(Schema::primitive(
                    SchemaType::Int16
                ))))),
                Value::Array(vec![Value::Int16(1), Value::Int16(2), Value::Int16(300)])
            )
        );
        let map = read(r#"{"a":1,"b":null}"#);
        let mut value_schema = Schema::primitive(SchemaType::Int8);
        value_schema.optional = true;
        assert_eq!(
            map,
            Data::new(
                Some(Arc::new(Schema::map(
                    Arc::new(Schema::primitive(SchemaType::String)),
                    Arc::new(value_schema)
                ))),
                Value::Map(vec![
                    (Value::String("a".into()), Value::Int8(1)),
                    (Value::String("b".into()), Value::Null)
                ])
            )
        );
        // Mixed element types or broken syntax fall back to the original string.
        assert_eq!(read("[1,\"a\"]").value, Value::String("[1,\"a\"]".into()));
        assert_eq!(read("[1,2").value, Value::String("[1,2".into()));
        assert_eq!(read("[]").value, Value::Array(vec![]));
    }

    #[test]
    fn round_trips_through_strings() {
        let cases = [
            Data::new(prim(SchemaType::Int8), Value::Int8(-5)),
            Data::new(prim(SchemaType::Boolean), Value::Boolean(true)),
            Data::new(prim(SchemaType::String), Value::String("hi there".into())),
            Data::new(Some(Arc::new(Schema::date())), Value::Int32(19723)),
            Data::new(
                Some(Arc::new(Schema::timestamp())),
                Value::Int64(1_704_067_200_500),
            ),
            Data::new(
                Some(Arc::new(Schema::array(Arc::new(Schema::timestamp())))),
                Value::Array(vec![
                    Value::Int64(1_704_067_200_500),
                    Value::Int64(1_704_067_200_501),
                ]),
            ),
            Data::new(
                Some(Arc::new(Schema::array(Arc::new(Schema::primitive(
                    SchemaType::String,
                ))))),
                Value::Array(vec![
                    Value::String("a,\"b\"".into()),
                    Value::String("c\\".into()),
                ]),
            ),
        ];
        for data in cases {
            let text = write(data.schema.as_deref().cloned(), data.value.clone());
            assert_eq!(read(&text), data, "{text}");
        }
    }
}
