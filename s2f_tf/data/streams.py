"""Serialized records of shard files as a tf.data stream: sharded by input pipeline, shuffled, repeated."""

from __future__ import annotations

import tensorflow as tf

from s2f_tf.errors import S2FError

AUTOTUNE = tf.data.AUTOTUNE


def record_stream(files, *, input_context, shuffle, seed, buffer, repeat, counts=None):
    """Serialized records of `files` (only the first `counts[i]` of file i when given), sharded by
    input pipeline, shuffled, repeated."""
    if not files:
        raise S2FError("the split has no shards (no identities or no data)")
    counts = [-1] * len(files) if counts is None else counts
    ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(counts, tf.int64)))
    shards, index = 1, 0
    if input_context is not None and input_context.num_input_pipelines > 1:
        shards, index = input_context.num_input_pipelines, input_context.input_pipeline_id
    by_file = shards > 1 and len(files) >= shards
    if by_file:
        ds = ds.shard(shards, index)
    if shuffle and (
        by_file or shards == 1
    ):  # element sharding needs the same file order everywhere
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        lambda path, count: tf.data.TFRecordDataset(path).take(count),
        cycle_length=min(len(files), 8),
        block_length=1,
        num_parallel_calls=AUTOTUNE,
        deterministic=True,
    )
    if shards > 1 and not by_file:
        ds = ds.shard(shards, index)
    if shuffle:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds
