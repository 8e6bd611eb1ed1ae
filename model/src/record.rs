//! The `record!` macro: declares a table's struct once and derives from it the JSON shape
//! (camelCase), the row decoder, the column list, and the bind order for both backends.

macro_rules! record {
    (
        $(#[$meta:meta])*
        table = $table:literal, key = $key:ident;
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::Record for $name {
            const TABLE: &'static str = $table;
            const KEY: &'static str = stringify!($key);
            const COLUMNS: &'static [$crate::Column] = &[
                $( $crate::Column {
                    name: stringify!($field),
                    kind: <$ty as $crate::ColumnType>::KIND,
                    nullable: <$ty as $crate::ColumnType>::NULLABLE,
                }, )*
            ];

            fn key(&self) -> &str {
                &self.$key
            }
        }

        record!(@push $name, sqlx::Sqlite, $($field),*);
        record!(@push $name, sqlx::Postgres, $($field),*);
    };
    (@push $name:ident, $db:ty, $($field:ident),*) => {
        impl $crate::PushValues<$db> for $name {
            fn push_values(
                &self,
                row: &mut sqlx::query_builder::Separated<'_, $db, &'static str>,
            ) {
                $( row.push_bind(&self.$field); )*
            }
        }
    };
}
