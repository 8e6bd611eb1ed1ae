//! CPU time: the whole process (getrusage), and single threads (their POSIX CPU clocks).

use std::time::Duration;

/// User plus system CPU time of the whole process so far, every thread included.
pub fn process() -> Duration {
    // SAFETY: getrusage only writes the struct it is given; an all-zero rusage is valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

/// The CPU clock of the calling thread, readable from any thread while this one lives.
pub fn current_thread_clock() -> Option<libc::clockid_t> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: pthread_self is the calling, live thread; the call writes one clockid_t.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
    (rc == 0).then_some(clock)
}

/// CPU time used so far by the thread whose clock this is (zero if it cannot be read).
pub fn thread(clock: libc::clockid_t) -> Duration {
    // SAFETY: clock_gettime writes one timespec; an unknown clock returns an error, not UB.
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_shows_in_both_clocks() {
        let clock = current_thread_clock().expect("this thread's clock");
        let (process_before, thread_before) = (process(), thread(clock));
        // Spins until this thread's clock shows 20 ms of CPU; on a loaded machine that takes
        // longer in wall time, which is why the limit is generous: a clock that never moves
        // fails it.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while thread(clock) - thread_before < Duration::from_millis(20) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the thread clock did not reach 20 ms in 20 s"
            );
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        let thread_used = thread(clock) - thread_before;
        let process_used = process() - process_before;
        assert!(thread_used >= Duration::from_millis(20), "{thread_used:?}");
        // getrusage counts in microseconds and includes this thread.
        assert!(process_used + Duration::from_millis(5) >= thread_used);
    }
}
