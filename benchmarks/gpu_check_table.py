"""gpu_check's results side by side: multi-replica speed-ups and the Markdown table printed at the end."""

from __future__ import annotations


def speedups(records: list[dict]) -> list[dict]:
    single = {
        (r["features"], r["precision"]): r
        for r in records
        if r["replicas"] == 1 and not r["xla"] and r.get("samples_per_s")
    }
    rows = []
    for r in records:
        base = single.get((r["features"], r["precision"]))
        if r["replicas"] > 1 and r.get("samples_per_s") and base:
            value = round(r["samples_per_s"] / base["samples_per_s"], 2)
            r["speedup"] = value
            rows.append({"config": r["name"], "over": base["name"], "samples_per_s_ratio": value})
    return rows


def _gib(value):
    return f"{value / 2**30:.2f}" if value is not None else "-"


def _new_seen(record) -> str:
    values = [record.get(f"step_compute_ms_{k}_length") for k in ("new", "seen")]
    return "/".join("-" if v is None else f"{v:.0f}" for v in values)


def table(report: dict) -> str:
    header = [
        "config", "rep", "batch", "crop", "steps", "1st step s", "steps/s", "samples/s",
        "step ms new/seen len", "input wait", "CPU s/step", "peak GiB", "speed-up", "status",
    ]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in report["configs"]:
        crop = r.get("crop_frames")
        peak = r.get("peak_memory_bytes")
        cells = [
            r["name"],
            str(r["replicas"]),
            str(r["global_batch"]),
            "-" if not crop else (f"{crop[0]}" if crop[0] == crop[1] else f"{crop[0]}-{crop[1]}"),
            str(r.get("steps", "-")),
            f"{r['first_step_s']:.1f}" if "first_step_s" in r else "-",
            f"{r['steps_per_s']:.2f}" if r.get("steps_per_s") else "-",
            f"{r['samples_per_s']:.0f}" if r.get("samples_per_s") else "-",
            _new_seen(r),
            f"{100 * r['input_wait_share']:.0f} %"
            if r.get("input_wait_share") is not None
            else "-",
            f"{r['host_cpu_s_per_step']:.2f}" if r.get("host_cpu_s_per_step") is not None else "-",
            _gib(max(peak.values())) if peak else "-",
            f"{r['speedup']:.2f}x" if r.get("speedup") else "-",
            r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('error', '')}"[:90],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    inference = report.get("inference") or {}
    if inference.get("latency"):
        lines += [
            "",
            "| SavedModel serving_default | device | first call ms | median ms | p90 ms |",
        ]
        lines.append("|---|---|---|---|---|")
        for row in inference["latency"]:
            lines.append(
                f"| {row['seconds']} s clip, batch {row['batch']} | {row['device']} | "
                f"{row['first_call_ms']:.1f} | {row['median_ms']:.1f} | {row['p90_ms']:.1f} |"
            )
    elif inference.get("error"):
        lines += ["", f"SavedModel latency: failed: {inference['error']}"]
    return "\n".join(lines)
