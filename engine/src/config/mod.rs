//! The configuration: one YAML file or a folder of them. Reading is strict: unknown keys,
//! repeated keys, bad cron expressions, bad durations, undefined variables, duplicate names
//! and unknown environments are errors that name the file, line, column and key path.
//!
//! Two stages, each collecting every problem it finds: `read` turns each file into its
//! `raw` structs (unknown and repeated keys, values of the wrong type), then `validate` checks
//! what the files say together. Problems of both stages are returned at once; only a file that
//! could not be read to the end (YAML that does not parse, a value of the wrong type) keeps
//! the second stage from running.

mod raw;
mod read;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::alerting::AlertsConfig;
use crate::notify::NotificationsConfig;
use crate::runner::redact::Redactor;
use crate::workflow::Workflow;

pub(crate) use validate::{Checker, parse_cron, valid_name};

/// The default configuration file, in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "wfmon.yaml";

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or folder could not be read.
    #[error("cannot read configuration {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configuration as a whole cannot be read (a folder without YAML files).
    #[error("invalid configuration in {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// Problems in the files, each with its place: YAML that does not parse, unknown or
    /// repeated keys, values of the wrong type, values that do not hold together.
    #[error("{}", issues_text(.0))]
    Issues(Vec<ConfigIssue>),
}

fn issues_text(issues: &[ConfigIssue]) -> String {
    let mut out = format!(
        "{} problem{} in the configuration:",
        issues.len(),
        if issues.len() == 1 { "" } else { "s" }
    );
    for issue in issues {
        out.push_str(&format!("\n  {issue}"));
    }
    out
}

/// One problem in the configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0: unknown).
    pub line: u64,
    /// 1-based column (0: unknown).
    pub column: u64,
    /// Key path, e.g. `workflows[2].steps[0].http.url` (empty: the file as a whole, as for
    /// YAML that does not parse). A list index counts in the file the problem is in.
    pub path: String,
    /// What is wrong and, where it helps, what to write instead.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The validated configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where results are stored.
    pub storage: StorageConfig,
    /// How the daemon schedules.
    pub scheduler: SchedulerConfig,
    /// Where the API and the dashboard listen.
    pub server: ServerConfig,
    /// Environments by name.
    pub environments: BTreeMap<String, Environment>,
    /// Workflows, in file order.
    pub workflows: Vec<Workflow>,
    /// Alert rules, silences and maintenance windows.
    pub alerts: AlertsConfig,
    /// Notification channels and routes.
    pub notifications: NotificationsConfig,
    /// Monitoring reports produced on schedules.
    pub reports: Vec<crate::reports::ReportSchedule>,
    /// Service level objectives, in file order.
    pub slos: Vec<crate::slo::Slo>,
    /// Values that came from `${ENV}` references: never print or store them.
    pub secrets: Vec<String>,
    /// `secrets` made ready for `redact` on its first call, with the list it was made from
    /// (a list changed since is noticed).
    redactor: OnceLock<(Vec<String>, Redactor)>,
}

/// The `storage:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConfig {
    /// Database URL (`sqlite://wfmon.db`, `postgres://...`).
    pub url: Option<String>,
}

/// The `server:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerConfig {
    /// The address the API and the dashboard listen on, as configured; None: not configured,
    /// the daemon then takes `DEFAULT_LISTEN` if it is free.
    pub listen: Option<SocketAddr>,
    /// The address people reach the dashboard at (`https://wfmon.example.com`); when it is
    /// https, the session cookie is marked Secure and it counts as a same-origin `Origin`.
    pub public_url: Option<String>,
    /// Who may use the API and the dashboard.
    pub auth: AuthConfig,
}

/// The `server.auth:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Whether requests must authenticate; None: not configured (`wfmon run` turns it on,
    /// `wfmon demo` off).
    pub enabled: Option<bool>,
    /// How long a dashboard login lasts.
    pub session_lifetime: std::time::Duration,
    /// Whether `/metrics` answers without a token.
    pub metrics_open: bool,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            enabled: None,
            session_lifetime: std::time::Duration::from_secs(12 * 3600),
            metrics_open: false,
        }
    }
}

