//! `wfmon run`: the daemon. Loads and validates the configuration, opens the database
//! (refusing a drifted schema), makes the schedule rows match the configuration, closes runs
//! a crash left RUNNING, then schedules until SIGTERM or SIGINT.

use std::sync::Arc;

use wfmon_engine::config::Config;
use wfmon_engine::scheduler::{
    SchedulerOptions, default_instance_id, run_scheduler, schedule_specs, sweep_interrupted,
};
use wfmon_engine::writer::ResultWriter;
use wfmon_store::{OpenMode, Store};

use crate::cli::Cli;
use crate::exit::Failure;

/// Runs the daemon until a stop signal.
pub async fn run(cli: &Cli) -> Result<(), Failure> {
    let stop = stop_signal();
    let config = crate::config_cmd::load(cli.config.as_deref())?;
    let url = crate::db::database_url(cli, Some(&config))?;
    let store = Store::open(&url, OpenMode::Create).await?;
    serve(store, config, SchedulerOptions::default(), stop).await
}

/// Schedules `config` on `store` until `shutdown` resolves; shared by `run` and `demo`.
pub async fn serve(
    store: Store,
    config: Config,
    options: SchedulerOptions,
    shutdown: impl std::future::Future<Output = String>,
) -> Result<(), Failure> {
    let instance = config
        .scheduler
        .instance_id
        .clone()
        .unwrap_or_else(default_instance_id);
    let report = store
        .sync_schedules(&schedule_specs(&config, chrono::Utc::now()))
        .await?;
    let closed = sweep_interrupted(&store, &config, &instance, true).await?;
    let scheduled = config
        .workflows
        .iter()
        .filter(|w| w.schedule.is_some())
        .map(|w| w.environments.len())
        .sum::<usize>();
    tracing::info!(
        instance = %instance,
        database = %store.redacted_url(),
        "wfmon running: {scheduled} schedule(s) ({} added, {} changed, {} disabled), \
         concurrency {}; {closed} interrupted run(s) closed",
        report.added,
        report.updated,
        report.disabled,
        config.scheduler.concurrency,
    );
    let events = options.events.clone();
    let (writer, writer_task) =
        ResultWriter::start_with_events(store.clone(), config.scheduler.buffer, Some(events));
    let summary = run_scheduler(
        store.clone(),
        Arc::new(config),
        writer.clone(),
        instance,
        options,
        shutdown,
    )
    .await;
    // The scheduler has waited for the writer to drain (bounded); what is left stays unwritten.
    writer_task.abort();
    let _ = writer_task.await;
    let stats = writer.stats();
    tracing::info!(
        "stopped: {} run(s) started, {} skipped, {} aborted; {} result(s) written, {} lost",
        summary.started,
        summary.skipped,
        summary.aborted,
        stats.written,
        stats.pending + stats.overflowed + stats.failed,
    );
    store.close().await;
    if stats.pending + stats.overflowed + stats.failed > 0 {
        return Err(Failure::new(format!(
            "{} result(s) could not be written to the database (see the log above)",
            stats.pending + stats.overflowed + stats.failed
        )));
    }
    Ok(())
}

/// Resolves with the signal's name on the first SIGTERM or SIGINT. The handlers are
/// installed when this is called, not when the future is first polled, so a signal during
/// start-up (opening the database, syncing schedules) still stops the daemon gracefully.
pub fn stop_signal() -> impl std::future::Future<Output = String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM".to_string(),
            _ = int.recv() => "SIGINT".to_string(),
        }
    }
}
