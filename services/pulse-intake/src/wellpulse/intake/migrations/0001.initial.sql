-- Intake owns the org tree (as imported) and the weekly pulse rounds.

CREATE TABLE intake.org_units (
    unit_id   text PRIMARY KEY,
    parent_id text REFERENCES intake.org_units (unit_id) DEFERRABLE INITIALLY DEFERRED,
    name      text NOT NULL,
    headcount integer NOT NULL CHECK (headcount >= 0)
);

CREATE TABLE intake.rounds (
    pulse_id     text PRIMARY KEY,
    iso_week     text NOT NULL UNIQUE,
    items        text[] NOT NULL,
    bank_version text NOT NULL,
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_on    date NOT NULL DEFAULT current_date
);
