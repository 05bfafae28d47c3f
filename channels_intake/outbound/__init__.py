"""Outbound delivery: one sender per channel, and the outbox task that calls them."""
