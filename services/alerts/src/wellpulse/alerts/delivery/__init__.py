"""Delivery transports for HR alerts: what a notice says, how it is signed and sent, and when to try again."""
