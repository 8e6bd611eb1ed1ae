//! `wfmon slo`: the service level objectives of the configuration with their figures now
//! (as `GET /api/slos` answers them), as a table or JSON.

use clap::Args;
use wfmon_engine::config::Config;
use wfmon_engine::slo::{SloStatus, slo_statuses};
use wfmon_model::Timestamp;
use wfmon_store::{OpenMode, Store};

use crate::cli::Cli;
use crate::exit::{EXIT_USAGE, Failure};

/// `wfmon slo` arguments.
#[derive(Debug, Args)]
pub struct SloArgs {
    /// Only this objective.
    pub name: Option<String>,
    /// Only the objectives of this workflow.
    #[arg(long)]
    pub workflow: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn percent(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |r| format!("{:.2}%", r * 100.0))
}

fn times(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |r| format!("{r:.2}x"))
}

fn print_table(statuses: &[SloStatus]) {
    println!(
        "{:<28} {:<12} {:>8} {:>9} {:>8} {:>11} {:>8} {:>8} {:>8}",
        "slo", "environment", "target", "attained", "runs", "budget left", "burn", "1h", "6h"
    );
    for s in statuses {
        for e in &s.environments {
            println!(
                "{:<28} {:<12} {:>8} {:>9} {:>8} {:>11} {:>8} {:>8} {:>8}",
                s.name,
                e.environment,
                percent(Some(s.objective.target)),
                percent(e.figures.attained),
                e.figures.runs,
                percent(e.figures.budget_left_fraction),
                times(e.figures.burn_rate),
                times(e.burn_rate_1h),
                times(e.burn_rate_6h)
            );
        }
    }
}

/// Runs `wfmon slo`.
pub async fn run(cli: &Cli, args: &SloArgs) -> Result<(), Failure> {
    let config = Config::load_or_default(cli.config.as_deref())?;
    // Names are checked before the database is opened: bad input changes nothing.
    if let Some(name) = &args.name
        && config.slo(name).is_none()
    {
        let known: Vec<&str> = config.slos.iter().map(|s| s.name.as_str()).collect();
        return Err(Failure::with_code(
            format!(
                "no SLO `{name}` in the configuration (defined: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
            EXIT_USAGE,
        ));
    }
    if let Some(workflow) = &args.workflow
        && config.workflow(workflow).is_none()
    {
        return Err(Failure::with_code(
            format!("no workflow `{workflow}` in the configuration"),
            EXIT_USAGE,
        ));
    }
    let url = crate::db::database_url(cli, Some(&config))?;
    let store = Store::open(&url, OpenMode::Existing).await?;
    let found = slo_statuses(&store, &config, args.workflow.as_deref(), Timestamp::now()).await;
    store.close().await;
    let statuses: Vec<SloStatus> = found?
        .into_iter()
        .filter(|s| args.name.as_ref().is_none_or(|n| &s.name == n))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&statuses).expect("SLO figures serialise")
        );
    } else if statuses.is_empty() {
        println!("No SLO in the configuration (see `slos:` in the README).");
    } else {
        print_table(&statuses);
    }
    Ok(())
}
