//! Who this process is in the shared database, and whether another process still runs.
//!
//! An instance id is `host:pid` unless the configuration names it. For ids of that form on
//! this host, a process that no longer exists is known dead at once (its runs are closed
//! and its claims released without waiting for its leases to expire).

/// This machine's host name.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The default id of this process: `host:pid`.
pub fn default_instance_id() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

/// Whether `instance` names a process of this host that no longer exists. Ids of another
/// form or host are never known dead (their leases expire instead).
pub fn is_dead_local(instance: &str, host: &str) -> bool {
    let Some((h, pid)) = instance.rsplit_once(':') else {
        return false;
    };
    let h = h.strip_prefix("cli-").unwrap_or(h);
    if h != host {
        return false;
    }
    let Ok(pid) = pid.parse::<libc::pid_t>() else {
        return false;
    };
    if pid <= 0 || pid == std::process::id() as libc::pid_t {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_that_exited_is_dead_and_this_one_is_not() {
        let host = host_name();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(is_dead_local(&format!("{host}:{pid}"), &host));
        assert!(!is_dead_local(&default_instance_id(), &host));
        assert!(!is_dead_local(&format!("other-host:{pid}"), &host));
        assert!(!is_dead_local("eu-west-1", &host));
        assert!(!is_dead_local(&format!("{host}:not-a-pid"), &host));
    }
}
