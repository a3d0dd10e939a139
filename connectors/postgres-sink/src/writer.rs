//! Turning a `put`'s records into statements: rows (or deletes) per table, tables created or
//! evolved as the settings allow, and every batch of one `put` written in one transaction.
//!
//! Values are bound as text ([`TextRef`]), which PostgreSQL parses as each column's type,
//! so any Connect primitive or logical value fits any compatible column. A `put`'s texts are
//! written into one buffer and its cells borrow names and schemas from the records, so a row
//! costs no allocation beyond its list of cells.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
use wasm_connect_postgres::{
    Pg, QualifiedName,
    connection::task_error,
    quote_ident,
    value::{TextRef, column_type, write_text},
};
use wasm_connect_sdk::{Error, Schema, SinkRecord, Value, host};

use crate::settings::{InsertMode, PkMode, Settings};

/// The column a primitive key goes to when `pk.fields` names none (Confluent's default).
pub const DEFAULT_KEY_COLUMN: &str = "__connect_key";
/// PostgreSQL's limit on parameters of one statement.
const MAX_PARAMS: usize = 65_535;
/// Prepared statements one task keeps (all are dropped when a table changes or this many
/// are held).
const MAX_STATEMENTS: usize = 256;

/// The texts of one `put`'s values, in one buffer.
#[derive(Default)]
struct Texts(String);

/// Where a value's text is in [`Texts`]: `start..end`.
type TextRange = (usize, usize);

impl Texts {
    /// Appends the text of `value`; None for null.
    fn push(
        &mut self,
        value: &Value,
        schema: Option<&Schema>,
    ) -> Result<Option<TextRange>, String> {
        let start = self.0.len();
        Ok(write_text(&mut self.0, value, schema)?.then_some((start, self.0.len())))
    }

    fn get(&self, text: Option<TextRange>) -> Option<&str> {
        text.map(|(start, end)| &self.0[start..end])
    }
}

/// One column value of a row: name, schema, and its text in the `put`'s [`Texts`].
#[derive(Debug, Clone, Copy)]
struct Cell<'a> {
    name: &'a str,
    schema: Option<&'a Schema>,
    text: Option<TextRange>,
}

/// What one record asks for.
#[derive(Debug)]
enum Op<'a> {
    Write {
        cells: Vec<Cell<'a>>,
        key: Vec<Cell<'a>>,
    },
    Delete {
        key: Vec<Cell<'a>>,
    },
}

/// What the writer knows of a table.
#[derive(Debug, Clone)]
struct Table {
    name: QualifiedName,
    columns: HashSet<String>,
}

/// The writer of one task.
pub struct Writer {
    settings: Arc<Settings>,
    tables: HashMap<String, Table>,
    /// Prepared statements by [`statement_key`].
    statements: HashMap<String, Statement>,
}

fn where_(record: &SinkRecord) -> String {
    format!(
        "record {}-{}@{}",
        record.topic, record.partition, record.offset
    )
}

/// The key columns of a record, from its key or value per `pk.mode`.
fn key_cells<'a>(
    settings: &'a Settings,
    record: &'a SinkRecord,
    value_cells: &[Cell<'a>],
    texts: &mut Texts,
) -> Result<Vec<Cell<'a>>, Error> {
    let pick = |all: &[Cell<'a>], what: &str| -> Result<Vec<Cell<'a>>, Error> {
        settings
            .pk_fields
            .iter()
            .map(|field| {
                all.iter()
                    .find(|cell| cell.name == *field)
                    .copied()
                    .ok_or_else(|| {
                        Error::fatal(format!(
                            "{}: the {what} has no field `{field}` of pk.fields",
                            where_(record)
                        ))
                    })
            })
            .collect()
    };
    match settings.pk_mode {
        PkMode::None => Ok(Vec::new()),
        PkMode::RecordValue => pick(value_cells, "value"),
        PkMode::RecordKey => {
            let key = record
                .key
                .as_ref()
                .filter(|k| !k.value.is_null())
                .ok_or_else(|| {
                    Error::fatal(format!(
                        "{}: pk.mode=record_key but the record has no key",
                        where_(record)
                    ))
                })?;
            match &key.value {
                Value::Struct(fields) => {
                    let all = struct_cells(fields.schema(), fields.values(), texts)
                        .map_err(|e| Error::fatal(format!("{}: key: {e}", where_(record))))?;
                    if settings.pk_fields.is_empty() {
                        return Ok(all);
                    }
                    pick(&all, "key")
                }
                primitive => {
                    let name = settings
                        .pk_fields
                        .first()
                        .map_or(DEFAULT_KEY_COLUMN, String::as_str);
                    let text = texts
                        .push(primitive, key.schema.as_deref())
                        .map_err(|e| Error::fatal(format!("{}: key: {e}", where_(record))))?;
                    Ok(vec![Cell {
                        name,
                        schema: key.schema.as_deref(),
                        text,
                    }])
                }
            }
        }
    }
}

