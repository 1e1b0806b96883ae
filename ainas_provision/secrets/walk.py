"""Where the secrets of a manifest are: every secret field in use, found by the schema's paths.

The schema says which fields are secrets (they refer to ``#/$defs/secret``);
:func:`iter_secret_values` expands their paths
(``sites.*.registered.batch_account.batch_password``) over a merged manifest and yields each
value's place, so that the caller can read or replace it. The manifest cache uses it to keep
files holding plain-text secrets out of the cache; validation uses it to resolve every secret.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ainas_provision import schema as manifest_schema


def iter_secret_values(merged: Mapping) -> Iterator[tuple[tuple, Mapping, str]]:
    """(concrete path, the mapping holding the value, its key) for every secret in use."""
    for pattern in manifest_schema.secret_paths():
        yield from _expand(merged, pattern, ())


def _expand(node, pattern: tuple, done: tuple):
    if not isinstance(node, dict):
        return
    head, rest = pattern[0], pattern[1:]
    keys = list(node) if head == "*" else ([head] if head in node else [])
    for key in keys:
        if not rest:
            if node[key] is not None:
                yield (*done, key), node, key
        else:
            yield from _expand(node[key], rest, (*done, key))
