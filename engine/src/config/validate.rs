//! From the YAML as written to the validated `Config`: every check, each problem collected
//! with its file, line, column and key path, so that one run of `wfmon validate` lists all.
//! A check that knows only the key path of its problem (an entry named by a map key, such as
//! `environments.prod` or `notifications.routes.URGENT`) gets the key's position from what
//! `read` recorded, at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::raw::{RawConfig, RawRetries, RawStep, RawWorkflow};
use super::read::Places;
use super::{
    AuthConfig, Config, ConfigError, ConfigIssue, Environment, SchedulerConfig, StorageConfig,
    expand_env, parse_listen,
};
use crate::template::{Template, json_variables};
use crate::workflow::{
    Backoff, Capture, CaptureSource, CommandSpec, HealthProbe, HttpRequest, RequestBody,
    RetryPolicy, Schedule, Step, StepAction, Threshold, Workflow,
};

const DEFAULT_WORKFLOW_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);
const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Collects problems while converting.
pub(crate) struct Checker {
    file: PathBuf,
    issues: Vec<ConfigIssue>,
    secrets: Vec<String>,
}

impl Checker {
    pub(crate) fn issue_at<T>(&mut self, at: &Spanned<T>, path: &str, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            file: self.file.clone(),
            line: at.referenced.line(),
            column: at.referenced.column(),
            path: path.to_owned(),
            message: message.into(),
        });
    }

    pub(crate) fn issue(&mut self, path: &str, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            file: self.file.clone(),
            line: 0,
            column: 0,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Expands `${ENV}` in a value, remembering what came from the environment as secret.
    pub(crate) fn expand(
        &mut self,
        value: &str,
        at: Option<&Spanned<String>>,
        path: &str,
    ) -> String {
        match expand_env(value) {
            Ok((text, secrets)) => {
                self.secrets.extend(secrets);
                text
            }
            Err(message) => {
                match at {
                    Some(at) => self.issue_at(at, path, message),
                    None => self.issue(path, message),
                }
                value.to_owned()
            }
        }
    }

    /// How many problems were found so far.
    pub(crate) fn issue_count(&self) -> usize {
        self.issues.len()
    }

    /// Remembers a value (a webhook URL, a password) that must never be printed or stored.
    pub(crate) fn secret(&mut self, value: &str) {
        self.secrets.push(value.to_owned());
    }

    /// A path written in the configuration, taken relative to the folder of the file that
    /// names it (an absolute path stays as it is).
    pub(crate) fn config_relative(&self, path: &str) -> PathBuf {
        let path = std::path::Path::new(path);
        match self.file.parent() {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// A `variables:` map with `${ENV}` expanded in each value.
    fn variables(
        &mut self,
        map: &BTreeMap<String, Spanned<String>>,
        key: &str,
    ) -> BTreeMap<String, String> {
        map.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    self.expand(&v.value, Some(v), &format!("{key}.variables.{k}")),
                )
            })
            .collect()
    }

    fn template(&mut self, value: &Spanned<String>, path: &str) -> Template {
        let text = self.expand(&value.value, Some(value), path);
        match Template::parse(&text) {
            Ok(t) => t,
            Err(message) => {
                self.issue_at(value, path, message);
                Template::parse("").expect("empty template")
            }
        }
    }

    /// The trimmed name at `{key}.name`, with an issue when it has other characters than
    /// names allow or when `seen` already holds it (`what` says what it names).
    pub(crate) fn unique_name(
        &mut self,
        name: &Spanned<String>,
        key: &str,
        what: &str,
        seen: &mut BTreeSet<String>,
    ) -> String {
        let trimmed = name.value.trim().to_owned();
        if !valid_name(&trimmed) {
            self.issue_at(
                name,
                &format!("{key}.name"),
                format!("`{trimmed}` is not a valid name (letters, digits, -, _ and .)"),
            );
        } else if !seen.insert(trimmed.clone()) {
            self.issue_at(
                name,
                &format!("{key}.name"),
                format!("{what} `{trimmed}` is already defined"),
            );
        }
        trimmed
    }

    pub(crate) fn duration(&mut self, value: &Spanned<String>, path: &str) -> Option<Duration> {
        match wfmon_model::parse_duration(&value.value) {
            Ok(d) => d.to_std().ok(),
            Err(e) => {
                self.issue_at(value, path, e.to_string());
                None
            }
        }
    }

    fn retries(&mut self, raw: &RawRetries, path: &str, base: RetryPolicy) -> RetryPolicy {
        let mut policy = base;
        let attempts = raw.attempts.value;
        if !(1..=10).contains(&attempts) {
            self.issue_at(
                &raw.attempts,
                &format!("{path}.attempts"),
                format!("{attempts} attempts: write 1 (no retry) to 10"),
            );
        } else {
            policy.attempts = attempts;
        }
        if let Some(b) = &raw.backoff {
            match b.value.as_str() {
                "exponential" => policy.backoff = Backoff::Exponential,
                "fixed" => policy.backoff = Backoff::Fixed,
                other => self.issue_at(
                    b,
                    &format!("{path}.backoff"),
                    format!("`{other}` is not a backoff: write exponential or fixed"),
                ),
            }
        }
        if let Some(d) = raw
            .initial
            .as_ref()
            .and_then(|v| self.duration(v, &format!("{path}.initial")))
        {
            policy.initial = d;
        }
        if let Some(d) = raw
            .max
            .as_ref()
            .and_then(|v| self.duration(v, &format!("{path}.max")))
        {
            policy.max = d;
        }
        policy
    }
}

