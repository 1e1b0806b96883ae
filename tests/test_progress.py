"""Progress printing stays cheap for a large apply: the bar is redrawn at most every REDRAW
seconds, and a log of a large apply has one line per finished change."""

from __future__ import annotations

import threading

import click

from ainas_provision.cli import progress as progress_module
from ainas_provision.cli.progress import STARTED_LINES_UP_TO, Progress


def test_a_log_of_a_small_apply_shows_starts_and_ends(capsys):
    p = Progress(3, "applying", tty=False)
    for n in range(3):
        p.started(f"user.u{n}: creating…")
        p.advance(f"user.u{n}: created", n + 1)
    p.close()
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["user.u0: creating…", "user.u0: created [1/3]"]
    assert len(out) == 6


def test_a_log_of_a_large_apply_shows_finished_changes_only(capsys):
    total = STARTED_LINES_UP_TO + 1
    p = Progress(total, "applying", tty=False)
    for n in range(total):
        p.started(f"user.u{n}: creating…")
        p.advance(f"user.u{n}: created", n + 1)
    p.close()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == total
    assert out[-1] == f"user.u{total - 1}: created [{total}/{total}]"


def test_the_bar_is_redrawn_at_most_every_redraw_seconds(monkeypatch):
    draws: list[int] = []

    class Bar:
        pos = 0

        def __init__(self, **kwargs) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

        def update(self, n: int) -> None:
            self.pos += n
            draws.append(n)

    clock = [0.0]
    monkeypatch.setattr(click, "progressbar", lambda **kw: Bar(**kw))
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    p = Progress(1000, "applying", tty=True)
    for n in range(1000):
        clock[0] += 0.001  # a change finishes every millisecond
        p.advance(f"user.u{n}: created", n + 1)
    p.close()
    assert sum(draws) == 1000  # every item counted
    assert len(draws) <= 1000 * 0.001 / progress_module.REDRAW + 2  # about 10, not 1,000


def test_a_log_of_a_large_apply_writes_its_lines_in_batches_and_none_is_left_behind(
    monkeypatch, capsys
):
    total = STARTED_LINES_UP_TO + 50
    writes: list[str] = []
    echo = click.echo
    monkeypatch.setattr(
        click, "echo", lambda text="", **kw: (writes.append(text), echo(text, **kw))
    )
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    p = Progress(total, "applying", tty=False)
    for n in range(total - 1):
        clock[0] += 0.001  # a change finishes every millisecond
        p.advance(f"user.u{n}: created", n + 1)
    # nothing more finishes for a while: the timer writes what waits
    for _ in range(1000):
        if writes:
            break
        threading.Event().wait(0.01)
    assert len(writes) == 1  # the 99 lines in one write
    p.line("user.u99: failed: refused [100/100]", err=True)
    p.close()
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(writes) == 1 and len(lines) == total - 1  # each finished line once
    assert lines[0] == f"user.u0: created [1/{total}]"
    assert lines[-1] == f"user.u98: created [99/{total}]"
    assert captured.err == "user.u99: failed: refused [100/100]\n"
