//! `dispatch!` runs one body against whichever backend the store has. The body is written
//! once; inside it `$pool` is the backend's pool and `$db` names the sqlx database type.

macro_rules! dispatch {
    ($store:expr, $pool:ident, $db:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Sqlite;
                $body
            }
            $crate::Pool::Postgres($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
}
