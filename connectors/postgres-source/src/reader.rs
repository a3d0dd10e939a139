//! One source partition of the task (a table, or the `query`): the SQL that picks up rows
//! past the last offset, and its rows as records.
//!
//! Offsets follow Confluent's JDBC source: `incrementing` (the last id), `timestamp` (epoch
//! milliseconds) with `timestamp_nanos` (the nanoseconds of that second), per source
//! partition `{"table": "<schema>.<table>"}` (or `{"query": "query"}`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio_postgres::types::ToSql;
use wasm_connect_postgres::{
    Pg, PgValue, QualifiedName, connection::task_error, quote_ident, value::ColumnKind,
};
use wasm_connect_sdk::{
    Data, Error, OffsetMap, OffsetMapExt, Scalar, Schema, SchemaBuilder, SourceRecord, Struct,
    Value, host,
};

use crate::catalog::{self, ColumnInfo};
use crate::settings::{Mode, Settings};

pub const TABLE_KEY: &str = "table";
pub const QUERY_KEY: &str = "query";
pub const INCREMENTING_KEY: &str = "incrementing";
pub const TIMESTAMP_KEY: &str = "timestamp";
pub const TIMESTAMP_NANOS_KEY: &str = "timestamp_nanos";

/// Where a partition has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// The last incrementing id; Confluent starts at -1.
    pub incrementing: Option<i64>,
    /// The last timestamp, in microseconds since the epoch.
    pub timestamp_micros: Option<i64>,
}

impl Position {
    fn from_offset(offset: &[(String, Scalar)]) -> Self {
        let timestamp_micros = offset.int(TIMESTAMP_KEY).map(|millis| {
            let nanos = offset.int(TIMESTAMP_NANOS_KEY).unwrap_or(0);
            millis.div_euclid(1_000) * 1_000_000 + nanos / 1_000
        });
        Self {
            incrementing: offset.int(INCREMENTING_KEY),
            timestamp_micros,
        }
    }

    fn offset(&self) -> OffsetMap {
        let mut offset = Vec::new();
        if let Some(id) = self.incrementing {
            offset.push((INCREMENTING_KEY.to_owned(), Scalar::Int(id)));
        }
        if let Some(micros) = self.timestamp_micros {
            let seconds = micros.div_euclid(1_000_000);
            let sub = micros.rem_euclid(1_000_000);
            offset.push((
                TIMESTAMP_KEY.to_owned(),
                Scalar::Int(seconds * 1_000 + sub / 1_000),
            ));
            offset.push((TIMESTAMP_NANOS_KEY.to_owned(), Scalar::Int(sub * 1_000)));
        }
        offset
    }
}

/// What a partition reads.
#[derive(Debug, Clone)]
pub enum Source {
    Table(QualifiedName),
    Query(String),
}

/// One table or query of the task.
pub struct Reader {
    pub source: Source,
    partition: Arc<OffsetMap>,
    topic: Arc<str>,
    schema: Arc<Schema>,
    columns: Vec<ColumnInfo>,
    /// Index in `columns` of the incrementing and timestamp columns.
    incrementing: Option<usize>,
    timestamp: Option<usize>,
    sql: String,
    mode: Mode,
    pub position: Position,
    /// Rows of the current bulk pass already read.
    bulk_offset: i64,
    pub next_poll: Instant,
}

/// Where timestamp modes start: 0001-01-01, before any timestamp a table is likely to hold
/// (PostgreSQL's range starts in 4713 BC; Confluent's connector starts at 1970).
const EARLIEST_MICROS: i64 = -62_135_596_800_000_000;

fn micros_to_system_time(micros: i64) -> SystemTime {
    let magnitude = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        SystemTime::UNIX_EPOCH + magnitude
    } else {
        SystemTime::UNIX_EPOCH - magnitude
    }
}

