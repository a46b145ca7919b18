"""Shared contracts and helpers for WellPulse services."""
