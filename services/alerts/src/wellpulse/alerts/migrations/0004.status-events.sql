-- HR's acknowledging and resolving an alert go onto pulse.alerts too (as AlertStatusChanged), so
-- reporting can count open alerts. Each transition row is its own outbox entry; a raised row is
-- published as the alert itself (alerts.published). Transitions made before this migration are
-- published once it runs.
ALTER TABLE alerts.alert_events ADD COLUMN published boolean NOT NULL DEFAULT false;
UPDATE alerts.alert_events SET published = true WHERE action = 'raised';
CREATE INDEX alert_events_outbox ON alerts.alert_events (at) WHERE NOT published;
