//! Shared by the command-line tests: run the real binary in a folder, read what it printed.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `wfmon ARGS` in `dir`, with no database or configuration from the environment and
/// no colours.
pub fn wfmon(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wfmon"))
        .args(args)
        .current_dir(dir)
        .env_remove("WFMON_DATABASE_URL")
        .env_remove("WFMON_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .expect("run wfmon")
}

/// Everything the command printed, stdout then stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
