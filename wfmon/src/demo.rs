//! `wfmon demo`: the whole loop in one command, with no set-up. Starts the bundled demo web
//! shop on 127.0.0.1, loads the bundled example configuration (six journeys, two
//! environments) pointed at it, and schedules it on a SQLite database in the working
//! directory, running every journey once at start so results show at once. The API and the
//! dashboard listen on 127.0.0.1:8080 (a free port if that one is taken).

use std::net::SocketAddr;
use std::path::Path;

use tokio::net::TcpListener;
use wfmon_demo::{DEMO_ACCOUNTS, DemoOptions, example_config};
use wfmon_engine::config::{Config, DEFAULT_LISTEN};
use wfmon_engine::scheduler::SchedulerOptions;
use wfmon_store::{DatabaseUrl, OpenMode, Store};

use crate::cli::{Cli, DemoArgs};
use crate::exit::Failure;

/// The demo's database when none is given.
const DEMO_DATABASE: &str = "sqlite://wfmon-demo.db";

/// Share of the demo shop's orders that fail on purpose.
const DEMO_ORDER_FAILURES: f64 = 0.3;
/// Share of its health checks that report a degraded database.
const DEMO_HEALTH_FAILURES: f64 = 0.05;

/// Runs the demo until SIGTERM or SIGINT.
pub async fn run(cli: &Cli, args: &DemoArgs) -> Result<(), Failure> {
    if config_given() {
        return Err(Failure::with_code(
            "wfmon demo runs its bundled configuration and takes no -c/--config; to monitor \
             with your own, run `wfmon run -c FILE`",
            crate::exit::EXIT_USAGE,
        ));
    }
    let stop = crate::run::stop_signal();
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    // Faults often enough that alerts open and resolve within minutes of starting: about one
    // order in three fails (order-placement runs every 3 minutes in each environment).
    // A new fault sequence on each start: with a fixed seed, every start drew the same
    // first faults, and the very first health checks failed each time.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x5eed, |d| d.as_nanos() as u64);
    let options = DemoOptions {
        faults: !args.no_faults,
        seed,
        order_failure_rate: DEMO_ORDER_FAILURES,
        health_failure_rate: DEMO_HEALTH_FAILURES,
        ..DemoOptions::default()
    };
    let shop = match wfmon_demo::start(addr, options.clone()).await {
        Ok(shop) => shop,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(
                "port {} is taken; the demo shop takes a free one",
                args.port
            );
            wfmon_demo::start(SocketAddr::from(([127, 0, 0, 1], 0)), options.clone())
                .await
                .map_err(|e| Failure::new(format!("cannot start the demo shop: {e}")))?
        }
        Err(e) => {
            return Err(Failure::new(format!(
                "cannot start the demo shop on {addr}: {e}"
            )));
        }
    };
    let base_url = shop.base_url();
    let mut config = Config::parse(&example_config(&base_url), Path::new("examples/wfmon.yaml"))
        .map_err(|e| Failure::new(format!("the bundled example configuration is invalid: {e}")))?;
    let url = match explicit_database(cli) {
        Some(url) => DatabaseUrl::parse(url)?,
        None => {
            let url = DatabaseUrl::parse(DEMO_DATABASE)?;
            upgrade_demo_database(&url).await?;
            url
        }
    };
    let store = Store::open(&url, OpenMode::Create).await?;
    refuse_foreign_schedules(&store, &config).await?;
    let api = match TcpListener::bind(DEFAULT_LISTEN).await {
        Ok(listener) => listener,
        Err(_) => TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| Failure::new(format!("cannot start the API: {e}")))?,
    };
    let api_url = format!(
        "http://{}",
        api.local_addr()
            .map_err(|e| Failure::new(format!("cannot start the API: {e}")))?
    );
    // Links in the demo's notifications lead to its dashboard.
    config.server.public_url = Some(api_url.clone());
    let journeys: Vec<&str> = config.workflows.iter().map(|w| w.name.as_str()).collect();
    let mut banner = format!(
        "wfmon demo\n  demo shop   {base_url}  (endpoints and accounts on its home page)\n  \
         dashboard   {api_url}/  (updates live)\n  \
         api         {api_url}/api/overview  (operations listed at {api_url}/api/docs)\n  \
         database    {}\n  journeys    {} in environments {}; each runs once now, then on \
         its schedule\n  accounts   ",
        store.redacted_url(),
        journeys.join(", "),
        config
            .environments
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(" and "),
    );
    for account in DEMO_ACCOUNTS.iter().take(2) {
        banner.push_str(&format!(" {} / {}", account.email, account.password));
    }
    banner.push_str(&format!(
        "\n  alerts      {} rule(s), to the log and {base_url}/hooks/wfmon; `wfmon alerts list \
         --database {}`",
        config.alerts.rules.len(),
        store.redacted_url()
    ));
    if !config.slos.is_empty() {
        banner.push_str(&format!(
            "\n  slos        {} objective(s) with their error budgets: {api_url}/api/slos",
            config.slos.len(),
        ));
    }
    banner.push_str(
        "\n  auth        off: the API and the dashboard are open to anyone on 127.0.0.1 \
         (`wfmon run` requires a login or a token; see `wfmon user add`)",
    );
    banner.push_str(&if options.faults {
        format!(
            "\n  faults      {:.0}% of orders fail, {:.0}% of health checks are degraded, {:.0}% of \
             listings are slow, so alerts open and resolve within minutes (--no-faults: none)",
            options.order_failure_rate * 100.0,
            options.health_failure_rate * 100.0,
            options.slow_listing_rate * 100.0
        )
    } else {
        "\n  faults      none (--no-faults)".to_owned()
    });
    banner.push_str(
        "\n  see results with `wfmon db stats` or `wfmon check WORKFLOW`; stop with Ctrl-C\n",
    );
    eprintln!("{banner}");
    // The demo listens on 127.0.0.1 only, and says above that nothing is guarded.
    config.server.auth.enabled = Some(false);
    let outcome = crate::run::serve(
        store,
        config,
        SchedulerOptions::default(),
        Some(api),
        true,
        stop,
    )
    .await;
    let _ = shop.shutdown().await;
    outcome
}

