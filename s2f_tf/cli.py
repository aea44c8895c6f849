"""`s2f`: the command line. Parsing only; each sub-command lives in `s2f_tf.commands.<name>`.

A command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> dict`; the dict is
printed as one JSON line, the last line of standard output. Bad input raises `S2FError`, shown as one line
on standard error with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from s2f_tf.errors import S2FError

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


def _available():
    found = {}
    for name, module in COMMANDS.items():
        spec = importlib.util.find_spec(f"s2f_tf.commands.{module}")
        if spec is not None:
            found[name] = module
    return found


def build_parser(commands=None) -> argparse.ArgumentParser:
    commands = commands if commands is not None else _available()
    parser = argparse.ArgumentParser(
        prog="s2f",
        description="Voice -> face generation (Wen, Raj & Singh 2019) in TensorFlow / Keras.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in commands.items():
        module = importlib.import_module(f"s2f_tf.commands.{module_name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        summary = args._run(args)
    except S2FError as error:
        print(f"s2f {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"s2f {args.command}: interrupted", file=sys.stderr)
        return 130
    if summary is not None:
        sys.stdout.flush()
        print(json.dumps(summary, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
