//! `wfmon alerts list|ack|resolve|silence` and `wfmon notify test CHANNEL`.

use std::sync::Arc;

use clap::{Args, Subcommand};
use tokio::sync::Notify;
use wfmon_engine::alerting::{ActionOutcome, AlertAction, AlertEvaluator, MAX_SILENCE_DAYS};
use wfmon_engine::config::Config;
use wfmon_engine::notify::{DeliveryKeys, Notice, SendError, build_channel, console};
use wfmon_model::{
    DeliveryStatus, NotificationChannel, NotificationLog, NotificationStatus, NotificationType,
    Timestamp, json, new_id,
};
use wfmon_store::{OpenMode, Store};

use crate::cli::Cli;
use crate::exit::Failure;

/// `wfmon alerts ...`
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Open alerts (or all recent ones with --all), most recently triggered first.
    List(ListArgs),
    /// Acknowledge an open alert: no escalation or reminders any more.
    Ack(ChangeArgs),
    /// Resolve an alert by hand; its rule's channels get a recovery message.
    Resolve(ChangeArgs),
    /// Silence an open alert for a while: still recorded, not notified.
    Silence(SilenceArgs),
}

/// `wfmon notify ...`
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test message to a configured channel now, and record it.
    Test(TestArgs),
}

/// `wfmon alerts list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Resolved alerts too.
    #[arg(long)]
    pub all: bool,
    /// At most this many (1 to 500, as the API allows).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `wfmon alerts ack|resolve` arguments.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// The alert's id (as `wfmon alerts list` shows it).
    pub alert_id: String,
    /// Who does it [default: $USER].
    #[arg(long)]
    pub by: Option<String>,
}

/// `wfmon alerts silence` arguments.
#[derive(Debug, Args)]
pub struct SilenceArgs {
    /// The alert's id.
    pub alert_id: String,
    /// How long, e.g. 30m, 2h, 1d.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_length)]
    pub length: chrono::TimeDelta,
    /// Why (kept with the alert).
    #[arg(long, value_parser = parse_reason)]
    pub reason: String,
    /// Who does it [default: $USER].
    #[arg(long)]
    pub by: Option<String>,
}

/// `wfmon notify test` arguments.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The channel's name under notifications.channels.
    pub channel: String,
}

/// A silence's length, at most `MAX_SILENCE_DAYS` as the API allows.
fn parse_length(text: &str) -> Result<chrono::TimeDelta, String> {
    let length = wfmon_model::parse_duration(text).map_err(|e| e.to_string())?;
    if length > chrono::TimeDelta::days(MAX_SILENCE_DAYS) {
        return Err(format!(
            "a silence is at most {MAX_SILENCE_DAYS}d, not `{text}`"
        ));
    }
    Ok(length)
}

/// A silence's reason: required, as the API requires it.
fn parse_reason(text: &str) -> Result<String, String> {
    match text.trim() {
        "" => Err("say why (the reason is kept with the alert)".to_owned()),
        reason => Ok(reason.to_owned()),
    }
}

fn who(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".to_owned())
}

async fn open(cli: &Cli, config: &Config) -> Result<Store, Failure> {
    let url = crate::db::database_url(cli, Some(config))?;
    Ok(Store::open(&url, OpenMode::Create).await?)
}

/// Runs one `wfmon alerts` command.
pub async fn alerts(cli: &Cli, command: &AlertsCommand) -> Result<(), Failure> {
    let config = Config::load_or_default(cli.config.as_deref())?;
    let store = open(cli, &config).await?;
    let evaluator = AlertEvaluator::new(store.clone(), Arc::new(config), Arc::new(Notify::new()));
    let (id, by, action) = match command {
        AlertsCommand::List(args) => {
            let outcome = list(&store, args).await;
            store.close().await;
            return outcome;
        }
        AlertsCommand::Ack(args) => (&args.alert_id, &args.by, AlertAction::Acknowledge),
        AlertsCommand::Resolve(args) => (&args.alert_id, &args.by, AlertAction::Resolve),
        AlertsCommand::Silence(args) => (
            &args.alert_id,
            &args.by,
            AlertAction::Silence {
                until: Timestamp::now().plus(args.length),
                reason: args.reason.clone(),
            },
        ),
    };
    let outcome = evaluator.act(id, &who(by), &action).await;
    store.close().await;
    report(outcome?, id, &action)
}

