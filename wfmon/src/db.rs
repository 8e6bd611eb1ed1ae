//! `wfmon db migrate|check|stats|prune|rebuild-rollups`, and how every command picks its database.

use wfmon_engine::config::Config;
use wfmon_model::Timestamp;
use wfmon_store::{DatabaseUrl, OpenMode, Store};

use crate::cli::{Cli, DbCommand, PruneArgs, RebuildArgs};
use crate::exit::{EXIT_SCHEMA, EXIT_USAGE, Failure};

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
        DbCommand::Prune(args) => prune(&url, args).await,
        DbCommand::RebuildRollups(args) => rebuild_rollups(&url, args).await,
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

async fn prune(url: &DatabaseUrl, args: &PruneArgs) -> Result<(), Failure> {
    if let (Some(raw), Some(rollups)) = (args.older_than, args.rollups_older_than)
        && rollups < raw
    {
        return Err(Failure::with_code(
            "--rollups-older-than must be at least --older-than: rollups are what is left of \
             pruned results",
            EXIT_USAGE,
        ));
    }
    let store = Store::open(url, OpenMode::Existing).await?;
    let now = Timestamp::now();
    let cutoff = args.older_than.map(|age| now.minus(age));
    let rollup_cutoff = args.rollups_older_than.map(|age| now.minus(age));
    let report = match cutoff {
        Some(cutoff) => Some(store.prune(cutoff, args.dry_run).await?),
        None => None,
    };
    let rollups = match rollup_cutoff {
        Some(cutoff) => Some(store.prune_rollups(cutoff, args.dry_run).await?),
        None => None,
    };
    store.close().await;
    if args.json {
        print_json(&serde_json::json!({
            "cutoff": cutoff, "rollupsCutoff": rollup_cutoff, "dryRun": args.dry_run,
            "deleted": report, "deletedRollups": rollups,
        }));
        return Ok(());
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    if let (Some(cutoff), Some(report)) = (cutoff, report) {
        println!("results started before {cutoff}: {verb}");
        println!("  {:>10} executions", report.executions);
        println!("  {:>10} step results", report.step_results);
        println!("  {:>10} metrics", report.metrics);
        println!("  {:>10} health checks", report.health_checks);
        println!("  {:>10} notification logs", report.notification_logs);
    }
    match (rollup_cutoff, rollups) {
        (Some(cutoff), Some(n)) => {
            println!("rollups of buckets ended by {cutoff}: {verb} {n}");
            println!("kept: reports, alerts, schedules, and runs still in progress");
        }
        _ => println!("kept: reports, rollups, alerts, schedules, and runs still in progress"),
    }
    Ok(())
}

async fn rebuild_rollups(url: &DatabaseUrl, args: &RebuildArgs) -> Result<(), Failure> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        return Err(Failure::with_code(
            format!("--from ({from}) must be before --to ({to})"),
            EXIT_USAGE,
        ));
    }
    let store = Store::open(url, OpenMode::Existing).await?;
    let report = store.rebuild_rollups(args.from, args.to).await?;
    store.close().await;
    if args.json {
        print_json(&serde_json::to_value(&report).expect("a report serialises"));
    } else {
        if let (Some(from), Some(to), Some(cutoff)) =
            (report.skipped_from, report.skipped_to, report.pruned_before)
        {
            println!(
                "skipped {from} to {to}: runs started before {cutoff} were pruned; the \
                 rollups of those days, all that is left of them, are kept as they are"
            );
        }
        match (report.from, report.to) {
            (Some(from), Some(to)) => println!(
                "rebuilt the rollups of {from} to {to}: {} runs in {} rollup rows",
                report.runs, report.rows
            ),
            _ if report.skipped_from.is_some() => println!("nothing rebuilt"),
            _ => println!("no executions: nothing to rebuild"),
        }
    }
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
