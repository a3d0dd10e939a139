//! The Avro binary encoding of `apache_avro` values, strict and deterministic.
//!
//! `apache_avro` parses and resolves the schemas; the bytes are written and read here because
//! its datum reader turns a body cut short into nulls instead of an error, and its writer emits
//! map entries in `HashMap` order (the same key could give different bytes). Here a short or
//! overlong body is an error, and map entries keep the order they are given in: a map value
//! may be an `Avro::Map` (written in key order) or an `Avro::Array` of `key`/`value` records
//! (written in that order), and maps are read back as the latter.

use std::collections::HashMap;

use apache_avro::Decimal;
use apache_avro::schema::{InnerDecimalSchema, Name, ResolvedSchema, Schema as AvroSchema};
use apache_avro::types::Value as Avro;

/// Deepest nesting of arrays, maps, unions and records read or written.
const MAX_DEPTH: usize = 256;

/// Encodes `value`, which must have the shape of `schema`.
pub fn encode(schema: &AvroSchema, value: &Avro) -> Result<Vec<u8>, String> {
    let resolved = ResolvedSchema::try_from(schema).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    Writer {
        names: resolved.get_names(),
    }
    .write(schema, value, &mut out, 0)?;
    Ok(out)
}

/// Decodes one value of `schema` that must fill `bytes` exactly.
pub fn decode(schema: &AvroSchema, bytes: &[u8]) -> Result<Avro, String> {
    let resolved = ResolvedSchema::try_from(schema).map_err(|e| e.to_string())?;
    let mut reader = Reader {
        names: resolved.get_names(),
        bytes,
        pos: 0,
    };
    let value = reader.read(schema, 0)?;
    if reader.pos != bytes.len() {
        return Err(format!(
            "{} bytes left after the Avro value",
            bytes.len() - reader.pos
        ));
    }
    Ok(value)
}

struct Writer<'a> {
    names: &'a HashMap<Name, &'a AvroSchema>,
}

