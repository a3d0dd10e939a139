//! SQL identifiers: quoting, and `schema.table` names as users write them.

/// `name` as a quoted identifier (`"a""b"` for `a"b`), safe to put in SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table name with its schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedName {
    pub schema: String,
    pub table: String,
}

impl QualifiedName {
    /// `table` or `schema.table` (unquoted, as stored in the catalog); `default_schema` when
    /// none is given.
    pub fn parse(name: &str, default_schema: &str) -> Self {
        match name.trim().split_once('.') {
            Some((schema, table)) => Self {
                schema: schema.to_owned(),
                table: table.to_owned(),
            },
            None => Self {
                schema: default_schema.to_owned(),
                table: name.trim().to_owned(),
            },
        }
    }

    /// The quoted form for SQL.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_qualified() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        let name = QualifiedName::parse("orders", "public");
        assert_eq!(name.to_string(), "public.orders");
        assert_eq!(name.quoted(), "\"public\".\"orders\"");
        assert_eq!(QualifiedName::parse("s.t", "public").schema, "s");
    }
}