/// Merges and validates parsed files into one `Config`; `places` holds where the keys of each
/// file are (in the order of `files`), `all_issues` the problems found while reading them.
pub(super) fn validate(
    files: Vec<(PathBuf, RawConfig)>,
    places: &[Places],
    mut all_issues: Vec<ConfigIssue>,
) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    let mut secrets = Vec::new();
    // Sections that are not lists are taken from the first file that sets them.
    let mut defaults_file: Option<(PathBuf, usize)> = None;
    for (i, (path, raw)) in files.iter().enumerate() {
        let d = &raw.defaults;
        if d.timeout.is_some()
            || d.step_timeout.is_some()
            || d.retries.is_some()
            || d.environments.is_some()
            || d.timezone.is_some()
        {
            if let Some((first, _)) = &defaults_file {
                all_issues.push(ConfigIssue {
                    file: path.clone(),
                    line: 0,
                    column: 0,
                    path: "defaults".into(),
                    message: format!("defaults are already set in {}", first.display()),
                });
            } else {
                defaults_file = Some((path.clone(), i));
            }
        }
    }
    let defaults = defaults_file.as_ref().map(|(_, i)| &files[*i].1.defaults);

    // Environments first: workflows refer to them.
    let mut env_origin: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, raw) in &files {
        let mut c = Checker {
            file: path.clone(),
            issues: Vec::new(),
            secrets: Vec::new(),
        };
        for (name, env) in &raw.environments {
            let key = format!("environments.{name}");
            if let Some(first) = env_origin.get(name) {
                c.issue(
                    &key,
                    format!(
                        "environment `{name}` is already defined in {}",
                        first.display()
                    ),
                );
                continue;
            }
            if !valid_name(name) {
                c.issue(
                    &key,
                    format!("`{name}` is not a valid name (letters, digits, -, _ and .)"),
                );
            }
            let variables = c.variables(&env.variables, &key);
            env_origin.insert(name.clone(), path.clone());
            config.environments.insert(
                name.clone(),
                Environment {
                    name: name.clone(),
                    description: env.description.clone(),
                    variables,
                },
            );
        }
        if let Some(url) = &raw.storage.url {
            if config.storage.url.is_some() {
                c.issue_at(
                    url,
                    "storage.url",
                    "storage.url is set in more than one file",
                );
            } else {
                config.storage = StorageConfig {
                    url: Some(c.expand(&url.value, Some(url), "storage.url")),
                };
            }
        }
        if let Some(listen) = &raw.server.listen {
            if config.server.listen.is_some() {
                c.issue_at(
                    listen,
                    "server.listen",
                    "server.listen is set in more than one file",
                );
            } else {
                match parse_listen(&listen.value) {
                    Ok(addr) => config.server.listen = Some(addr),
                    Err(message) => c.issue_at(listen, "server.listen", message),
                }
            }
        }
        if let Some(public_url) = &raw.server.public_url {
            let text = public_url.value.trim_end_matches('/');
            if !(text.starts_with("http://") || text.starts_with("https://"))
                || text.contains(['?', '#', ' '])
            {
                c.issue_at(
                    public_url,
                    "server.public_url",
                    format!(
                        "`{text}` is not a public URL: write http(s)://HOST[:PORT], e.g. \
                         https://wfmon.example.com"
                    ),
                );
            } else {
                config.server.public_url = Some(text.to_owned());
            }
        }
        if let Some(auth) = &raw.server.auth {
            let mut parsed = AuthConfig {
                enabled: auth.enabled,
                metrics_open: auth.metrics_open.unwrap_or(false),
                ..AuthConfig::default()
            };
            if let Some(lifetime) = &auth.session_lifetime
                && let Some(length) = c.duration(lifetime, "server.auth.session_lifetime")
            {
                if length < std::time::Duration::from_secs(60) {
                    c.issue_at(
                        lifetime,
                        "server.auth.session_lifetime",
                        "a session must last at least 1m",
                    );
                } else {
                    parsed.session_lifetime = length;
                }
            }
            config.server.auth = parsed;
        }
        let s = &raw.scheduler;
        let mut scheduler = SchedulerConfig::default();
        if let Some(n) = &s.concurrency {
            if n.value == 0 || n.value > 10_000 {
                c.issue_at(
                    n,
                    "scheduler.concurrency",
                    format!("{}: write 1 to 10000", n.value),
                );
            } else {
                scheduler.concurrency = n.value as usize;
            }
        }
        if let Some(d) = s
            .shutdown_grace
            .as_ref()
            .and_then(|v| c.duration(v, "scheduler.shutdown_grace"))
        {
            scheduler.shutdown_grace = d;
        }
        if let Some(d) = s
            .lease
            .as_ref()
            .and_then(|v| c.duration(v, "scheduler.lease"))
        {
            if d < Duration::from_secs(1) {
                let v = s.lease.as_ref().expect("parsed above");
                c.issue_at(
                    v,
                    "scheduler.lease",
                    "a lease shorter than 1s would expire between renewals: write 1s or more"
                        .to_string(),
                );
            } else {
                scheduler.lease = d;
            }
        }
        if let Some(n) = &s.buffer {
            if n.value == 0 {
                c.issue_at(n, "scheduler.buffer", "0: write how many results to keep while the database is unreachable (e.g. 10000)".to_string());
            } else {
                scheduler.buffer = n.value as usize;
            }
        }
        scheduler.instance_id = s.instance_id.clone();
        if s.concurrency.is_some()
            || s.shutdown_grace.is_some()
            || s.instance_id.is_some()
            || s.lease.is_some()
            || s.buffer.is_some()
        {
            config.scheduler = scheduler;
        }
        all_issues.append(&mut c.issues);
        secrets.append(&mut c.secrets);
    }
    if config.environments.is_empty() {
        config.environments.insert(
            "production".into(),
            Environment {
                name: "production".into(),
                description: None,
                variables: BTreeMap::new(),
            },
        );
    }

    // Workflow-wide defaults.
    let mut c = Checker {
        file: defaults_file
            .as_ref()
            .map_or_else(PathBuf::new, |(p, _)| p.clone()),
        issues: Vec::new(),
        secrets: Vec::new(),
    };
    let default_timeout = defaults
        .and_then(|d| d.timeout.as_ref())
        .and_then(|v| c.duration(v, "defaults.timeout"))
        .unwrap_or(DEFAULT_WORKFLOW_TIMEOUT);
    let default_step_timeout = defaults
        .and_then(|d| d.step_timeout.as_ref())
        .and_then(|v| c.duration(v, "defaults.step_timeout"))
        .unwrap_or(DEFAULT_STEP_TIMEOUT);
    let default_retries = defaults
        .and_then(|d| d.retries.as_ref())
        .map(|r| c.retries(r, "defaults.retries", RetryPolicy::default()))
        .unwrap_or_default();
    let default_tz = defaults
        .and_then(|d| d.timezone.as_ref())
        .and_then(|tz| timezone(&mut c, tz, "defaults.timezone"));
    let default_envs: Vec<String> = match defaults.and_then(|d| d.environments.as_ref()) {
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                known_env(
                    &mut c,
                    &config.environments,
                    e,
                    &format!("defaults.environments[{i}]"),
                )
            })
            .collect(),
        None => config.environments.keys().cloned().collect(),
    };
    all_issues.append(&mut c.issues);

    let context = WorkflowDefaults {
        timeout: default_timeout,
        step_timeout: default_step_timeout,
        retries: default_retries,
        timezone: default_tz.unwrap_or(chrono_tz::UTC),
        environments: default_envs,
    };
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (path, raw) in &files {
        let mut c = Checker {
            file: path.clone(),
            issues: Vec::new(),
            secrets: Vec::new(),
        };
        for (index, rw) in raw.workflows.iter().enumerate() {
            let key = format!("workflows[{index}]");
            let here = format!(
                "{}:{}:{}",
                path.display(),
                rw.name.referenced.line(),
                rw.name.referenced.column()
            );
            // A second workflow of the same name is still checked, so that its other
            // problems show now rather than after the rename.
            let duplicate = match names.get(&rw.name.value) {
                Some(first) => {
                    c.issue_at(
                        &rw.name,
                        &format!("{key}.name"),
                        format!("workflow `{}` is already defined at {first}", rw.name.value),
                    );
                    true
                }
                None => {
                    names.insert(rw.name.value.clone(), here);
                    false
                }
            };
            if let Some(w) = workflow(&mut c, rw, &key, &context, &config.environments)
                && !duplicate
            {
                config.workflows.push(w);
            }
        }
        all_issues.append(&mut c.issues);
        secrets.append(&mut c.secrets);
    }
    alerts_and_notifications(&files, places, &mut config, &mut all_issues, &mut secrets);
    if !all_issues.is_empty() {
        locate(&mut all_issues, &files, places);
        return Err(ConfigError::Issues(all_issues));
    }
    secrets.sort();
    secrets.dedup();
    config.secrets = secrets;
    Ok(config)
}