impl Writer<'_> {
    fn write(
        &self,
        schema: &AvroSchema,
        value: &Avro,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), String> {
        use AvroSchema as S;
        if depth > MAX_DEPTH {
            return Err(format!("values nested deeper than {MAX_DEPTH}"));
        }
        let mismatch = || {
            format!(
                "{} value for an Avro {} schema",
                kind(value),
                schema_kind(schema)
            )
        };
        match (schema, value) {
            (S::Ref { name }, _) => {
                let named = self
                    .names
                    .get(name)
                    .ok_or_else(|| format!("unknown Avro type {name}"))?;
                self.write(named, value, out, depth)?;
            }
            (S::Union(union), Avro::Union(index, inner)) => {
                let variant = usize::try_from(*index)
                    .ok()
                    .and_then(|i| union.variants().get(i))
                    .ok_or_else(|| format!("union branch {index} out of range"))?;
                write_long(i64::from(*index), out);
                self.write(variant, inner, out, depth + 1)?;
            }
            (S::Null, Avro::Null) => {}
            (S::Boolean, Avro::Boolean(b)) => out.push(u8::from(*b)),
            (S::Int, Avro::Int(i))
            | (S::Date, Avro::Date(i) | Avro::Int(i))
            | (S::TimeMillis, Avro::TimeMillis(i) | Avro::Int(i)) => write_long(i64::from(*i), out),
            (S::Long, Avro::Long(i))
            | (S::TimeMicros, Avro::TimeMicros(i) | Avro::Long(i))
            | (S::TimestampMillis, Avro::TimestampMillis(i) | Avro::Long(i))
            | (S::TimestampMicros, Avro::TimestampMicros(i) | Avro::Long(i))
            | (S::TimestampNanos, Avro::TimestampNanos(i) | Avro::Long(i))
            | (S::LocalTimestampMillis, Avro::LocalTimestampMillis(i) | Avro::Long(i))
            | (S::LocalTimestampMicros, Avro::LocalTimestampMicros(i) | Avro::Long(i))
            | (S::LocalTimestampNanos, Avro::LocalTimestampNanos(i) | Avro::Long(i)) => {
                write_long(*i, out);
            }
            (S::Float, Avro::Float(f)) => out.extend_from_slice(&f.to_le_bytes()),
            (S::Double, Avro::Double(f)) => out.extend_from_slice(&f.to_le_bytes()),
            (S::Bytes, Avro::Bytes(b)) => write_bytes(b, out),
            (S::String, Avro::String(s)) => write_bytes(s.as_bytes(), out),
            (S::Fixed(fixed), Avro::Fixed(_, b)) if b.len() == fixed.size => {
                out.extend_from_slice(b);
            }
            (S::Enum(e), Avro::Enum(index, symbol)) => {
                if usize::try_from(*index).ok().and_then(|i| e.symbols.get(i)) != Some(symbol) {
                    return Err(format!(
                        "`{symbol}` is not symbol {index} of enum {}",
                        e.name
                    ));
                }
                write_long(i64::from(*index), out);
            }
            (S::Decimal(decimal), Avro::Decimal(value)) => {
                let bytes = Vec::<u8>::try_from(value).map_err(|e| e.to_string())?;
                match &decimal.inner {
                    InnerDecimalSchema::Bytes => write_bytes(&bytes, out),
                    InnerDecimalSchema::Fixed(fixed) => {
                        out.extend_from_slice(&sign_extend(&bytes, fixed.size)?);
                    }
                }
            }
            (S::Array(array), Avro::Array(items)) => {
                write_block_len(items.len(), out);
                for item in items {
                    self.write(&array.items, item, out, depth + 1)?;
                }
                write_block_end(items.len(), out);
            }
            (S::Map(map), Avro::Map(entries)) => {
                let mut sorted: Vec<(&String, &Avro)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                write_block_len(sorted.len(), out);
                for (key, value) in sorted {
                    write_bytes(key.as_bytes(), out);
                    self.write(&map.types, value, out, depth + 1)?;
                }
                write_block_end(entries.len(), out);
            }
            (S::Map(map), Avro::Array(entries)) => {
                write_block_len(entries.len(), out);
                for entry in entries {
                    let (Some(Avro::String(key)), Some(value)) =
                        (record_field(entry, "key"), record_field(entry, "value"))
                    else {
                        return Err(mismatch());
                    };
                    write_bytes(key.as_bytes(), out);
                    self.write(&map.types, value, out, depth + 1)?;
                }
                write_block_end(entries.len(), out);
            }
            (S::Record(record), Avro::Record(values)) => {
                for (i, field) in record.fields.iter().enumerate() {
                    let value = match values.get(i) {
                        Some((name, value)) if *name == field.name => value,
                        _ => values
                            .iter()
                            .find(|(name, _)| *name == field.name)
                            .map(|(_, value)| value)
                            .ok_or_else(|| format!("no value for field `{}`", field.name))?,
                    };
                    self.write(&field.schema, value, out, depth + 1)
                        .map_err(|e| format!("field `{}`: {e}", field.name))?;
                }
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

fn record_field<'v>(record: &'v Avro, name: &str) -> Option<&'v Avro> {
    match record {
        Avro::Record(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
        _ => None,
    }
}

/// Big-endian two's complement `bytes` widened (or narrowed, if only sign bytes go) to `size`.
fn sign_extend(bytes: &[u8], size: usize) -> Result<Vec<u8>, String> {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let fill = if negative { 0xFF } else { 0 };
    let mut start = 0;
    while bytes.len() - start > size {
        if bytes[start] != fill {
            return Err(format!(
                "decimal of {} bytes does not fit fixed({size})",
                bytes.len()
            ));
        }
        start += 1;
    }
    let mut out = vec![fill; size - (bytes.len() - start)];
    out.extend_from_slice(&bytes[start..]);
    Ok(out)
}

fn write_long(n: i64, out: &mut Vec<u8>) {
    // Zig-zag, then base-128 varint.
    #[allow(
        clippy::cast_sign_loss,
        reason = "zig-zag encoding reinterprets the bits"
    )]
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        #[allow(clippy::cast_possible_truncation, reason = "the low seven bits")]
        out.push((z as u8 & 0x7F) | 0x80);
        z >>= 7;
    }
    #[allow(clippy::cast_possible_truncation, reason = "z < 0x80")]
    out.push(z as u8);
}

fn write_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    write_long(i64::try_from(bytes.len()).unwrap_or(i64::MAX), out);
    out.extend_from_slice(bytes);
}

/// One block holding every item (none for an empty array or map).
fn write_block_len(len: usize, out: &mut Vec<u8>) {
    if len > 0 {
        write_long(i64::try_from(len).unwrap_or(i64::MAX), out);
    }
}

fn write_block_end(_len: usize, out: &mut Vec<u8>) {
    out.push(0);
}

