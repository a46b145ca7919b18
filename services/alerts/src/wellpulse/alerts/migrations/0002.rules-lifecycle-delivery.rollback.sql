DROP TABLE alerts.deliveries;
DROP TABLE alerts.contacts;
DROP TABLE alerts.alert_events;
DROP TABLE alerts.alerts;
DROP TABLE alerts.subtree_rollups;
DROP TABLE alerts.own_rollups;
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