/// Gives the problems that have only a key path the position of that key, when the file has it.
fn locate(issues: &mut [ConfigIssue], files: &[(PathBuf, RawConfig)], places: &[Places]) {
    for issue in issues.iter_mut().filter(|i| i.line == 0) {
        let place = files
            .iter()
            .zip(places)
            .find(|((path, _), _)| *path == issue.file)
            .and_then(|(_, places)| places.get(&issue.path));
        if let Some(place) = place {
            issue.line = place.line;
            issue.column = place.column;
        }
    }
}

/// The SMTP server of each email channel: a `host` that is empty (as written, or once its
/// `${ENV}` references are filled in) names no server, and port 0 is none. Checked from the
/// values as written, so that these show beside the channel's other problems.
fn email_servers(raw: &crate::notify::RawNotifications, places: &Places, c: &mut Checker) {
    let scalar = |path: &str| {
        places
            .get(path)
            .and_then(|p| p.scalar.clone().map(|s| (p.clone(), s)))
    };
    for name in crate::notify::raw_channel_names(raw).keys() {
        let path = format!("notifications.channels.{name}.email");
        let host = format!("{path}.host");
        if let Some((place, text)) = scalar(&host)
            && expand_env(&text).is_ok_and(|(value, _)| value.trim().is_empty())
        {
            c.issues.push(ConfigIssue {
                file: c.file.clone(),
                line: place.line,
                column: place.column,
                path: host,
                message: "is empty: write the SMTP server's host name".into(),
            });
        }
        let port = format!("{path}.port");
        if let Some((place, text)) = scalar(&port)
            && text == "0"
        {
            c.issues.push(ConfigIssue {
                file: c.file.clone(),
                line: place.line,
                column: place.column,
                path: port,
                message: "0 is not a port: write 1 to 65535, or leave it out for the default \
                          of the TLS mode (587, 465 or 25)"
                    .into(),
            });
        }
    }
}