fn report(outcome: ActionOutcome, id: &str, action: &AlertAction) -> Result<(), Failure> {
    match outcome {
        ActionOutcome::Changed(alert) => {
            let until = match action {
                AlertAction::Silence { until, .. } => format!(" until {until}"),
                _ => String::new(),
            };
            println!(
                "alert {} ({} in {}, rule {}) {}{until}",
                alert.alert_id,
                alert.workflow_name,
                alert.environment,
                alert.rule_id,
                action.change()
            );
            Ok(())
        }
        ActionOutcome::NotApplicable(alert) => Err(Failure::new(format!(
            "alert {id} is {}, not {} (see `wfmon alerts list --all`)",
            alert.status,
            action.requirement()
        ))),
        ActionOutcome::Unknown => Err(Failure::new(format!(
            "no alert {id} (see `wfmon alerts list --all`)"
        ))),
    }
}

async fn list(store: &Store, args: &ListArgs) -> Result<(), Failure> {
    let alerts = store.recent_alerts(!args.all, args.limit).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&alerts).expect("alerts serialise")
        );
        return Ok(());
    }
    if alerts.is_empty() {
        println!("no {}alerts", if args.all { "" } else { "open " });
        return Ok(());
    }
    for a in &alerts {
        println!(
            "{}  {:<12} {:<8} {} in {} ({}), {}x since {}: {}",
            a.alert_id,
            a.status,
            a.severity,
            a.workflow_name,
            a.environment,
            a.rule_id,
            a.occurrences,
            a.triggered_at,
            a.message
        );
    }
    Ok(())
}

/// `wfmon notify test CHANNEL`: one attempt now, printed and recorded as a TEST
/// notification (SENT or FAILED, with the reason).
pub async fn notify(cli: &Cli, command: &NotifyCommand) -> Result<(), Failure> {
    let NotifyCommand::Test(args) = command;
    let config = crate::config_cmd::load(cli.config.as_deref())?;
    let Some(channel_config) = config.notifications.channels.get(&args.channel) else {
        let known: Vec<&str> = config
            .notifications
            .channels
            .keys()
            .map(String::as_str)
            .collect();
        return Err(Failure::new(format!(
            "no channel `{}` under notifications.channels (configured: {})",
            args.channel,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    let timeout = config.notifications.delivery.timeout;
    let channel = build_channel(channel_config, timeout);
    let notice = Notice::test(&args.channel);
    let log_id = new_id("ntf");
    let keys = DeliveryKeys {
        idempotency_key: log_id.clone(),
        dedup_key: log_id.clone(),
    };
    let result = match tokio::time::timeout(timeout, channel.send(&notice, &keys)).await {
        Ok(result) => result,
        Err(_) => Err(SendError::retry(format!(
            "no answer within {}s",
            timeout.as_secs_f64()
        ))),
    };
    let error = result.as_ref().err().map(|e| config.redact(&e.to_string()));
    let now = Timestamp::now();
    let row = NotificationLog {
        id: new_id("ntf"),
        log_id,
        channel: channel.kind(),
        notification_type: NotificationType::Test,
        status: if error.is_none() {
            NotificationStatus::Sent
        } else {
            NotificationStatus::Failed
        },
        message: notice.text(),
        recipient: Some(channel.describe()),
        subject: Some(notice.title.clone()),
        sent_at: now,
        delivery_status: Some(if error.is_none() {
            DeliveryStatus::Delivered
        } else {
            DeliveryStatus::Undelivered
        }),
        error_message: error.clone(),
        // Failed attempts, as on every outbox row.
        retry_count: i32::from(error.is_some()),
        metadata: Some(json(serde_json::json!({ "notice": notice }))),
        execution_id: None,
        report_id: None,
        alert_id: None,
        channel_name: Some(args.channel.clone()),
        next_attempt_at: None,
        claimed_by: None,
        claimed_until: None,
        created_at: now,
    };
    match open(cli, &config).await {
        Ok(store) => {
            if let Err(e) = store.enqueue_notifications(&[row]).await {
                eprintln!(
                    "warning: the test was not recorded: {}",
                    Failure::from(e).message()
                );
            }
            store.close().await;
        }
        Err(e) => eprintln!("warning: the test was not recorded: {}", e.message()),
    }
    match error {
        None => {
            println!(
                "sent a test message to {} ({})",
                args.channel,
                channel.describe()
            );
            // The console channel writes to the log, which a command shows only with -v:
            // show the line the daemon's log gets.
            if channel.kind() == NotificationChannel::Console {
                println!("the daemon's log shows: {}", console::line(&notice));
            }
            Ok(())
        }
        Some(reason) => Err(Failure::new(format!(
            "the test message to {} ({}) failed: {reason}",
            args.channel,
            channel.describe()
        ))),
    }
}