impl Reader {
    /// A reader of `source`, resuming from its committed offset.
    pub fn open(pg: &Pg, settings: &Settings, source: Source) -> Result<Self, Error> {
        let (partition, topic, schema_name, columns, from) = match &source {
            Source::Table(table) => {
                let (columns, skipped) = catalog::columns(pg, table)?;
                if !skipped.is_empty() {
                    host::warn(&format!(
                        "{table}: skipping columns of types with no Connect mapping: {}",
                        skipped.join(", ")
                    ));
                }
                (
                    vec![(TABLE_KEY.to_owned(), Scalar::String(table.to_string()))],
                    format!("{}{}", settings.topic_prefix, table.table),
                    table.table.clone(),
                    columns,
                    table.quoted(),
                )
            }
            Source::Query(query) => {
                let statement = pg
                    .block_on(pg.client().prepare(query))
                    .map_err(|e| task_error("preparing query", &e))?;
                let mut columns = Vec::new();
                for column in statement.columns() {
                    let kind = ColumnKind::of(column.type_(), None).ok_or_else(|| {
                        Error::fatal(format!(
                            "query column {} has type {}, which has no Connect mapping; cast it \
                             (e.g. to text)",
                            column.name(),
                            column.type_()
                        ))
                    })?;
                    columns.push(ColumnInfo {
                        name: column.name().to_owned(),
                        kind,
                        nullable: true,
                        type_name: column.type_().name().to_owned(),
                    });
                }
                (
                    vec![(QUERY_KEY.to_owned(), Scalar::String("query".into()))],
                    settings.topic_prefix.clone(),
                    "query".to_owned(),
                    columns,
                    format!("({query}) AS q"),
                )
            }
        };
        let find = |wanted: &Option<String>, what: &str| -> Result<Option<usize>, Error> {
            match wanted {
                None => Ok(None),
                Some(name) => columns
                    .iter()
                    .position(|c| c.name == *name)
                    .map(Some)
                    .ok_or_else(|| {
                        Error::fatal(format!("{schema_name} has no {what} column `{name}`"))
                    }),
            }
        };
        let mode = settings.mode;
        let incrementing = if mode.uses_incrementing() {
            find(&settings.incrementing_column, "incrementing")?
        } else {
            None
        };
        let timestamp = if mode.uses_timestamp() {
            find(&settings.timestamp_column, "timestamp")?
        } else {
            None
        };
        if let Some(index) = incrementing
            && !matches!(
                columns[index].kind,
                ColumnKind::Int16 | ColumnKind::Int32 | ColumnKind::Int64
            )
        {
            return Err(Error::fatal(format!(
                "incrementing column `{}` of {schema_name} is {}, not an integer",
                columns[index].name, columns[index].type_name
            )));
        }
        if let Some(index) = timestamp
            && columns[index].kind != ColumnKind::Timestamp
        {
            return Err(Error::fatal(format!(
                "timestamp column `{}` of {schema_name} is {}, not a timestamp",
                columns[index].name, columns[index].type_name
            )));
        }
        let mut builder = SchemaBuilder::struct_().name(schema_name).optional();
        for column in &columns {
            builder = builder.field(column.name.clone(), column.kind.schema(column.nullable));
        }
        let schema = builder.build();
        let select: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        let select = select.join(", ");
        let col = |index: usize| quote_ident(&columns[index].name);
        let ts_type = timestamp.map(|i| columns[i].type_name.clone());
        let sql = match mode {
            Mode::Bulk => format!("SELECT {select} FROM {from} LIMIT $1 OFFSET $2"),
            Mode::Incrementing => {
                let inc = col(incrementing.unwrap_or_default());
                format!(
                    "SELECT {select} FROM {from} WHERE {inc} > $1::int8 ORDER BY {inc} ASC LIMIT $2"
                )
            }
            Mode::Timestamp => {
                let ts = col(timestamp.unwrap_or_default());
                let ty = ts_type.unwrap_or_default();
                format!(
                    "SELECT {select} FROM {from} WHERE {ts} > $1::{ty} AND {ts} < now() \
                     ORDER BY {ts} ASC LIMIT $2"
                )
            }
            Mode::TimestampIncrementing => {
                let ts = col(timestamp.unwrap_or_default());
                let inc = col(incrementing.unwrap_or_default());
                let ty = ts_type.unwrap_or_default();
                format!(
                    "SELECT {select} FROM {from} WHERE {ts} < now() AND \
                     (({ts} = $1::{ty} AND {inc} > $2::int8) OR {ts} > $1::{ty}) \
                     ORDER BY {ts} ASC, {inc} ASC LIMIT $3"
                )
            }
        };
        let position = match host::offset(&partition)? {
            Some(offset) => Position::from_offset(&offset),
            None => Position::default(),
        };
        Ok(Self {
            source,
            partition: Arc::new(partition),
            topic: topic.into(),
            schema,
            columns,
            incrementing,
            timestamp,
            sql,
            mode,
            position,
            bulk_offset: 0,
            next_poll: Instant::now(),
        })
    }

