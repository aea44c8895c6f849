"""`prepare`: VoxCeleb1 voices + VGGFace1 faces (or the synthetic corpus) -> TFRecord shards + dataset.json.

Steps: read `vox1_meta.csv` and join identities (VoxCeleb1 ID -> voice folder, VGGFace1 name -> face folder);
split them (reference rule: names starting A-E are held out and divided into val and test, F-Z train; or a
split file); hold out ~10 % of each training identity's utterances as "train_heldout" (same labels as
"train"); label sorted names 0..K-1 per split; then a process pool decodes, VADs and resizes each shard's
files, computes each utterance's log-mel moments (stored with it, so training never re-reads the corpus to
normalise crops) and writes the shard itself (`s2f_tf.data.shards`): memory is one shard per worker.

    OUT/plan.json                               the options and file lists (a rerun must match it)
    OUT/voices/<split>-NNNNN-of-NNNNN.tfrecord   longest utterance first (+ .json: that shard's counts and
                                                frame counts in record order; + .index.npz: where each
                                                record's samples are in the file; both written before it)
    OUT/faces/<split>-NNNNN-of-NNNNN.tfrecord
    OUT/dataset.json                            splits, label maps, genders, counts, options (and each
                                                identity's face attributes when the corpus has them)
    OUT/.lock                                   locked by the prepare running there (s2f_tf.locks)

A synthetic corpus (`s2f synth`) also holds `attributes.csv` beside `vox1_meta.csv` (not part of the real
layout): when it is there, each identity's face attributes and voice latents (`s2f_tf.synth.attributes`)
go into dataset.json's `identities`, for the attribute judge of `s2f evaluate`.

Every shard is written to a temporary name and renamed when complete, so a rerun skips finished shards and
never reads a half-written one. Bad files are skipped and counted by reason; nothing aborts the run.

Example:
>>> summary = prepare(PrepareOptions(meta="c/vox1_meta.csv", voices="c/wav", faces="c/faces", out="d"))
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import tqdm

from s2f_tf.data import shards as shard_io
from s2f_tf.data.dataset_json import dataset_json, summary
from s2f_tf.data.info import DATASET, FORMAT
from s2f_tf.data.plan import (  # noqa: F401  (AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, SPLITS: old names)
    AUDIO_EXTENSIONS,
    IMAGE_EXTENSIONS,
    SPLITS,
    PrepareOptions,
    plan,
)
from s2f_tf.errors import S2FError
from s2f_tf.files import atomic_write_json
from s2f_tf.locks import exclusive
from s2f_tf.pools import process_pool

PLAN = "plan.json"
LOCK = ".lock"  # held by the one prepare writing the folder


def _fingerprint(options: PrepareOptions, layout: dict) -> dict:
    kept = dataclasses.asdict(options)
    for key in ("out", "workers"):
        kept.pop(key)
    digest = hashlib.sha256(json.dumps(layout["shards"], sort_keys=True).encode()).hexdigest()
    return {"format": FORMAT, "options": kept, "shards_sha256": digest}


def prepare(options: PrepareOptions) -> dict:
    """Run the whole preparation; returns the JSON summary (also stored in dataset.json)."""
    start = time.perf_counter()
    out = Path(options.out)
    layout = plan(options)
    if not layout["splits"]["train"]["names"]:
        raise S2FError("no training identities after joining meta, voices and faces")
    out.mkdir(parents=True, exist_ok=True)
    # One prepare per folder: another one's temporary shards are never taken for leftovers.
    with exclusive(out / LOCK, "prepare", what=f"dataset directory {out}"):
        return _prepare(options, layout, out, start)


def _prepare(options: PrepareOptions, layout: dict, out: Path, start: float) -> dict:
    _check_plan(out, _fingerprint(options, layout))
    stats, todo = _finished(out, layout["shards"])
    reused = len(stats)
    workers = max(1, min(options.workers or os.cpu_count() or 1, len(todo) or 1))
    stats |= _write_shards(options, out, todo, workers)
    elapsed = time.perf_counter() - start

    dataset = dataset_json(options, layout, stats)
    atomic_write_json(out / DATASET, dataset)
    processed = sum(len(s["items"]) for s in todo if s["kind"] == "voices")
    return summary(
        out,
        dataset,
        written=len(todo),
        reused=reused,
        workers=workers,
        elapsed=elapsed,
        processed=processed,
    )


def _check_plan(out: Path, fingerprint: dict) -> None:
    """Write plan.json, or check that the one there matches; clear temporaries an interrupted run left."""
    plan_path = out / PLAN
    if plan_path.is_file():
        previous = json.loads(plan_path.read_text())
        if previous != json.loads(json.dumps(fingerprint)):
            raise S2FError(f"{out} was prepared from other inputs or options; use a new --out")
    else:
        atomic_write_json(plan_path, fingerprint)
    for kind in ("voices", "faces"):
        (out / kind).mkdir(exist_ok=True)
        for stale in (out / kind).glob(".*.tmp"):  # left by an interrupted run; never read
            stale.unlink(missing_ok=True)


def _finished(out: Path, shards: list[dict]) -> tuple[dict, list[dict]]:
    """(stats of the shards a previous run finished, the shards still to write)."""
    stats = {}
    todo = []
    for shard in shards:
        done = shard_io.finished(out, shard)
        if done is None:
            todo.append(shard)
        else:
            stats[shard["path"]] = done
    return stats, todo


def _write_shards(options: PrepareOptions, out: Path, todo: list[dict], workers: int) -> dict:
    """Write the shards in `todo` (in a process pool when workers > 1); returns their stats by path."""
    stats = {}
    args = (str(out), options.voices, options.faces, options.min_frames, options.image_size)
    bar = tqdm.tqdm(
        total=sum(len(s["items"]) for s in todo), desc="prepare", unit="file", leave=False
    )
    if workers == 1:
        for shard in todo:
            stats[shard["path"]] = shard_io.write_shard(shard, *args)
            bar.update(len(shard["items"]))
    else:
        # Workers write their shards and return only stats: nothing decoded passes through here.
        with process_pool(workers, initializer=shard_io.init_worker) as pool:
            futures = {pool.submit(shard_io.write_shard, shard, *args): shard for shard in todo}
            for future in concurrent.futures.as_completed(futures):
                shard = futures.pop(future)
                stats[shard["path"]] = future.result()
                bar.update(len(shard["items"]))
    bar.close()
    return stats
