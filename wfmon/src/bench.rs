//! `wfmon bench ...`: measurements against a baseline taken in the same run.

use clap::Subcommand;

use crate::cli::Cli;
use crate::exit::Failure;

/// `wfmon bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {}

/// Runs one benchmark.
pub async fn run(_cli: &Cli, command: &BenchCommand) -> Result<(), Failure> {
    match *command {}
}
