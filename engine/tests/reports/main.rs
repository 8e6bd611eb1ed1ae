//! Monitoring reports over fixtures with known answers, on SQLite and PostgreSQL: every
//! figure below is computed by hand from the rows `fixture` writes.

mod db;
mod delivery;
mod figures;
mod legacy;
#[path = "../alerting/receivers.rs"]
#[allow(dead_code)] // shared with the alerting tests, which use all of it
mod receivers;
mod schedules;
mod tags;
