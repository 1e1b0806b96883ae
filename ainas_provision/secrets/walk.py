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
    """(concrete path, the mapping holding the value, its key) for every secret in use, in
    the order of the schema's paths, then of the manifest's keys."""
    found: list[tuple[tuple, Mapping, str]] = []
    for pattern in manifest_schema.secret_paths():
        if isinstance(merged, dict):
            _collect(merged, pattern, 0, (), found)
    return iter(found)


def _collect(node: dict, pattern: tuple, index: int, done: tuple, found: list) -> None:
    # a plain recursive function filling one list: 20,000 users' passwords through nested
    # generators would cost a generator frame per level and per value
    head = pattern[index]
    if head == "*":
        keys = list(node)
    elif head in node:
        keys = [head]
    else:
        return
    last = index == len(pattern) - 1
    for key in keys:
        value = node[key]
        if last:
            if value is not None:
                found.append(((*done, key), node, key))
        elif isinstance(value, dict):
            _collect(value, pattern, index + 1, (*done, key), found)