/// What `record` asks for; None for a tombstone with deletes off (skipped, as Confluent's
/// sink does).
fn op<'a>(
    settings: &'a Settings,
    record: &'a SinkRecord,
    texts: &mut Texts,
) -> Result<Option<Op<'a>>, Error> {
    let value = record.value.as_ref().filter(|v| !v.value.is_null());
    let Some(value) = value else {
        if !settings.delete_enabled {
            return Ok(None);
        }
        return Ok(Some(Op::Delete {
            key: key_cells(settings, record, &[], texts)?,
        }));
    };
    let Value::Struct(fields) = &value.value else {
        return Err(Error::fatal(format!(
            "{}: the value is a {} (with schema: {}); PostgresSink writes structs with a \
             schema (e.g. JsonConverter with schemas.enable=true, or the Avro converter)",
            where_(record),
            value.value.type_name(),
            value.schema.is_some()
        )));
    };
    let mut cells = struct_cells(fields.schema(), fields.values(), texts)
        .map_err(|e| Error::fatal(format!("{}: {e}", where_(record))))?;
    let key = key_cells(settings, record, &cells, texts)?;
    if settings.pk_mode == PkMode::RecordKey {
        // Key columns first, then the value's other fields.
        let mut all = key.clone();
        cells.retain(|cell| !key.iter().any(|k| k.name == cell.name));
        all.append(&mut cells);
        cells = all;
    }
    Ok(Some(Op::Write { cells, key }))
}

