"""Devices fetch from an HTTP API through the server (README.md)."""
