//! Turning a `put`'s records into statements: rows (or deletes) per table, tables created or
//! evolved as the settings allow, and every batch of one `put` written in one transaction.
//!
//! Values are bound as text ([`TextParam`]), which PostgreSQL parses as each column's type,
//! so any Connect primitive or logical value fits any compatible column.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
use wasm_connect_postgres::{
    Pg, QualifiedName,
    connection::task_error,
    quote_ident,
    value::{TextParam, column_type, to_text},
};
use wasm_connect_sdk::{Error, Schema, SinkRecord, Value, host};

use crate::settings::{InsertMode, PkMode, Settings};

/// The column a primitive key goes to when `pk.fields` names none (Confluent's default).
pub const DEFAULT_KEY_COLUMN: &str = "__connect_key";
/// PostgreSQL's limit on parameters of one statement.
const MAX_PARAMS: usize = 65_535;

/// One column value of a row: name, schema, text.
#[derive(Debug, Clone)]
struct Cell {
    name: String,
    schema: Option<Arc<Schema>>,
    text: Option<String>,
}

/// What one record asks for.
#[derive(Debug, Clone)]
enum Op {
    Write { cells: Vec<Cell>, key: Vec<Cell> },
    Delete { key: Vec<Cell> },
}

/// What the writer knows of a table.
#[derive(Debug, Clone)]
struct Table {
    name: QualifiedName,
    columns: HashSet<String>,
}

/// The writer of one task.
pub struct Writer {
    settings: Settings,
    tables: HashMap<String, Table>,
    statements: HashMap<String, Statement>,
}

fn where_(record: &SinkRecord) -> String {
    format!(
        "record {}-{}@{}",
        record.topic, record.partition, record.offset
    )
}

