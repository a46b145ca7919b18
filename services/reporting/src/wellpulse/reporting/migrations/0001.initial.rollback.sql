DROP TABLE reporting.rollups;
DROP TABLE reporting.applied_events;
DROP TABLE reporting.org_units;
