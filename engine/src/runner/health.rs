//! Health probes: a GET whose status and speed make the endpoint HEALTHY, DEGRADED or
//! UNHEALTHY. Connection errors and timeouts are UNHEALTHY answers, not crashes.

use std::collections::BTreeMap;
use std::time::Duration;

use wfmon_model::HealthStatus;

use super::http::{self, Exchange, HttpClients};
use super::outcome::HealthOutcome;
use super::redact::Redactor;
use super::units::{human, millis};
use crate::workflow::{HealthProbe, HttpRequest};

/// A finished probe: its health record and, when the endpoint answered, the answer.
pub(crate) struct Probe {
    /// The health check.
    pub health: HealthOutcome,
    /// The answer, for assertions and captures.
    pub exchange: Option<Exchange>,
    /// Whether the step's timeout expired.
    pub timed_out: bool,
}

/// Probes the endpoint; `Err` when the probe could not even be sent (bad URL, missing
/// variable): that is a problem of the workflow, not of the endpoint.
pub(crate) async fn probe(
    spec: &HealthProbe,
    vars: &BTreeMap<String, String>,
    clients: &mut HttpClients,
    redactor: &mut Redactor,
    body_cap: usize,
    timeout: Duration,
) -> Result<Probe, String> {
    let request = HttpRequest {
        method: "GET".into(),
        url: spec.url.clone(),
        headers: spec.headers.clone(),
        query: Vec::new(),
        body: None,
        follow_redirects: true,
        verify_tls: true,
    };
    let prepared = http::prepare(&request, vars, clients, redactor).map_err(|f| f.message)?;
    let endpoint = prepared.shown.trim_start_matches("GET ").to_owned();
    let shown = prepared.shown.clone();
    let mut health = HealthOutcome {
        endpoint,
        status: HealthStatus::Unhealthy,
        response_time_ms: 0,
        expected_status: spec.expected_status,
        actual_status: None,
        error: None,
    };
    let answer = tokio::time::timeout(timeout, http::send(prepared, body_cap, redactor)).await;
    let (exchange, timed_out) = match answer {
        Err(_) => {
            health.response_time_ms = millis(timeout);
            health.error = Some(format!(
                "{shown}: no answer within {} (step timeout)",
                human(timeout)
            ));
            (None, true)
        }
        Ok(Err(failure)) => {
            health.response_time_ms = failure.elapsed_ms.unwrap_or(0);
            health.error = Some(failure.message);
            (None, false)
        }
        Ok(Ok(exchange)) => {
            health.response_time_ms = exchange.response_time_ms;
            health.actual_status = Some(exchange.status);
            (health.status, health.error) = judge(spec, &exchange);
            (Some(exchange), false)
        }
    };
    Ok(Probe {
        health,
        exchange,
        timed_out,
    })
}

/// The endpoint's health from its answer.
fn judge(spec: &HealthProbe, exchange: &Exchange) -> (HealthStatus, Option<String>) {
    if exchange.status != spec.expected_status {
        return (
            HealthStatus::Unhealthy,
            Some(format!(
                "expected status {}, got {}",
                spec.expected_status, exchange.status
            )),
        );
    }
    match spec.degraded_after {
        Some(limit) if u128::from(exchange.response_time_ms) > limit.as_millis() => (
            HealthStatus::Degraded,
            Some(format!(
                "answered in {} ms, slower than degraded_after {}",
                exchange.response_time_ms,
                human(limit)
            )),
        ),
        _ => (HealthStatus::Healthy, None),
    }
}
