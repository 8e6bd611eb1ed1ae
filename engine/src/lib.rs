//! wfmon's engine: the configuration, workflow definitions and templates; the runner,
//! scheduler, alerting, notifications and reports grow here, each in its own module.

pub mod config;
pub mod template;
pub mod workflow;
