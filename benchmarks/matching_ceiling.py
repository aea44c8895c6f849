"""How high can 1:2 matching on unseen identities go on the synthetic corpus? Oracle rows beside a model.

`s2f evaluate` judges 1:2 matching in the embedding of an identity classifier trained on real faces of the
training identities. A generator can only draw what the voice carries; on the synthetic corpus that is
gender, vocal-tract length (face width/size), age group and the community latent (accent <-> skin and
hair tone distributions). This script replaces the generated faces by
*real* faces picked by oracles that know exactly those latents, and prints the matching accuracy each would
get with the same judges and trials as `s2f evaluate` (same seed):

- another real photo of the same identity (the ceiling of the judge itself),
- a real face of the training identity nearest in (gender, community, vocal-tract length, age) (what a
  perfect voice -> attribute regressor followed by nearest-neighbour retrieval would give),
- the mean judge embedding of the real faces of the 5 training identities nearest in the same latents
  (an estimate of the conditional-mean face: no single drawn face need be closer to the truth, so this
  is closer to what a voice-only model can reach than one neighbour),
- a random real face of a training identity of the same gender (what gender alone gives),
- a random real training face (chance),
- and, with --workdir, the work directory's trained generator on the same voices.

    .venv/bin/python benchmarks/matching_ceiling.py --data demo_out/data [--workdir demo_out/workdir]
        [--identities 120] [--seed 0] [--split unseen]

--identities/--seed must be those the corpus was generated with (the latents are drawn again from them).
"""

from __future__ import annotations

import argparse

import numpy as np

AGE = {"young": 0.0, "adult": 0.5, "senior": 1.0}


