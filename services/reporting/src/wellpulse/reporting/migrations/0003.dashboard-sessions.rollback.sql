DROP TABLE dashboard_sessions;
DROP TABLE dashboard_sign_ins;
