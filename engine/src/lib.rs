//! wfmon's engine. Today it holds the configuration file (`config`); the runner, scheduler,
//! alerting, notifications and reports grow here, each in its own module.

pub mod config;
