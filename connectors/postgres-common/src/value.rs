//! Values between PostgreSQL and Connect: column types to Connect schemas and back, a
//! column's binary value decoded ([`PgValue`]), and a Connect value as the text PostgreSQL
//! parses for any column type ([`TextParam`]).

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::Arc;

use postgres_protocol::types as wire;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use wasm_connect_sdk::data::logical;
use wasm_connect_sdk::{Schema, SchemaBuilder, SchemaType, Value};

type BoxError = Box<dyn StdError + Sync + Send>;

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * 86_400_000_000;

/// A column type the connectors map, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Boolean,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric(p, s)`: Decimal with scale `s`.
    Decimal(i32),
    /// `numeric` without a declared scale: its text (a Connect Decimal needs one scale).
    NumericText,
    Text,
    Bytes,
    /// `json`, `jsonb`: their text.
    Json,
    /// `uuid`: its text.
    Uuid,
    /// `timestamp` and `timestamptz`: Timestamp (milliseconds since the epoch, UTC).
    Timestamp,
    Date,
    Time,
}

impl ColumnKind {
    /// The kind of a column of type `ty` (with the `numeric` scale from the catalog, if
    /// declared); None for types the connectors do not map.
    pub fn of(ty: &Type, numeric_scale: Option<i32>) -> Option<Self> {
        Some(match *ty {
            Type::BOOL => Self::Boolean,
            Type::INT2 => Self::Int16,
            Type::INT4 | Type::OID => Self::Int32,
            Type::INT8 => Self::Int64,
            Type::FLOAT4 => Self::Float32,
            Type::FLOAT8 => Self::Float64,
            Type::NUMERIC => match numeric_scale {
                Some(scale) => Self::Decimal(scale),
                None => Self::NumericText,
            },
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::CHAR => Self::Text,
            Type::BYTEA => Self::Bytes,
            Type::JSON | Type::JSONB => Self::Json,
            Type::UUID => Self::Uuid,
            Type::TIMESTAMP | Type::TIMESTAMPTZ => Self::Timestamp,
            Type::DATE => Self::Date,
            Type::TIME => Self::Time,
            _ => return None,
        })
    }

    /// The Connect schema of a column of this kind.
    pub fn schema(self, optional: bool) -> Arc<Schema> {
        let builder = match self {
            Self::Boolean => SchemaBuilder::boolean(),
            Self::Int16 => SchemaBuilder::int16(),
            Self::Int32 => SchemaBuilder::int32(),
            Self::Int64 => SchemaBuilder::int64(),
            Self::Float32 => SchemaBuilder::float32(),
            Self::Float64 => SchemaBuilder::float64(),
            Self::Decimal(scale) => SchemaBuilder::decimal(scale),
            Self::NumericText | Self::Text | Self::Json | Self::Uuid => SchemaBuilder::string(),
            Self::Bytes => SchemaBuilder::bytes(),
            Self::Timestamp => SchemaBuilder::timestamp(),
            Self::Date => SchemaBuilder::date(),
            Self::Time => SchemaBuilder::time(),
        };
        if optional {
            builder.optional().build()
        } else {
            builder.build()
        }
    }

    /// The Connect value of a decoded column value.
    pub fn value(self, value: PgValue) -> Result<Value, String> {
        Ok(match (self, value) {
            (_, PgValue::Null) => Value::Null,
            (Self::Boolean, PgValue::Bool(v)) => Value::Boolean(v),
            (Self::Int16, PgValue::Int16(v)) => Value::Int16(v),
            (Self::Int32, PgValue::Int32(v)) => Value::Int32(v),
            (Self::Int64, PgValue::Int64(v)) => Value::Int64(v),
            (Self::Float32, PgValue::Float32(v)) => Value::Float32(v),
            (Self::Float64, PgValue::Float64(v)) => Value::Float64(v),
            (Self::Decimal(scale), PgValue::Numeric(n)) => {
                Value::Bytes(logical::decimal_to_bytes(n.unscaled(scale)?))
            }
            (Self::NumericText, PgValue::Numeric(n)) => Value::String(n.to_string()),
            (Self::Text | Self::Json | Self::Uuid, PgValue::Text(v)) => Value::String(v),
            (Self::Bytes, PgValue::Bytes(v)) => Value::Bytes(v),
            (Self::Timestamp, PgValue::Timestamp(micros)) => Value::Int64(micros.div_euclid(1_000)),
            (Self::Date, PgValue::Date(days)) => Value::Int32(days),
            (Self::Time, PgValue::Time(micros)) => Value::Int32(
                i32::try_from(micros / 1_000).map_err(|_| "time out of range".to_owned())?,
            ),
            (kind, value) => return Err(format!("a {value:?} is not a {kind:?} value")),
        })
    }
}

