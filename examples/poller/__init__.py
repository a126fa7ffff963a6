"""Prices polled from an HTTP API into a realm (README.md)."""