/// The `notifications:` and `alerts:` sections, each taken from the one file that sets it
/// (rules refer to workflows, environments, channels and objectives, so they come last),
/// and the `slos:` and `reports:` entries of every file.
fn alerts_and_notifications(
    files: &[(PathBuf, RawConfig)],
    places: &[Places],
    config: &mut Config,
    all_issues: &mut Vec<ConfigIssue>,
    secrets: &mut Vec<String>,
) {
    let pick = |is_set: &dyn Fn(&RawConfig) -> bool,
                section: &str,
                issues: &mut Vec<ConfigIssue>| {
        let mut chosen: Option<usize> = None;
        for (i, (path, raw)) in files.iter().enumerate() {
            if !is_set(raw) {
                continue;
            }
            match chosen {
                Some(first) => issues.push(ConfigIssue {
                    file: path.clone(),
                    line: 0,
                    column: 0,
                    path: section.to_owned(),
                    message: format!("{section} is already set in {}", files[first].0.display()),
                }),
                None => chosen = Some(i),
            }
        }
        chosen
    };
    let notifications = pick(&|r| r.notifications.is_set(), "notifications", all_issues);
    let alerts = pick(&|r| r.alerts.is_set(), "alerts", all_issues);
    if let Some(i) = notifications {
        let mut c = Checker {
            file: files[i].0.clone(),
            issues: Vec::new(),
            secrets: Vec::new(),
        };
        config.notifications =
            crate::notify::validate_notifications(&files[i].1.notifications, &mut c);
        email_servers(&files[i].1.notifications, &places[i], &mut c);
        all_issues.append(&mut c.issues);
        secrets.append(&mut c.secrets);
    }
    // Objectives may come from any file; alert rules refer to them, so they come first.
    let mut slo_names = std::collections::BTreeSet::new();
    for (path, raw) in files {
        let mut c = Checker {
            file: path.clone(),
            issues: Vec::new(),
            secrets: Vec::new(),
        };
        config.slos.extend(crate::slo::validate_slos(
            &raw.slos,
            &config.workflows,
            &config.environments,
            &mut slo_names,
            &mut c,
        ));
        all_issues.append(&mut c.issues);
    }
    if let Some(i) = alerts {
        let mut c = Checker {
            file: files[i].0.clone(),
            issues: Vec::new(),
            secrets: Vec::new(),
        };
        // Rules may name any channel written in the file, even one with its own problem
        // (reported once, under notifications).
        let channels = notifications
            .map(|n| crate::notify::raw_channel_names(&files[n].1.notifications))
            .unwrap_or_default();
        let known = crate::alerting::Known {
            workflows: &config.workflows,
            environments: &config.environments,
            channels: &channels,
            slos: &config.slos,
        };
        config.alerts = crate::alerting::validate_alerts(&files[i].1.alerts, &known, &mut c);
        all_issues.append(&mut c.issues);
    }
    // Reports may come from any file; they refer to workflows, environments and channels.
    let channels = notifications
        .map(|n| crate::notify::raw_channel_names(&files[n].1.notifications))
        .unwrap_or_default();
    let mut seen = std::collections::BTreeMap::new();
    for (path, raw) in files {
        let mut c = Checker {
            file: path.clone(),
            issues: Vec::new(),
            secrets: Vec::new(),
        };
        for schedule in crate::reports::validate_reports(
            &raw.reports,
            &config.workflows,
            &config.environments,
            &channels,
            &mut c,
        ) {
            if let Some(first) = seen.insert(schedule.name.clone(), path.clone()) {
                c.issue(
                    "reports",
                    format!(
                        "report `{}` is already defined in {}",
                        schedule.name,
                        first.display()
                    ),
                );
                continue;
            }
            config.reports.push(schedule);
        }
        all_issues.append(&mut c.issues);
    }
}

