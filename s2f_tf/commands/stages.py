"""Sub-commands run as the stages of a bigger command (`s2f demo`, `s2f demo --seed-tables`).

Each stage is an `s2f` sub-command run in this process, its summary printed as it would be and its wall
time recorded; `Stages` skips evaluation and export when what they read did not change.
"""


def stage(name, argv, timings=None, label=None):
    """Run one `s2f` sub-command in this process; print and return its summary (its wall time, in
    seconds, goes to `timings[label or name]`)."""
    import json
    import time

    from s2f_tf.cli import build_parser

    print(f"\n=== s2f {name} {' '.join(argv)}", flush=True)
    started = time.perf_counter()
    args = build_parser({name: _module(name)}).parse_args([name, *argv])
    summary = args._run(args)
    if timings is not None:
        timings[label or name] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary, sort_keys=True, default=str), flush=True)
    return summary


def checkpoint_state(workdirs) -> list:
    """What evaluation and export read from each work directory, identified: the latest GAN checkpoint
    and the latest pretraining checkpoint (the voice encoder's weights are written from it, again on
    every pretrain-voice run), each by its path and the size and modification time of its index file (a
    checkpoint retrained to the same step differs)."""
    import os

    from s2f_tf import workdir as wd

    state = []
    for workdir in workdirs:
        for kind in (wd.CHECKPOINTS, wd.PRETRAIN_CHECKPOINTS):
            checkpoint = wd.latest_checkpoint(workdir, kind)
            index = f"{checkpoint}.index" if checkpoint else ""
            found = os.stat(index) if os.path.isfile(index) else None
            state.append([checkpoint, found and found.st_size, found and found.st_mtime_ns])
    return state


class Stages:
    """OUT/stages.json: for the stages that only read a checkpoint (evaluate, export), the checkpoints
    and arguments they last ran with and their summaries, so a rerun with nothing changed skips them."""

    FILE = "stages.json"

    def __init__(self, out, timings):
        import json
        from pathlib import Path

        self.path = Path(out) / self.FILE
        self.timings = timings
        self.skipped = []
        try:
            self.done = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.done = {}
        if not isinstance(self.done, dict):  # an edited file: forget it, run everything
            self.done = {}

    @staticmethod
    def _reusable(earlier, state, still_there) -> bool:
        try:
            return earlier["checkpoints"] == state and bool(still_there(earlier["summary"]))
        except (KeyError, TypeError):  # an entry of another shape: run the stage
            return False

    def run(self, name, argv, workdirs, still_there, label=None):
        """`_stage(name, argv)` unless it (or a run that did all it asks: `covering`) ran on these same
        checkpoints and `still_there(summary)` (its outputs were not removed); the summary either way."""
        from s2f_tf.files import atomic_write_json

        key = f"{name} {' '.join(argv)}"
        state = checkpoint_state(workdirs)
        earlier = next(
            (
                self.done[other]
                for other in (key, *(f"{name} {' '.join(a)}" for a in covering(name, argv)))
                if self._reusable(self.done.get(other), state, still_there)
            ),
            None,
        )
        if earlier is not None:
            checkpoint = state[0][0].rsplit("/", 1)[-1] if state and state[0][0] else "?"
            print(
                f"\n=== s2f {name}: skipped, {checkpoint} unchanged since it last ran", flush=True
            )
            self.timings[label or name] = 0.0
            self.skipped.append(label or name)
            return earlier["summary"]
        summary = stage(name, argv, self.timings, label)
        self.done[key] = {"checkpoints": state, "summary": summary}
        atomic_write_json(self.path, self.done)
        return summary


def covering(name, argv) -> list[list[str]]:
    """The other arguments of stage `name` whose run does all that `argv` asks: an evaluation with
    FID/KID covers the same one without (`s2f demo` leaves them out, `s2f demo --seed-tables` computes
    them, on the same model and output folder)."""
    if name == "evaluate" and "--no-fid" in argv:
        return [[a for a in argv if a != "--no-fid"]]
    return []


def _module(name):
    from s2f_tf.cli import COMMANDS

    return COMMANDS[name]


def precision_choice(precision: str) -> dict:
    """The GAN training precision and why: `auto` is mixed_bfloat16 where bf16 is faster (AMX or an
    Ampere-or-later GPU: `fast_bfloat16`)."""
    if precision != "auto":
        return {"precision": precision, "chosen_by": "--precision"}
    from s2f_tf.train.builder import fast_bfloat16

    native = fast_bfloat16()
    return {
        "precision": "mixed_bfloat16" if native else "float32",
        "chosen_by": "auto: "
        + (
            "bf16 is faster here (AMX or a recent GPU)"
            if native
            else "no AMX or recent GPU here (bf16 would be slower than float32)"
        ),
    }


def corpus_stages(args, corpus, data, gender=None):
    """(command, arguments) of synth (only without a corpus) and prepare (of one gender if given)."""
    if not (corpus / "vox1_meta.csv").is_file():
        yield "synth", flags(out=corpus, identities=args.identities, seed=args.seed,
                              utterances=args.utterances, faces=args.faces)  # fmt: skip
    yield "prepare", flags(meta=corpus / "vox1_meta.csv", voices=corpus / "wav",
                            faces=corpus / "faces", out=data, gender=gender,
                            preset=args.preset)  # fmt: skip


def model_stages(args, data, work, precision):
    """(command, arguments) of pretrain-voice and train (each resumes or skips finished work)."""
    common = flags(data=data, workdir=work, preset=args.preset)
    yield "pretrain-voice", common + flags(steps=args.pretrain_steps)
    train = common + flags(steps=args.train_steps)
    if precision == "mixed_bfloat16":
        train.append("--mixed-precision")
    yield "train", train


def evaluate_flags(args, data, work, out, name, compare=(), fid=True):
    """`s2f evaluate`'s arguments; `fid=False` adds --no-fid."""
    argv = flags(data=data, workdir=work, out=out, name=name,
                  classifier_steps=args.classifier_steps)  # fmt: skip
    return (
        argv
        + (["--compare", *map(str, compare)] if compare else [])
        + ([] if fid else ["--no-fid"])
    )


def flags(**values) -> list[str]:
    """`--name value` arguments (underscores become dashes), in order; None values are left out."""
    argv = []
    for name, value in values.items():
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv
