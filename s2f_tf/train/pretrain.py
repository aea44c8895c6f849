"""Pretraining the voice encoder as the backbone of a speaker classifier (plain cross-entropy).

Wen et al. (2019) use a voice embedding net pretrained this way on VoxCeleb1 (that code was never
released): encoder -> linear head over the training identities, softmax cross-entropy, random crops of
3-8 s. The GAN then loads the encoder frozen.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from s2f_tf import workdir as wd
from s2f_tf.config import AudioConfig, Config
from s2f_tf.data.crops import featurize_batch
from s2f_tf.frontend import LogMelSpectrogram
from s2f_tf.models import VoiceEncoder


class SpeakerClassifier(keras.Model):
    """Voice encoder + bias-free linear head: features `[B, T, 64]` -> speaker logits `[B, K]`.

    Also takes a dict of waveform crops (`train.features_on="device"`, see `s2f_tf.data.pipeline`),
    featurised here by the same front end.

    Args:
        encoder: the `VoiceEncoder` being pretrained.
        num_classes: training speakers.
        audio: the front end's settings, for waveform crops.
    """

    def __init__(
        self, encoder: VoiceEncoder, num_classes: int, audio: AudioConfig | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.num_classes = num_classes
        self.head = keras.layers.Dense(num_classes, name="speaker_logits")
        self.frontend = LogMelSpectrogram(audio, normalize=False)

    def build(self, input_shape):
        self.encoder.build(input_shape)
        self.head.build((None, self.encoder.embedding_dim))
        self.built = True

    def call(self, voices, training=False):
        features = featurize_batch(self.frontend, voices) if isinstance(voices, dict) else voices
        return self.head(self.encoder(features, training=training))


def _as_pairs(dataset):
    """(voice features, or the dict of waveform-crop fields; label) pairs for `fit`."""

    def pair(batch):
        if "voice" in batch:
            return batch["voice"], batch["voice_label"]
        return {k: v for k, v in batch.items() if k != "voice_label"}, batch["voice_label"]

    return dataset.map(pair)


def speaker_top1(classifier: SpeakerClassifier, utterances) -> tuple[float, int]:
    """Top-1 accuracy over whole utterances (each a batch {"voice": [1, T, 64], "voice_label"})."""
    predict = tf.function(lambda x: classifier(x, training=False), reduce_retracing=True)
    correct = total = 0
    for item in utterances:
        logits = predict(item["voice"])
        predicted = np.argmax(logits.numpy(), axis=-1)
        correct += int(np.sum(predicted == np.reshape(item["voice_label"], [-1])))
        total += len(predicted)
    return (correct / total if total else float("nan")), total


def pretrain_voice(
    config: Config,
    workdir,
    train_dataset: tf.data.Dataset,
    heldout,
    num_classes: int,
    *,
    strategy: tf.distribute.Strategy | None = None,
    steps: int | None = None,
    progress: bool = True,
) -> dict:
    """Train the speaker classifier with `fit()`, resumable through BackupAndRestore, then save the
    encoder to `workdir/voice_encoder.weights.h5` and report top-1 on the held-out utterances.

    Args:
        train_dataset: infinite batches {"voice": [B, T, 64], "voice_label": [B]}.
        heldout: iterable of whole held-out utterances of the same speakers (see `speaker_top1`).
    """
    workdir = Path(workdir)
    strategy = strategy or tf.distribute.get_strategy()
    total = steps if steps is not None else config.pretrain.steps
    per_epoch = max(1, min(config.pretrain.checkpoint_every, total))
    epochs = -(-total // per_epoch)
    keras.utils.set_random_seed(config.pretrain.seed)
    encoder, classifier = _compiled_classifier(config, num_classes, strategy)
    started = time.perf_counter()
    history = classifier.fit(
        _as_pairs(train_dataset),
        steps_per_epoch=per_epoch,
        epochs=epochs,
        shuffle=False,  # the tf.data input is shuffled already (and Keras warns that it ignores True)
        verbose=(1 if sys.stdout.isatty() else 2) if progress else 0,
        callbacks=_callbacks(workdir),
    )
    elapsed = time.perf_counter() - started
    top1, count = speaker_top1(classifier, heldout)
    target = wd.save_encoder_weights(workdir, encoder)
    final = {k: round(float(v[-1]), 4) for k, v in history.history.items() if v}
    return {
        "workdir": str(workdir),
        "encoder_weights": str(target),
        "steps": epochs * per_epoch,
        "seconds_this_run": round(elapsed, 2),
        "train": final,
        "heldout_top1": round(top1, 4),
        "heldout_utterances": count,
        "num_speakers": num_classes,
    }


def _compiled_classifier(config: Config, num_classes: int, strategy) -> tuple:
    """(the new voice encoder, its speaker classifier built and compiled under `strategy`)."""
    with strategy.scope():
        encoder = VoiceEncoder.from_model_config(config.model, name="voice_encoder")
        classifier = SpeakerClassifier(
            encoder, num_classes, audio=config.audio, name="speaker_classifier"
        )
        classifier.build((None, None, config.audio.num_mel_bins))
        optimizer = keras.optimizers.Adam(config.pretrain.learning_rate)
        optimizer.build(classifier.trainable_variables)
        classifier.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    return encoder, classifier


def _callbacks(workdir: Path) -> list:
    return [
        # Kept after success so that a rerun with more --steps continues.
        keras.callbacks.BackupAndRestore(
            str(workdir / wd.PRETRAIN_CHECKPOINTS), delete_checkpoint=False
        ),
        keras.callbacks.TensorBoard(str(workdir / wd.LOGS / "pretrain")),
    ]
