"""Benchmark: what hostile files and templates cost before they are refused.

Each case runs the real ``validate`` in its own process and prints its exit code, wall time
and peak memory (the child's maximum resident set): a device or FIFO named as a manifest or a
secret, a link out of the manifest directory, template memory bombs through string methods,
format widths and filters (each of which would take gigabytes if built), and a CSV cell that
tries to add a 拠点管理者. Every hostile file and template must end in a diagnostic (exit 1)
as fast as a plain run and with no more memory; the CSV cell must stay the one name it is in.

    python bench/hostile.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORGANIZATION = (
    'version: 1\norganization:\n  id: "30001"\npolicy:\n  allow_plaintext_secrets: true\n'
)
BOMBS = [
    "'x'.ljust(999999999)",
    "'1'.zfill(999999999)",
    "'%0999999999d' % 1",
    "'%0999999999d' | format(1)",
    "'{:999999999}'.format(1)",
    "'{:{w}}'.format(1, w=999999999)",
    "'x' | center(999999999)",
    "range(100000) | join('x' * 1000000)",
    "('x' * 1000000).replace('x', 'xxx')",
]


def peak_of_child(command: list[str], cwd: Path, env: dict) -> tuple[int, float, int, str]:
    """(exit code, seconds, peak kB, last stderr line) of one run in a fresh process."""
    script = (
        "import resource, subprocess, sys, json\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([p.returncode, peak, (p.stderr.strip().splitlines() or [''])[0]]))\n"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", script, *command], cwd=cwd, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    code, peak, line = json.loads(out.stdout)
    return code, elapsed, peak, line


def cases(root: Path) -> list[tuple[str, Path]]:
    made = []

    def directory(name: str) -> Path:
        path = root / name
        path.mkdir()
        (path / "organization.yaml").write_text(ORGANIZATION, encoding="utf-8")
        return path

    plain = directory("plain")
    made.append(("a plain manifest (reference)", plain))
    zero = directory("zero")
    (zero / "zero.yaml").symlink_to("/dev/zero")
    made.append(("manifest -> /dev/zero", zero))
    fifo = directory("fifo")
    os.mkfifo(fifo / "pipe.yaml")
    made.append(("manifest that is a FIFO", fifo))
    secret = directory("secret")
    (secret / "users.yaml").write_text(
        "version: 1\nsites:\n  a: {name: 本店, short_name: 本店}\nusers:\n"
        "  abcdef: {name: 担当, role: 担当者(送信可), site: a, initial_password: {file: /dev/zero}}\n",
        encoding="utf-8",
    )
    made.append(("{file: /dev/zero} secret", secret))
    environ = directory("environ")
    (environ / "env.j2").symlink_to("/proc/self/environ")
    (environ / "t.yaml.j2").write_text("version: 1\n{% include 'env.j2' %}\n", encoding="utf-8")
    made.append(("include -> /proc/self/environ", environ))
    for number, expression in enumerate(BOMBS):
        bomb = directory(f"bomb{number}")
        (bomb / "t.yaml.j2").write_text(f"x: {{{{ {expression} }}}}\n", encoding="utf-8")
        made.append((f"template {{{{ {expression} }}}}", bomb))
    bulk = root / "bulk"
    shutil.copytree(REPO / "examples" / "bulk-onboarding", bulk)
    csv = (bulk / "branches.csv").read_text(encoding="utf-8").splitlines()
    cells = csv[1].split(",")
    cells[-1] = '"林　花子\n  evil-kanri:\n    name: 悪意\n    role: 拠点管理者\n    site: sby02"'
    csv[1] = ",".join(cells)
    (bulk / "branches.csv").write_text("\n".join(csv) + "\n", encoding="utf-8")
    made.append(("CSV cell adding a 拠点管理者", bulk))
    return made


def main() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    demo = subprocess.run(
        ["sh", str(REPO / "examples" / "bulk-onboarding" / "demo-env.sh")],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in demo.stdout.splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = value
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for label, path in cases(Path(tmp)):
            command = [sys.executable, "-m", "ainas_provision", "validate", str(path)]
            rows.append((label, *peak_of_child(command, Path(tmp), env)))
        rendered = subprocess.run(
            [sys.executable, "-m", "ainas_provision", "render", "--format", "json", "bulk"],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
        )
        users = json.loads(rendered.stdout)["manifest"]["users"]
    width = max(len(row[0]) for row in rows)
    print(f"{'case':<{width}}  exit  seconds  peak MB  first diagnostic")
    for label, code, seconds, peak_kb, line in rows:
        print(f"{label:<{width}}  {code:>4}  {seconds:7.2f}  {peak_kb / 1024:7.0f}  {line[:90]}")
    print(
        f"after the CSV cell: {len(users)} users, 'evil-kanri' "
        f"{'PRESENT' if 'evil-kanri' in users else 'absent'}; the cell is the name of "
        f"sjk01-tanto01: {users['sjk01-tanto01']['name']!r}"
    )


if __name__ == "__main__":
    main()
