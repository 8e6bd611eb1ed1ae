-- Alerting and the notification outbox: which configured channel a notification goes to,
-- when its next attempt is due, which instance is sending it (a claim with an expiry, so a
-- crashed sender's notifications are taken over), and when an alert was last notified
-- (reminders, and whether a recovery is worth announcing).
ALTER TABLE notification_logs ADD COLUMN channel_name TEXT;
ALTER TABLE notification_logs ADD COLUMN next_attempt_at TEXT;
ALTER TABLE notification_logs ADD COLUMN claimed_by TEXT;
ALTER TABLE notification_logs ADD COLUMN claimed_until TEXT;
ALTER TABLE alerts ADD COLUMN last_notified_at TEXT;
CREATE INDEX notification_logs_outbox_idx ON notification_logs (status, next_attempt_at);
