"""Errors of Underlag: each says what went wrong and what to do about it."""

from __future__ import annotations


class UnderlagError(Exception):
    """Base of every error Underlag raises on purpose."""


class ConfigError(UnderlagError):
    """A setting has a value Underlag cannot use."""


class IngestError(UnderlagError):
    """A document or the whole ingest could not be processed."""


class IndexMismatchError(UnderlagError):
    """The index was built with another embedder than the one configured."""


class IndexMissingError(UnderlagError):
    """There is no index yet; run an ingest first."""


class IndexUnavailableError(UnderlagError):
    """The index (for example a Chroma server) cannot be reached."""


class IngestLockedError(UnderlagError):
    """Another ingest holds the index lock."""


class LLMUnavailable(UnderlagError):
    """The configured language model cannot be reached or failed to answer."""


class InputError(UnderlagError):
    """A question or request that Underlag refuses to process as given."""
