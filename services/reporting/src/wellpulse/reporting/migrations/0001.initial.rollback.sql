DROP TABLE rollups;
DROP TABLE applied_events;
DROP TABLE org_units;
