"""Errors a connector raises, mapped one to one onto the WIT ``connector-error`` variant.

Raise :class:`InvalidConfigError` for a configuration that cannot work (the host fails the
connector or task without retrying), :class:`RetriableError` for a transient condition (the host
retries the same call; for ``put`` the same batch) and :class:`ConnectError` (or any other
exception) for everything else: the task fails with the message and, for unexpected exceptions,
the Python traceback as its trace.
"""

import traceback


class ConnectError(Exception):
    """Kafka Connect's ``ConnectException``: fails the connector or task (WIT ``fatal``)."""

    kind = "fatal"


class InvalidConfigError(ConnectError):
    """Kafka Connect's ``ConfigException``: the configuration cannot work (WIT ``invalid-config``)."""

    kind = "invalid-config"


class RetriableError(ConnectError):
    """Kafka Connect's ``RetriableException``: try the same call again (WIT ``retriable``)."""

    kind = "retriable"


class DataError(ConnectError):
    """Kafka Connect's ``DataException``: a value does not fit its schema, or malformed data."""


def describe_exception(error: BaseException) -> "tuple[str, str]":
    """The WIT error kind and message for ``error``.

    A :class:`ConnectError` keeps its own message (with the chained cause, if any); any other
    exception becomes ``fatal`` with its full Python traceback, so nothing is dropped silently.
    """
    if isinstance(error, ConnectError):
        message = str(error) or type(error).__name__
        cause = error.__cause__ or error.__context__
        if cause is not None and not isinstance(cause, ConnectError):
            trace = "".join(traceback.format_exception(cause))
            message = f"{message}\nCaused by: {trace.rstrip()}"
        return error.kind, message
    trace = "".join(traceback.format_exception(error)).rstrip()
    return "fatal", f"{type(error).__name__}: {error}\n{trace}"
