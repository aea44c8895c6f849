"""Train the voice -> face GAN with `keras.Model.fit`, then export it for TF Serving and LiteRT.

`VoiceToFaceGAN` is a `keras.Model` whose `train_step` runs the same GAN step as `s2f train`'s custom
loop (same weights, tested), so Keras callbacks apply: TensorBoard logs every loss term, and
BackupAndRestore makes a killed run resume from its last finished epoch (a rerun with a larger --steps
continues). Start from a prepared dataset and a voice encoder pretrained by `s2f pretrain-voice`:

    s2f pretrain-voice --data demo_out/data --workdir runs/pretrained --preset small
    python examples/train_fit.py --data demo_out/data --pretrained runs/pretrained \
        --workdir runs/fit --steps 6000 --out savedmodels/s2f_fit

The result is a work directory in the layout every `s2f` command reads (`s2f evaluate`, `s2f export`),
and a checked export: `savedmodels/s2f_fit/<version>/` (SavedModel + fp32/fp16/int8 .tflite).
"""

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import s2f_tf  # noqa: F401 - first: TensorFlow's oneDNN kernels on before TensorFlow starts

# isort: split
import keras
import tensorflow as tf

from s2f_tf import workdir as wd
from s2f_tf.data.info import load_info
from s2f_tf.models import build_models
from s2f_tf.models.optimizers import adam, generator_adam
from s2f_tf.serving import QUANTIZATIONS
from s2f_tf.serving.export import export
from s2f_tf.train.builder import load_encoder_weights
from s2f_tf.train.data import gan_dataset_fn
from s2f_tf.train.gan_model import VoiceToFaceGAN


# --- snippet: fit (README.md, "Python API") ---
def train_and_export(
    data_dir, workdir, out, steps, steps_per_epoch=500, quantizations=QUANTIZATIONS
):
    """fit() the GAN in `workdir` (config.json + a pretrained voice_encoder.weights.h5), export to `out`."""
    config = wd.load_config(workdir)
    num_classes = load_info(data_dir).num_classes
    # 1. Data: unpaired batches {"voice", "voice_label", "face", "face_label", "noise"} from the shards.
    dataset = gan_dataset_fn(data_dir, config)(tf.distribute.InputContext())
    # 2. Models: the pretrained voice encoder (frozen), generator, discriminator, identity classifier.
    keras.utils.set_random_seed(config.train.seed)
    models = build_models(config, num_classes)
    load_encoder_weights(models.voice_encoder, Path(workdir) / wd.ENCODER_WEIGHTS, config)
    gan = VoiceToFaceGAN.from_config(models, config)  # the preset's losses and front end
    g_optimizer = generator_adam(config.train)  # with the config's generator average
    gan.compile(g_optimizer=g_optimizer, d_optimizer=adam(config.train))
    # 3. fit(): TensorBoard scalars; BackupAndRestore resumes a killed run at its last finished epoch.
    per_epoch = min(steps_per_epoch, steps)
    history = gan.fit(
        dataset,
        epochs=math.ceil(steps / per_epoch),
        steps_per_epoch=per_epoch,
        shuffle=False,  # the tf.data pipeline shuffles (Keras warns that it ignores True)
        callbacks=[
            keras.callbacks.TensorBoard(str(Path(workdir) / "logs_fit")),
            keras.callbacks.BackupAndRestore(
                str(Path(workdir) / "fit_backup"), delete_checkpoint=False
            ),
        ],
        verbose=2,
    )
    # 4. Export: the generator (and its moving average) where `s2f export` reads it; then the
    #    SavedModel and TFLite files, each checked against the Keras model before publishing.
    checkpoint = tf.train.Checkpoint(generator=models.generator, g_optimizer=g_optimizer)
    tf.train.CheckpointManager(checkpoint, str(Path(workdir) / wd.CHECKPOINTS), 1).save()
    return history, export(workdir, out, quantizations=quantizations, progress=False)


# --- end snippet ---


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a dataset written by s2f prepare")
    parser.add_argument("--pretrained", required=True, help="work directory of s2f pretrain-voice")
    parser.add_argument("--workdir", required=True, help="where this run writes")
    parser.add_argument("--steps", type=int, default=None, help="GAN steps (default: the preset's)")
    parser.add_argument("--steps-per-epoch", type=int, default=500)
    parser.add_argument("--out", required=True, help="model base path, e.g. savedmodels/s2f_fit")
    parser.add_argument("--quantizations", default=",".join(QUANTIZATIONS), help="TFLite files")
    args = parser.parse_args(argv)

    pretrained, workdir = Path(args.pretrained), Path(args.workdir)
    config = wd.load_config(pretrained)  # the preset the encoder was pretrained with
    workdir.mkdir(parents=True, exist_ok=True)
    wd.save_or_check_config(workdir, config)
    shutil.copyfile(pretrained / wd.ENCODER_WEIGHTS, workdir / wd.ENCODER_WEIGHTS)
    steps = args.steps or config.train.steps
    quantizations = [q for q in args.quantizations.split(",") if q]
    history, report = train_and_export(
        args.data, workdir, args.out, steps, args.steps_per_epoch, quantizations
    )
    summary = {
        "epochs_run": len(history.epoch),
        "last_losses": {k: round(float(v[-1]), 5) for k, v in history.history.items()},
        "workdir": str(workdir),
        "saved_model": report["saved_model"]["path"],
        "tflite": {k: v["path"] for k, v in report["tflite"].items()},
    }
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # a bad path or dataset: one line, no traceback
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        sys.exit(print(f"train_fit.py: error: {message}", file=sys.stderr) or 2)
