"""Choosing the tf.distribute strategy: one device, MirroredStrategy on one host, or multi-worker."""

from __future__ import annotations

import functools

import tensorflow as tf

from s2f_tf.errors import S2FError
from s2f_tf.train import STRATEGIES
from s2f_tf.train.cluster import workers


def use_cpu_replicas(count: int) -> None:
    """Split the CPU into `count` logical devices (before TensorFlow initialises; docs/recipe.md, TensorFlow pitfall 4)."""
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise S2FError("--cpu-replicas must be set before TensorFlow starts") from None


@functools.cache
def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """One strategy per process and name (pretraining and training in one process share it: two
    MirroredStrategy objects restart the collective instance keys and their all-reduces collide).

    `auto`: multi-worker when TF_CONFIG names several workers, else all GPUs (or all logical CPUs)
    with MirroredStrategy when there are several, else one device."""
    if name not in STRATEGIES:
        raise S2FError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    if name == "auto" and workers() > 1:
        name = "multi_worker"
    if name == "multi_worker":
        # Must come before anything lists devices: that initialises the runtime without collectives.
        if workers() < 1:
            raise S2FError("--strategy multi_worker needs TF_CONFIG with a cluster and a task")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    if name == "auto":
        name = "mirrored" if len(devices) > 1 else "one_device"
    if name == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy(devices)
        # Logical CPUs: reduce through one device. With the default collective all-reduce, a process
        # that runs two replicated functions (Keras fit, then the GAN loop) reuses collective instance
        # keys with other shapes and fails with "Shape mismatch in the collective instance 100".
        return tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
    return tf.distribute.OneDeviceStrategy(devices[0])


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints, logs and summaries."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().jobs
