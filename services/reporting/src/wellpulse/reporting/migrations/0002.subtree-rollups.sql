-- depends: 0001.initial
-- Rollups per unit subtree kept at write time (common.rollups): a directorate's or the whole
-- organisation's week is one indexed read, and trends decide each cell with the shared
-- disclosure control. What each unit's own respondents contributed stays, as own_rollups.

ALTER TABLE rollups RENAME TO own_rollups;
ALTER TABLE own_rollups RENAME CONSTRAINT rollups_pkey TO own_rollups_pkey;
ALTER INDEX rollups_week RENAME TO own_rollups_week;

CREATE TABLE subtree_rollups (
    unit_id    text NOT NULL,
    week_start date NOT NULL,
    measure    text NOT NULL,
    n          bigint NOT NULL,
    total      double precision NOT NULL,
    total_sq   double precision NOT NULL,
    PRIMARY KEY (unit_id, week_start, measure)
);

-- Every unit's subtree from the own rows, as the tree stands; a unit the tree does not know
-- stands alone.
INSERT INTO subtree_rollups (unit_id, week_start, measure, n, total, total_sq)
WITH RECURSIVE below AS (
    SELECT unit_id AS top, unit_id FROM org_units
    UNION ALL
    SELECT b.top, o.unit_id FROM below b JOIN org_units o ON o.parent_id = b.unit_id
)
SELECT b.top, r.week_start, r.measure, sum(r.n), sum(r.total), sum(r.total_sq)
FROM below b JOIN own_rollups r USING (unit_id)
GROUP BY b.top, r.week_start, r.measure;

INSERT INTO subtree_rollups (unit_id, week_start, measure, n, total, total_sq)
SELECT r.unit_id, r.week_start, r.measure, r.n, r.total, r.total_sq
FROM own_rollups r
WHERE NOT EXISTS (SELECT 1 FROM org_units o WHERE o.unit_id = r.unit_id);
