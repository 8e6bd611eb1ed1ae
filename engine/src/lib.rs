//! wfmon's engine: the configuration, workflow definitions, templates and the runner; the
//! scheduler, alerting, notifications and reports grow here, each in its own module.

pub mod alerting;
pub mod config;
pub mod events;
pub mod executor;
pub mod notify;
pub mod recorder;
pub mod reports;
pub mod runner;
pub mod scheduler;
pub mod slo;
pub mod telemetry;
pub mod template;
pub mod trigger;
pub mod workflow;
pub mod writer;
