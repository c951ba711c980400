"""Integration out: the CloudEvents outbox and feed, webhook subscriptions and their deliverer."""
