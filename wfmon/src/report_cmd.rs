//! `wfmon report`: a monitoring report for a window, printed in a format, and saved (with
//! the window's executions linked to it) on request.

use clap::Args;
use wfmon_engine::config::Config;
use wfmon_engine::reports::{self, ReportError, ReportFormat, ReportRequest};
use wfmon_model::{ReportType, Timestamp};
use wfmon_store::{OpenMode, ReportScope, SavedReport, Store};

use crate::cli::{Cli, parse_time};
use crate::exit::Failure;

/// `wfmon report` arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Start of the window (inclusive): RFC 3339 (2026-03-01T10:00:00Z), a date
    /// (2026-03-01, midnight UTC), or an age such as 24h or 7d (that long before now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Timestamp,

    /// End of the window (exclusive), in the same forms [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<Timestamp>,

    /// Only this workflow.
    #[arg(long)]
    pub workflow: Option<String>,

    /// Only this environment.
    #[arg(long, value_name = "ENV")]
    pub environment: Option<String>,

    /// Only the workflows with this tag (in the configuration); repeat for several (a
    /// workflow with any of them counts).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// Output format: table, markdown, json, csv or html.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: ReportFormat,

    /// Store the report (type ON_DEMAND) and link the window's executions to it.
    #[arg(long)]
    pub save: bool,
}

fn parse_format(text: &str) -> Result<ReportFormat, String> {
    text.parse()
}

impl From<ReportError> for Failure {
    fn from(error: ReportError) -> Failure {
        match error {
            ReportError::Store(e) => Failure::from(e),
            other => Failure::new(other.to_string()),
        }
    }
}

/// Runs `wfmon report`.
pub async fn run(cli: &Cli, args: &ReportArgs) -> Result<(), Failure> {
    let config = Config::load_or_default(cli.config.as_deref())?;
    let scope = ReportScope {
        from: args.from,
        to: args.to.unwrap_or_else(Timestamp::now),
        workflow: args.workflow.clone(),
        environment: args.environment.clone(),
        workflows: reports::tagged_workflows(&config, &args.tags)?,
    };
    // The window is checked before the database is opened: bad input changes nothing.
    reports::check_window(scope.from, scope.to, Timestamp::now())?;
    let url = crate::db::database_url(cli, Some(&config))?;
    let store = Store::open(&url, OpenMode::Existing).await?;
    reports::check_request(&store, Some(&config), &scope).await?;
    let request = ReportRequest {
        scope,
        report_type: ReportType::OnDemand,
        name: None,
        report_id: None,
        tags: args.tags.clone(),
    };
    let report = reports::compute(&store, &request).await?;
    if args.save {
        match reports::save(&store, &report, &request.scope, &[]).await? {
            SavedReport::Created { linked } => eprintln!(
                "saved report {} ({linked} execution(s) linked)",
                report.row.report_id
            ),
            SavedReport::Exists => eprintln!("report {} exists already", report.row.report_id),
        }
    }
    print!("{}", reports::render(&report, args.format));
    Ok(())
}
