"""Validate one path under a hard memory limit and report what happened, as JSON.

``python -m tests.reliability.probe LIMIT_MB PATH`` caps the address space of this process at
LIMIT_MB (``RLIMIT_AS``: libyaml's and every other allocation counts, not only Python's) and
prints ``{"rules": [...], "errors": E, "longest": N, "seconds": S, "peak_mb": M}``. A ``MemoryError``
prints ``{"error": "MemoryError"}`` and exits 3; any other exception is a traceback and exit 1.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def peak_mb() -> int:
    """This process's peak resident memory (Linux's VmHWM: since exec, unlike ru_maxrss, which
    keeps the peak of the forking parent's image)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> int:
    limit = int(sys.argv[1]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from ainas_provision.validation.engine import validate

    started = time.monotonic()
    try:
        validation = validate(Path(sys.argv[2]), env={})
    except MemoryError:
        print(json.dumps({"error": "MemoryError"}))
        return 3
    report = {
        "rules": sorted({d.rule for d in validation.diagnostics}),
        "errors": len(validation.errors),
        "longest": max((len(str(d)) for d in validation.diagnostics), default=0),
        "seconds": round(time.monotonic() - started, 2),
        "peak_mb": peak_mb(),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
