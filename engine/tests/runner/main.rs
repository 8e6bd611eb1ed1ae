//! The runner end to end: workflows read through the real configuration path, run against
//! real HTTP servers on 127.0.0.1 and real programs.

mod app;
mod command_steps;
mod health_steps;
mod http_faults;
mod http_steps;
mod secret_encodings;