/// A PostgreSQL `numeric` as sent in binary: base-10000 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numeric {
    negative: bool,
    weight: i16,
    /// Digits after the decimal point the value shows.
    display_scale: u16,
    digits: Vec<i16>,
}

impl Numeric {
    fn decode(mut raw: &[u8]) -> Result<Self, BoxError> {
        let mut next = || -> Result<u16, BoxError> {
            if raw.len() < 2 {
                return Err("truncated numeric".into());
            }
            let value = u16::from_be_bytes([raw[0], raw[1]]);
            raw = &raw[2..];
            Ok(value)
        };
        let count = next()?;
        let weight = next()? as i16;
        let sign = next()?;
        let display_scale = next()?;
        let negative = match sign {
            0x0000 => false,
            0x4000 => true,
            _ => return Err("NaN and infinite numeric values have no Connect Decimal".into()),
        };
        let digits = (0..count)
            .map(|_| next().map(|d| d as i16))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            negative,
            weight,
            display_scale,
            digits,
        })
    }

    /// The value × 10^`scale`, as an integer (digits beyond `scale` must be zero).
    pub fn unscaled(&self, scale: i32) -> Result<i128, String> {
        let overflow = || format!("numeric {self} does not fit a Decimal of scale {scale}");
        let mut total: i128 = 0;
        for (index, digit) in self.digits.iter().enumerate() {
            // This digit is worth digit × 10^(4 × (weight − index) + scale).
            let exponent = 4 * (i32::from(self.weight) - index as i32) + scale;
            let digit = i128::from(*digit);
            let term = if exponent >= 0 {
                10i128
                    .checked_pow(exponent as u32)
                    .and_then(|power| digit.checked_mul(power))
                    .ok_or_else(overflow)?
            } else {
                let divisor = 10i128.checked_pow((-exponent) as u32).unwrap_or(i128::MAX);
                if digit % divisor != 0 {
                    return Err(format!(
                        "numeric {self} has more than {scale} digits after the decimal point"
                    ));
                }
                digit / divisor
            };
            total = total.checked_add(term).ok_or_else(overflow)?;
        }
        Ok(if self.negative { -total } else { total })
    }
}

impl std::fmt::Display for Numeric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scale = i32::from(self.display_scale);
        match self.unscaled(scale) {
            Ok(unscaled) => f.write_str(&decimal_text(unscaled, scale)),
            Err(_) => f.write_str("<numeric out of range>"),
        }
    }
}

/// `unscaled` × 10^-`scale` as decimal text (`-12.50`).
pub fn decimal_text(unscaled: i128, scale: i32) -> String {
    let mut text = String::new();
    write_decimal(&mut text, unscaled, scale);
    text
}

/// [`decimal_text`], appended to `out`.
fn write_decimal(out: &mut String, unscaled: i128, scale: i32) {
    if unscaled < 0 {
        out.push('-');
    }
    let start = out.len();
    write!(out, "{}", unscaled.unsigned_abs()).expect("writing to a String");
    if scale <= 0 {
        out.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        return;
    }
    let scale = scale as usize;
    let digits = out.len() - start;
    if digits <= scale {
        // Zeros before the digits, so that one is left of the point.
        let zeros = scale + 1 - digits;
        out.insert_str(start, &"0".repeat(zeros));
    }
    let point = out.len() - scale;
    out.insert(point, '.');
}

