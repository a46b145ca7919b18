-- Alerts as reporting counts them, projected from pulse.alerts: which unit, which family, the
-- window's last week, and where HR has got to with it. Never the findings, nor who handled it.
-- No name carries a schema: the one being migrated holds it.
CREATE TABLE alerts (
    alert_id   uuid PRIMARY KEY,
    unit_id    text NOT NULL,
    rule       text NOT NULL,
    family     text NOT NULL,
    -- The last week of the window it was raised for; null while only its handling has been seen.
    window_end date,
    status     text NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    -- The highest transition applied (0: raised), so a redelivered or older one changes nothing.
    status_seq integer NOT NULL DEFAULT 0
);
CREATE INDEX alerts_live ON alerts (unit_id) WHERE status <> 'resolved';
CREATE INDEX alerts_by_window ON alerts (window_end);
