"""Pulse intake: the org tree, weekly pulse rounds, and anonymous responses onto Kafka."""