impl Writer {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            tables: HashMap::new(),
            statements: HashMap::new(),
        }
    }

    /// The key columns of a record, from its key or value per `pk.mode`.
    fn key_cells(&self, record: &SinkRecord, value_cells: &[Cell]) -> Result<Vec<Cell>, Error> {
        match self.settings.pk_mode {
            PkMode::None => Ok(Vec::new()),
            PkMode::RecordValue => self
                .settings
                .pk_fields
                .iter()
                .map(|field| {
                    value_cells
                        .iter()
                        .find(|cell| cell.name == *field)
                        .cloned()
                        .ok_or_else(|| {
                            Error::fatal(format!(
                                "{}: the value has no field `{field}` of pk.fields",
                                where_(record)
                            ))
                        })
                })
                .collect(),
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
                        let all = struct_cells(fields.schema(), fields.values())
                            .map_err(|e| Error::fatal(format!("{}: key: {e}", where_(record))))?;
                        if self.settings.pk_fields.is_empty() {
                            return Ok(all);
                        }
                        self.settings
                            .pk_fields
                            .iter()
                            .map(|field| {
                                all.iter()
                                    .find(|c| c.name == *field)
                                    .cloned()
                                    .ok_or_else(|| {
                                        Error::fatal(format!(
                                            "{}: the key has no field `{field}` of pk.fields",
                                            where_(record)
                                        ))
                                    })
                            })
                            .collect()
                    }
                    primitive => {
                        let name = self
                            .settings
                            .pk_fields
                            .first()
                            .cloned()
                            .unwrap_or_else(|| DEFAULT_KEY_COLUMN.to_owned());
                        let text = to_text(primitive, key.schema.as_deref())
                            .map_err(|e| Error::fatal(format!("{}: key: {e}", where_(record))))?;
                        Ok(vec![Cell {
                            name,
                            schema: key.schema.clone(),
                            text,
                        }])
                    }
                }
            }
        }
    }

    /// What `record` asks for; None for a tombstone with deletes off (skipped, as Confluent's
    /// sink does).
    fn op(&self, record: &SinkRecord) -> Result<Option<Op>, Error> {
        let value = record.value.as_ref().filter(|v| !v.value.is_null());
        let Some(value) = value else {
            if !self.settings.delete_enabled {
                return Ok(None);
            }
            return Ok(Some(Op::Delete {
                key: self.key_cells(record, &[])?,
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
        let mut cells = struct_cells(fields.schema(), fields.values())
            .map_err(|e| Error::fatal(format!("{}: {e}", where_(record))))?;
        let key = self.key_cells(record, &cells)?;
        if self.settings.pk_mode == PkMode::RecordKey {
            // Key columns first, then the value's other fields.
            let mut all = key.clone();
            cells.retain(|cell| !key.iter().any(|k| k.name == cell.name));
            all.append(&mut cells);
            cells = all;
        }
        Ok(Some(Op::Write { cells, key }))
    }

    /// Writes `records` in one transaction.
    pub fn write(&mut self, pg: &mut Pg, records: &[SinkRecord]) -> Result<(), Error> {
        // Each record's table and operation, in order.
        let mut ops: Vec<(String, Op)> = Vec::with_capacity(records.len());
        for record in records {
            if let Some(op) = self.op(record)? {
                ops.push((self.settings.table_for(&record.topic), op));
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        // Tables known, created or evolved first (DDL outside the data transaction).
        for (table, op) in &ops {
            self.prepare_table(pg, table, op)?;
        }
        // Consecutive operations of one kind on one table with the same columns: one batch.
        let mut batches: Vec<(String, Vec<Op>)> = Vec::new();
        for (table, op) in ops {
            match batches.last_mut() {
                Some((last_table, last)) if *last_table == table && same_shape(&last[0], &op) => {
                    last.push(op);
                }
                _ => batches.push((table, vec![op])),
            }
        }
        let mut plans: Vec<(String, Vec<TextParam>)> = Vec::new();
        for (table, ops) in batches {
            let table = self.tables[&table].name.clone();
            let ops = if self.settings.insert_mode == InsertMode::Upsert
                || matches!(ops[0], Op::Delete { .. })
            {
                last_per_key(ops)
            } else {
                ops
            };
            let width = match &ops[0] {
                Op::Write { cells, .. } => cells.len(),
                Op::Delete { key } => key.len(),
            }
            .max(1);
            let per_statement = self.settings.batch_size.min(MAX_PARAMS / width).max(1);
            for chunk in ops.chunks(per_statement) {
                plans.push(self.statement(&table, chunk)?);
            }
        }
        // Prepared statements are reused across puts; new ones are prepared now.
        for (sql, _) in &plans {
            if !self.statements.contains_key(sql) {
                let statement = pg
                    .block_on(pg.client().prepare(sql))
                    .map_err(|e| task_error("preparing a write", &e))?;
                if self.statements.len() > 256 {
                    self.statements.clear();
                }
                self.statements.insert(sql.clone(), statement);
            }
        }
        let statements = &self.statements;
        let (runtime, client) = pg.client_mut();
        runtime.block_on(async {
            let transaction = client
                .transaction()
                .await
                .map_err(|e| task_error("starting a transaction", &e))?;
            for (sql, params) in &plans {
                let params: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                transaction
                    .execute(&statements[sql], &params)
                    .await
                    .map_err(|e| task_error("writing rows", &e))?;
            }
            transaction
                .commit()
                .await
                .map_err(|e| task_error("committing", &e))
        })
    }

    /// The SQL and parameters of one batch of operations of the same shape.
    fn statement(
        &self,
        table: &QualifiedName,
        ops: &[Op],
    ) -> Result<(String, Vec<TextParam>), Error> {
        let mut params = Vec::new();
        let placeholders = |count: usize, start: usize| -> String {
            (0..count)
                .map(|i| format!("${}", start + i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &ops[0] {
            Op::Write { cells, key } => {
                let columns: Vec<String> = cells.iter().map(|c| quote_ident(&c.name)).collect();
                let mut rows = Vec::with_capacity(ops.len());
                for op in ops {
                    let Op::Write { cells, .. } = op else {
                        unreachable!("a batch holds one kind of operation")
                    };
                    rows.push(format!("({})", placeholders(cells.len(), params.len())));
                    params.extend(cells.iter().map(|c| TextParam(c.text.clone())));
                }
                let mut sql = format!(
                    "INSERT INTO {} ({}) VALUES {}",
                    table.quoted(),
                    columns.join(", "),
                    rows.join(", ")
                );
                if self.settings.insert_mode == InsertMode::Upsert {
                    let keys: Vec<String> = key.iter().map(|c| quote_ident(&c.name)).collect();
                    let updates: Vec<String> = cells
                        .iter()
                        .filter(|c| !key.iter().any(|k| k.name == c.name))
                        .map(|c| {
                            let column = quote_ident(&c.name);
                            format!("{column} = EXCLUDED.{column}")
                        })
                        .collect();
                    if updates.is_empty() {
                        sql.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", keys.join(", ")));
                    } else {
                        sql.push_str(&format!(
                            " ON CONFLICT ({}) DO UPDATE SET {}",
                            keys.join(", "),
                            updates.join(", ")
                        ));
                    }
                }
                Ok((sql, params))
            }
            Op::Delete { key } => {
                let columns: Vec<String> = key.iter().map(|c| quote_ident(&c.name)).collect();
                let mut tuples = Vec::with_capacity(ops.len());
                for op in ops {
                    let Op::Delete { key } = op else {
                        unreachable!("a batch holds one kind of operation")
                    };
                    tuples.push(format!("({})", placeholders(key.len(), params.len())));
                    params.extend(key.iter().map(|c| TextParam(c.text.clone())));
                }
                Ok((
                    format!(
                        "DELETE FROM {} WHERE ({}) IN ({})",
                        table.quoted(),
                        columns.join(", "),
                        tuples.join(", ")
                    ),
                    params,
                ))
            }
        }
    }

    /// Makes sure `table` exists with every column `op` writes (creating or evolving it as
    /// `auto.create`/`auto.evolve` allow).
    fn prepare_table(&mut self, pg: &Pg, table: &str, op: &Op) -> Result<(), Error> {
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
        let missing: Vec<&Cell> = cells
            .iter()
            .filter(|c| !known.columns.contains(&c.name))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = missing.iter().map(|c| c.name.as_str()).collect();
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
                quote_ident(&cell.name)
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

/// The cells of a struct's fields.
fn struct_cells(schema: &Arc<Schema>, values: &[Value]) -> Result<Vec<Cell>, String> {
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
                name: field.name.clone(),
                schema: Some(field.schema.clone()),
                text: to_text(value, Some(&field.schema))
                    .map_err(|e| format!("field `{}`: {e}", field.name))?,
            })
        })
        .collect()
}

fn cell_type(cell: &Cell) -> Result<String, Error> {
    match &cell.schema {
        Some(schema) => {
            column_type(schema).map_err(|e| Error::fatal(format!("column `{}`: {e}", cell.name)))
        }
        None => Ok("text".into()),
    }
}

fn same_shape(a: &Op, b: &Op) -> bool {
    match (a, b) {
        (Op::Write { cells: x, .. }, Op::Write { cells: y, .. }) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| a.name == b.name)
        }
        (Op::Delete { key: x }, Op::Delete { key: y }) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| a.name == b.name)
        }
        _ => false,
    }
}

/// The last operation of each key, in order: one statement may not touch a row twice.
fn last_per_key(ops: Vec<Op>) -> Vec<Op> {
    let key_of = |op: &Op| -> Vec<Option<String>> {
        match op {
            Op::Write { key, .. } | Op::Delete { key } => {
                key.iter().map(|c| c.text.clone()).collect()
            }
        }
    };
    let mut last: HashMap<Vec<Option<String>>, usize> = HashMap::new();
    for (index, op) in ops.iter().enumerate() {
        last.insert(key_of(op), index);
    }
    ops.into_iter()
        .enumerate()
        .filter(|(index, op)| last.get(&key_of(op)) == Some(index))
        .map(|(_, op)| op)
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

fn create_table(pg: &Pg, table: &QualifiedName, cells: &[Cell], key: &[Cell]) -> Result<(), Error> {
    let mut columns = Vec::with_capacity(cells.len());
    for cell in cells {
        let required = key.iter().any(|k| k.name == cell.name)
            || cell.schema.as_ref().is_some_and(|s| !s.optional);
        columns.push(format!(
            "{} {}{}",
            quote_ident(&cell.name),
            cell_type(cell)?,
            if required { " NOT NULL" } else { "" }
        ));
    }
    if !key.is_empty() {
        let keys: Vec<String> = key.iter().map(|c| quote_ident(&c.name)).collect();
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
