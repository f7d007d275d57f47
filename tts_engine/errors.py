"""The engine's per-request error: shared by the parsers, the batcher and the Triton adapter."""

from __future__ import annotations


class RequestError(ValueError):
    """One request is invalid; it gets its own error response and never fails its batch."""
