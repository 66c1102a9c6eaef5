"""Third-party logs during a run: quiet the HTTP stack's per-request lines, redact every key."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from abo_vqa.qa.remote.errors import Redactor

# Loggers of the HTTP stack and the SDKs: one INFO line per request would drown the progress bar.
THIRD_PARTY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "google_genai", "openai")


class _RedactingFilter(logging.Filter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


@contextmanager
def guarded_third_party_logs(redact: Redactor) -> Iterator[None]:
    """For the duration of a run: quiet the HTTP stack's per-request INFO lines (unless their
    level was set explicitly), and redact keys from every record that reaches a handler of the
    root logger or of those loggers (handler filters also see records from child loggers)."""
    log_filter = _RedactingFilter(redact)
    loggers = [logging.getLogger(name) for name in THIRD_PARTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    handlers = {h for lg in [logging.getLogger(), *loggers] for h in lg.handlers}
    for logger in loggers:
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    for handler in handlers:
        handler.addFilter(log_filter)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        for handler in handlers:
            handler.removeFilter(log_filter)
