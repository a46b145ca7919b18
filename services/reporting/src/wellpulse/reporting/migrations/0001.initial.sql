-- Reporting's read model: the org tree, the events applied, and rollups that make a dashboard
-- query cost the same at ten thousand or a hundred million stored responses.
-- No name carries a schema: yoyo's search_path puts every table in the schema being migrated,
-- `reporting`, or `reporting_rebuild` while `wellpulse-reporting rebuild` builds a fresh copy.

CREATE TABLE org_units (
    unit_id   text PRIMARY KEY,
    parent_id text,
    name      text NOT NULL,
    headcount integer NOT NULL CHECK (headcount >= 0),
    removed   boolean NOT NULL DEFAULT false
);
CREATE INDEX org_units_parent ON org_units (parent_id);

-- Idempotence: an event applied once is never counted again, however often it is delivered.
CREATE TABLE applied_events (
    event_id   uuid PRIMARY KEY,
    applied_on date NOT NULL DEFAULT current_date
);

-- One row per submitting unit, ISO week (its Monday) and measure: 'responses', 'scale:<hse scale>',
-- 'item:<code>', 'family:<value>'. n, sum and sum of squares give count, mean and spread for any
-- union of units without touching a single response.
CREATE TABLE rollups (
    unit_id    text NOT NULL,
    week_start date NOT NULL,
    measure    text NOT NULL,
    n          bigint NOT NULL,
    total      double precision NOT NULL,
    total_sq   double precision NOT NULL,
    PRIMARY KEY (unit_id, week_start, measure)
);
CREATE INDEX rollups_week ON rollups (week_start);
