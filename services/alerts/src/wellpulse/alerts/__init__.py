"""Alerts: threshold rules over scored responses, alert state and its outbox to ``pulse.alerts``."""