struct Reader<'a> {
    names: &'a HashMap<Name, &'a AvroSchema>,
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn read(&mut self, schema: &AvroSchema, depth: usize) -> Result<Avro, String> {
        use AvroSchema as S;
        if depth > MAX_DEPTH {
            return Err(format!("values nested deeper than {MAX_DEPTH}"));
        }
        Ok(match schema {
            S::Ref { name } => {
                let named = *self
                    .names
                    .get(name)
                    .ok_or_else(|| format!("unknown Avro type {name}"))?;
                return self.read(named, depth);
            }
            S::Null => Avro::Null,
            S::Boolean => match self.take(1)? {
                [0] => Avro::Boolean(false),
                [1] => Avro::Boolean(true),
                other => return Err(format!("invalid boolean byte {}", other[0])),
            },
            S::Int => Avro::Int(self.read_int()?),
            S::Date => Avro::Date(self.read_int()?),
            S::TimeMillis => Avro::TimeMillis(self.read_int()?),
            S::Long => Avro::Long(self.read_long()?),
            S::TimeMicros => Avro::TimeMicros(self.read_long()?),
            S::TimestampMillis => Avro::TimestampMillis(self.read_long()?),
            S::TimestampMicros => Avro::TimestampMicros(self.read_long()?),
            S::TimestampNanos => Avro::TimestampNanos(self.read_long()?),
            S::LocalTimestampMillis => Avro::LocalTimestampMillis(self.read_long()?),
            S::LocalTimestampMicros => Avro::LocalTimestampMicros(self.read_long()?),
            S::LocalTimestampNanos => Avro::LocalTimestampNanos(self.read_long()?),
            S::Float => {
                let b = self.take(4)?;
                Avro::Float(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            S::Double => {
                let b = self.take(8)?;
                let mut array = [0; 8];
                array.copy_from_slice(b);
                Avro::Double(f64::from_le_bytes(array))
            }
            S::Bytes | S::BigDecimal => Avro::Bytes(self.read_bytes()?.to_vec()),
            S::String => Avro::String(self.read_string()?),
            S::Uuid(_) => {
                return Err("Avro uuid schemas are not supported".into());
            }
            S::Fixed(fixed) | S::Duration(fixed) => {
                Avro::Fixed(fixed.size, self.take(fixed.size)?.to_vec())
            }
            S::Enum(e) => {
                let index = self.read_long()?;
                let symbol = usize::try_from(index)
                    .ok()
                    .and_then(|i| e.symbols.get(i))
                    .ok_or_else(|| format!("enum index {index} out of range for {}", e.name))?;
                Avro::Enum(u32::try_from(index).unwrap_or(u32::MAX), symbol.clone())
            }
            S::Decimal(decimal) => {
                let bytes = match &decimal.inner {
                    InnerDecimalSchema::Bytes => self.read_bytes()?,
                    InnerDecimalSchema::Fixed(fixed) => self.take(fixed.size)?,
                };
                if bytes.is_empty() {
                    return Err("empty decimal".into());
                }
                Avro::Decimal(Decimal::from(bytes))
            }
            S::Array(array) => {
                let mut items = Vec::new();
                while let Some(count) = self.read_block_len()? {
                    for _ in 0..count {
                        items.push(self.read(&array.items, depth + 1)?);
                    }
                }
                Avro::Array(items)
            }
            S::Map(map) => {
                // Kept in order, as key/value records.
                let mut entries = Vec::new();
                while let Some(count) = self.read_block_len()? {
                    for _ in 0..count {
                        let key = self.read_string()?;
                        let value = self.read(&map.types, depth + 1)?;
                        entries.push(Avro::Record(vec![
                            ("key".into(), Avro::String(key)),
                            ("value".into(), value),
                        ]));
                    }
                }
                Avro::Array(entries)
            }
            S::Union(union) => {
                let index = self.read_long()?;
                let variant = usize::try_from(index)
                    .ok()
                    .and_then(|i| union.variants().get(i))
                    .ok_or_else(|| format!("union branch {index} out of range"))?;
                Avro::Union(
                    u32::try_from(index).unwrap_or(u32::MAX),
                    Box::new(self.read(variant, depth + 1)?),
                )
            }
            S::Record(record) => {
                let mut fields = Vec::with_capacity(record.fields.len());
                for field in &record.fields {
                    let value = self
                        .read(&field.schema, depth + 1)
                        .map_err(|e| format!("field `{}`: {e}", field.name))?;
                    fields.push((field.name.clone(), value));
                }
                Avro::Record(fields)
            }
        })
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "the Avro body ends early: {n} bytes needed at offset {}, {} left",
                    self.pos,
                    self.bytes.len() - self.pos
                )
            })?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn read_long(&mut self) -> Result<i64, String> {
        let mut z: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            z |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                #[allow(clippy::cast_possible_wrap, reason = "zig-zag decoding")]
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err("Avro varint longer than 10 bytes".into())
    }

    fn read_int(&mut self) -> Result<i32, String> {
        let n = self.read_long()?;
        i32::try_from(n).map_err(|_| format!("Avro int {n} out of range"))
    }

    fn read_bytes(&mut self) -> Result<&[u8], String> {
        let len = self.read_long()?;
        let len = usize::try_from(len).map_err(|_| format!("negative length {len}"))?;
        self.take(len)
    }

    fn read_string(&mut self) -> Result<String, String> {
        let bytes = self.read_bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "Avro string is not UTF-8".to_string())
    }

    /// The item count of the next block, `None` at the end. A block's count may not exceed the
    /// bytes left (so a forged count cannot allocate without bound).
    fn read_block_len(&mut self) -> Result<Option<usize>, String> {
        let count = self.read_long()?;
        if count == 0 {
            return Ok(None);
        }
        if count < 0 {
            // A negative count is followed by the block's size in bytes.
            self.read_long()?;
        }
        let count = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        if count > self.bytes.len() - self.pos {
            return Err(format!(
                "block of {count} items but only {} bytes left",
                self.bytes.len() - self.pos
            ));
        }
        Ok(Some(count))
    }
}

