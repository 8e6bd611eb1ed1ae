//! The configuration file as written: serde structs that mirror the YAML, with positions
//! (`Spanned`) on every value a later check may need to point at. Their fields are the keys a
//! file may hold: `read` reports any other key (`deny_unknown_fields` guards the structs when
//! they are read directly).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// A whole file (or one file of a configuration folder).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub scheduler: RawScheduler,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default)]
    pub environments: BTreeMap<String, RawEnvironment>,
    #[serde(default)]
    pub workflows: Vec<RawWorkflow>,
    #[serde(default)]
    pub alerts: crate::alerting::RawAlerts,
    #[serde(default)]
    pub notifications: crate::notify::RawNotifications,
    #[serde(default)]
    pub reports: Vec<crate::reports::RawReport>,
    #[serde(default)]
    pub slos: Vec<crate::slo::RawSlo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub url: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheduler {
    pub concurrency: Option<Spanned<u32>>,
    pub shutdown_grace: Option<Spanned<String>>,
    pub instance_id: Option<String>,
    pub lease: Option<Spanned<String>>,
    pub buffer: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<Spanned<String>>,
    pub public_url: Option<Spanned<String>>,
    pub auth: Option<RawAuth>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub enabled: Option<bool>,
    pub session_lifetime: Option<Spanned<String>>,
    pub metrics_open: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub timeout: Option<Spanned<String>>,
    pub step_timeout: Option<Spanned<String>>,
    pub retries: Option<RawRetries>,
    pub environments: Option<Vec<Spanned<String>>>,
    pub timezone: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    pub description: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkflow {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub schedule: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub environments: Option<Vec<Spanned<String>>>,
    pub timeout: Option<Spanned<String>>,
    pub retries: Option<RawRetries>,
    #[serde(default)]
    pub variables: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub thresholds: Vec<RawThreshold>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub steps: Vec<RawStep>,
    #[serde(default)]
    pub cleanup: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetries {
    pub attempts: Spanned<u32>,
    pub backoff: Option<Spanned<String>>,
    pub initial: Option<Spanned<String>>,
    pub max: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    pub metric: Spanned<String>,
    pub max: Spanned<f64>,
    #[serde(default = "yes")]
    pub soft: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: Spanned<String>,
    pub http: Option<RawHttp>,
    pub command: Option<RawCommand>,
    pub health: Option<RawHealth>,
    #[serde(default, rename = "assert")]
    pub assertions: Vec<Spanned<String>>,
    #[serde(default)]
    pub capture: BTreeMap<String, Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub continue_on_failure: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub method: Option<Spanned<String>>,
    pub url: Spanned<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub query: BTreeMap<String, Spanned<String>>,
    pub json: Option<Spanned<serde_json::Value>>,
    pub form: Option<BTreeMap<String, Spanned<String>>>,
    pub body: Option<Spanned<String>>,
    pub content_type: Option<String>,
    pub follow_redirects: Option<bool>,
    pub verify_tls: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommand {
    pub run: Vec<Spanned<String>>,
    pub workdir: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    pub junit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub url: Spanned<String>,
    pub expected_status: Option<Spanned<u16>>,
    pub degraded_after: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
}
