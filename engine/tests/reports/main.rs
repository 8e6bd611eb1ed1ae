//! Monitoring reports over fixtures with known answers, on SQLite and PostgreSQL: every
//! figure below is computed by hand from the rows `fixture` writes.

mod db;
mod figures;
mod legacy;
mod schedules;
