-- The organisation's own benchmark for a window of weeks, kept once taken: taking it reads every
-- team's rows for the window (about a million at 15,000 teams), and a leader's heatmap must not.
-- A kept benchmark is used while the roots' scale counts over its window are what they were
-- when it was taken (any response counted into the window changes them); a change to the tree
-- deletes every kept benchmark in the same transaction, and a rebuild's swap empties the table.
-- No name carries a schema: the one being migrated holds it.
CREATE TABLE team_benchmarks (
    first_week date NOT NULL,
    last_week  date NOT NULL,
    -- The units that were roots when it was taken, and the sum of their subtree counts for the
    -- HSE scale measures over the window then: the benchmark's fingerprint.
    roots      text[] NOT NULL,
    responses  bigint NOT NULL,
    -- Per scale with enough teams: {"p20": …, "p50": …, "p80": …, "units": …}.
    lines      jsonb NOT NULL,
    taken_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (first_week, last_week)
);
