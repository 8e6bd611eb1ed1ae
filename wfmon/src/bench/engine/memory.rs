//! Memory: the resident set of a `wfmon run` child process (this same binary) once it is up
//! with a generated configuration, read from /proc/PID/status, against a trivial process.
//!
//! A child, because this process's own peak (VmHWM) already holds the earlier measurements.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::exit::Failure;

/// How long the child is left to settle after it says it is running (the writer and the
/// scheduler's first look at the database start right after that line).
const SETTLE: Duration = Duration::from_secs(2);

/// Longest wait for the child to come up (syncing 10,000 schedules included).
const START_LIMIT: Duration = Duration::from_secs(120);

/// The line `wfmon run` logs once the schedules are synced.
const READY_LINE: &str = "wfmon running";

/// One process's memory.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Footprint {
    /// What ran.
    pub label: String,
    /// Workflows in its configuration (none for the trivial process).
    pub workflows: Option<usize>,
    /// Resident set when read (VmRSS), KiB.
    pub rss_kib: u64,
    /// Peak resident set so far (VmHWM), KiB.
    pub peak_kib: u64,
}

/// `sleep`: the floor of any process on this machine.
pub async fn trivial() -> Result<Footprint, Failure> {
    let mut child = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::new(format!("cannot start `sleep`: {e}")))?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rss_kib, peak_kib) = read_status(&child)?;
    let _ = child.kill().await;
    Ok(Footprint {
        label: "sleep 60 (a trivial process)".to_owned(),
        workflows: None,
        rss_kib,
        peak_kib,
    })
}

/// `wfmon run` (this binary) with the configuration `yaml` holding `workflows` workflows, on
/// a new SQLite file in `dir`; stopped with SIGTERM once measured.
pub async fn daemon(
    dir: &Path,
    yaml: &str,
    workflows: usize,
    what: &str,
) -> Result<Footprint, Failure> {
    let label = format!("wfmon run, {workflows} workflows {what}");
    let child = Daemon::start(dir, &format!("memory-{workflows}"), yaml, &[], &label).await?;
    tokio::time::sleep(SETTLE).await;
    let figures = child.memory();
    child.stop().await?;
    let (rss_kib, peak_kib) = figures?;
    Ok(Footprint {
        label,
        workflows: Some(workflows),
        rss_kib,
        peak_kib,
    })
}

/// A `wfmon run` child process (this binary), up and logging.
pub struct Daemon {
    child: Child,
    label: String,
}

impl Daemon {
    /// Starts `wfmon run` with the configuration `yaml` (written to `dir/NAME.yaml`) on a new
    /// SQLite file `dir/NAME.db`, with `args` after `run`; returns once it logs that it runs.
    pub async fn start(
        dir: &Path,
        name: &str,
        yaml: &str,
        args: &[&str],
        label: &str,
    ) -> Result<Daemon, Failure> {
        let config = dir.join(format!("{name}.yaml"));
        std::fs::write(&config, yaml)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", config.display())))?;
        let database = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
        let exe = std::env::current_exe()
            .map_err(|e| Failure::new(format!("cannot find this program's path: {e}")))?;
        let mut child = Command::new(&exe)
            .arg("--config")
            .arg(&config)
            .arg("--database")
            .arg(&database)
            .arg("run")
            .args(args)
            .env("WFMON_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Failure::new(format!("cannot start {} run: {e}", exe.display())))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        // Reads the log to the end (so the child never blocks on a full pipe), tells when the
        // ready line comes, and keeps the last lines for an error message.
        let (ready, up) = oneshot::channel();
        let log = tokio::spawn(async move {
            let mut ready = Some(ready);
            let mut tail = Vec::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains(READY_LINE)
                    && let Some(ready) = ready.take()
                {
                    let _ = ready.send(());
                }
                tail.push(line);
                if tail.len() > 20 {
                    tail.remove(0);
                }
            }
            tail.join("\n")
        });
        match tokio::time::timeout(START_LIMIT, up).await {
            Ok(Ok(())) => Ok(Daemon {
                child,
                label: label.to_owned(),
            }),
            Ok(Err(_)) => {
                let _ = child.wait().await;
                let tail = log.await.unwrap_or_default();
                Err(Failure::new(format!(
                    "{label}: the child ended before it was up:\n{tail}"
                )))
            }
            Err(_) => {
                let _ = child.kill().await;
                Err(Failure::new(format!(
                    "{label}: not up within {}s",
                    START_LIMIT.as_secs()
                )))
            }
        }
    }

    /// Its resident set now and its peak so far (VmRSS, VmHWM), KiB.
    pub fn memory(&self) -> Result<(u64, u64), Failure> {
        read_status(&self.child)
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self) -> Result<(), Failure> {
        let (child, label) = (&mut self.child, &self.label);
        if let Some(pid) = child.id() {
            // SAFETY: kill with a valid signal number on our own child's pid.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(Failure::new(format!(
                "{label}: the child exited with {status} after SIGTERM"
            ))),
            Ok(Err(e)) => Err(Failure::new(format!("{label}: {e}"))),
            Err(_) => {
                let _ = child.kill().await;
                Err(Failure::new(format!(
                    "{label}: still running 30s after SIGTERM"
                )))
            }
        }
    }
}

/// VmRSS and VmHWM of a running child, KiB.
fn read_status(child: &Child) -> Result<(u64, u64), Failure> {
    let pid = child
        .id()
        .ok_or_else(|| Failure::new("the child has already exited"))?;
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::new(format!("cannot read {path}: {e}")))?;
    match (field_kib(&text, "VmRSS"), field_kib(&text, "VmHWM")) {
        (Some(rss), Some(peak)) => Ok((rss, peak)),
        _ => Err(Failure::new(format!("{path} has no VmRSS or VmHWM"))),
    }
}

/// A `Name:   1234 kB` line of /proc/PID/status, in KiB.
fn field_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields_of_proc_status() {
        let status =
            "Name:\twfmon\nVmPeak:\t  123456 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   18432 kB\n";
        assert_eq!(field_kib(status, "VmHWM"), Some(20480));
        assert_eq!(field_kib(status, "VmRSS"), Some(18432));
        assert_eq!(field_kib(status, "VmSwap"), None);
        // The prefix must be the whole name.
        assert_eq!(field_kib("VmRSSx:\t1 kB\n", "VmRSS"), None);
    }

    #[tokio::test]
    async fn reads_a_trivial_process() {
        let figure = trivial().await.unwrap();
        assert!(figure.rss_kib > 0 && figure.peak_kib >= figure.rss_kib);
    }
}
