"""What a command module hands to the registry in `exporter.cli.app`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO, TypeAlias

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time
    Subparsers = argparse._SubParsersAction


def _never(args: argparse.Namespace) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    add_parser: Callable[[Subparsers], object]
    """Registers the subcommand (`sub.add_parser(name, ...)`) and its options."""
    run: Callable[[argparse.Namespace, TextIO], int]
    """Does the work; returns the exit code (raise `usecases.UsageError` for exit 2)."""
    long_running: Callable[[argparse.Namespace], bool] = _never
    """True: the cyclic garbage collector keeps running (a one-shot command builds one
    large object graph, writes it out and exits: the collector is paused meanwhile)."""
    exit_fast: bool = False
    """The console script ends with os._exit instead of tearing the heap down object by
    object (half a second after a 100k-pod scan): for one-shot commands only."""
