"""`s2f`: the command line. Parsing only; each sub-command lives in `s2f_tf.commands.<name>`.

A command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> dict`; the dict is
printed as one JSON line, the last line of standard output, and optionally `KEPT`: what a failed run leaves
behind (said when the disk fills up).

Every failure is one line on standard error, `s2f <command>: error: ...`, never a traceback: bad arguments
and bad input (`S2FError`, or a path that does not exist / cannot be written) exit with status 2; a full disk,
an I/O error or a bug exit with status 1. `--debug` (or `S2F_DEBUG=1`) prints the traceback as well;
TensorFlow's start-up and log noise is hidden (`s2f_tf.commands.quiet`) unless `--verbose` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import traceback

from s2f_tf.commands.quiet import quiet_tensorflow
from s2f_tf.errors import BAD_INPUT, describe

# sub-command -> module in s2f_tf.commands (imported lazily: `s2f --help` needs no TensorFlow).
COMMANDS = {
    "synth": "synth",
    "prepare": "prepare",
    "pretrain-voice": "pretrain_voice",
    "train": "train",
    "evaluate": "evaluate",
    "export": "export",
    "generate": "generate",
    "import-torch": "import_torch",
    "demo": "demo",
    "info": "info",
    "app": "app",
}


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (`s2f train: error: argument --steps: ...`), exit status 2."""

    def error(self, message):
        self.exit(BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _debug_requested(args) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("S2F_DEBUG", "") not in ("", "0")


def build_parser(commands=None) -> argparse.ArgumentParser:
    commands = commands if commands is not None else COMMANDS
    parser = Parser(
        prog="s2f",
        description="Voice -> face generation (Wen, Raj & Singh 2019) in TensorFlow / Keras.",
    )
    debug = {"action": "store_true", "help": "show the traceback of an error (also: S2F_DEBUG=1)"}
    parser.add_argument("--debug", **debug)
    verbose = {
        "action": "store_true",
        "help": "show TensorFlow's start-up and log messages (hidden by default)",
    }
    parser.add_argument("--verbose", **verbose)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in commands.items():
        module = importlib.import_module(f"s2f_tf.commands.{module_name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        if "--debug" not in command._option_string_actions:
            # Accepted after the command too; SUPPRESS keeps `s2f --debug CMD` from being reset.
            command.add_argument("--debug", **debug, default=argparse.SUPPRESS)
        if "--verbose" not in command._option_string_actions:
            command.add_argument("--verbose", **verbose, default=argparse.SUPPRESS)
        command.set_defaults(_run=module.run, _kept=getattr(module, "KEPT", None))
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help (0) or a usage error (2, already printed as one line)
        return exit.code
    with quiet_tensorflow(verbose=getattr(args, "verbose", False)):
        return _run(args)


def _run(args) -> int:
    try:
        summary = args._run(args)
        if summary is not None:
            sys.stdout.flush()
            print(json.dumps(summary, sort_keys=True, default=str), flush=True)
    except KeyboardInterrupt:
        print(f"s2f {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `s2f ... | head`: the reader left; nothing to say
        with contextlib.suppress(OSError, ValueError):  # no exit-time flush error either
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:
        if _debug_requested(args):
            traceback.print_exc()
        message, status = describe(error, kept=args._kept)
        print(f"s2f {args.command}: error: {message}", file=sys.stderr)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