struct WorkflowDefaults {
    timeout: Duration,
    step_timeout: Duration,
    retries: RetryPolicy,
    timezone: chrono_tz::Tz,
    environments: Vec<String>,
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn timezone(c: &mut Checker, tz: &Spanned<String>, path: &str) -> Option<chrono_tz::Tz> {
    match chrono_tz::Tz::from_str(&tz.value) {
        Ok(tz) => Some(tz),
        Err(_) => {
            c.issue_at(
                tz,
                path,
                format!(
                    "`{}` is not an IANA time zone (e.g. UTC, Europe/Paris)",
                    tz.value
                ),
            );
            None
        }
    }
}

fn known_env(
    c: &mut Checker,
    envs: &BTreeMap<String, Environment>,
    name: &Spanned<String>,
    path: &str,
) -> Option<String> {
    if envs.contains_key(&name.value) {
        Some(name.value.clone())
    } else {
        let known: Vec<&str> = envs.keys().map(String::as_str).collect();
        c.issue_at(
            name,
            path,
            format!(
                "unknown environment `{}` (defined: {})",
                name.value,
                known.join(", ")
            ),
        );
        None
    }
}

/// Parses a cron expression of 5 fields (minute precision) or 6 (seconds first).
pub(crate) fn parse_cron(expression: &str) -> Result<croner::Cron, String> {
    let fields = expression.split_whitespace().count();
    if !expression.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
        return Err(format!(
            "`{expression}` has {fields} fields; write 5 (minute hour day month weekday) or 6 (seconds first)"
        ));
    }
    if let Some(problem) = out_of_range_field(expression) {
        return Err(format!(
            "`{expression}` is not a valid cron expression: {problem}"
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| format!("`{expression}` is not a valid cron expression: {e}"))
}

/// The CEL parser's first error line in the configuration's words: `ERROR: <input>:1:17:
/// Syntax error: ...` becomes `syntax error at character 17: ...` (`<input>` is the parser's
/// name for the expression, which reads like a file the user never wrote).
fn expression_error(error: &str) -> String {
    let first = error.lines().next().unwrap_or_default();
    let text = first.strip_prefix("ERROR: ").unwrap_or(first);
    let Some(rest) = text.strip_prefix("<input>:") else {
        return text.to_owned();
    };
    let mut parts = rest.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(line), Some(column), Some(what)) if column.parse::<u32>().is_ok() => {
            let what = what.trim();
            let what = match what.strip_prefix("Syntax error: ") {
                Some(detail) => format!("syntax error: {detail}"),
                None => what.to_owned(),
            };
            let (label, detail) = what.split_once(": ").unwrap_or((what.as_str(), ""));
            let at = if line == "1" {
                format!("at character {column}")
            } else {
                format!("at line {line}, character {column}")
            };
            if detail.is_empty() {
                format!("{label} {at}")
            } else {
                format!("{label} {at}: {detail}")
            }
        }
        _ => text.to_owned(),
    }
}

/// The first number of a 5- or 6-field expression outside its field's range, named with the
/// field (`hour 25 is outside 0-23`); names (`MON`), `L`, `W`, `#` and `?` are left to the
/// cron parser.
fn out_of_range_field(expression: &str) -> Option<String> {
    const FIELDS: [(&str, u32, u32); 6] = [
        ("second", 0, 59),
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of month", 1, 31),
        ("month", 1, 12),
        ("day of week", 0, 7),
    ];
    let values: Vec<&str> = expression.split_whitespace().collect();
    let fields = match values.len() {
        5 => &FIELDS[1..],
        6 => &FIELDS[..],
        _ => return None,
    };
    for (value, &(name, low, high)) in values.iter().zip(fields) {
        for item in value.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            if let Some(step) = step.and_then(|s| s.parse::<u32>().ok())
                && step == 0
            {
                return Some(format!("the step of the {name} field must be at least 1"));
            }
            for number in range.split('-') {
                if let Ok(n) = number.parse::<u32>()
                    && !(low..=high).contains(&n)
                {
                    return Some(format!("{name} {n} is outside {low}-{high}"));
                }
            }
        }
    }
    None
}

