-- Alerts' own schema: the org tree it climbs, the events it has applied, weekly counts per unit,
-- and the alerts themselves (which double as the outbox to pulse.alerts).

CREATE TABLE alerts.org_units (
    unit_id   text PRIMARY KEY,
    parent_id text,
    name      text NOT NULL,
    headcount integer NOT NULL CHECK (headcount >= 0),
    removed   boolean NOT NULL DEFAULT false
);
CREATE INDEX org_units_parent ON alerts.org_units (parent_id);

-- Idempotence: an event applied once is never applied again, however often it is delivered.
CREATE TABLE alerts.applied_events (
    event_id   uuid PRIMARY KEY,
    applied_on date NOT NULL DEFAULT current_date
);

-- Counts per submitting unit and ISO week (week_start is its Monday). No answers are kept here.
CREATE TABLE alerts.unit_week_counts (
    unit_id        text NOT NULL,
    week_start     date NOT NULL,
    respondents    integer NOT NULL,
    leave_answered integer NOT NULL,
    leavers        integer NOT NULL,
    PRIMARY KEY (unit_id, week_start)
);

CREATE TABLE alerts.alerts (
    alert_id     uuid PRIMARY KEY,
    rule         text NOT NULL,
    unit_id      text NOT NULL,
    window_start date NOT NULL,
    window_end   date NOT NULL,
    respondents  integer NOT NULL,
    value        double precision NOT NULL,
    threshold    double precision NOT NULL,
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    raised_on    date NOT NULL DEFAULT current_date,
    published    boolean NOT NULL DEFAULT false
);
-- One live alert per unit and rule: HR resolves it before the same rule can raise it again.
CREATE UNIQUE INDEX alerts_one_live_per_unit_rule ON alerts.alerts (rule, unit_id)
    WHERE status <> 'resolved';
CREATE INDEX alerts_outbox ON alerts.alerts (raised_on) WHERE NOT published;
