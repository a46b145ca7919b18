ALTER TABLE alerts.org_units DROP COLUMN subtree_headcount;