def latents(person):
    """(gender, community, vocal-tract length, age) scaled so that gender dominates, then community (it
    sets the skin-tone and hair-colour distributions), then VTL and age equally."""
    community = np.zeros(3)
    community[person.community] = 3.0
    return np.array(
        [
            10.0 * (person.gender == "m"),
            *community,
            (person.voice.vocal_tract_cm - 15.8) / 1.3,
            AGE[person.age_group],
        ]
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a prepared synthetic dataset")
    parser.add_argument("--workdir", help="also judge this work directory's generator")
    parser.add_argument("--identities", type=int, default=120, help="the corpus' --identities")
    parser.add_argument("--seed", type=int, default=0, help="the corpus' --seed")
    parser.add_argument(
        "--split", default="unseen", help="unseen split: val, test or unseen (both; default)"
    )
    parser.add_argument("--neighbours", type=int, default=5, help="identities in the mean oracle")
    parser.add_argument("--classifier-steps", type=int, default=300)
    return parser.parse_args(argv)


def judges_and_models(args, source, info, options):
    """(the judges trained as `s2f evaluate` trains them, the work directory's (config, encoder,
    generator) or None): on the work directory's model config, or the small preset's without one."""
    from s2f_tf.config import preset
    from s2f_tf.evaluate import judges as judging

    model_config, models = preset("small").model, None
    if args.workdir:
        from s2f_tf import workdir as wd

        models = wd.load_inference_models(args.workdir)
        model_config = models[0].model
    return judging.train_judges(source, info, model_config, options), models


def nearest_identities(args, info, train):
    """A function (unseen label, count=1) -> the `count` training identities nearest to that identity in
    `latents`, from the corpus drawn again; exits if a split's name is not in that corpus."""
    from s2f_tf.evaluate import judges as judging
    from s2f_tf.evaluate import sources
    from s2f_tf.synth.identities import sample_identities

    people = {p.name: p for p in sample_identities(args.identities, args.seed)}
    unseen_names = judging.split_info(info, args.split)["names"]
    train_names = judging.split_info(info, "train")["names"]
    missing = [n for n in list(unseen_names) + list(train_names) if n not in people]
    if missing:
        raise SystemExit(
            f"{missing[0]} is not in a corpus of --identities {args.identities} --seed {args.seed}"
        )
    train_ids = np.unique(train.labels)
    train_latents = np.stack(
        [latents(people[sources.lookup(train_names, int(i))]) for i in train_ids]
    )

    def nearest(label, count=1):
        own = latents(people[sources.lookup(unseen_names, int(label))])
        return train_ids[np.argsort(((train_latents - own) ** 2).sum(1), kind="stable")[:count]]

    return nearest


def oracle_faces(unseen, train, nearest, rng) -> dict:
    """{row name: the real faces an oracle picks, one per real face of the unseen split}."""
    labels, genders = unseen.labels, unseen.genders

    def photo_of(identity):
        return rng.choice(np.flatnonzero(train.labels == identity))

    def another_photo(n):
        others = np.flatnonzero(labels == labels[n])
        others = others[others != n]
        return rng.choice(others) if len(others) else n

    return {
        "another real photo of the same identity": unseen.images[
            [another_photo(n) for n in range(len(labels))]
        ],
        "real face of the training identity nearest in (gender, community, VTL, age)": train.images[
            [photo_of(nearest(label)[0]) for label in labels]
        ],
        "random real training face of the same gender": train.images[
            [rng.choice(np.flatnonzero(train.genders == g)) for g in genders]
        ],
        "random real training face": train.images[rng.integers(0, len(train.labels), len(labels))],
    }


def oracle_queries(args, embed, unseen, train, nearest) -> dict:
    """{row name: (query embeddings, labels, genders)} of every oracle: one query per real face of the
    unseen split (its identity and gender), as many as evaluate has voices."""
    labels, genders = unseen.labels, unseen.genders
    rng = np.random.default_rng(args.seed + 1)
    train_embedding = embed(train.images)
    identity_mean = {i: train_embedding[train.labels == i].mean(0) for i in np.unique(train.labels)}
    faces = oracle_faces(unseen, train, nearest, rng)
    results = {name: (embed(images), labels, genders) for name, images in faces.items()}
    mean_row = (
        f"mean judge embedding of the {args.neighbours} training identities nearest in "
        "(gender, community, VTL, age)"
    )
    means = [
        np.mean([identity_mean[i] for i in nearest(label, args.neighbours)], 0) for label in labels
    ]
    results[mean_row] = (np.stack(means), labels, genders)
    return results


def generated_queries(args, source, models, embed) -> tuple:
    """(judge embeddings, labels, genders) of the faces the work directory's generator draws from the
    voices of the unseen split."""
    from s2f_tf.evaluate.generation import render_split

    config, encoder, generator = models
    generated = render_split(source, args.split, config, encoder, {"trained": generator})["trained"]
    return embed(generated.images), generated.labels, generated.genders


def accuracy(query: tuple, real, unseen, stratified: bool, seed: int) -> dict:
    """1:2 matching of (query embeddings, labels, genders) against the real unseen faces' embeddings,
    as `s2f evaluate` judges it: value, n and 95 % interval."""
    from s2f_tf.evaluate import metrics

    correct = metrics.matching_outcomes(
        *query, real, unseen.labels, unseen.genders, stratified, seed
    )
    return metrics.summarize(correct, 0.5, seed)


def print_table(args, judges, real, unseen, train, results: dict, seed: int) -> None:
    """The run's line, the judge's held-out top-1 and the table of each row's matching accuracy."""
    unseen_ids, train_ids = len(np.unique(unseen.labels)), len(np.unique(train.labels))
    print(
        f"\n1:2 matching on the {args.split!r} split ({unseen_ids} unseen identities), "
        f"judge: identity classifier on {train_ids} training identities "
        f"({args.classifier_steps} steps)\n"
    )
    heldout = judges.summary["identity"].get("heldout_real_top1", {}).get("value")
    if heldout is not None:
        print(
            f"judge's identity top-1 on held-out real faces of training identities: {100 * heldout:.1f} %\n"
        )
    print("| query face | n | unstratified | gender-stratified |")
    print("|---|---|---|---|")
    for name, query in results.items():
        plain = accuracy(query, real, unseen, False, seed)
        strat = accuracy(query, real, unseen, True, seed)
        print(
            f"| {name} | {plain['n']} | {100 * plain['value']:.1f} % "
            f"[{100 * plain['ci95'][0]:.1f}, {100 * plain['ci95'][1]:.1f}] | {100 * strat['value']:.1f} % "
            f"[{100 * strat['ci95'][0]:.1f}, {100 * strat['ci95'][1]:.1f}] |"
        )


def main():
    args = parse_args()

    from s2f_tf.evaluate import EvalOptions, PipelineSource
    from s2f_tf.evaluate import judges as judging

    source = PipelineSource(args.data)
    info = source.info()
    options = EvalOptions(classifier_steps=args.classifier_steps)
    judges, models = judges_and_models(args, source, info, options)
    unseen = judging.load_split_faces(source, info, args.split)
    train = judging.load_split_faces(source, info, "train")
    nearest = nearest_identities(args, info, train)
    embed = judges.identity.model.embed
    real = embed(unseen.images)
    results = oracle_queries(args, embed, unseen, train, nearest)
    if models is not None:
        results[f"generated by {args.workdir}"] = generated_queries(args, source, models, embed)
    print_table(args, judges, real, unseen, train, results, options.seed)


if __name__ == "__main__":
    main()
