-- depends: 0001.initial
-- The roster (only to send links), one-time links (only a keyed hash of each token), and the
-- organisation's support signposts. Nothing here links an address to a link.

CREATE TABLE intake.roster (
    email   text PRIMARY KEY,
    unit_id text NOT NULL REFERENCES intake.org_units (unit_id) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE intake.links (
    token_hash bytea PRIMARY KEY,
    pulse_id   text NOT NULL REFERENCES intake.rounds (pulse_id),
    unit_id    text NOT NULL,
    -- The day only: a finer time could be matched against the order links were sent in.
    spent_on   date
);
CREATE INDEX links_round ON intake.links (pulse_id);

ALTER TABLE intake.rounds ADD COLUMN links_issued integer NOT NULL DEFAULT 0;
ALTER TABLE intake.rounds ADD COLUMN closed_on date;

CREATE TABLE intake.signposts (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    document  jsonb NOT NULL
);
