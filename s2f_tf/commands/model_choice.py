"""Which model `s2f generate` and `s2f app` run: `--model`, else the demo's export, else the bundled one."""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_MODEL = "savedmodels/s2f_demo"  # where `s2f demo` exports; its highest version is used


def add_model_argument(parser) -> None:
    parser.add_argument(
        "--model",
        help="SavedModel version directory (savedmodels/NAME/N), model base path (its highest"
        " version), .tflite file, or 'bundled': the model shipped with the package (a model of the"
        f" synthetic corpus). Default: {DEFAULT_MODEL} where `s2f demo` exported one, else bundled",
    )


def chosen_model(given: str | None, command: str) -> str:
    """`given`, else the demo's export where it exists, else "bundled" (saying so on standard error)."""
    from s2f_tf import bundled

    if given:
        return given
    if Path(DEFAULT_MODEL).exists():
        return DEFAULT_MODEL
    print(
        f"s2f {command}: no --model given and no export at {DEFAULT_MODEL}: using the bundled model"
        f" ({bundled.DESCRIPTION})",
        file=sys.stderr,
        flush=True,
    )
    return bundled.NAME