impl Writer {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings: Arc::new(settings),
            tables: HashMap::new(),
            statements: HashMap::new(),
        }
    }

    /// Writes `records` in one transaction.
    pub fn write(&mut self, pg: &mut Pg, records: &[SinkRecord]) -> Result<(), Error> {
        let settings = Arc::clone(&self.settings);
        let mut texts = Texts::default();
        // Consecutive operations of one kind on one table with the same columns: one batch.
        let mut batches: Vec<(String, Vec<Op<'_>>)> = Vec::new();
        // The table of the last record's topic.
        let mut last: Option<(&str, String)> = None;
        for record in records {
            let Some(op) = op(&settings, record, &mut texts)? else {
                continue;
            };
            let table = match &last {
                Some((topic, table)) if *topic == &*record.topic => table,
                _ => {
                    &last
                        .insert((&record.topic, settings.table_for(&record.topic)))
                        .1
                }
            };
            match batches.last_mut() {
                Some((last_table, ops)) if last_table == table && same_shape(&ops[0], &op) => {
                    ops.push(op);
                }
                _ => batches.push((table.clone(), vec![op])),
            }
        }
        if batches.is_empty() {
            return Ok(());
        }
        // Tables known, created or evolved first (DDL outside the data transaction); the
        // operations of a batch have the same columns.
        for (table, ops) in &batches {
            self.prepare_table(pg, table, &ops[0])?;
        }
        let mut plans: Vec<(String, Vec<TextRef<'_>>)> = Vec::new();
        for (table, ops) in batches {
            let table = &self.tables[&table].name;
            let ops = if settings.insert_mode == InsertMode::Upsert
                || matches!(ops[0], Op::Delete { .. })
            {
                last_per_key(ops, &texts)
            } else {
                ops
            };
            let width = match &ops[0] {
                Op::Write { cells, .. } => cells.len(),
                Op::Delete { key } => key.len(),
            }
            .max(1);
            let per_statement = settings.batch_size.min(MAX_PARAMS / width).max(1);
            for chunk in ops.chunks(per_statement) {
                let key = statement_key(table, chunk);
                if !self.statements.contains_key(&key) {
                    // Prepared once, reused across puts.
                    let sql = statement_sql(&settings, table, chunk);
                    let statement = pg
                        .block_on(pg.client().prepare(&sql))
                        .map_err(|e| task_error("preparing a write", &e))?;
                    if self.statements.len() >= MAX_STATEMENTS {
                        self.statements.clear();
                    }
                    self.statements.insert(key.clone(), statement);
                }
                plans.push((key, params(chunk, &texts)));
            }
        }
        let statements = &self.statements;
        let (runtime, client) = pg.client_mut();
        runtime.block_on(async {
            let transaction = client
                .transaction()
                .await
                .map_err(|e| task_error("starting a transaction", &e))?;
            for (key, params) in &plans {
                let params: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                transaction
                    .execute(&statements[key], &params)
                    .await
                    .map_err(|e| task_error("writing rows", &e))?;
            }
            transaction
                .commit()
                .await
                .map_err(|e| task_error("committing", &e))
        })
    }

    /// Makes sure `table` exists with every column `op` writes (creating or evolving it as
    /// `auto.create`/`auto.evolve` allow).
    fn prepare_table(&mut self, pg: &Pg, table: &str, op: &Op<'_>) -> Result<(), Error> {
        if !self.tables.contains_key(table) {
            let name = QualifiedName::parse(table, "public");
            let columns = load_columns(pg, &name)?;
            let columns = match columns {
                Some(columns) => columns,
                None if !self.settings.auto_create => {
                    return Err(Error::fatal(format!(
                        "table {name} does not exist; create it, or set auto.create=true"
                    )));
                }
                None => {
                    let Op::Write { cells, key } = op else {
                        // A delete from a table that does not exist deletes nothing.
                        return Ok(());
                    };
                    create_table(pg, &name, cells, key)?;
                    load_columns(pg, &name)?.unwrap_or_default()
                }
            };
            self.tables
                .insert(table.to_owned(), Table { name, columns });
        }
        let Op::Write { cells, .. } = op else {
            return Ok(());
        };
        let known = &self.tables[table];
        let missing: Vec<&Cell<'_>> = cells
            .iter()
            .filter(|c| !known.columns.contains(c.name))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = missing.iter().map(|c| c.name).collect();
        if !self.settings.auto_evolve {
            return Err(Error::fatal(format!(
                "table {} has no column {}; add it, or set auto.evolve=true",
                known.name,
                names.join(", ")
            )));
        }
        let name = known.name.clone();
        for cell in missing {
            let ty = cell_type(cell)?;
            let sql = format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {ty}",
                name.quoted(),
                quote_ident(cell.name)
            );
            pg.block_on(pg.client().batch_execute(&sql))
                .map_err(|e| task_error(&format!("adding column {} to {name}", cell.name), &e))?;
        }
        host::info(&format!(
            "added columns {} to {name} (auto.evolve)",
            names.join(", ")
        ));
        self.statements.clear();
        let columns = load_columns(pg, &name)?.unwrap_or_default();
        if let Some(table) = self.tables.get_mut(table) {
            table.columns = columns;
        }
        Ok(())
    }
}

/// The cells of a struct's fields, their texts appended to `texts`.
fn struct_cells<'a>(
    schema: &'a Schema,
    values: &'a [Value],
    texts: &mut Texts,
) -> Result<Vec<Cell<'a>>, String> {
    schema
        .fields
        .iter()
        .zip(values)
        .map(|(field, value)| {
            let value = match (value, &field.schema.default_value) {
                (Value::Null, Some(default)) => default,
                _ => value,
            };
            Ok(Cell {
                name: &field.name,
                schema: Some(&field.schema),
                text: texts
                    .push(value, Some(&field.schema))
                    .map_err(|e| format!("field `{}`: {e}", field.name))?,
            })
        })
        .collect()
}

