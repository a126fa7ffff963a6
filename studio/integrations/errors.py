"""Errors of the integrations layer."""

from __future__ import annotations


class IntegrationError(Exception):
    """Base class of all errors of ``studio.integrations``."""


class NotifierError(IntegrationError):
    """The notifier cannot run: bad settings, or its data directory is unusable."""


class HandlerSpecError(NotifierError):
    """A ``--handler`` argument or handler registration that cannot be used."""


class DequeuerError(IntegrationError):
    """The dequeuer cannot run: a bad queue name or setting."""


class PollerError(IntegrationError):
    """The poller cannot use what the API answered (not a list of objects with keys)."""


class FetcherError(IntegrationError):
    """A fetch request the fetcher refuses (a URL outside the allowed prefixes)."""


class AdapterError(IntegrationError):
    """The PostgreSQL adapter cannot run: bad settings, or PostgreSQL refused its tables."""


class BadRowError(AdapterError):
    """A row written by SQL that the realm cannot hold (it goes to the dead letters)."""
