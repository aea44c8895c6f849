"""Argument types with ranges: a bad number or an empty path is a one-line usage error before any work.

Example:
>>> parser.add_argument("--steps", type=integer(minimum=1))
>>> parser.add_argument("--heldout-fraction", type=number(minimum=0, below=1))
"""

from __future__ import annotations

import argparse
import math


def integer(minimum: int | None = None, maximum: int | None = None):
    """An int in [minimum, maximum] (either bound optional)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def number(
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
):
    """A finite float with optional inclusive (`minimum`, `maximum`) and exclusive (`above`, `below`)
    bounds; `nan` and `inf` are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, got {value:g}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}, got {value:g}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"must be greater than {above:g}, got {value:g}")
        if below is not None and value >= below:
            raise argparse.ArgumentTypeError(f"must be less than {below:g}, got {value:g}")
        return value

    parse.__name__ = "number"
    return parse


def path(text: str) -> str:
    """A file or directory name: not empty (an empty name would mean the current directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL character")
    return text


SEED = integer(minimum=0, maximum=2**32 - 1)  # numpy and Keras seeds
COUNT = integer(minimum=1)
ALL_OR_COUNT = integer(minimum=0)  # 0 = no limit
WORKERS = integer(minimum=1, maximum=1024)


def add_paths(parser, **helps) -> None:
    """A required `--name PATH` argument per keyword, in order (underscores become dashes).

    Example:
    >>> add_paths(parser, data="prepared dataset directory", workdir="work directory")
    """
    for name, text in helps.items():
        parser.add_argument(f"--{name.replace('_', '-')}", required=True, type=path, help=text)
