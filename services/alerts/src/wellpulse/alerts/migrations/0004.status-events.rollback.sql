DROP INDEX alerts.alert_events_outbox;
ALTER TABLE alerts.alert_events DROP COLUMN published;