    /// Reads the next rows (at most `limit`) as records, and schedules the next read.
    pub fn poll(
        &mut self,
        pg: &Pg,
        limit: usize,
        poll_interval: Duration,
    ) -> Result<Vec<SourceRecord>, Error> {
        let limit_param = i64::try_from(limit).unwrap_or(i64::MAX);
        let last_id = self.position.incrementing.unwrap_or(-1);
        let last_ts =
            micros_to_system_time(self.position.timestamp_micros.unwrap_or(EARLIEST_MICROS));
        let params: Vec<&(dyn ToSql + Sync)> = match self.mode {
            Mode::Bulk => vec![&limit_param, &self.bulk_offset],
            Mode::Incrementing => vec![&last_id, &limit_param],
            Mode::Timestamp => vec![&last_ts, &limit_param],
            Mode::TimestampIncrementing => vec![&last_ts, &last_id, &limit_param],
        };
        let context = match &self.source {
            Source::Table(table) => format!("reading {table}"),
            Source::Query(_) => "running the query".to_owned(),
        };
        let rows = pg
            .block_on(pg.client().query(self.sql.as_str(), &params))
            .map_err(|e| task_error(&context, &e))?;
        let mut values = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut fields = Vec::with_capacity(self.columns.len());
            for (index, column) in self.columns.iter().enumerate() {
                let raw: PgValue = row
                    .try_get(index)
                    .map_err(|e| Error::fatal(format!("{context}: column {}: {e}", column.name)))?;
                let value = column
                    .kind
                    .value(raw)
                    .map_err(|e| Error::fatal(format!("{context}: column {}: {e}", column.name)))?;
                fields.push(value);
            }
            values.push(fields);
        }
        let full = rows.len() >= limit;
        // In timestamp mode a full batch may end in the middle of a timestamp shared with the
        // next rows, which `ts > last` would then skip: leave those rows for the next poll
        // (unless the whole batch shares one timestamp: then there is no boundary to cut at).
        if self.mode == Mode::Timestamp && full {
            let ts = |fields: &Vec<Value>| match &fields[self.timestamp.unwrap_or_default()] {
                Value::Int64(v) => Some(*v),
                _ => None,
            };
            if let Some(last) = values.last().and_then(ts)
                && values.first().and_then(ts) != Some(last)
            {
                let rows_micros: Vec<i64> = rows
                    .iter()
                    .map(|row| {
                        match row.try_get::<_, PgValue>(self.timestamp.unwrap_or_default()) {
                            Ok(PgValue::Timestamp(micros)) => micros,
                            _ => 0,
                        }
                    })
                    .collect();
                let boundary = rows_micros[rows_micros.len() - 1];
                let keep = rows_micros.iter().take_while(|m| **m != boundary).count();
                values.truncate(keep);
            }
        }
        let mut records = Vec::with_capacity(values.len());
        for (index, fields) in values.into_iter().enumerate() {
            let row = &rows[index];
            if let Some(i) = self.incrementing {
                self.position.incrementing = Some(match &fields[i] {
                    Value::Int16(v) => i64::from(*v),
                    Value::Int32(v) => i64::from(*v),
                    Value::Int64(v) => *v,
                    _ => last_id,
                });
            }
            if let Some(i) = self.timestamp
                && let Ok(PgValue::Timestamp(micros)) = row.try_get::<_, PgValue>(i)
            {
                self.position.timestamp_micros = Some(micros);
            }
            let value = Struct::from_values(self.schema.clone(), fields)
                .map_err(|e| Error::fatal(format!("{context}: {e}")))?;
            let offset = if self.mode == Mode::Bulk {
                Vec::new()
            } else {
                self.position.offset()
            };
            records.push(SourceRecord::new(
                self.partition.clone(),
                offset,
                self.topic.clone(),
                Data::from_struct(value),
            ));
        }
        if self.mode == Mode::Bulk {
            if full {
                self.bulk_offset += rows.len() as i64;
            } else {
                self.bulk_offset = 0;
            }
        }
        // While full batches keep coming, read on at once.
        self.next_poll = if full {
            Instant::now()
        } else {
            Instant::now() + poll_interval
        };
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_through_confluent_offsets() {
        let position = Position {
            incrementing: Some(42),
            timestamp_micros: Some(1_704_067_200_123_456),
        };
        let offset = position.offset();
        assert_eq!(offset.int(TIMESTAMP_KEY), Some(1_704_067_200_123));
        assert_eq!(offset.int(TIMESTAMP_NANOS_KEY), Some(123_456_000));
        assert_eq!(Position::from_offset(&offset), position);
        assert_eq!(Position::from_offset(&[]), Position::default());
    }
}
