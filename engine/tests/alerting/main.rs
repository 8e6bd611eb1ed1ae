//! Alerting and notifications end to end: channels against real receivers on 127.0.0.1
//! (HTTP servers playing Slack, Discord, Teams, PagerDuty and a webhook; an SMTP listener),
//! and the evaluator with the outbox sender on a real database.

mod channels;
mod outbox;
mod receivers;
mod scenarios;
