"""Progress of long work: a bar with counts on a terminal, plain lines otherwise (CI logs)."""

from __future__ import annotations

import sys
import threading

import click


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
            if self._bar is not None:
                click.echo("", err=False)
            click.secho(text, fg=color, err=err)

    def started(self, text: str) -> None:
        with self._lock:
            if self._bar is None:
                click.echo(text)

    def advance(self, text: str, done: int, *, color: str | None = None) -> None:
        with self._lock:
            if self._bar is None:
                click.secho(f"{text} [{done}/{self.total}]", fg=color)
            else:
                self._current = text
                self._bar.update(1)

    def skip(self) -> None:
        """Count an item that did not finish well (its line was printed already)."""
        with self._lock:
            if self._bar is not None:
                self._bar.update(1)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.__exit__(None, None, None)
                self._bar = None
