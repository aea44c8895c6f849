"""gpu_check's plan: what a run does in each mode (`settings`) and its configurations, by name
(`FEATURES-PRECISION[-xla][-Nrep-bBATCH]`, see benchmarks/gpu_check.py)."""

from __future__ import annotations

import os
import re

# CPU mode: both featurisations, one and two replicas, fp32 and bf16, the SavedModel export after the
# first; in two configurations, since tracing a GAN step costs ~5 CPU-s (XLA on the CPU, ~15 more: run it
# with --configs, as tests/test_gpu_check.py does in its slow test).
CPU_CONFIGS = [("device", "fp32", False, 1, 1), ("pipeline", "bf16", False, 2, 1)]


def settings(args, gpus: int) -> dict:
    """What a run does: GPU-sized (wen2019) or CPU-sized (tiny, a handful of steps)."""
    if args.cpu_mode:
        return {
            "preset": args.preset or "tiny",
            "steps": args.steps or 3,
            "warmup_steps": args.warmup_steps if args.warmup_steps is not None else 1,
            "min_steps": min(args.min_steps, 2),
            "identities": args.identities or 6,
            "utterances": 3,
            "faces": 2,
            "workers": 1,
            "latency_runs": 3,
            "start_margin_s": 0.0,
            "check_samples": (8000,),  # one clip for export's SavedModel check (each costs seconds)
            # (features, precision, xla, replicas, global batch x preset's)
            "configs": CPU_CONFIGS,
        }
    single = [(f, p, False, 1, 1) for p in ("fp32", "bf16") for f in ("device", "pipeline")]
    multi = [("device", "bf16", False, 2, 1), ("pipeline", "bf16", False, 2, 1)]
    multi += [("device", "bf16", False, 2, 2), ("device", "fp32", False, 2, 1)]
    return {
        "preset": args.preset or "wen2019",
        "steps": args.steps or 200,
        "warmup_steps": args.warmup_steps if args.warmup_steps is not None else 5,
        "min_steps": args.min_steps,
        "identities": args.identities or 40,
        "utterances": 8,  # concatenated in pairs: ~13 s of speech each
        "faces": 8,
        "workers": os.cpu_count() or 1,
        "latency_runs": 20,
        "start_margin_s": 40.0,  # no configuration starts with less of the budget left
        "check_samples": None,  # export's full check
        "configs": single + (multi if gpus > 1 else []) + [c[:2] + (True, 1, 1) for c in single],
    }


def _spec_name(features, precision, xla, replicas=1, batch=None):
    name = f"{features}-{precision}" + ("-xla" if xla else "")
    return name + (f"-{replicas}rep-b{batch}" if replicas > 1 else "")


def planned_configs(plan: dict, base) -> list[dict]:
    return [
        {
            "name": _spec_name(f, p, x, replicas, base.train.batch_size * factor),
            "features": f,
            "precision": p,
            "xla": x,
            "replicas": replicas,
            "global_batch": base.train.batch_size * factor,
        }
        for f, p, x, replicas, factor in plan["configs"]
    ]


def parse_spec(name: str, batch_size: int) -> dict:
    """A configuration from its name, `FEATURES-PRECISION[-xla][-Nrep-bBATCH]`."""
    match = re.fullmatch(r"(device|pipeline)-(fp32|bf16)(-xla)?(?:-(\d+)rep-b(\d+))?", name)
    if not match:
        raise SystemExit(f"--configs: {name!r} is not FEATURES-PRECISION[-xla][-Nrep-bBATCH]")
    features, precision, xla, replicas, batch = match.groups()
    return {
        "name": name,
        "features": features,
        "precision": precision,
        "xla": bool(xla),
        "replicas": int(replicas or 1),
        "global_batch": int(batch or batch_size),
    }
