"""Secrets kept out of reports: results.json, the HTML report and the diff are handed on (to whoever signs off an
upgrade), so a credential in a host's daemon settings (a proxy URL with a password, a token) is masked before it
is recorded. What is masked says so; the rest of the setting stays, so the reader still sees what was configured."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|credential|auth|private", re.IGNORECASE)
URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<password>[^@/\s]+)@", re.IGNORECASE
)


def redact(value: Any, key: str = "") -> Any:
    """The value with secrets masked: the values of keys that name a secret, and passwords in URLs."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if SECRET_KEY.search(key) and value:
            return MASK
        return URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", value)
    return value
