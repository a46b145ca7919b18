ALTER TABLE org_units DROP COLUMN subtree_headcount;
