"""Progress of long work: a bar with counts on a terminal, plain lines otherwise (CI logs).

Printing is kept cheap for a large apply, whose changes finish hundreds a second from several
threads: the bar is redrawn at most every REDRAW seconds (and at the end), and in a log a large
apply prints one line per finished change, without the line for its start, written a batch at a
time — the lines of the changes finished within REDRAW seconds in one write, the last ones by a
timer when nothing more finishes (a line is still only ever written after its change was
recorded; one not yet written was not reported).
"""

from __future__ import annotations

import sys
import threading
import time

import click

# seconds between two redraws of the bar
REDRAW = 0.1
# above this many items, a log shows finished items only
STARTED_LINES_UP_TO = 50


class Progress:
    """Counts finished items out of ``total``. On a terminal, one bar that redraws itself and
    names the latest item; elsewhere, one line per item, which reads well in a CI log."""

    def __init__(self, total: int, label: str, *, tty: bool | None = None) -> None:
        self.total = total
        self.label = label
        self.tty = sys.stdout.isatty() if tty is None else tty
        self._lock = threading.Lock()
        self._bar = None
        self._current = ""
        self._pending = 0  # items finished since the bar was last drawn
        self._drawn = 0.0
        self._log: list[str] = []  # finished lines not yet written (a log of a large apply)
        self._written = time.monotonic()
        self._timer: threading.Timer | None = None  # writes what waits when nothing follows
        if self.tty and total:
            self._bar = click.progressbar(
                length=total,
                label=label,
                show_pos=True,
                show_percent=False,
                item_show_func=lambda _: self._current,
            )
            self._bar.__enter__()

    def line(self, text: str, *, color: str | None = None, err: bool = False) -> None:
        """A line that is not progress (a failure): printed in both modes."""
        with self._lock:
            self._write_log()  # what finished before it is printed before it
            if self._bar is not None:
                click.echo("", err=False)
            click.secho(text, fg=color, err=err)

    def started(self, text: str) -> None:
        if self._bar is None and self.total <= STARTED_LINES_UP_TO:
            with self._lock:
                click.echo(text)

    def _write_log(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._log:
            click.echo("\n".join(self._log))
            self._log = []
        self._written = time.monotonic()

    def _write_later(self) -> None:
        with self._lock:
            self._timer = None
            self._write_log()

    def _step(self) -> None:
        """Count one item on the bar; redraw when REDRAW seconds have passed (or at the end)."""
        self._pending += 1
        now = time.monotonic()
        if now - self._drawn >= REDRAW or self._bar.pos + self._pending >= self.total:
            self._bar.update(self._pending)
            self._pending, self._drawn = 0, now

    def advance(self, text: str, done: int, *, color: str | None = None) -> None:
        with self._lock:
            if self._bar is None:
                line = click.style(f"{text} [{done}/{self.total}]", fg=color)
                if self.total <= STARTED_LINES_UP_TO:  # a small apply: each line as it comes
                    click.echo(line)
                    return
                self._log.append(line)
                if time.monotonic() - self._written >= REDRAW or done >= self.total:
                    self._write_log()
                elif self._timer is None:
                    self._timer = threading.Timer(REDRAW, self._write_later)
                    self._timer.daemon = True
                    self._timer.start()
            else:
                self._current = text
                self._step()

    def skip(self) -> None:
        """Count an item that did not finish well (its line was printed already)."""
        with self._lock:
            if self._bar is not None:
                self._step()

    def close(self) -> None:
        with self._lock:
            self._write_log()
            if self._bar is not None:
                if self._pending:
                    self._bar.update(self._pending)
                    self._pending = 0
                self._bar.__exit__(None, None, None)
                self._bar = None
