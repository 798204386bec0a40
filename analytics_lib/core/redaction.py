"""REDACTION_DOC
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Mapping


#: Placeholder of a hidden credential.
MASK = "***"
#: Environment variable with ``{redacted: real}`` for the values a process may reveal.
SECRETS_ENV = "WORKBENCH_SECRETS"
_SECRET_WORDS = ("password", "passwd", "pwd", "pass", "sslpassword", "secret", "client_secret", "token",
                 "access_token", "refresh_token", "id_token", "api_key", "apikey", "access_key", "secret_key",
                 "sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
                 "x-goog-signature", "credential", "credentials", "auth")
_WORDS = "|".join(sorted((re.escape(w) for w in _SECRET_WORDS), key=len, reverse=True))
#: ``scheme://user:password@`` (the password may hold anything but ``@``, ``/`` and spaces).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s'\"]*):(?P<pw>[^@\s/'\"]+)@")
#: ``?password=...``, ``&token=...``, ``password=...`` in a connection string or a command line.
_KEY_VALUE = re.compile(rf"(?i)(?P<key>(?<![\w.-])(?:{_WORDS}))(?P<eq>\s*=\s*)(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;,'\"#)]+)")
_SECRET_KEY = re.compile(rf"(?i)^(?:{_WORDS})$|(?:^|[_-])(?:password|passwd|secret|token|api_?key|credentials?)$")


def redact(value: Any) -> Any:
    """Hide credentials in a text or in a structure of texts (dicts, lists, tuples).

    Strings lose URL passwords, credential query parameters and ``password=`` pairs;
    dictionary entries whose key names a secret (``password``, ``token``, ``api_key``...) lose
    their value; other values are returned unchanged.

    Examples
    --------
    >>> redact("cannot read postgresql+psycopg://ana:s3cret@db:5432/x")
    'cannot read postgresql+psycopg://ana:***@db:5432/x'
    >>> redact("postgresql://db/x?user=ana&password=s3cret&sslmode=require")
    'postgresql://db/x?user=ana&password=***&sslmode=require'
    >>> redact("host=db dbname=x password='a b'")
    'host=db dbname=x password=***'
    >>> redact({"source": "mysql://u:p@h/d", "password": "p", "rows": 3, "tokens_in": 5})
    {'source': 'mysql://u:***@h/d', 'password': '***', 'rows': 3, 'tokens_in': 5}
    """
    if isinstance(value, str):
        if "=" not in value and "@" not in value:
            return value
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", value)
        return _KEY_VALUE.sub(lambda m: f"{m['key']}{m['eq']}{MASK}", text)
    if isinstance(value, Mapping):
        return {k: (MASK if isinstance(k, str) and _SECRET_KEY.search(k) and isinstance(v, str) and v
                    else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


def secret_references(values: Mapping[str, Any]) -> dict[str, str]:
    """``{redacted: real}`` for every string in ``values`` that :func:`redact` changes.

    The job runner passes the redacted values to the notebook and this map to the kernel's
    environment (:data:`SECRETS_ENV`), where :func:`reveal` reads it.

    Examples
    --------
    >>> secret_references({"source": "postgresql://u:pw@h/d", "team": "a"})
    {'postgresql://u:***@h/d': 'postgresql://u:pw@h/d'}
    """
    out = {}
    for v in values.values():
        for text in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(text, str) and redact(text) != text:
                out[redact(text)] = text
    return out


def reveal(value: str) -> str:
    """The real value behind a redacted one this process was given (:data:`SECRETS_ENV`), else ``value``.

    Examples
    --------
    >>> os.environ[SECRETS_ENV] = json.dumps({"postgresql://u:***@h/d": "postgresql://u:pw@h/d"})
    >>> reveal("postgresql://u:***@h/d"), reveal("sqlite:///x.db")
    ('postgresql://u:pw@h/d', 'sqlite:///x.db')
    >>> del os.environ[SECRETS_ENV]
    """
    if MASK not in value:
        return value
    try:
        known = json.loads(os.environ.get(SECRETS_ENV) or "{}")
    except ValueError:
        return value
    return known.get(value, value) if isinstance(known, dict) else value