/// What identifies the statement of `ops` (of one shape) on `table`: its kind, table, columns
/// and row count.
fn statement_key(table: &QualifiedName, ops: &[Op<'_>]) -> String {
    let (kind, cells, key) = match &ops[0] {
        Op::Write { cells, key } => ("write", cells, key),
        Op::Delete { key } => ("delete", key, key),
    };
    let mut text = format!("{kind} {} {}", ops.len(), table.quoted());
    for cell in cells {
        write!(text, " {}", quote_ident(cell.name)).expect("writing to a String");
    }
    text.push_str(" |");
    for cell in key {
        write!(text, " {}", quote_ident(cell.name)).expect("writing to a String");
    }
    text
}

/// The SQL of a batch of operations of the same shape.
fn statement_sql(settings: &Settings, table: &QualifiedName, ops: &[Op<'_>]) -> String {
    let columns = |cells: &[Cell<'_>]| -> String {
        let names: Vec<String> = cells.iter().map(|c| quote_ident(c.name)).collect();
        names.join(", ")
    };
    // `(start+1, ..., start+width)` per row, comma-separated.
    let tuples = |sql: &mut String, width: usize| {
        for row in 0..ops.len() {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..width {
                let separator = if column == 0 { "" } else { ", " };
                write!(sql, "{separator}${}", row * width + column + 1)
                    .expect("writing to a String");
            }
            sql.push(')');
        }
    };
    match &ops[0] {
        Op::Write { cells, key } => {
            let mut sql = format!(
                "INSERT INTO {} ({}) VALUES ",
                table.quoted(),
                columns(cells)
            );
            tuples(&mut sql, cells.len());
            if settings.insert_mode == InsertMode::Upsert {
                let updates: Vec<String> = cells
                    .iter()
                    .filter(|c| !key.iter().any(|k| k.name == c.name))
                    .map(|c| {
                        let column = quote_ident(c.name);
                        format!("{column} = EXCLUDED.{column}")
                    })
                    .collect();
                if updates.is_empty() {
                    write!(sql, " ON CONFLICT ({}) DO NOTHING", columns(key))
                } else {
                    write!(
                        sql,
                        " ON CONFLICT ({}) DO UPDATE SET {}",
                        columns(key),
                        updates.join(", ")
                    )
                }
                .expect("writing to a String");
            }
            sql
        }
        Op::Delete { key } => {
            let mut sql = format!(
                "DELETE FROM {} WHERE ({}) IN (",
                table.quoted(),
                columns(key)
            );
            tuples(&mut sql, key.len());
            sql.push(')');
            sql
        }
    }
}

/// The parameters of a batch of operations, in the order of [`statement_sql`]'s placeholders.
fn params<'t>(ops: &[Op<'_>], texts: &'t Texts) -> Vec<TextRef<'t>> {
    let mut params = Vec::with_capacity(ops.len() * 8);
    for op in ops {
        let (Op::Write { cells, .. } | Op::Delete { key: cells }) = op;
        params.extend(cells.iter().map(|c| TextRef(texts.get(c.text))));
    }
    params
}

fn cell_type(cell: &Cell<'_>) -> Result<String, Error> {
    match cell.schema {
        Some(schema) => {
            column_type(schema).map_err(|e| Error::fatal(format!("column `{}`: {e}", cell.name)))
        }
        None => Ok("text".into()),
    }
}

/// Whether two operations write the same columns (or delete by the same key columns).
fn same_shape(a: &Op<'_>, b: &Op<'_>) -> bool {
    let same = |x: &[Cell<'_>], y: &[Cell<'_>]| {
        // Cells of records with one schema share their names' memory.
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|(a, b)| std::ptr::eq(a.name, b.name) || a.name == b.name)
    };
    match (a, b) {
        (Op::Write { cells: x, .. }, Op::Write { cells: y, .. }) => same(x, y),
        (Op::Delete { key: x }, Op::Delete { key: y }) => same(x, y),
        _ => false,
    }
}

/// The last operation of each key, in order: one statement may not touch a row twice.
fn last_per_key<'a>(ops: Vec<Op<'a>>, texts: &Texts) -> Vec<Op<'a>> {
    let key_of = |op: &Op<'_>| -> Vec<Option<&str>> {
        let (Op::Write { key, .. } | Op::Delete { key }) = op;
        key.iter().map(|c| texts.get(c.text)).collect()
    };
    let mut last: HashMap<Vec<Option<&str>>, usize> = HashMap::new();
    for (index, op) in ops.iter().enumerate() {
        last.insert(key_of(op), index);
    }
    let keep: Vec<bool> = ops
        .iter()
        .enumerate()
        .map(|(index, op)| last.get(&key_of(op)) == Some(&index))
        .collect();
    ops.into_iter()
        .zip(keep)
        .filter_map(|(op, keep)| keep.then_some(op))
        .collect()
}

