"""Scoring: turns each anonymous response into HSE scale means and alert-family values."""
