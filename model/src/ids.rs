//! Time-ordered identifiers: `<prefix>_<12 hex digits of milliseconds><16 random hex digits>`.
//! New ids sort by creation time, which keeps B-tree inserts at the right edge of the index
//! (random text keys roughly double PostgreSQL's insert cost).

/// A new time-ordered id with the given prefix, e.g. `run_0193a1b2c3d4e5f6a7b8c9d0e1f2`.
pub fn new_id(prefix: &str) -> String {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let random: u64 = rand::random();
    format!("{prefix}_{millis:012x}{random:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_prefixed_and_time_ordered() {
        let a = new_id("run");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("run");
        assert!(a.starts_with("run_"));
        assert_eq!(a.len(), 4 + 28);
        assert_ne!(a, b);
        assert!(a[..16] < b[..16], "{a} should sort before {b}");
    }
}
