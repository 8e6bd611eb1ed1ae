//! wfmon: a self-hosted synthetic workflow monitor.
//!
//! The binary only wires things together: parse the command line, set up logging, pick the
//! database, run the command, and turn its outcome into an exit code.

mod alerts_cmd;
mod analytics_cmd;
mod auth_cmd;
mod bench;
mod check;
mod cli;
mod config_cmd;
mod db;
mod demo;
mod exit;
mod report_cmd;
mod run;
mod slo_cmd;

use clap::Parser;

use crate::cli::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(usage) => return exit::usage(usage),
    };
    init_logging(
        cli.verbose,
        matches!(cli.command, Command::Run(_) | Command::Demo(_)),
    );
    restore_default_sigpipe();
    let outcome = match &cli.command {
        Command::Db(command) => db::run(&cli, command).await,
        Command::Run(args) => run::run(&cli, args).await,
        Command::Demo(args) => demo::run(&cli, args).await,
        Command::Check(args) => check::run(&cli, args).await,
        Command::Validate(flags) => config_cmd::validate(cli.config.as_deref(), flags.json),
        Command::Init(args) => config_cmd::init(cli.config.as_deref(), args.force),
        Command::Bench(command) => bench::run(&cli, command).await,
        Command::Alerts(command) => alerts_cmd::alerts(&cli, command).await,
        Command::Notify(command) => alerts_cmd::notify(&cli, command).await,
        Command::Analytics(command) => analytics_cmd::run(&cli, command).await,
        Command::Report(args) => report_cmd::run(&cli, args).await,
        Command::Slo(args) => slo_cmd::run(&cli, args).await,
        Command::Token(command) => auth_cmd::token(&cli, command).await,
        Command::User(command) => auth_cmd::user(&cli, command).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// Rust ignores SIGPIPE, so `wfmon db stats | head` would fail writing to the closed pipe;
/// like other command-line tools, end quietly instead.
fn restore_default_sigpipe() {
    // SAFETY: called once at start-up before any other thread writes; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_logging(verbose: u8, daemon: bool) {
    let default = match verbose {
        0 if daemon => "info,sqlx=warn",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WFMON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal (and never with NO_COLOR): a log file, journald or a log
    // shipper gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}
