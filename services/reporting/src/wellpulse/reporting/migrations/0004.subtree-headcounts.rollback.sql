ALTER TABLE reporting.org_units DROP COLUMN subtree_headcount;
