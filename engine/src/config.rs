//! The YAML configuration file. Every section validates itself; unknown keys are errors, and
//! errors name the file, line and column.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The default configuration file, in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "wfmon.yaml";

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The YAML is invalid or does not fit the schema.
    #[error("invalid configuration in {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where results are stored.
    #[serde(default)]
    pub storage: StorageConfig,
}

/// The `storage:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Database URL (`sqlite://wfmon.db`, `postgres://...`); may be `${ENV_VAR}`.
    pub url: Option<String>,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config =
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Invalid {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        if let Some(url) = &config.storage.url {
            config.storage.url = Some(expand_env(url).map_err(|message| ConfigError::Invalid {
                path: path.to_owned(),
                message: format!("storage.url: {message}"),
            })?);
        }
        Ok(config)
    }

    /// Reads the file at `path` if given or if the default file exists; otherwise the defaults.
    pub fn load_or_default(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            Some(path) => Config::load(path),
            None => {
                let default = Path::new(DEFAULT_CONFIG_FILE);
                if default.exists() {
                    Config::load(default)
                } else {
                    Ok(Config::default())
                }
            }
        }
    }
}

/// Replaces each `${NAME}` with the environment variable's value; a missing variable is an
/// error naming it (its value is never printed).
pub fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in `{text}`"))?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`${{{name}}}` is not a valid environment variable name"
            ));
        }
        let value =
            std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_storage_url() {
        let config =
            Config::parse("storage:\n  url: sqlite://x.db\n", Path::new("w.yaml")).unwrap();
        assert_eq!(config.storage.url.as_deref(), Some("sqlite://x.db"));
        assert_eq!(
            Config::parse("{}", Path::new("w.yaml")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_a_location() {
        let err = Config::parse("storage:\n  urll: sqlite://x.db\n", Path::new("w.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("w.yaml"), "{err}");
        assert!(err.contains("urll"), "{err}");
        assert!(err.contains('2'), "line number expected: {err}");
    }

    #[test]
    fn expands_environment_variables_and_names_missing_ones() {
        // SAFETY: the variable name is unique to this test.
        unsafe { std::env::set_var("WFMON_TEST_CONFIG_PW", "s3cret") };
        assert_eq!(
            expand_env("postgres://u:${WFMON_TEST_CONFIG_PW}@h/db").unwrap(),
            "postgres://u:s3cret@h/db"
        );
        let err = expand_env("${WFMON_TEST_UNSET_VAR}").unwrap_err();
        assert!(err.contains("WFMON_TEST_UNSET_VAR"), "{err}");
        assert!(expand_env("${oops").is_err());
    }
}
