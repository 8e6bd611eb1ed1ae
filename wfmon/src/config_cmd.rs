//! `wfmon validate` and `wfmon init`: check a configuration, write a starter one.

use std::path::{Path, PathBuf};

use wfmon_engine::config::{Config, ConfigError, DEFAULT_CONFIG_FILE};

use crate::exit::Failure;

/// The commented starter configuration `wfmon init` writes.
pub const STARTER: &str = include_str!("starter.yaml");

/// The configuration path: `-c`/`WFMON_CONFIG`, else `wfmon.yaml`.
pub fn config_path(explicit: Option<&Path>) -> PathBuf {
    explicit.map_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE), Path::to_path_buf)
}

/// Loads the configuration a command needs; a missing default file is an error that says
/// how to make one.
pub fn load(explicit: Option<&Path>) -> Result<Config, Failure> {
    Ok(load_config(explicit)?)
}

/// Why a configuration could not be loaded.
enum LoadError {
    /// No `-c` and no `wfmon.yaml`: the message says how to make one.
    Missing(String),
    /// The configuration's own problems.
    Config(ConfigError),
}

impl From<LoadError> for Failure {
    fn from(error: LoadError) -> Failure {
        match error {
            LoadError::Missing(message) => Failure::new(message),
            LoadError::Config(error) => error.into(),
        }
    }
}

fn load_config(explicit: Option<&Path>) -> Result<Config, LoadError> {
    let path = config_path(explicit);
    if explicit.is_none() && !path.exists() {
        return Err(LoadError::Missing(format!(
            "no configuration: {} does not exist (write one with `wfmon init`, or pass -c FILE)",
            path.display()
        )));
    }
    Config::load(&path).map_err(LoadError::Config)
}

/// The problems of a configuration that could not be loaded, as `validate --json` prints
/// them: file, line, column and key path where known (null where not), and the message.
fn problems_json(path: &Path, error: &LoadError) -> Vec<serde_json::Value> {
    let whole = |message: String| {
        vec![serde_json::json!({
            "file": path.display().to_string(),
            "line": null,
            "column": null,
            "path": null,
            "message": message,
        })]
    };
    match error {
        LoadError::Missing(message) => whole(message.clone()),
        LoadError::Config(ConfigError::Issues(issues)) => issues
            .iter()
            .map(|i| {
                serde_json::json!({
                    "file": i.file.display().to_string(),
                    "line": (i.line > 0).then_some(i.line),
                    "column": (i.line > 0).then_some(i.column),
                    "path": (!i.path.is_empty()).then_some(&i.path),
                    "message": i.message,
                })
            })
            .collect(),
        LoadError::Config(other) => whole(other.to_string()),
    }
}

/// `wfmon validate`: every problem of the configuration, or a summary of what it holds. With
/// `--json`, the problems too are printed as JSON on stdout (and the exit code is the same).
pub fn validate(explicit: Option<&Path>, json: bool) -> Result<(), Failure> {
    let path = config_path(explicit);
    let config = match load_config(explicit) {
        Ok(config) => config,
        Err(error) if json => {
            let value = serde_json::json!({
                "config": path.display().to_string(),
                "valid": false,
                "problems": problems_json(&path, &error),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).expect("JSON values serialise")
            );
            // The problems are on stdout; nothing more to say on stderr.
            return Err(Failure::new(""));
        }
        Err(error) => return Err(error.into()),
    };
    let now = chrono::Utc::now();
    if json {
        let workflows: Vec<_> = config
            .workflows
            .iter()
            .map(|w| {
                serde_json::json!({
                    "name": w.name,
                    "environments": w.environments,
                    "schedule": w.schedule.as_ref().map(|s| s.expression.clone()),
                    "timezone": w.schedule.as_ref().map(|s| s.timezone.name()),
                    "nextRunAt": w.schedule.as_ref().and_then(|s| s.next_after(now)).map(|t| t.to_rfc3339()),
                    "steps": w.steps.len(),
                    "cleanupSteps": w.cleanup.len(),
                })
            })
            .collect();
        let value = serde_json::json!({
            "config": path.display().to_string(),
            "valid": true,
            "environments": config.environments.keys().collect::<Vec<_>>(),
            "workflows": workflows,
            "alertRules": config.alerts.rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "channels": config.notifications.channels.keys().collect::<Vec<_>>(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON values serialise")
        );
        return Ok(());
    }
    println!(
        "{} is valid: {} workflow(s), {} environment(s) ({})",
        path.display(),
        config.workflows.len(),
        config.environments.len(),
        config
            .environments
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !config.alerts.rules.is_empty() || !config.notifications.channels.is_empty() {
        println!(
            "  alerting: {} rule(s), {} channel(s) ({})",
            config.alerts.rules.len(),
            config.notifications.channels.len(),
            config
                .notifications
                .channels
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !config.slos.is_empty() {
        println!(
            "  slos: {} objective(s) ({})",
            config.slos.len(),
            config
                .slos
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for w in &config.workflows {
        let when = match &w.schedule {
            Some(s) => {
                let next = s
                    .next_after(now)
                    .map_or_else(|| "never".to_owned(), |t| t.to_rfc3339());
                format!("`{}` ({}), next {next}", s.expression, s.timezone.name())
            }
            None => "on demand only".to_owned(),
        };
        // Counted as `--json` counts them: steps, and cleanup steps apart.
        let cleanup = match w.cleanup.len() {
            0 => String::new(),
            n => format!(" and {n} cleanup step(s)"),
        };
        println!(
            "  {:<24} {} step(s){cleanup}, in {}; {when}",
            w.name,
            w.steps.len(),
            w.environments.join(", ")
        );
    }
    Ok(())
}

/// `wfmon init`: writes the starter configuration, never over an existing file.
pub fn init(explicit: Option<&Path>, force: bool) -> Result<(), Failure> {
    let path = config_path(explicit);
    if path.exists() && !force {
        return Err(Failure::new(format!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        )));
    }
    std::fs::write(&path, STARTER)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    println!("wrote {}; check it with `wfmon validate`", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_configuration_is_valid() {
        let config = Config::parse(STARTER, Path::new("starter.yaml")).unwrap();
        assert_eq!(config.workflows.len(), 2);
        assert!(config.workflows.iter().all(|w| w.schedule.is_some()));
    }
}