/// One column's value, decoded from PostgreSQL's binary format.
#[derive(Debug, Clone, PartialEq)]
pub enum PgValue {
    Null,
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Numeric(Numeric),
    Text(String),
    Bytes(Vec<u8>),
    /// Microseconds since 1970-01-01 UTC.
    Timestamp(i64),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
}

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(match *ty {
            Type::BOOL => Self::Bool(wire::bool_from_sql(raw)?),
            Type::INT2 => Self::Int16(wire::int2_from_sql(raw)?),
            Type::INT4 => Self::Int32(wire::int4_from_sql(raw)?),
            Type::OID => Self::Int32(wire::oid_from_sql(raw)? as i32),
            Type::INT8 => Self::Int64(wire::int8_from_sql(raw)?),
            Type::FLOAT4 => Self::Float32(wire::float4_from_sql(raw)?),
            Type::FLOAT8 => Self::Float64(wire::float8_from_sql(raw)?),
            Type::NUMERIC => Self::Numeric(Numeric::decode(raw)?),
            Type::BYTEA => Self::Bytes(wire::bytea_from_sql(raw).to_vec()),
            Type::JSONB => match raw.split_first() {
                Some((1, text)) => Self::Text(std::str::from_utf8(text)?.to_owned()),
                _ => return Err("unsupported jsonb format".into()),
            },
            Type::UUID => {
                let bytes = wire::uuid_from_sql(raw)?;
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                Self::Text(format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                ))
            }
            Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                Self::Timestamp(wire::timestamp_from_sql(raw)?.saturating_add(PG_EPOCH_MICROS))
            }
            Type::DATE => Self::Date(
                i32::try_from(i64::from(wire::date_from_sql(raw)?) + PG_EPOCH_DAYS)
                    .map_err(|_| "date out of range")?,
            ),
            Type::TIME => Self::Time(wire::time_from_sql(raw)?),
            _ => Self::Text(wire::text_from_sql(raw)?.to_owned()),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Self::Null)
    }

    fn accepts(ty: &Type) -> bool {
        ColumnKind::of(ty, None).is_some()
    }
}

/// A parameter sent as text, which PostgreSQL parses as the column's type: one way to bind
/// any Connect value to any column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextParam(pub Option<String>);

impl ToSql for TextParam {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        TextRef(self.0.as_deref()).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        TextRef::accepts(ty)
    }

    fn encode_format(&self, ty: &Type) -> tokio_postgres::types::Format {
        TextRef(self.0.as_deref()).encode_format(ty)
    }

    to_sql_checked!();
}

/// [`TextParam`] borrowing its text, e.g. from one buffer holding a whole batch's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRef<'a>(pub Option<&'a str>);

impl ToSql for TextRef<'_> {
    fn to_sql(&self, _ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            None => Ok(IsNull::Yes),
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> tokio_postgres::types::Format {
        tokio_postgres::types::Format::Text
    }

    to_sql_checked!();
}

/// The PostgreSQL column type for a Connect schema (for `auto.create` and `auto.evolve`).
pub fn column_type(schema: &Schema) -> Result<String, String> {
    if let Some(name) = schema.name.as_deref() {
        match name {
            logical::DECIMAL => {
                return Ok(match schema.parameter(logical::DECIMAL_SCALE) {
                    Some(scale) => format!("numeric(38, {scale})"),
                    None => "numeric".into(),
                });
            }
            logical::DATE => return Ok("date".into()),
            logical::TIME => return Ok("time".into()),
            logical::TIMESTAMP => return Ok("timestamp".into()),
            _ => {}
        }
    }
    Ok(match schema.schema_type {
        SchemaType::Boolean => "boolean",
        SchemaType::Int8 | SchemaType::Int16 => "smallint",
        SchemaType::Int32 => "integer",
        SchemaType::Int64 => "bigint",
        SchemaType::Float32 => "real",
        SchemaType::Float64 => "double precision",
        SchemaType::String => "text",
        SchemaType::Bytes => "bytea",
        other => {
            return Err(format!(
                "a {} field has no PostgreSQL column type (only primitive and logical types do)",
                other.name()
            ));
        }
    }
    .into())
}

