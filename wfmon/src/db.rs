//! `wfmon db migrate|check|stats|prune`, and how every command picks its database.

use wfmon_engine::config::Config;
use wfmon_model::Timestamp;
use wfmon_store::{DatabaseUrl, OpenMode, Store};

use crate::cli::{Cli, DbCommand};
use crate::exit::{EXIT_SCHEMA, Failure};

/// The database every command uses: --database or WFMON_DATABASE_URL (clap reads both), else
/// the config file's storage.url, else `sqlite://wfmon.db`. A command that has already loaded
/// the configuration passes it; otherwise it is read here when needed.
pub fn database_url(cli: &Cli, config: Option<&Config>) -> Result<DatabaseUrl, Failure> {
    let raw = match &cli.database {
        Some(url) => url.clone(),
        None => {
            let storage_url = match config {
                Some(config) => config.storage.url.clone(),
                None => Config::load_or_default(cli.config.as_deref())?.storage.url,
            };
            storage_url.unwrap_or_else(|| "sqlite://wfmon.db".to_owned())
        }
    };
    Ok(DatabaseUrl::parse(&raw)?)
}

/// Runs one `wfmon db` command.
pub async fn run(cli: &Cli, command: &DbCommand) -> Result<(), Failure> {
    let url = database_url(cli, None)?;
    match command {
        DbCommand::Migrate(flags) => migrate(&url, flags.json).await,
        DbCommand::Check(flags) => check(&url, flags.json).await,
        DbCommand::Stats(flags) => stats(&url, flags.json).await,
        DbCommand::Prune(args) => prune(&url, args.older_than, args.dry_run, args.json).await,
    }
}

async fn migrate(url: &DatabaseUrl, json: bool) -> Result<(), Failure> {
    let store = Store::connect(url, OpenMode::Create).await?;
    let outcome = store.migrate().await?;
    let report = store.check_schema().await?;
    store.close().await;
    if json {
        let applied: Vec<_> = outcome
            .applied
            .iter()
            .map(|(version, name)| serde_json::json!({"version": version, "name": name}))
            .collect();
        print_json(&serde_json::json!({
            "database": url.redacted(), "from": outcome.from, "to": outcome.to, "applied": applied,
        }));
    } else if outcome.applied.is_empty() {
        println!(
            "{} is up to date (schema version {})",
            url.redacted(),
            outcome.to
        );
    } else {
        for (version, name) in &outcome.applied {
            println!("applied migration {version} ({name})");
        }
        println!(
            "{} migrated from version {} to {}",
            url.redacted(),
            outcome.from,
            outcome.to
        );
    }
    if !report.is_ok() {
        return Err(Failure::with_code(report.to_string(), EXIT_SCHEMA));
    }
    Ok(())
}

async fn check(url: &DatabaseUrl, json: bool) -> Result<(), Failure> {
    let store = Store::connect(url, OpenMode::ReadOnly).await?;
    let report = store.check_schema().await?;
    store.close().await;
    if json {
        let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        print_json(&serde_json::json!({
            "database": url.redacted(), "backend": report.backend.to_string(), "version": report.version,
            "latest": report.latest, "ok": report.is_ok(), "problems": problems,
            "fix": (!report.is_ok()).then(|| report.fix()),
        }));
    } else if report.is_ok() {
        println!("{}: {report}", url.redacted());
    }
    if report.is_ok() {
        Ok(())
    } else if json {
        Err(Failure::with_code("", EXIT_SCHEMA))
    } else {
        Err(Failure::with_code(
            format!("{}: {report}", url.redacted()),
            EXIT_SCHEMA,
        ))
    }
}

async fn stats(url: &DatabaseUrl, json: bool) -> Result<(), Failure> {
    let store = Store::open(url, OpenMode::Existing).await?;
    let tables = store.stats().await?;
    let size = store.database_size().await?;
    store.close().await;
    if json {
        print_json(&serde_json::json!({
            "database": url.redacted(), "sizeBytes": size, "tables": tables,
        }));
        return Ok(());
    }
    println!("{} ({})", url.redacted(), human_bytes(size));
    println!(
        "{:<24} {:>12} {:<24} {:<24} {:>10}",
        "table", "rows", "oldest", "newest", "size"
    );
    let when = |t: Option<Timestamp>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
    for t in tables {
        let size = t.size_bytes.map_or_else(|| "-".to_owned(), human_bytes);
        println!(
            "{:<24} {:>12} {:<24} {:<24} {:>10}",
            t.table,
            t.rows,
            when(t.oldest),
            when(t.newest),
            size
        );
    }
    Ok(())
}

async fn prune(
    url: &DatabaseUrl,
    older_than: chrono::TimeDelta,
    dry_run: bool,
    json: bool,
) -> Result<(), Failure> {
    let store = Store::open(url, OpenMode::Existing).await?;
    let cutoff = Timestamp::now().minus(older_than);
    let report = store.prune(cutoff, dry_run).await?;
    store.close().await;
    if json {
        print_json(&serde_json::json!({"cutoff": cutoff, "dryRun": dry_run, "deleted": report}));
        return Ok(());
    }
    let verb = if dry_run { "would delete" } else { "deleted" };
    println!("results started before {cutoff}: {verb}");
    println!("  {:>10} executions", report.executions);
    println!("  {:>10} step results", report.step_results);
    println!("  {:>10} metrics", report.metrics);
    println!("  {:>10} health checks", report.health_checks);
    println!("  {:>10} notification logs", report.notification_logs);
    println!("kept: reports, rollups, alerts, schedules, and runs still in progress");
    Ok(())
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialise")
    );
}

fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
