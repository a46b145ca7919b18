DROP TABLE reporting.subtree_rollups;
ALTER INDEX reporting.own_rollups_week RENAME TO rollups_week;
ALTER TABLE reporting.own_rollups RENAME CONSTRAINT own_rollups_pkey TO rollups_pkey;
ALTER TABLE reporting.own_rollups RENAME TO rollups;