/// A Connect value as the text PostgreSQL parses for a column of the schema's type; None for
/// null.
pub fn to_text(value: &Value, schema: Option<&Schema>) -> Result<Option<String>, String> {
    let mut text = String::new();
    Ok(write_text(&mut text, value, schema)?.then_some(text))
}

/// [`to_text`], appended to `out`: false (and nothing appended) for null. On an error, `out`
/// is as it was.
pub fn write_text(
    out: &mut String,
    value: &Value,
    schema: Option<&Schema>,
) -> Result<bool, String> {
    let logical = schema.and_then(|s| s.name.as_deref());
    match (value, logical) {
        (Value::Null, _) => return Ok(false),
        (Value::Bytes(bytes), Some(logical::DECIMAL)) => {
            let scale: i32 = schema
                .and_then(|s| s.parameter(logical::DECIMAL_SCALE))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let unscaled =
                logical::decimal_from_bytes(bytes).ok_or("a Decimal of more than 16 bytes")?;
            write_decimal(out, unscaled, scale);
        }
        (Value::Int32(days), Some(logical::DATE)) => write_date(out, i64::from(*days), ""),
        (Value::Int32(millis), Some(logical::TIME)) => write_time(out, i64::from(*millis)),
        (Value::Int64(millis), Some(logical::TIMESTAMP)) => write_timestamp(out, *millis),
        (Value::Boolean(v), _) => out.push(if *v { 't' } else { 'f' }),
        (Value::Int8(v), _) => write!(out, "{v}").expect("writing to a String"),
        (Value::Int16(v), _) => write!(out, "{v}").expect("writing to a String"),
        (Value::Int32(v), _) => write!(out, "{v}").expect("writing to a String"),
        (Value::Int64(v), _) => write!(out, "{v}").expect("writing to a String"),
        (Value::Float32(v), _) => write_float(out, f64::from(*v)),
        (Value::Float64(v), _) => write_float(out, *v),
        (Value::String(v), _) => {
            if v.contains('\0') {
                return Err("PostgreSQL text cannot hold a NUL character".into());
            }
            out.push_str(v);
        }
        (Value::Bytes(bytes), _) => {
            out.reserve(2 + bytes.len() * 2);
            out.push_str("\\x");
            for byte in bytes {
                write!(out, "{byte:02x}").expect("writing to a String");
            }
        }
        (other, _) => {
            return Err(format!(
                "a {} value has no PostgreSQL column (only primitive and logical values do)",
                other.type_name()
            ));
        }
    }
    Ok(true)
}

fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // Shortest text that reads back as the same float.
        write!(out, "{value:?}").expect("writing to a String");
    }
}

/// Year, month, day of `days` since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The date of `days` since 1970-01-01, then `before_era` and ` BC` for a year before 1.
fn write_date(out: &mut String, days: i64, before_era: &str) {
    let (year, month, day) = civil_from_days(days);
    if year <= 0 {
        write!(out, "{:04}-{month:02}-{day:02}{before_era} BC", 1 - year)
    } else {
        write!(out, "{year:04}-{month:02}-{day:02}")
    }
    .expect("writing to a String");
}

fn write_time(out: &mut String, millis: i64) {
    let millis = millis.rem_euclid(86_400_000);
    write!(
        out,
        "{:02}:{:02}:{:02}.{:03}",
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1_000 % 60,
        millis % 1_000
    )
    .expect("writing to a String");
}