fn workflow(
    c: &mut Checker,
    rw: &RawWorkflow,
    key: &str,
    d: &WorkflowDefaults,
    envs: &BTreeMap<String, Environment>,
) -> Option<Workflow> {
    let before = c.issues.len();
    let name = rw.name.value.clone();
    if !valid_name(&name) {
        c.issue_at(
            &rw.name,
            &format!("{key}.name"),
            format!("`{name}` is not a valid name (letters, digits, -, _ and .)"),
        );
    }
    let tz = match &rw.timezone {
        Some(tz) => timezone(c, tz, &format!("{key}.timezone")),
        None => Some(d.timezone),
    };
    let schedule = rw
        .schedule
        .as_ref()
        .and_then(|s| match parse_cron(&s.value) {
            Ok(cron) => tz.map(|timezone| Schedule {
                expression: s.value.clone(),
                cron,
                timezone,
            }),
            Err(message) => {
                c.issue_at(s, &format!("{key}.schedule"), message);
                None
            }
        });
    let environments: Vec<String> = match &rw.environments {
        Some(list) if list.is_empty() => {
            c.issue(&format!("{key}.environments"), "lists no environment");
            Vec::new()
        }
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, e)| known_env(c, envs, e, &format!("{key}.environments[{i}]")))
            .collect(),
        None => d.environments.clone(),
    };
    let timeout = rw
        .timeout
        .as_ref()
        .and_then(|t| c.duration(t, &format!("{key}.timeout")))
        .unwrap_or(d.timeout);
    let retries = rw.retries.as_ref().map_or(d.retries, |r| {
        c.retries(r, &format!("{key}.retries"), d.retries)
    });
    let variables = c.variables(&rw.variables, key);
    let thresholds = rw
        .thresholds
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let path = format!("{key}.thresholds[{i}]");
            if t.metric.value.trim().is_empty() {
                c.issue_at(&t.metric, &format!("{path}.metric"), "names no metric");
                return None;
            }
            if !t.max.value.is_finite() || t.max.value < 0.0 {
                c.issue_at(
                    &t.max,
                    &format!("{path}.max"),
                    "must be a number of at least 0",
                );
                return None;
            }
            Some(Threshold {
                metric: t.metric.value.clone(),
                max: t.max.value,
                soft: t.soft,
            })
        })
        .collect();
    if rw.steps.is_empty() {
        c.issue_at(
            &rw.name,
            &format!("{key}.steps"),
            "a workflow needs at least one step",
        );
    }
    let mut step_names = BTreeSet::new();
    let mut read = Vec::new();
    for (raw_steps, section, cleanup) in
        [(&rw.steps, "steps", false), (&rw.cleanup, "cleanup", true)]
    {
        for (i, rs) in raw_steps.iter().enumerate() {
            let path = format!("{key}.{section}[{i}]");
            let step = step(c, rs, &path, d.step_timeout, &mut step_names);
            read.push(ReadStep {
                raw: rs,
                path,
                step,
                cleanup,
            });
        }
    }
    check_variables(c, &read, &environments, &variables, envs);
    if c.issues.len() != before {
        return None;
    }
    let (cleanup, steps): (Vec<ReadStep>, Vec<ReadStep>) =
        read.into_iter().partition(|s| s.cleanup);
    Some(Workflow {
        name,
        description: rw.description.clone(),
        schedule,
        environments,
        timeout,
        retries,
        variables,
        thresholds,
        tags: rw.tags.clone(),
        steps: steps.into_iter().filter_map(|s| s.step).collect(),
        cleanup: cleanup.into_iter().filter_map(|s| s.step).collect(),
    })
}

/// A step of a workflow as read, kept whether or not it has problems, so that the variable
/// check sees every step.
struct ReadStep<'a> {
    raw: &'a RawStep,
    /// Its key path, e.g. `workflows[0].cleanup[1]`.
    path: String,
    /// The step as converted; `None` when its action could not be read (no kind or several).
    /// A step with other problems is here too (its faulty values left out or emptied), which
    /// the caller knows from the problems collected.
    step: Option<Step>,
    cleanup: bool,
}

/// The names a step captures into, as written, even when the step or a source is faulty.
fn captures<'a>(step: &ReadStep<'a>) -> impl Iterator<Item = &'a str> {
    step.raw.capture.keys().map(String::as_str)
}

