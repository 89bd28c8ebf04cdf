"""Tokens never reach a log: Werkzeug's request log and gunicorn's access log show the path with
`?token=(hidden)`, so a log shared for help, or read by another user, hands out no control link."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger as GunicornLogger

HIDDEN = "(hidden)"

QUERY_IN_TEXT = re.compile(r"\?([^\s\"'#]*)")


def redact_query(query: str) -> str:
    """A query string with the value of every `token` parameter replaced by (hidden).

    Keys are compared decoded (`%74oken` is `token` to Flask), values are not decoded at all.
    """
    pairs = []
    for pair in query.split("&"):
        key, sep, _ = pair.partition("=")
        pairs.append(f"{key}={HIDDEN}" if sep and unquote_plus(key) == "token" else pair)
    return "&".join(pairs)


def redact(text: str) -> str:
    """Every URL query in a log line (request line, Referer, ...) with its token hidden."""
    if "?" not in text:
        return text
    return QUERY_IN_TEXT.sub(lambda m: "?" + redact_query(m.group(1)), text)


class TokenRedactor(logging.Filter):
    """On the 'werkzeug' logger, which writes each request line with `%s` arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


def hide_tokens_in_werkzeug_log() -> None:
    """Install the redactor once per process (create_app may run many times, as in tests)."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, TokenRedactor) for f in logger.filters):
        logger.addFilter(TokenRedactor())


class RedactingGunicornLogger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's logger, whose access log atoms (%(r)s, %(q)s, %(f)s, %({raw_uri}e)s, ...) never
    carry a token; set as `logger_class` in gunicorn.conf.py."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if not isinstance(value, str):
                continue
            if key in ("q", "{query_string}e"):
                atoms[key] = redact_query(value)
            elif key == "{authorization}i":
                atoms[key] = HIDDEN
            else:
                atoms[key] = redact(value)
        return atoms