fn write_timestamp(out: &mut String, millis: i64) {
    let days = millis.div_euclid(86_400_000);
    let mut time = String::with_capacity(16);
    write_time(&mut time, millis.rem_euclid(86_400_000));
    // A `timestamp` column ignores the offset; a `timestamptz` column reads it as UTC.
    let (year, ..) = civil_from_days(days);
    if year <= 0 {
        write_date(out, days, &format!(" {time}+00"));
    } else {
        write_date(out, days, "");
        write!(out, " {time}+00").expect("writing to a String");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(negative: bool, weight: i16, scale: u16, digits: &[i16]) -> Numeric {
        Numeric {
            negative,
            weight,
            display_scale: scale,
            digits: digits.to_vec(),
        }
    }

    #[test]
    fn numerics_become_unscaled_integers() {
        // 12345.678 = [1, 2345, 6780], weight 1.
        let n = numeric(false, 1, 3, &[1, 2345, 6780]);
        assert_eq!(n.unscaled(3).unwrap(), 12_345_678);
        assert_eq!(n.unscaled(5).unwrap(), 1_234_567_800);
        assert!(n.unscaled(2).is_err());
        assert_eq!(n.to_string(), "12345.678");
        // -0.0001 = [1], weight -1.
        let n = numeric(true, -1, 4, &[1]);
        assert_eq!(n.unscaled(4).unwrap(), -1);
        assert_eq!(n.to_string(), "-0.0001");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(12_345, 0), "12345");
    }

    fn text(value: Value, schema: Arc<Schema>) -> String {
        to_text(&value, Some(&schema)).unwrap().unwrap()
    }

    #[test]
    fn dates_and_times_print_as_postgres_reads_them() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let date = || SchemaBuilder::date().build();
        assert_eq!(text(Value::Int32(11_016), date()), "2000-02-29");
        // 1 BC is year 0 of the proleptic calendar.
        assert_eq!(text(Value::Int32(-719_528), date()), "0001-01-01 BC");
        let time = SchemaBuilder::time().build();
        assert_eq!(text(Value::Int32(45_296_789), time), "12:34:56.789");
        let timestamp = || SchemaBuilder::timestamp().build();
        assert_eq!(
            text(Value::Int64(1_704_067_200_123), timestamp()),
            "2024-01-01 00:00:00.123+00"
        );
        assert_eq!(
            text(Value::Int64(-719_528 * 86_400_000 + 1), timestamp()),
            "0001-01-01 00:00:00.001+00 BC"
        );
        let float = || SchemaBuilder::float64().build();
        assert_eq!(text(Value::Float64(1.0), float()), "1.0");
        assert_eq!(
            text(Value::Float64(f64::NEG_INFINITY), float()),
            "-Infinity"
        );
        assert_eq!(text(Value::Float64(f64::NAN), float()), "NaN");
    }

    #[test]
    fn decimals_print_with_their_scale() {
        let cases: [(i128, i32, &str); 7] = [
            (-1_250, 2, "-12.50"),
            (5, 2, "0.05"),
            (-5, 3, "-0.005"),
            (0, 2, "0.00"),
            (12_345, 0, "12345"),
            (12, -3, "12000"),
            (i128::MIN + 1, 0, "-170141183460469231731687303715884105727"),
        ];
        for (unscaled, scale, expected) in cases {
            assert_eq!(
                decimal_text(unscaled, scale),
                expected,
                "{unscaled} scale {scale}"
            );
        }
    }

    #[test]
    fn texts_append_to_what_the_buffer_holds() {
        let mut out = String::from("id=");
        assert!(write_text(&mut out, &Value::Int64(-7), None).unwrap());
        assert!(!write_text(&mut out, &Value::Null, None).unwrap());
        let decimal = SchemaBuilder::decimal(3).build();
        let bytes = Value::Bytes(logical::decimal_to_bytes(42));
        assert!(write_text(&mut out, &bytes, Some(&decimal)).unwrap());
        assert!(write_text(&mut out, &Value::String("a\0b".into()), None).is_err());
        assert!(write_text(&mut out, &Value::Boolean(true), None).unwrap());
        assert_eq!(out, "id=-70.042t");
    }

    #[test]
    fn connect_values_become_postgres_text() {
        let decimal = SchemaBuilder::decimal(2).build();
        let bytes = Value::Bytes(logical::decimal_to_bytes(-1_250));
        assert_eq!(to_text(&bytes, Some(&decimal)).unwrap().unwrap(), "-12.50");
        assert_eq!(
            to_text(&Value::Bytes(vec![0, 255]), None).unwrap().unwrap(),
            "\\x00ff"
        );
        assert_eq!(to_text(&Value::Null, None).unwrap(), None);
        assert!(to_text(&Value::String("a\0b".into()), None).is_err());
        assert_eq!(column_type(&decimal).unwrap(), "numeric(38, 2)");
        assert_eq!(
            column_type(&SchemaBuilder::timestamp().build()).unwrap(),
            "timestamp"
        );
    }
}
