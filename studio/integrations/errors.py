"""Errors of the integrations layer."""

from __future__ import annotations


class IntegrationError(Exception):
    """Base class of all errors of ``studio.integrations``."""
