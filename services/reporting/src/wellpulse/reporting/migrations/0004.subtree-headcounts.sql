-- depends: 0002.subtree-rollups
-- Each unit's headcount with every live unit below it, kept at write time (common.orgtree), so a
-- trend's response rate is one indexed read instead of a walk over the unit's whole subtree.

ALTER TABLE org_units ADD COLUMN subtree_headcount bigint NOT NULL DEFAULT 0;

WITH RECURSIVE below AS (
    SELECT unit_id AS top, unit_id, 0 AS depth FROM org_units
    UNION ALL
    SELECT b.top, o.unit_id, b.depth + 1 FROM below b JOIN org_units o ON o.parent_id = b.unit_id
    WHERE NOT o.removed AND b.depth < 64
)
UPDATE org_units t SET subtree_headcount = s.headcount
FROM (SELECT b.top, sum(o.headcount) AS headcount FROM below b JOIN org_units o USING (unit_id) GROUP BY b.top) s
WHERE t.unit_id = s.top;
