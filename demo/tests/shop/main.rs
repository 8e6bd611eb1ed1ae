//! The demo shop end to end: started on 127.0.0.1 with a free port, driven through a real
//! HTTP client, and monitored with the bundled example configuration.

mod accounts;
mod api;
mod cart_orders;
mod catalogue;
mod examples;
mod inbox;
mod service;
