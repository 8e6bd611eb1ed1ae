//! `wfmon run`: the daemon. Loads and validates the configuration, opens the database
//! (refusing a drifted schema), makes the schedule rows match the configuration, closes runs
//! a crash left RUNNING, then schedules and serves the API until SIGTERM or SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use wfmon_engine::alerting::AlertingService;
use wfmon_engine::config::{Config, DEFAULT_LISTEN};
use wfmon_engine::scheduler::{
    SchedulerOptions, default_instance_id, run_scheduler, schedule_specs, sweep_interrupted,
};
use wfmon_engine::trigger::Trigger;
use wfmon_engine::writer::ResultWriter;
use wfmon_model::Timestamp;
use wfmon_store::{OpenMode, Store};
use wfmon_web::{AppState, AuthSettings, SchedulerHeartbeat};

use crate::cli::{Cli, RunArgs};
use crate::exit::Failure;

/// Readiness fails when the scheduler's loop has not come round for this long (it comes round
/// at least every second, longer only while a database call waits).
const SCHEDULER_STALL: Duration = Duration::from_secs(15);

/// Runs the daemon until a stop signal.
pub async fn run(cli: &Cli, args: &RunArgs) -> Result<(), Failure> {
    let stop = stop_signal();
    let config = crate::config_cmd::load(cli.config.as_deref())?;
    let url = crate::db::database_url(cli, Some(&config))?;
    let api = api_listener(args.listen.or(config.server.listen)).await?;
    let store = Store::open(&url, OpenMode::Create).await?;
    serve(store, config, SchedulerOptions::default(), api, false, stop).await
}

/// Binds the API's address. An address that was asked for (`--listen`, `server.listen`) must
/// be free; the default one is taken only if it is, so that several daemons on one host (or
/// a test suite) run without configuring it.
async fn api_listener(asked: Option<SocketAddr>) -> Result<Option<TcpListener>, Failure> {
    match asked {
        Some(addr) => TcpListener::bind(addr).await.map(Some).map_err(|e| {
            Failure::new(format!(
                "cannot listen on {addr} for the API: {e} (choose another address with \
                 server.listen or --listen)"
            ))
        }),
        None => match TcpListener::bind(DEFAULT_LISTEN).await {
            Ok(listener) => Ok(Some(listener)),
            Err(e) => {
                tracing::warn!(
                    "the API is off: cannot listen on {DEFAULT_LISTEN}: {e} (set server.listen \
                     or --listen to serve it elsewhere)"
                );
                Ok(None)
            }
        },
    }
}

/// Schedules `config` on `store` and serves the API on `api` (if given) until `shutdown`
/// resolves; shared by `run` and `demo` (which asks for every schedule to run once at start,
/// `run_all_now`). On shutdown the API stops with the scheduler: live streams end and run
/// requests are no longer taken while the runs in flight finish.
pub async fn serve(
    store: Store,
    config: Config,
    options: SchedulerOptions,
    api: Option<TcpListener>,
    run_all_now: bool,
    shutdown: impl Future<Output = String>,
) -> Result<(), Failure> {
    let instance = config
        .scheduler
        .instance_id
        .clone()
        .unwrap_or_else(default_instance_id);
    let report = store
        .sync_schedules(&schedule_specs(&config, chrono::Utc::now()))
        .await?;
    if run_all_now {
        store.make_due(Timestamp::now()).await?;
    }
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
    let config = Arc::new(config);
    let alerting = AlertingService::start(
        store.clone(),
        config.clone(),
        &options.events,
        instance.clone(),
    );
    let heartbeat = SchedulerHeartbeat::new(SCHEDULER_STALL);
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let web = match api {
        Some(listener) => {
            let trigger = Trigger::new(
                config.clone(),
                writer.clone(),
                options.events.clone(),
                instance.clone(),
            );
            let auth = AuthSettings::from_config(&config.server);
            if auth.enabled && !store.has_credentials().await? {
                tracing::warn!(
                    "authentication is on and nobody can log in yet: add a dashboard user with \
                     `wfmon user add NAME --role admin`, or an API token with `wfmon token \
                     create --name NAME --role admin` (server.auth.enabled: false turns \
                     authentication off)"
                );
            }
            let state = AppState::new(store.clone(), config.clone(), options.events.clone())
                .with_trigger(trigger)
                .with_heartbeat(heartbeat.clone())
                .with_alert_nudge(alerting.nudge())
                .with_auth(auth);
            if let Ok(addr) = listener.local_addr() {
                tracing::info!("API on http://{addr} (documentation at /api/docs)");
            }
            Some(tokio::spawn(wfmon_web::serve(listener, state, async {
                let _ = api_stopped.await;
            })))
        }
        None => None,
    };
    let shutdown = watch_scheduler(shutdown, heartbeat.clone(), stop_api);
    let summary = run_scheduler(
        store.clone(),
        config,
        writer.clone(),
        instance,
        options,
        shutdown,
    )
    .await;
    if let Some(web) = web {
        match web.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("the API stopped with an error: {e}"),
            Err(e) => tracing::error!("the API task failed: {e}"),
        }
    }
    // The scheduler has waited for the writer to drain (bounded); what is left stays unwritten.
    writer_task.abort();
    let _ = writer_task.await;
    alerting.stop().await;
    let stats = writer.stats();
    // Counted in runs: a run's result is its completed row (or SKIPPED row).
    tracing::info!(
        "stopped: {} run(s) started, {} skipped, {} aborted; {} result(s) written, {} lost \
         ({} left unwritten at exit, {} refused by the database, {} refused by a full buffer)",
        summary.started,
        summary.skipped,
        summary.aborted,
        stats.written,
        stats.pending + stats.overflowed + stats.failed,
        stats.pending,
        stats.failed,
        stats.overflowed,
    );
    store.close().await;
    // Results lost to a full buffer during an outage were reported then (and their runs
    // closed as ABORTED); the stop itself failed only if what it held could not be written.
    if stats.pending + stats.failed > 0 {
        return Err(Failure::new(format!(
            "{} result(s) could not be written to the database (see the log above)",
            stats.pending + stats.failed
        )));
    }
    if stats.overflowed > 0 {
        tracing::warn!(
            "{} run(s) lost their result to a full buffer while the database did not answer \
             (see the log above); everything held at stop was written",
            stats.overflowed
        );
    }
    Ok(())
}

/// The scheduler's shutdown future, which also feeds readiness: the scheduler polls it at
/// every turn of its loop, so each poll is a heartbeat (a loop that stalls stops beating),
/// and when it resolves the scheduler is stopping: not ready, and the API stops.
fn watch_scheduler(
    shutdown: impl Future<Output = String>,
    heartbeat: SchedulerHeartbeat,
    stop_api: tokio::sync::oneshot::Sender<()>,
) -> impl Future<Output = String> {
    let mut shutdown = Box::pin(shutdown);
    let beating = std::future::poll_fn(move |cx| {
        heartbeat.beat();
        let polled = shutdown.as_mut().poll(cx);
        if polled.is_ready() {
            heartbeat.stop();
        }
        polled
    });
    async move {
        let reason = beating.await;
        let _ = stop_api.send(());
        reason
    }
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