/// The table's column names, or None if it does not exist.
fn load_columns(pg: &Pg, table: &QualifiedName) -> Result<Option<HashSet<String>>, Error> {
    let rows = pg
        .block_on(pg.client().query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2",
            &[&table.schema, &table.table],
        ))
        .map_err(|e| task_error(&format!("reading the columns of {table}"), &e))?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(rows.iter().map(|row| row.get(0)).collect()))
}

fn create_table(
    pg: &Pg,
    table: &QualifiedName,
    cells: &[Cell<'_>],
    key: &[Cell<'_>],
) -> Result<(), Error> {
    let mut columns = Vec::with_capacity(cells.len());
    for cell in cells {
        let required =
            key.iter().any(|k| k.name == cell.name) || cell.schema.is_some_and(|s| !s.optional);
        columns.push(format!(
            "{} {}{}",
            quote_ident(cell.name),
            cell_type(cell)?,
            if required { " NOT NULL" } else { "" }
        ));
    }
    if !key.is_empty() {
        let keys: Vec<String> = key.iter().map(|c| quote_ident(c.name)).collect();
        columns.push(format!("PRIMARY KEY ({})", keys.join(", ")));
    }
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        table.quoted(),
        columns.join(", ")
    );
    pg.block_on(pg.client().batch_execute(&sql))
        .map_err(|e| task_error(&format!("creating {table}"), &e))?;
    host::info(&format!("created table {table} (auto.create)"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use wasm_connect_sdk::{Config, Data, SchemaBuilder, Struct};

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut all = vec![
            ("connection.url", "jdbc:postgresql://127.0.0.1:5432/db"),
            ("connection.user", "writer"),
        ];
        all.extend_from_slice(pairs);
        Settings::from_config(&Config::from_pairs(all.iter().copied())).unwrap()
    }

    fn row(schema: &Arc<Schema>, id: i64, name: Option<&str>) -> SinkRecord {
        let mut value = Struct::new(schema.clone()).unwrap();
        value.put("id", id).unwrap();
        if let Some(name) = name {
            value.put("name", name).unwrap();
        }
        let mut record = SinkRecord::new("orders", 0, id, Some(Data::from_struct(value)));
        record.key = Some(Data::new(SchemaBuilder::int64().build(), id));
        record
    }

    fn schema() -> Arc<Schema> {
        SchemaBuilder::struct_()
            .field("id", SchemaBuilder::int64().build())
            .field("name", SchemaBuilder::string().optional().build())
            .build()
    }

    /// Every statement of one put: its SQL and parameters.
    fn plan(settings: &Settings, records: &[SinkRecord]) -> Vec<(String, Vec<Option<String>>)> {
        let mut texts = Texts::default();
        let ops: Vec<Op<'_>> = records
            .iter()
            .filter_map(|r| op(settings, r, &mut texts).unwrap())
            .collect();
        let mut batches: Vec<Vec<Op<'_>>> = Vec::new();
        for op in ops {
            match batches.last_mut() {
                Some(ops) if same_shape(&ops[0], &op) => ops.push(op),
                _ => batches.push(vec![op]),
            }
        }
        let table = QualifiedName::parse("orders", "public");
        batches
            .into_iter()
            .map(|ops| {
                let ops = if settings.insert_mode == InsertMode::Upsert
                    || matches!(ops[0], Op::Delete { .. })
                {
                    last_per_key(ops, &texts)
                } else {
                    ops
                };
                let params = params(&ops, &texts)
                    .into_iter()
                    .map(|p| p.0.map(str::to_owned))
                    .collect();
                (statement_sql(settings, &table, &ops), params)
            })
            .collect()
    }

    fn text(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn rows_of_one_shape_become_one_insert_with_their_texts_in_order() {
        let schema = schema();
        let records = [row(&schema, 1, Some("a")), row(&schema, 2, None)];
        let plans = plan(&settings(&[]), &records);
        assert_eq!(
            plans,
            [(
                r#"INSERT INTO "public"."orders" ("id", "name") VALUES ($1, $2), ($3, $4)"#
                    .to_owned(),
                text(&[Some("1"), Some("a"), Some("2"), None]),
            )]
        );
    }

    #[test]
    fn upserts_keep_the_last_row_of_each_key_with_the_key_columns_first() {
        let settings = settings(&[
            ("insert.mode", "upsert"),
            ("pk.mode", "record_key"),
            ("pk.fields", "order_id"),
        ]);
        let schema = schema();
        let records = [
            row(&schema, 1, Some("first")),
            row(&schema, 2, Some("b")),
            row(&schema, 1, Some("second")),
        ];
        let plans = plan(&settings, &records);
        assert_eq!(plans.len(), 1);
        assert_eq!(
            plans[0].0,
            r#"INSERT INTO "public"."orders" ("order_id", "id", "name") VALUES ($1, $2, $3), ($4, $5, $6) ON CONFLICT ("order_id") DO UPDATE SET "id" = EXCLUDED."id", "name" = EXCLUDED."name""#
        );
        assert_eq!(
            plans[0].1,
            text(&[
                Some("2"),
                Some("2"),
                Some("b"),
                Some("1"),
                Some("1"),
                Some("second")
            ])
        );
    }

    #[test]
    fn tombstones_delete_by_key_and_a_new_shape_starts_a_new_statement() {
        let settings = settings(&[("pk.mode", "record_key"), ("delete.enabled", "true")]);
        let schema = schema();
        let mut tombstone = row(&schema, 7, None);
        tombstone.value = None;
        let other = SchemaBuilder::struct_()
            .field("id", SchemaBuilder::int64().build())
            .build();
        let mut narrow = Struct::new(other).unwrap();
        narrow.put("id", 8_i64).unwrap();
        let mut narrow = SinkRecord::new("orders", 0, 8, Some(Data::from_struct(narrow)));
        narrow.key = Some(Data::new(SchemaBuilder::int64().build(), 8_i64));
        let records = [row(&schema, 6, Some("x")), tombstone, narrow];
        let plans = plan(&settings, &records);
        let sql: Vec<&str> = plans.iter().map(|(sql, _)| sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                r#"INSERT INTO "public"."orders" ("__connect_key", "id", "name") VALUES ($1, $2, $3)"#,
                r#"DELETE FROM "public"."orders" WHERE ("__connect_key") IN (($1))"#,
                r#"INSERT INTO "public"."orders" ("__connect_key", "id") VALUES ($1, $2)"#,
            ]
        );
        assert_eq!(plans[1].1, text(&[Some("7")]));
        assert_eq!(plans[2].1, text(&[Some("8"), Some("8")]));
    }

    #[test]
    fn a_value_without_a_text_names_its_record_and_field() {
        let schema = SchemaBuilder::struct_()
            .field("note", SchemaBuilder::string().build())
            .build();
        let mut value = Struct::new(schema).unwrap();
        value.put("note", "a\0b").unwrap();
        let record = SinkRecord::new("orders", 3, 42, Some(Data::from_struct(value)));
        let error = op(&settings(&[]), &record, &mut Texts::default()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("record orders-3@42") && message.contains("field `note`"),
            "{message}"
        );
    }

    #[test]
    fn statements_of_the_same_shape_and_size_share_a_key() {
        let schema = schema();
        let settings = settings(&[]);
        let table = QualifiedName::parse("orders", "public");
        let records = [
            row(&schema, 1, Some("a")),
            row(&schema, 2, Some("b")),
            row(&schema, 3, Some("c")),
        ];
        let mut texts = Texts::default();
        let ops: Vec<Op<'_>> = records
            .iter()
            .filter_map(|r| op(&settings, r, &mut texts).unwrap())
            .collect();
        assert_eq!(
            statement_key(&table, &ops[..1]),
            statement_key(&table, &ops[1..2])
        );
        assert_ne!(
            statement_key(&table, &ops[..1]),
            statement_key(&table, &ops[..2])
        );
    }
}
