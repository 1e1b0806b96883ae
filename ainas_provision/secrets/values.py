"""A secret value in memory: it can be used, but not shown, logged, compared or pickled."""

from __future__ import annotations


class Secret:
    """A resolved secret. ``str()``/``repr()`` show where it came from, never the value; only
    :meth:`reveal` gives the value, to the code that sends it to AINAS or fingerprints it."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source  # e.g. "{env: AKIHABARA_ARRIVAL_PW}": names, never values

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self):
        raise TypeError("a secret cannot be pickled")

    def __eq__(self, other: object) -> bool:  # compare fingerprints, not values
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