/// Converts a step, collecting its problems; `None` only when it has no action to convert
/// (not exactly one of http, command or health).
fn step(
    c: &mut Checker,
    rs: &RawStep,
    key: &str,
    default_timeout: Duration,
    names: &mut BTreeSet<String>,
) -> Option<Step> {
    let name = rs.name.value.trim().to_owned();
    if name.is_empty() {
        c.issue_at(&rs.name, &format!("{key}.name"), "a step needs a name");
    } else if !names.insert(name.clone()) {
        c.issue_at(
            &rs.name,
            &format!("{key}.name"),
            format!("step `{name}` is already defined in this workflow"),
        );
    }
    let kinds = [rs.http.is_some(), rs.command.is_some(), rs.health.is_some()]
        .iter()
        .filter(|k| **k)
        .count();
    if kinds != 1 {
        c.issue_at(
            &rs.name,
            key,
            "a step needs exactly one of http, command or health",
        );
        return None;
    }
    let action = if let Some(h) = &rs.http {
        let method = h
            .method
            .as_ref()
            .map_or_else(|| "GET".to_owned(), |m| m.value.to_ascii_uppercase());
        if let Some(m) = &h.method
            && !HTTP_METHODS.contains(&method.as_str())
        {
            c.issue_at(
                m,
                &format!("{key}.http.method"),
                format!(
                    "`{}` is not an HTTP method ({})",
                    m.value,
                    HTTP_METHODS.join(", ")
                ),
            );
        }
        let url = c.template(&h.url, &format!("{key}.http.url"));
        check_url(c, &h.url, &format!("{key}.http.url"));
        let headers = pairs(c, &h.headers, &format!("{key}.http.headers"));
        let query = pairs(c, &h.query, &format!("{key}.http.query"));
        let bodies = [h.json.is_some(), h.form.is_some(), h.body.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if bodies > 1 {
            c.issue_at(
                &h.url,
                &format!("{key}.http"),
                "give at most one of json, form or body",
            );
        }
        let body = if let Some(json) = &h.json {
            let value = expand_json(c, &json.value, &format!("{key}.http.json"));
            if let Err(message) = json_variables(&value) {
                c.issue_at(json, &format!("{key}.http.json"), message);
            }
            Some(RequestBody::Json(value))
        } else if let Some(form) = &h.form {
            Some(RequestBody::Form(pairs(
                c,
                form,
                &format!("{key}.http.form"),
            )))
        } else {
            h.body.as_ref().map(|b| RequestBody::Raw {
                content: c.template(b, &format!("{key}.http.body")),
                content_type: h.content_type.clone(),
            })
        };
        StepAction::Http(HttpRequest {
            method,
            url,
            headers,
            query,
            body,
            follow_redirects: h.follow_redirects.unwrap_or(true),
            verify_tls: h.verify_tls.unwrap_or(true),
        })
    } else if let Some(cmd) = &rs.command {
        if cmd.run.is_empty() {
            c.issue_at(
                &rs.name,
                &format!("{key}.command.run"),
                "names no program: write run: [program, arg, ...]",
            );
        }
        let argv = cmd
            .run
            .iter()
            .enumerate()
            .map(|(i, a)| c.template(a, &format!("{key}.command.run[{i}]")))
            .collect();
        StepAction::Command(CommandSpec {
            argv,
            workdir: cmd.workdir.as_ref().map(PathBuf::from),
            env: pairs(c, &cmd.env, &format!("{key}.command.env")),
            junit: cmd.junit.as_ref().map(PathBuf::from),
        })
    } else {
        let h = rs.health.as_ref().expect("one kind");
        let expected_status = match &h.expected_status {
            Some(s) if !(100..=599).contains(&s.value) => {
                c.issue_at(
                    s,
                    &format!("{key}.health.expected_status"),
                    format!("{} is not an HTTP status", s.value),
                );
                200
            }
            Some(s) => s.value,
            None => 200,
        };
        check_url(c, &h.url, &format!("{key}.health.url"));
        StepAction::Health(HealthProbe {
            url: c.template(&h.url, &format!("{key}.health.url")),
            expected_status,
            degraded_after: h
                .degraded_after
                .as_ref()
                .and_then(|d| c.duration(d, &format!("{key}.health.degraded_after"))),
            headers: pairs(c, &h.headers, &format!("{key}.health.headers")),
        })
    };
    for (i, a) in rs.assertions.iter().enumerate() {
        if let Err(e) = cel::Program::compile(&a.value) {
            let message = expression_error(&e.to_string());
            c.issue_at(
                a,
                &format!("{key}.assert[{i}]"),
                format!("`{}` is not a valid expression: {message}", a.value),
            );
        }
    }
    let mut captures = Vec::new();
    for (var, source) in &rs.capture {
        let path = format!("{key}.capture.{var}");
        if !crate::template::Template::parse(&format!("{{{{ {var} }}}}"))
            .is_ok_and(|t| t.variables().count() == 1)
        {
            c.issue_at(
                source,
                &path,
                format!("`{var}` is not a valid variable name"),
            );
            continue;
        }
        match capture_source(&source.value) {
            Ok(source) => captures.push(Capture {
                name: var.clone(),
                source,
            }),
            Err(message) => c.issue_at(source, &path, message),
        }
    }
    let timeout = rs
        .timeout
        .as_ref()
        .and_then(|t| c.duration(t, &format!("{key}.timeout")))
        .unwrap_or(default_timeout);
    Some(Step {
        name,
        action,
        assertions: rs.assertions.iter().map(|a| a.value.clone()).collect(),
        captures,
        timeout,
        continue_on_failure: rs.continue_on_failure,
    })
}

/// Reads `$.json.path`, `header:Name` or `regex:pattern`.
fn capture_source(text: &str) -> Result<CaptureSource, String> {
    if let Some(name) = text.strip_prefix("header:") {
        let name = name.trim();
        if name.is_empty() {
            return Err("`header:` names no header".into());
        }
        Ok(CaptureSource::Header(name.to_ascii_lowercase()))
    } else if let Some(pattern) = text.strip_prefix("regex:") {
        regex::Regex::new(pattern)
            .map(CaptureSource::Regex)
            .map_err(|e| format!("`{pattern}` is not a valid regular expression: {e}"))
    } else if text.starts_with('$') {
        serde_json_path::JsonPath::parse(text)
            .map(CaptureSource::JsonPath)
            .map_err(|e| format!("`{text}` is not a valid JSONPath: {e}"))
    } else {
        Err(format!(
            "`{text}`: write a JSONPath ($.user.id), header:NAME or regex:PATTERN"
        ))
    }
}

fn check_url(c: &mut Checker, url: &Spanned<String>, path: &str) {
    let text = url.value.trim_start();
    if !(text.starts_with("http://") || text.starts_with("https://") || text.starts_with("{{")) {
        c.issue_at(url, path, format!("`{}` is not an http(s) URL", url.value));
    }
}

fn pairs(
    c: &mut Checker,
    map: &BTreeMap<String, Spanned<String>>,
    path: &str,
) -> Vec<(String, Template)> {
    map.iter()
        .map(|(k, v)| (k.clone(), c.template(v, &format!("{path}.{k}"))))
        .collect()
}

fn expand_json(c: &mut Checker, value: &serde_json::Value, path: &str) -> serde_json::Value {
    match value {
        serde_json::Value::String(s) => serde_json::Value::String(c.expand(s, None, path)),
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| expand_json(c, v, &format!("{path}[{i}]")))
                .collect(),
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), expand_json(c, v, &format!("{path}.{k}"))))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every `{{ name }}` must be defined, in each environment the workflow runs in, by the
/// environment's variables, the workflow's, or a capture of an earlier step (any main step,
/// and any earlier cleanup step, for cleanup steps). Runs whatever other problems the workflow has, so that they show together,
/// without adding problems those cause: a step whose action could not be read is not checked,
/// a value that is not a valid template refers to nothing, a capture counts as defined when
/// its step or its source is faulty, and only the environments that exist are checked.
fn check_variables(
    c: &mut Checker,
    steps: &[ReadStep<'_>],
    environments: &[String],
    variables: &BTreeMap<String, String>,
    envs: &BTreeMap<String, Environment>,
) {
    let all_captures: BTreeSet<&str> = steps
        .iter()
        .filter(|s| !s.cleanup)
        .flat_map(captures)
        .collect();
    for env_name in environments {
        let env = &envs[env_name];
        let mut known: BTreeSet<&str> = env
            .variables
            .keys()
            .map(String::as_str)
            .chain(variables.keys().map(String::as_str))
            .collect();
        known.insert("environment");
        known.insert("workflow");
        known.insert("run_id");
        for read in steps {
            if let Some(step) = &read.step {
                for var in step_variables(step) {
                    let defined = known.contains(var.as_str())
                        || (read.cleanup && all_captures.contains(var.as_str()));
                    if !defined {
                        c.issue_at(
                            &read.raw.name,
                            &read.path,
                            format!(
                                "variable `{var}` is not defined for environment `{env_name}`: set it under \
                                 environments.{env_name}.variables or the workflow's variables, or capture it in an earlier step"
                            ),
                        );
                    }
                }
            }
            // Cleanup steps run after every main step, in order, with the same variables:
            // a cleanup step's capture is there for the cleanup steps after it.
            known.extend(captures(read));
        }
    }
}

fn step_variables(step: &Step) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |t: &Template| out.extend(t.variables().map(str::to_owned));
    match &step.action {
        StepAction::Http(h) => {
            add(&h.url);
            h.headers.iter().chain(&h.query).for_each(|(_, t)| add(t));
            match &h.body {
                Some(RequestBody::Form(form)) => form.iter().for_each(|(_, t)| add(t)),
                Some(RequestBody::Raw { content, .. }) => add(content),
                Some(RequestBody::Json(v)) => json_references(v, &mut out),
                None => {}
            }
        }
        StepAction::Command(cmd) => {
            cmd.argv.iter().for_each(&mut add);
            cmd.env.iter().for_each(|(_, t)| add(t));
        }
        StepAction::Health(h) => {
            add(&h.url);
            h.headers.iter().for_each(|(_, t)| add(t));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The references of every string of a JSON body that is a valid template (a faulty one,
/// reported when the body was read, refers to nothing).
fn json_references(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => {
            if let Ok(t) = Template::parse(s) {
                out.extend(t.variables().map(str::to_owned));
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_references(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| json_references(v, out)),
        _ => {}
    }
}
