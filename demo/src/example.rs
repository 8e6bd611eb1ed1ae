//! The example configuration bundled with wfmon (`examples/wfmon.yaml` in the repository):
//! the six journeys of a web shop, written against this demo shop, in two environments.
//!
//! Its environments name the shop's base URL as a plain variable, `base_url`, set to
//! [`EXAMPLE_BASE_URL`] (the shop's [`DEFAULT_ADDR`](crate::DEFAULT_ADDR)). A shop on
//! another port is monitored by the text [`example_config`] returns, or by setting the
//! `base_url` variable of each loaded environment.

/// The example configuration, as written in `examples/wfmon.yaml`.
pub const EXAMPLE_CONFIG: &str = include_str!("../../examples/wfmon.yaml");

/// The base URL every environment of [`EXAMPLE_CONFIG`] points at.
pub const EXAMPLE_BASE_URL: &str = "http://127.0.0.1:8081";

/// The example configuration with every environment's `base_url`, and the address of the
/// shop's notification inbox, set to `base_url` (for instance
/// [`RunningShop::base_url`](crate::RunningShop::base_url)). Only lines that are not comments
/// change, so the file keeps its comments and line numbers.
pub fn example_config(base_url: &str) -> String {
    let base_url = base_url.trim_end_matches('/');
    EXAMPLE_CONFIG
        .split_inclusive('\n')
        .map(|line| {
            if !line.trim_start().starts_with('#') {
                line.replace(EXAMPLE_BASE_URL, base_url)
            } else {
                line.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_environment_points_at_the_example_base_url() {
        let lines: Vec<&str> = EXAMPLE_CONFIG
            .lines()
            .filter(|l| l.trim_start().starts_with("base_url:"))
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|l| l.contains(EXAMPLE_BASE_URL)));
    }

    #[test]
    fn only_the_shop_address_changes() {
        let text = example_config("http://127.0.0.1:40123/");
        assert_eq!(
            text.matches("base_url: http://127.0.0.1:40123\n").count(),
            2
        );
        assert!(!text.contains(EXAMPLE_BASE_URL));
        assert_eq!(text.lines().count(), EXAMPLE_CONFIG.lines().count());
        assert_eq!(example_config(EXAMPLE_BASE_URL), EXAMPLE_CONFIG);
    }
}
