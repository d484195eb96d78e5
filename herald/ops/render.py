"""Output for people and for scripts.

Results go to stdout: a rich table on a terminal, plain aligned columns when stdout is not a
terminal (pipes, files, CI logs), or JSON with ``--json``. Notes, warnings and progress go to
stderr, so ``--json`` output and plain output can be piped as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


class Output:
    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False, soft_wrap=False)
        self.errors = Console(stderr=True, highlight=False)

    @property
    def rich(self) -> bool:
        """Tables and colour only for a person at a terminal."""
        return not self.as_json and self.console.is_terminal

    def data(self, value: Any) -> None:
        click.echo(json.dumps(value, indent=2, ensure_ascii=False))

    def line(self, text: str = "") -> None:
        click.echo(text)

    def note(self, text: str) -> None:
        if self.errors.is_terminal:
            self.errors.print(Text(text, style="dim"))
        else:
            click.echo(text, err=True)

    def warn(self, text: str) -> None:
        if self.errors.is_terminal:
            self.errors.print(Text(f"warning: {text}", style="yellow"))
        else:
            click.echo(f"warning: {text}", err=True)

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        title: str | None = None,
        right: Sequence[str] = (),
    ) -> None:
        """A table; columns named in ``right`` are right-aligned (numbers)."""
        if self.rich:
            table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
            for name in columns:
                table.add_column(name, justify="right" if name in right else "left", overflow="fold")
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))  # Text: cells are data, never markup
            self.console.print(table)
            return
        if title:
            click.echo(title)
        widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(columns)]
        for row in [list(columns), *rows]:
            cells = [
                cell.rjust(width) if name in right else cell.ljust(width)
                for cell, width, name in zip(row, widths, columns, strict=True)
            ]
            click.echo("  ".join(cells).rstrip())

    def pairs(self, rows: Sequence[tuple[str, str]], title: str | None = None) -> None:
        """Name/value lines (one dead letter)."""
        if self.rich:
            table = Table(title=title, box=None, show_header=False, title_justify="left", title_style="bold")
            table.add_column(style="bold")
            table.add_column(overflow="fold")
            for name, value in rows:
                table.add_row(Text(name), Text(value))
            self.console.print(table)
            return
        if title:
            click.echo(title)
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            click.echo(f"  {name.ljust(width)}  {value}")

    @contextmanager
    def status(self, text: str) -> Iterator[Any]:
        """A live line on a terminal's stderr (rich's status spinner); nothing otherwise."""
        if self.errors.is_terminal and not self.as_json:
            with self.errors.status(text) as live:
                yield live
        else:
            yield None
