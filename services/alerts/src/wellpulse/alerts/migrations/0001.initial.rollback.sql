DROP TABLE alerts.alerts;
DROP TABLE alerts.unit_week_counts;
DROP TABLE alerts.applied_events;
DROP TABLE alerts.org_units;
