"""The fetcher as a ``studio notifier`` handler::

    FETCH_ALLOW=https://api.example.com/ studio notifier --server URL --password-file pw \\
        --data notifier-data --handler '^/fetch/=examples.fetcher.handler:fetch'

A device writes ``FetchRequest {_id, url}`` into a realm under ``/fetch/``; the
answer (``status``, ``contentType``, ``body`` or ``error``) comes back in the same
object. ``FETCH_ALLOW`` lists the URL prefixes that may be fetched (comma separated).
"""

from __future__ import annotations

import os

from studio.integrations import FETCH_REQUEST_SCHEMA, Fetcher

SCHEMA = [FETCH_REQUEST_SCHEMA]

fetch = Fetcher(allow=os.environ.get("FETCH_ALLOW", "http://127.0.0.1:8000/").split(","))
