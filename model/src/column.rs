//! Column metadata derived from the record structs themselves, so that the SQL the store
//! writes and the schema it checks can never disagree with the Rust field names.

use crate::{Json, Timestamp};

/// The storage kind of a column, independent of the SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Text (also every enum column, which is TEXT with a CHECK constraint).
    Text,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    BigInt,
    /// Double-precision float.
    Float,
    /// Boolean.
    Bool,
    /// UTC timestamp with millisecond precision.
    Timestamp,
    /// JSON document.
    Json,
}

impl ColumnKind {
    /// The declared type wfmon gives this kind in PostgreSQL (as `information_schema` spells it).
    pub fn postgres_type(self) -> &'static str {
        match self {
            ColumnKind::Text => "text",
            ColumnKind::Int => "integer",
            ColumnKind::BigInt => "bigint",
            ColumnKind::Float => "double precision",
            ColumnKind::Bool => "boolean",
            ColumnKind::Timestamp => "timestamp with time zone",
            ColumnKind::Json => "jsonb",
        }
    }

    /// Whether a PostgreSQL `information_schema.columns.data_type` value can hold this kind.
    pub fn accepts_postgres(self, data_type: &str) -> bool {
        match self {
            ColumnKind::Text => matches!(data_type, "text" | "character varying"),
            ColumnKind::Json => matches!(data_type, "jsonb" | "json"),
            other => other.postgres_type() == data_type,
        }
    }

    /// The declared type wfmon gives this kind in SQLite.
    pub fn sqlite_type(self) -> &'static str {
        match self {
            ColumnKind::Text | ColumnKind::Timestamp | ColumnKind::Json => "TEXT",
            ColumnKind::Int | ColumnKind::BigInt => "INTEGER",
            ColumnKind::Float => "REAL",
            ColumnKind::Bool => "BOOLEAN",
        }
    }

    /// Whether a declared SQLite column type can hold this kind.
    pub fn accepts_sqlite(self, declared: &str) -> bool {
        self.sqlite_type().eq_ignore_ascii_case(declared)
    }
}

/// One column a record needs: its name (the struct field's name), kind and nullability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name, identical to the struct field name.
    pub name: &'static str,
    /// Storage kind.
    pub kind: ColumnKind,
    /// Whether the field is an `Option`, so the column may hold NULL.
    pub nullable: bool,
}

/// Maps a Rust field type to its column kind and nullability.
pub trait ColumnType {
    /// The storage kind.
    const KIND: ColumnKind;
    /// Whether NULL is a valid value.
    const NULLABLE: bool = false;
}

impl<T: ColumnType> ColumnType for Option<T> {
    const KIND: ColumnKind = T::KIND;
    const NULLABLE: bool = true;
}

macro_rules! column_type {
    ($($ty:ty => $kind:ident),* $(,)?) => {
        $(impl ColumnType for $ty { const KIND: ColumnKind = ColumnKind::$kind; })*
    };
}

column_type! {
    String => Text,
    i32 => Int,
    i64 => BigInt,
    f64 => Float,
    bool => Bool,
    Timestamp => Timestamp,
    Json => Json,
}

/// A table row: the struct is the single definition of the table's columns.
pub trait Record {
    /// Table name.
    const TABLE: &'static str;
    /// The business key column (unique), used to fetch, update and delete one row.
    const KEY: &'static str;
    /// Every column, in struct field order.
    const COLUMNS: &'static [Column];

    /// The value of the business key.
    fn key(&self) -> &str;

    /// Names of every column, comma-separated, in field order (for SELECT and INSERT lists).
    fn column_list() -> String {
        Self::COLUMNS
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Binds every field of a record, in column order, as one VALUES tuple of database `DB`.
pub trait PushValues<DB: sqlx::Database> {
    /// Pushes the field values as bind parameters into `row`.
    fn push_values(&self, row: &mut sqlx::query_builder::Separated<'_, DB, &'static str>);
}
