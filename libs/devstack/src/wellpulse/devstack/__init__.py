"""Development stack: real PostgreSQL and a real Kafka-protocol broker on loopback, no Docker."""
