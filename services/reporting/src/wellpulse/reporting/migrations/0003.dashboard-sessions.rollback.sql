DROP TABLE reporting.dashboard_sessions;
DROP TABLE reporting.dashboard_sign_ins;
