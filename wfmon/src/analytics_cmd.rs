//! `wfmon analytics series|failures|steps`: the analytics of `/api/analytics/*` on the
//! command line, as a table or JSON.

use clap::{Args, Subcommand};
use wfmon_engine::config::Config;
use wfmon_engine::reports::ReportError;
use wfmon_model::Timestamp;
use wfmon_store::{AnalyticsWindow, OpenMode, Store, Uptime, WorkflowFigures};

use crate::cli::{Cli, parse_time};
use crate::db::database_url;
use crate::exit::{EXIT_USAGE, Failure};

/// `wfmon analytics ...`
#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Runs, success rate, p50/p95/p99 duration and uptime per workflow and environment,
    /// from the rollups; with --step, one line per bucket.
    Series(SeriesArgs),
    /// Failures grouped by step, assertion, error class and message across workflows.
    Failures(WindowArgs),
    /// Per-step runs, success rate and p95 duration.
    Steps(WindowArgs),
}

/// The window every analytics command reads.
#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Only this workflow.
    #[arg(long)]
    pub workflow: Option<String>,
    /// Only this environment.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Start: an RFC 3339 time, a date or an age such as 7d [default: 24 hours before
    /// --until].
    #[arg(long, value_name = "TIME", value_parser = check_time)]
    pub since: Option<String>,
    /// End (exclusive), like --since [default: now].
    #[arg(long, value_name = "TIME", value_parser = check_time)]
    pub until: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `wfmon analytics series` arguments.
#[derive(Debug, Args)]
pub struct SeriesArgs {
    #[command(flatten)]
    pub window: WindowArgs,
    /// Bucket size, a whole number of minutes (15m, 1h, 1d).
    #[arg(long, value_name = "DURATION", value_parser = parse_step)]
    pub step: Option<i64>,
}

/// A time as `--since`/`--until` take it, checked when the command line is read and turned
/// into an instant later, both ends from the same now.
fn check_time(text: &str) -> Result<String, String> {
    parse_time(text).map(|_| text.to_owned())
}

fn parse_step(text: &str) -> Result<i64, String> {
    let ms = wfmon_model::parse_duration(text)
        .map_err(|e| e.to_string())?
        .num_milliseconds();
    if ms < 60_000 || ms % 60_000 != 0 {
        return Err(format!(
            "`{text}` is not a whole number of minutes (write 15m, 1h, 1d)"
        ));
    }
    Ok(ms)
}

/// The window of `args`, refused as the API refuses it (inverted, longer than
/// `MAX_WINDOW_DAYS`, more than `MAX_POINTS` buckets of `step`) before anything is read.
fn window(args: &WindowArgs, step: Option<i64>) -> Result<AnalyticsWindow, Failure> {
    // Both ends from one instant, as the API reads them: `--since 1d` is a day long.
    let now = Timestamp::now();
    let at = |text: &Option<String>| -> Result<Option<Timestamp>, Failure> {
        text.as_deref()
            .map(|t| {
                wfmon_model::parse_instant(t, now)
                    .map_err(|e| Failure::with_code(format!("`{t}` {e}"), EXIT_USAGE))
            })
            .transpose()
    };
    let until = at(&args.until)?.unwrap_or(now);
    let since = at(&args.since)?.unwrap_or_else(|| until.minus(chrono::TimeDelta::hours(24)));
    let window = AnalyticsWindow {
        workflow: args.workflow.clone(),
        environment: args.env.clone(),
        since,
        until,
    };
    match window.problem(step) {
        None => Ok(window),
        Some(problem) => {
            // The command line's names for the API's parameters.
            let message = problem
                .message()
                .replace("`since`", "--since")
                .replace("`until`", "--until")
                .replace("`step`", "--step");
            Err(Failure::with_code(message, EXIT_USAGE))
        }
    }
}

