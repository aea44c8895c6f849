"""`s2f demo --seed-tables`: the seed report's general, female and male models on the demo's corpus.

Not a sub-command of its own: it takes the demo's arguments (corpus size, preset, steps, precision) and
its stages, so the general model *is* the demo's (OUT/data, OUT/workdir, OUT/evaluation: a finished demo
is reused, not retrained). Stages, each skipped or resumed when already done:

    synth (once) -> prepare OUT/data, OUT/data_female (--gender f), OUT/data_male (--gender m)
    -> pretrain-voice + train OUT/workdir, OUT/workdir_female, OUT/workdir_male
    -> evaluate: general on OUT/data (all voices); female with the general model compared on
       OUT/data_female, male likewise on OUT/data_male (same utterances, judges and real faces per gender)
    -> OUT/seed_tables/seed_tables.md (Table 2) and table1.png (Table 1)
"""

TABLE1_IDENTITIES = 4  # unseen identities per gender in Table 1


def run(args):
    import time
    from pathlib import Path

    from s2f_tf.commands import stages as run_stages
    from s2f_tf.evaluate.report import REPORT

    started = time.perf_counter()
    out = Path(args.out)
    models = {  # model -> (gender of its dataset, data, work directory)
        "general": (None, out / "data", out / "workdir"),
        "female": ("f", out / "data_female", out / "workdir_female"),
        "male": ("m", out / "data_male", out / "workdir_male"),
    }
    precision = run_stages.precision_choice(args.precision)
    timings = {}
    stages = run_stages.Stages(out, timings)
    coincide = _prepare_datasets(args, out / "corpus", models, timings)
    for model, (_, data, work) in models.items():
        for name, argv in run_stages.model_stages(args, data, work, precision["precision"]):
            run_stages.stage(name, argv, timings, label=f"{name} {model}")
    evaluations = _evaluate_models(args, out, models, stages)

    table_started = time.perf_counter()
    written = _write_tables(out / "seed_tables", models, evaluations, coincide)
    timings["tables"] = round(time.perf_counter() - table_started, 1)
    timings["total"] = round(time.perf_counter() - started, 1)
    print(f"\nseed tables: {written['report']} and {written['table1']}", flush=True)
    return {
        "seconds": timings["total"],
        **written,
        "same_voices": coincide,
        "evaluations": {k: str(v / REPORT) for k, v in evaluations.items()},
        **precision,
        "stages": timings,
        "skipped": stages.skipped,
    }


def _prepare_datasets(args, corpus, models, timings) -> dict:
    """The corpus and each model's dataset, checked: enough identities, and each gender's unseen
    voices exactly the general dataset's. Returns {gender model: its coinciding-splits checks}."""
    from s2f_tf.commands import stages as run_stages
    from s2f_tf.data.info import load_info
    from s2f_tf.errors import S2FError
    from s2f_tf.evaluate import seed_tables

    for model, (gender, data, _) in models.items():
        for name, argv in run_stages.corpus_stages(args, corpus, data, gender):
            run_stages.stage(name, argv, timings, label=f"{name} {model}")
    general_info = load_info(models["general"][1])
    for model, (_, data, _) in models.items():
        _check_enough(model, load_info(data), args.identities)
    coincide = {
        model: seed_tables.coinciding_splits(general_info, load_info(data), gender)
        for model, (gender, data, _) in models.items()
        if gender
    }
    for model, checks in coincide.items():
        if not checks["unseen_utterances"]:
            raise S2FError(f"{models[model][1]}: its unseen voices are not the general dataset's")
    return coincide


def _evaluate_models(args, out, models, stages) -> dict:
    """The general model on all voices (the demo's own evaluation), each gender's model with the general
    one compared on that gender's dataset. Returns {model: its evaluation folder}."""
    from pathlib import Path

    from s2f_tf.commands import stages as run_stages
    from s2f_tf.evaluate.report import REPORT

    general_work = models["general"][2]
    evaluations = {"general": out / "evaluation"}  # the demo's own evaluation
    stages.run(
        "evaluate",
        run_stages.evaluate_flags(args, models["general"][1], general_work, evaluations["general"],
                            Path(args.models).name),
        [general_work],
        lambda summary: (Path(summary["out"]) / REPORT).is_file(),
        label="evaluate general",
    )  # fmt: skip
    for model in ("female", "male"):
        _, data, work = models[model]
        evaluations[model] = out / "seed_tables" / f"{model}_voices"
        stages.run(
            "evaluate",
            run_stages.evaluate_flags(
                args, data, work, evaluations[model], model, compare=[general_work]
            ),
            [work, general_work],
            lambda summary: (Path(summary["out"]) / REPORT).is_file(),
            label=f"evaluate {model}",
        )
    return evaluations


def _write_tables(tables, models, evaluations, coincide) -> dict:
    """seed_tables.md (Table 2) and table1.png (Table 1) under `tables`; their paths."""
    from s2f_tf.evaluate import seed_table1, seed_tables
    from s2f_tf.evaluate.report import METRICS, REPORT

    general_work = models["general"][2]
    table1 = {
        model: seed_table1.table1_rows(
            models[model][1], model, general_work, models[model][2], TABLE1_IDENTITIES
        )
        for model in ("female", "male")
    }
    return seed_tables.write(
        tables,
        {k: seed_tables.load_evaluation(v / METRICS) for k, v in evaluations.items()},
        coincide,
        table1,
        [str(v / REPORT) for v in evaluations.values()],
    )


def _check_enough(model, info, identities):
    """Each model needs training identities and at least 2 unseen ones (1:2 matching needs an impostor):
    one line naming the shortfall, before minutes of training."""
    from s2f_tf.errors import S2FError

    unseen = len(info.names("val")) + len(info.names("test"))
    trained = len(info.names("train"))
    if unseen < 2 or trained < 1:
        raise S2FError(
            f"the {model} dataset has {trained} training and {unseen} unseen identities; the seed"
            f" tables need at least 1 and 2 (--identities {identities} is too few: try more, or"
            " another --seed)"
        )
