"""Reporting: rollups per unit, ISO week and measure; trends for a unit subtree with k applied."""
