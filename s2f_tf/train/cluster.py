"""TF_CONFIG, read once for everything that asks about the cluster (no TensorFlow import: the command line
reads it before TensorFlow starts).

Example:
>>> cluster, task_type, index = tf_config()  # {}, None, 0 without TF_CONFIG
"""

from __future__ import annotations

import json
import os

from s2f_tf.errors import S2FError


def tf_config() -> tuple[dict, str | None, int]:
    """(cluster, task type, task index) from the TF_CONFIG environment variable; S2FError if it is set
    to something that is not JSON with a cluster and a task."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "") or "{}")
        cluster, task = config.get("cluster", {}), config.get("task", {})
        if not isinstance(cluster, dict) or not isinstance(task, dict):
            raise TypeError("cluster and task must be objects")
        return cluster, task.get("type"), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError):
        raise S2FError("TF_CONFIG is not valid JSON with a cluster and a task") from None


def workers() -> int:
    """The processes TF_CONFIG's cluster names (chief and workers); 0 without TF_CONFIG."""
    cluster, _, _ = tf_config()
    return sum(len(cluster.get(kind, []) or []) for kind in ("chief", "worker"))


def writes_workdir() -> bool:
    """Whether this process writes the work directory: not a non-chief worker of a multi-worker run
    (those keep nothing), which must not wait for the chief's lock."""
    cluster, kind, index = tf_config()
    if not cluster or kind in (None, "chief"):
        return True
    return kind == "worker" and index == 0 and "chief" not in cluster
