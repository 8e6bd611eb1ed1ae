//! A throwaway PostgreSQL database: created on the server of a given URL, migrated by the store
//! when first opened, dropped at the end. The database of the URL itself is only connected to
//! (to run CREATE DATABASE and DROP DATABASE), never written.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use wfmon_model::new_id;
use wfmon_store::{Backend, DatabaseUrl};

use crate::cli::Cli;
use crate::exit::Failure;

/// The server tried when nothing names one.
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long to wait for the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Variables naming the server, in the order they are read.
const VARIABLES: [&str; 3] = [
    "WFMON_BENCH_POSTGRES",
    "WFMON_BENCH_POSTGRES_URL",
    "WFMON_TEST_POSTGRES_URL",
];

/// The server to use and where its URL came from: --database (or WFMON_DATABASE_URL) when it
/// is a postgres:// URL, else the first variable set, else the local default.
pub fn server_url(cli: &Cli) -> (String, String) {
    if let Some(url) = cli.database.as_deref().filter(|u| is_postgres(u)) {
        return (url.to_owned(), "--database".to_owned());
    }
    for variable in VARIABLES {
        if let Ok(url) = std::env::var(variable)
            && !url.is_empty()
        {
            return (url, variable.to_owned());
        }
    }
    (DEFAULT_URL.to_owned(), "the default".to_owned())
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A database created for one measurement.
pub struct Throwaway {
    server: DatabaseUrl,
    name: String,
    /// Its URL (the server's URL with the database name replaced).
    pub url: DatabaseUrl,
}

impl Throwaway {
    /// Creates a new, empty database on the server of `server`.
    pub async fn create(server: &str) -> Result<Throwaway, String> {
        let server = DatabaseUrl::parse(server).map_err(|e| e.to_string())?;
        if server.backend() != Backend::Postgres {
            return Err(format!("{} is not a postgres:// URL", server.redacted()));
        }
        let name = format!("wfmon_bench_{}", new_id("e").trim_start_matches("e_"));
        let mut url = reqwest::Url::parse(server.as_str())
            .map_err(|e| format!("{}: {e}", server.redacted()))?;
        url.set_path(&format!("/{name}"));
        let url = DatabaseUrl::parse(url.as_str()).map_err(|e| e.to_string())?;
        admin(&server, &format!("CREATE DATABASE {name}")).await?;
        Ok(Throwaway { server, name, url })
    }

    /// Where it is, for messages (without a password).
    pub fn describe(&self) -> String {
        self.url.redacted()
    }

    /// Drops the database (every connection to it must be closed).
    pub async fn remove(self) -> Result<(), Failure> {
        admin(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {}", self.name),
        )
        .await
        .map_err(|e| Failure::new(format!("cannot drop the benchmark database: {e}")))
    }
}

/// Runs one statement on the server's own database.
async fn admin(server: &DatabaseUrl, sql: &str) -> Result<(), String> {
    // CREATE and DROP DATABASE may be slow; that is no news for the log.
    let options = PgConnectOptions::from_str(server.as_str())
        .map_err(|e| format!("{}: {e}", server.redacted()))?
        .disable_statement_logging();
    let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(format!("cannot connect to {}: {e}", server.redacted())),
        Err(_) => {
            return Err(format!(
                "no answer from {} within {}s",
                server.redacted(),
                CONNECT_TIMEOUT.as_secs()
            ));
        }
    };
    let done = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await;
    conn.close().await.ok();
    done.map(drop)
        .map_err(|e| format!("{sql} on {}: {e}", server.redacted()))
}