/// Where the API listens when the configuration does not say.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// Reads a listen address: `IP:PORT` (`[IPv6]:PORT`) or `localhost:PORT`.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Some(port) = text.strip_prefix("localhost:")
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok(SocketAddr::new(
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port,
        ));
    }
    text.parse::<SocketAddr>().map_err(|_| {
        format!(
            "`{text}` is not a listen address: write IP:PORT, e.g. 127.0.0.1:8080 (this host \
             only) or 0.0.0.0:8080 (every interface)"
        )
    })
}

/// The `scheduler:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Most runs in flight at once, over all workflows.
    pub concurrency: usize,
    /// How long shutdown waits for runs in flight before recording them as ABORTED.
    pub shutdown_grace: Duration,
    /// This instance's name in `workflow_executions.instance_id` (default: host and pid).
    pub instance_id: Option<String>,
    /// How long a claim on a due run lasts without renewal: the time after which the
    /// schedules of an instance that died are taken over by the others.
    pub lease: Duration,
    /// Results kept in memory while the database is unreachable; beyond, they are counted
    /// and logged as lost.
    pub buffer: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            concurrency: 16,
            shutdown_grace: Duration::from_secs(30),
            instance_id: None,
            lease: Duration::from_secs(30),
            buffer: 10_000,
        }
    }
}

/// One environment the workflows run against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Name (`production`, `staging`, ...).
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// Variables the workflows' templates use (`base_url`, ...).
    pub variables: BTreeMap<String, String>,
}

impl Config {
    /// Reads and validates a file, or every `*.yaml`/`*.yml` file of a folder (in name order).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_owned(),
                source,
            })
        };
        let files: Vec<PathBuf> = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    message: "the folder holds no .yaml file".into(),
                });
            }
            files
        } else {
            vec![path.to_owned()]
        };
        let mut sources = Vec::new();
        for file in files {
            let text = read(&file)?;
            sources.push((file, text));
        }
        Config::from_sources(&sources)
    }

    /// Parses configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::from_sources(&[(path.to_owned(), text.to_owned())])
    }

    /// Parses and validates several files as one configuration.
    pub fn from_sources(sources: &[(PathBuf, String)]) -> Result<Config, ConfigError> {
        let mut files = Vec::new();
        let mut places = Vec::new();
        let mut issues = Vec::new();
        let mut complete = true;
        for (path, text) in sources {
            let read = read::read(path, text);
            issues.extend(read.issues);
            match read.raw {
                Some(raw) => {
                    files.push((path.clone(), raw));
                    places.push(read.places);
                }
                None => complete = false,
            }
        }
        if !complete {
            return Err(ConfigError::Issues(issues));
        }
        validate::validate(files, &places, issues)
    }

    /// Reads the file at `path` if given, or `wfmon.yaml` if it exists; otherwise the defaults.
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

    /// A service level objective by name.
    pub fn slo(&self, name: &str) -> Option<&crate::slo::Slo> {
        self.slos.iter().find(|s| s.name == name)
    }

    /// A workflow by name.
    pub fn workflow(&self, name: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.name == name)
    }

    /// Replaces every secret value in `text` with `***`, in every form the engine sends it
    /// (percent- and form-encoded in URLs and bodies, escaped in JSON).
    pub fn redact(&self, text: &str) -> String {
        let (made_from, redactor) = self
            .redactor
            .get_or_init(|| (self.secrets.clone(), Redactor::new(&self.secrets)));
        if *made_from == self.secrets {
            redactor.redact(text)
        } else {
            Redactor::new(&self.secrets).redact(text)
        }
    }
}

/// Replaces each `${NAME}` with the environment variable's value; a missing variable is an
/// error naming it (its value is never printed).
pub fn expand_env(text: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(text.len());
    let mut values = Vec::new();
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
        values.push(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((out, values))
}

#[cfg(test)]
mod tests;
