//! Command steps: an external program (no shell) run in its own process group, killed with
//! all its children when the step times out or the run is cancelled. Only the end of its
//! output is kept, so a program that floods its output cannot exhaust memory.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::units::millis;
use crate::workflow::CommandSpec;

/// How the program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// The step's timeout expired; it was killed.
    TimedOut,
}

/// The end of one output stream.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    kept: Vec<u8>,
    total: u64,
}

impl Tail {
    /// The kept end as text, marked `…` where earlier output was dropped.
    pub(crate) fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.kept);
        if self.total > self.kept.len() as u64 {
            format!("…{text}")
        } else {
            text.into_owned()
        }
    }
}

/// What a finished command left behind.
pub(crate) struct CommandRun {
    /// `argv[0]`, for messages.
    pub program: String,
    /// How it ended.
    pub exit: Exit,
    /// The end of its standard output.
    pub stdout: Tail,
    /// The end of its standard error.
    pub stderr: Tail,
    /// Wall time.
    pub duration_ms: u64,
    /// Where its JUnit report should be, and when the program started (older files are stale).
    pub junit: Option<(PathBuf, SystemTime)>,
}

/// Runs the command with `vars` filled in; `Err` when it could not be started.
pub(crate) async fn run(
    spec: &CommandSpec,
    vars: &BTreeMap<String, String>,
    timeout: Duration,
    output_cap: usize,
) -> Result<CommandRun, String> {
    let argv = spec
        .argv
        .iter()
        .map(|t| t.render(vars))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| "the command names no program".to_owned())?;
    let env = spec
        .env
        .iter()
        .map(|(k, t)| Ok((k.clone(), t.render(vars)?)))
        .collect::<Result<Vec<_>, crate::template::MissingVariable>>()
        .map_err(|e| e.to_string())?;
    if let Some(dir) = &spec.workdir
        && !dir.is_dir()
    {
        return Err(format!(
            "the working directory `{}` does not exist",
            dir.display()
        ));
    }
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so that a timeout kills the children it started too.
        .process_group(0);
    if let Some(dir) = &spec.workdir {
        command.current_dir(dir);
    }
    let started_at = SystemTime::now();
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    let mut group = GroupGuard(child.id());
    // Readers run as tasks so that the pipes are drained while the program runs; they end
    // when every process holding the pipes is gone.
    let stdout = tokio::spawn(read_tail(child.stdout.take(), output_cap));
    let stderr = tokio::spawn(read_tail(child.stderr.take(), output_cap));
    let exit = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        },
        Ok(Err(e)) => return Err(format!("waiting for `{program}` failed: {e}")),
        Err(_) => {
            group.kill();
            // Reaps it; after SIGKILL this returns at once.
            let _ = child.wait().await;
            Exit::TimedOut
        }
    };
    let duration_ms = millis(started.elapsed());
    // Children left behind would hold the output pipes open (and outlive the step).
    group.kill();
    group.0 = None;
    let stdout = stdout.await.unwrap_or_default();
    let stderr = stderr.await.unwrap_or_default();
    let junit = spec.junit.as_ref().map(|path| {
        let path = match &spec.workdir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.clone(),
        };
        (path, started_at)
    });
    Ok(CommandRun {
        program: program.clone(),
        exit,
        stdout,
        stderr,
        duration_ms,
        junit,
    })
}

/// Kills the process group when dropped: a cancelled run must not leave programs running.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn kill(&self) {
        if let Some(pid) = self.0.and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: kill(2) takes plain integers and touches no memory of ours; a negative
            // pid addresses the process group the child leads (process_group(0) above).
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a pipe to its end, keeping only the last `cap` bytes.
async fn read_tail(pipe: Option<impl AsyncRead + Unpin>, cap: usize) -> Tail {
    let mut tail = Tail::default();
    let Some(mut pipe) = pipe else {
        return tail;
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.total += n as u64;
                tail.kept.extend_from_slice(&buf[..n]);
                // Dropping in bulk keeps this linear: at most 2 × cap is ever held.
                if tail.kept.len() > cap.saturating_mul(2).max(buf.len()) {
                    let excess = tail.kept.len() - cap;
                    tail.kept.drain(..excess);
                }
            }
        }
    }
    if tail.kept.len() > cap {
        let excess = tail.kept.len() - cap;
        tail.kept.drain(..excess);
    }
    tail
}

/// The JUnit report's text, if this run wrote it.
pub(crate) fn read_junit(path: &Path, started_at: SystemTime) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|_| format!("the JUnit report `{shown}` was not written"))?;
    // File systems keep times at up to 2 s granularity; older than that is a previous run's.
    let fresh_after = started_at
        .checked_sub(Duration::from_secs(2))
        .unwrap_or(started_at);
    if meta.modified().is_ok_and(|m| m < fresh_after) {
        return Err(format!(
            "the JUnit report `{shown}` was not written by this run (it is older than the step)"
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the JUnit report `{shown}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_only_the_end_of_the_output() {
        let data: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let tail = read_tail(Some(&data[..]), 1000).await;
        assert_eq!(tail.total, 100_000);
        assert_eq!(tail.kept, &data[data.len() - 1000..]);
        assert!(tail.text().starts_with('…'));
        let short = read_tail(Some(&b"ok\n"[..]), 1000).await;
        assert_eq!(short.text(), "ok\n");
    }
}
