DROP TABLE subtree_rollups;
ALTER INDEX own_rollups_week RENAME TO rollups_week;
ALTER TABLE own_rollups RENAME CONSTRAINT own_rollups_pkey TO rollups_pkey;
ALTER TABLE own_rollups RENAME TO rollups;