/// The database given with `--database` on the command line, if one was: the demo does not
/// take `WFMON_DATABASE_URL`, which names the database of a real instance more often than
/// not, and the demo would make that instance's schedules its own.
fn explicit_database(cli: &Cli) -> Option<&str> {
    let given = std::env::args().any(|a| a == "--database" || a.starts_with("--database="));
    if !given && cli.database.is_some() {
        tracing::info!(
            "WFMON_DATABASE_URL is set; the demo uses {DEMO_DATABASE} (give --database to \
             choose another)"
        );
    }
    cli.database.as_deref().filter(|_| given)
}

/// Whether `-c`/`--config` is on the command line (`WFMON_CONFIG` alone is not a request to
/// the demo, which runs its bundled configuration).
fn config_given() -> bool {
    std::env::args()
        .skip(1)
        .any(|a| a == "--config" || a.starts_with("--config=") || a.starts_with("-c"))
}

/// Refuses a database that holds the schedules of another configuration: the demo would
/// disable them (and with them that configuration's alerts and notifications).
async fn refuse_foreign_schedules(store: &Store, config: &Config) -> Result<(), Failure> {
    let foreign: Vec<String> = store
        .schedules()
        .await?
        .into_iter()
        .filter(|s| s.enabled && config.workflow(&s.workflow_name).is_none())
        .map(|s| format!("{}@{}", s.workflow_name, s.environment))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(Failure::new(format!(
        "{} holds the schedules of another configuration ({}{}); the demo would disable \
         them: give it a database of its own (the default is {DEMO_DATABASE})",
        store.redacted_url(),
        foreign
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        if foreign.len() > 3 { ", ..." } else { "" }
    )))
}

/// The demo's own database (`wfmon-demo.db`, not one given with --database) left by an older
/// wfmon is brought to this version's schema, as `wfmon db migrate` would: the demo needs no
/// set-up. A database that does not exist yet is created and migrated by `Store::open`.
async fn upgrade_demo_database(url: &DatabaseUrl) -> Result<(), Failure> {
    let path = url.as_str().trim_start_matches("sqlite://");
    if !Path::new(path).exists() {
        return Ok(());
    }
    let store = Store::connect(url, OpenMode::Existing).await?;
    let outcome = store.migrate().await;
    store.close().await;
    let outcome = outcome?;
    if !outcome.applied.is_empty() {
        eprintln!(
            "upgraded {path} from schema version {} to {}",
            outcome.from, outcome.to
        );
    }
    Ok(())
}