/// Refuses a workflow or environment that is neither configured nor in the database, as
/// `wfmon report` does: a typo is an error, not an empty table.
async fn check_names(
    store: &Store,
    config: &Config,
    window: &AnalyticsWindow,
) -> Result<(), Failure> {
    if let Some(workflow) = &window.workflow
        && config.workflow(workflow).is_none()
        && !store.knows_workflow(workflow).await?
    {
        return Err(ReportError::UnknownWorkflow(workflow.clone()).into());
    }
    if let Some(environment) = &window.environment
        && !config.environments.contains_key(environment)
        && !store.knows_environment(environment).await?
    {
        return Err(ReportError::UnknownEnvironment(environment.clone()).into());
    }
    Ok(())
}

fn rate(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |r| format!("{:.2}%", r * 100.0))
}

fn millis(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.0} ms"))
}

/// One workflow and environment of `series --json`: its figures and its uptime.
#[derive(serde::Serialize)]
struct SeriesEntry<'a> {
    #[serde(flatten)]
    figures: &'a WorkflowFigures,
    uptime: &'a Uptime,
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("analytics serialise")
    );
}

/// Runs one `wfmon analytics` command.
pub async fn run(cli: &Cli, command: &AnalyticsCommand) -> Result<(), Failure> {
    let args = match command {
        AnalyticsCommand::Series(a) => &a.window,
        AnalyticsCommand::Failures(a) | AnalyticsCommand::Steps(a) => a,
    };
    let step = match command {
        AnalyticsCommand::Series(a) => a.step,
        _ => None,
    };
    let window = window(args, step)?;
    let config = Config::load_or_default(cli.config.as_deref())?;
    let store = Store::open(&database_url(cli, Some(&config))?, OpenMode::Existing).await?;
    check_names(&store, &config, &window).await?;
    let outcome = match command {
        AnalyticsCommand::Series(a) => {
            let found = store.figures_and_uptime(&window, a.step).await;
            found.map(|(series, uptime)| {
                // One uptime per workflow and environment, in the series' order.
                if args.json {
                    let entries: Vec<SeriesEntry> = series
                        .iter()
                        .zip(&uptime)
                        .map(|(figures, uptime)| SeriesEntry { figures, uptime })
                        .collect();
                    return print_json(&entries);
                }
                println!(
                    "{:<24} {:<12} {:>7} {:>8} {:>9} {:>9} {:>9} {:>8}",
                    "workflow", "environment", "runs", "success", "p50", "p95", "p99", "uptime"
                );
                for (s, uptime) in series.iter().zip(&uptime) {
                    let up = uptime.uptime_percent.map(|p| p / 100.0);
                    let rows = std::iter::once((None, &s.total))
                        .chain(s.points.iter().map(|p| (Some(p.bucket_start), &p.figures)));
                    for (at, f) in rows {
                        let label = at.map_or(s.workflow_name.clone(), |t| format!("  {t}"));
                        // Uptime is over the whole window: on the workflow's line only.
                        let up = if at.is_none() {
                            rate(up)
                        } else {
                            String::new()
                        };
                        println!(
                            "{:<24} {:<12} {:>7} {:>8} {:>9} {:>9} {:>9} {:>8}",
                            label,
                            s.environment,
                            f.runs,
                            rate(f.success_rate),
                            millis(f.p50_duration_ms),
                            millis(f.p95_duration_ms),
                            millis(f.p99_duration_ms),
                            up
                        );
                    }
                }
            })
        }
        AnalyticsCommand::Failures(_) => store.failure_groups(&window, 50).await.map(|groups| {
            if args.json {
                return print_json(&groups);
            }
            for g in &groups {
                println!(
                    "{:>6}x {} [{}] {}: {} (workflows: {}; last {})",
                    g.count,
                    g.step_name.as_deref().unwrap_or("(no step)"),
                    g.error_class,
                    g.failed_assertion.as_deref().unwrap_or("-"),
                    g.message,
                    g.workflows.join(", "),
                    g.last_seen
                );
            }
        }),
        AnalyticsCommand::Steps(_) => store.step_figures(&window).await.map(|steps| {
            if args.json {
                return print_json(&steps);
            }
            for s in &steps {
                println!(
                    "{:<24} {:<24} {:>7} {:>8} {:>9}",
                    s.workflow_name,
                    s.step_name,
                    s.runs,
                    rate(s.success_rate),
                    millis(s.p95_duration_ms)
                );
            }
        }),
    };
    store.close().await;
    Ok(outcome?)
}