fn kind(value: &Avro) -> &'static str {
    match value {
        Avro::Null => "null",
        Avro::Boolean(_) => "boolean",
        Avro::Int(_) | Avro::Date(_) | Avro::TimeMillis(_) => "int",
        Avro::Long(_)
        | Avro::TimeMicros(_)
        | Avro::TimestampMillis(_)
        | Avro::TimestampMicros(_)
        | Avro::TimestampNanos(_)
        | Avro::LocalTimestampMillis(_)
        | Avro::LocalTimestampMicros(_)
        | Avro::LocalTimestampNanos(_) => "long",
        Avro::Float(_) => "float",
        Avro::Double(_) => "double",
        Avro::Bytes(_) | Avro::BigDecimal(_) => "bytes",
        Avro::String(_) | Avro::Uuid(_) => "string",
        Avro::Fixed(..) | Avro::Duration(_) => "fixed",
        Avro::Enum(..) => "enum",
        Avro::Union(..) => "union",
        Avro::Array(_) => "array",
        Avro::Map(_) => "map",
        Avro::Record(_) => "record",
        Avro::Decimal(_) => "decimal",
    }
}

fn schema_kind(schema: &AvroSchema) -> String {
    let kind: apache_avro::schema::SchemaKind = schema.into();
    format!("{kind:?}").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_use_zig_zag_varints() {
        for (n, bytes) in [
            (0, vec![0]),
            (-1, vec![1]),
            (1, vec![2]),
            (-64, vec![0x7F]),
            (64, vec![0x80, 1]),
            (i64::MIN, vec![0xFF; 9].into_iter().chain([1]).collect()),
        ] {
            let mut out = Vec::new();
            write_long(n, &mut out);
            assert_eq!(out, bytes, "{n}");
            let schema = AvroSchema::Long;
            assert_eq!(decode(&schema, &bytes).unwrap(), Avro::Long(n));
        }
        assert!(decode(&AvroSchema::Long, &[0x80]).is_err());
        assert!(decode(&AvroSchema::Long, &[0xFF; 11]).is_err());
    }

    #[test]
    fn sign_extends_decimals_for_fixed() {
        assert_eq!(
            sign_extend(&[0xFF, 0x85], 4).unwrap(),
            [0xFF, 0xFF, 0xFF, 0x85]
        );
        assert_eq!(sign_extend(&[0x00, 0x00, 0x05], 2).unwrap(), [0x00, 0x05]);
        assert!(sign_extend(&[0x01, 0x00, 0x05], 2).is_err());
    }

    #[test]
    fn forged_block_counts_are_rejected() {
        let schema = AvroSchema::parse_str(r#"{"type":"array","items":"int"}"#).unwrap();
        let mut bytes = Vec::new();
        write_long(1_000_000_000, &mut bytes);
        let err = decode(&schema, &bytes).unwrap_err();
        assert!(err.contains("block of 1000000000 items"), "{err}");
    }
}
