-- depends: 0001.initial
-- Every alert family, k counted in people, a lifecycle and delivery to HR.
--
-- The weekly counts of 0001 counted only intent to leave; rollups now keep every measure a rule
-- reads, per unit subtree and week, so the alerts of 0001 and their counts are replaced (rebuild by
-- replaying pulse.scored: reset the consumer group wellpulse-alerts.scored to the earliest offset).

DROP TABLE alerts.unit_week_counts;
DROP TABLE alerts.alerts;

-- What each unit's own respondents contributed, per ISO week (its Monday) and measure. The source
-- from which a subtree's rollups are rebuilt when the tree changes.
CREATE TABLE alerts.own_rollups (
    unit_id    text NOT NULL,
    week_start date NOT NULL,
    measure    text NOT NULL,
    n          bigint NOT NULL,
    total      double precision NOT NULL,
    total_sq   double precision NOT NULL,
    PRIMARY KEY (unit_id, week_start, measure)
);

-- The same, summed over each unit's whole subtree (itself and everything below), kept at write
-- time: a directorate's or the organisation's week is one indexed read.
CREATE TABLE alerts.subtree_rollups (
    unit_id    text NOT NULL,
    week_start date NOT NULL,
    measure    text NOT NULL,
    n          bigint NOT NULL,
    total      double precision NOT NULL,
    total_sq   double precision NOT NULL,
    PRIMARY KEY (unit_id, week_start, measure)
);

CREATE TABLE alerts.alerts (
    alert_id          uuid PRIMARY KEY,
    rule              text NOT NULL,
    family            text NOT NULL,
    unit_id           text NOT NULL,
    unit_name         text NOT NULL,
    title             text NOT NULL,
    -- The window the alert was raised for, and its figures then. Figures never change after: a
    -- figure that moved with every new response would give each response away by difference.
    window_start      date NOT NULL,
    window_end        date NOT NULL,
    -- The fewest people who contributed in any week of the window: always at least k.
    people            integer NOT NULL CHECK (people > 0),
    findings          jsonb NOT NULL,
    -- What the figures disclosed: per measure, per ISO week, how many contributed. Checked before
    -- any later alert of the same rule on the same chain, so two alerts never difference to < k.
    disclosed         jsonb NOT NULL,
    -- The last week of the latest window in which the condition still held.
    still_holds_week  date NOT NULL,
    first_step        text NOT NULL,
    changes           text[] NOT NULL,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    raised_at         timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz,
    resolution_note   text,
    -- The alert for the same unit and rule this one follows, when the condition came back.
    follows           uuid REFERENCES alerts.alerts (alert_id),
    published         boolean NOT NULL DEFAULT false
);
-- One live alert per unit and rule: HR resolves it before the same rule can raise it again.
CREATE UNIQUE INDEX alerts_one_live_per_unit_rule ON alerts.alerts (rule, unit_id) WHERE status <> 'resolved';
CREATE INDEX alerts_by_unit_rule ON alerts.alerts (unit_id, rule, raised_at DESC);
CREATE INDEX alerts_outbox ON alerts.alerts (raised_at) WHERE NOT published;

-- Every transition, with who made it: raised and updated by the system, acknowledged and
-- resolved by an HR user (their token's subject).
CREATE TABLE alerts.alert_events (
    alert_id uuid NOT NULL REFERENCES alerts.alerts (alert_id),
    seq      integer NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    action   text NOT NULL CHECK (action IN ('raised', 'acknowledged', 'resolved')),
    note     text,
    PRIMARY KEY (alert_id, seq)
);

-- The HR contacts alerts go to: every contact whose units include the alert's unit or one of its
-- ancestors. Webhook secrets are Standard Webhooks secrets (whsec_...), several during rotation.
CREATE TABLE alerts.contacts (
    contact_id      text PRIMARY KEY,
    name            text NOT NULL,
    email           text,
    webhook_url     text,
    webhook_secrets text[] NOT NULL DEFAULT '{}',
    units           text[] NOT NULL,
    CHECK (email IS NOT NULL OR webhook_url IS NOT NULL)
);

-- The delivery outbox: written in the same transaction as the alert, so raising an alert and
-- scheduling its deliveries commit together. A relay claims due rows under a lease.
CREATE TABLE alerts.deliveries (
    delivery_id     uuid PRIMARY KEY,
    alert_id        uuid NOT NULL REFERENCES alerts.alerts (alert_id),
    contact_id      text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    target          text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    UNIQUE (alert_id, contact_id, channel)
);
CREATE INDEX deliveries_due ON alerts.deliveries (next_attempt_at) WHERE status = 'pending';
