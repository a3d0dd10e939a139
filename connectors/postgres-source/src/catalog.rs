//! What the source asks the database's catalog: which tables to copy, and each one's
//! columns with their types, nullability and `numeric` scale.

use std::collections::HashMap;

use wasm_connect_postgres::{
    Pg, QualifiedName, connection::task_error, quote_ident, value::ColumnKind,
};
use wasm_connect_sdk::Error;

use crate::settings::Settings;

/// The tables `settings` selects, sorted.
pub fn list_tables(pg: &Pg, settings: &Settings) -> Result<Vec<QualifiedName>, Error> {
    let rows = pg
        .block_on(pg.client().query(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1, 2",
            &[&settings.schema],
        ))
        .map_err(|e| task_error("listing tables", &e))?;
    let matches = |list: &[String], name: &QualifiedName| {
        list.iter()
            .any(|entry| *entry == name.table || *entry == name.to_string())
    };
    let mut tables: Vec<QualifiedName> = rows
        .iter()
        .map(|row| QualifiedName {
            schema: row.get(0),
            table: row.get(1),
        })
        .filter(|name| settings.include.is_empty() || matches(&settings.include, name))
        .filter(|name| !matches(&settings.exclude, name))
        .collect();
    tables.sort();
    Ok(tables)
}

/// Entries of `table.include.list` that name no table of the schema.
pub fn missing_tables(pg: &Pg, settings: &Settings) -> Result<Vec<String>, Error> {
    let found = list_tables(pg, settings)?;
    Ok(settings
        .include
        .iter()
        .filter(|entry| {
            !found
                .iter()
                .any(|name| **entry == name.table || **entry == name.to_string())
        })
        .cloned()
        .collect())
}

/// One column of a table.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    pub name: String,
    pub kind: ColumnKind,
    pub nullable: bool,
    /// The catalog's type name, for casts of parameters compared with this column.
    pub type_name: String,
}

/// The mapped columns of `table` in order, and the names of those skipped because their
/// type has no mapping.
pub fn columns(pg: &Pg, table: &QualifiedName) -> Result<(Vec<ColumnInfo>, Vec<String>), Error> {
    let context = format!("reading the columns of {table}");
    let rows = pg
        .block_on(pg.client().query(
            "SELECT column_name::text, is_nullable = 'YES', numeric_scale::int4, \
             format_type(a.atttypid, a.atttypmod) \
             FROM information_schema.columns c \
             JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || \
             quote_ident(c.table_name))::regclass AND a.attname = c.column_name \
             WHERE c.table_schema = $1 AND c.table_name = $2 ORDER BY c.ordinal_position",
            &[&table.schema, &table.table],
        ))
        .map_err(|e| task_error(&context, &e))?;
    if rows.is_empty() {
        return Err(Error::fatal(format!(
            "{table} has no columns or does not exist"
        )));
    }
    let mut catalog: HashMap<String, (bool, Option<i32>, String)> = HashMap::new();
    let mut order = Vec::new();
    for row in &rows {
        let name: String = row.get(0);
        order.push(name.clone());
        catalog.insert(name, (row.get(1), row.get(2), row.get(3)));
    }
    // The wire types, from describing a query of every column.
    let select: Vec<String> = order.iter().map(|c| quote_ident(c)).collect();
    let statement = pg
        .block_on(pg.client().prepare(&format!(
            "SELECT {} FROM {} LIMIT 0",
            select.join(", "),
            table.quoted()
        )))
        .map_err(|e| task_error(&context, &e))?;
    let mut mapped = Vec::new();
    let mut skipped = Vec::new();
    for (name, column) in order.iter().zip(statement.columns()) {
        let (nullable, scale, type_name) = catalog.remove(name).unwrap_or_default();
        match ColumnKind::of(column.type_(), scale) {
            Some(kind) => mapped.push(ColumnInfo {
                name: name.clone(),
                kind,
                nullable,
                type_name,
            }),
            None => skipped.push(format!("{name} ({type_name})")),
        }
    }
    Ok((mapped, skipped))
}
