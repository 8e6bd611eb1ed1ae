-- Alerting and the notification outbox: which configured channel a notification goes to,
-- when its next attempt is due, which instance is sending it (a claim with an expiry, so a
-- crashed sender's notifications are taken over), and when an alert was last notified
-- (reminders, and whether a recovery is worth announcing).
ALTER TABLE notification_logs
    ADD COLUMN channel_name TEXT,
    ADD COLUMN next_attempt_at TIMESTAMPTZ(3),
    ADD COLUMN claimed_by TEXT,
    ADD COLUMN claimed_until TIMESTAMPTZ(3);
ALTER TABLE alerts ADD COLUMN last_notified_at TIMESTAMPTZ(3);
CREATE INDEX notification_logs_outbox_idx ON notification_logs (status, next_attempt_at);
