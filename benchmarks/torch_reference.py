"""The reference networks and GAN step of docs/recipe.md in PyTorch (CPU), the baseline to beat.

Written from docs/recipe.md ("Networks", "Losses and one training iteration"), channels-first as in the reference, and as its official
training loop does one iteration: the frozen voice encoder and the generator run forward once, the face
net f runs on the real and the (detached) fake batch as two separate forwards for the D/C update, and once
more on the fake batch (through the updated f, d, c) for the G update.

    from benchmarks.torch_reference import ReferenceGAN, random_batch
    gan = ReferenceGAN(num_classes=924)
    gan.step(random_batch(128, 550, 924))
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from torch_reference_nets import face_net, generator_net, voice_net  # noqa: E402


def random_batch(batch: int, frames: int, num_classes: int, seed: int = 0) -> dict:
    """Channels-first tensors: voice [B, 64, T], face [B, 3, 64, 64] in [-1, 1], labels, noise [B, 64]."""
    g = torch.Generator().manual_seed(seed)
    return {
        "voice": torch.randn(batch, 64, frames, generator=g),
        "voice_label": torch.randint(0, num_classes, (batch,), generator=g),
        "face": torch.rand(batch, 3, 64, 64, generator=g) * 2 - 1,
        "face_label": torch.randint(0, num_classes, (batch,), generator=g),
        "noise": torch.randn(batch, 64, generator=g),
    }


class ReferenceGAN:
    """E (frozen), G, f, d, c and two Adam optimizers (lr 2e-4, betas (0.5, 0.999)).

    Args:
        num_classes: identities for the classifier head c.
        embedding_noise: standard deviation of the noise added to the normalised voice embedding.

    Example:
    >>> gan = ReferenceGAN(num_classes=10)
    >>> sorted(gan.step(random_batch(2, 40, 10)))[:2]
    ['d_loss', 'g_loss']
    """

    def __init__(self, num_classes: int, embedding_noise: float = 0.05):
        self.encoder = voice_net().eval()
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.generator = generator_net().train()
        self.face = face_net()
        self.d = torch.nn.Linear(64, 1, bias=False)
        self.c = torch.nn.Linear(64, num_classes, bias=False)
        self.noise = embedding_noise
        self.g_opt = torch.optim.Adam(self.generator.parameters(), 2e-4, betas=(0.5, 0.999))
        d_params = [*self.face.parameters(), *self.d.parameters(), *self.c.parameters()]
        self.d_opt = torch.optim.Adam(d_params, 2e-4, betas=(0.5, 0.999))
        self.bce = torch.nn.BCEWithLogitsLoss()
        self.ce = torch.nn.CrossEntropyLoss()

    def step(self, batch: dict) -> dict:
        """One training iteration of docs/recipe.md "Losses and one training iteration" (steps 1-3)."""
        normalize = torch.nn.functional.normalize
        with torch.no_grad():
            e = normalize(self.encoder(batch["voice"]))
            e = normalize(e + self.noise * batch["noise"])
        fake = self.generator(e[:, :, None, None])

        # D/C update: real and detached fake through f (two forwards, as the reference code does).
        real_emb = self.face(batch["face"])
        fake_emb = self.face(fake.detach())
        real_logit, fake_logit = self.d(real_emb), self.d(fake_emb)
        d_loss = (
            self.bce(real_logit, torch.ones_like(real_logit))
            + self.bce(fake_logit, torch.zeros_like(fake_logit))
            + self.ce(self.c(real_emb), batch["face_label"])
        )
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_opt.step()

        # G update through the updated f, d, c.
        fake_emb = self.face(fake)
        fake_logit = self.d(fake_emb)
        g_loss = self.bce(fake_logit, torch.ones_like(fake_logit)) + self.ce(
            self.c(fake_emb), batch["voice_label"]
        )
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        return {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach())}

    def infer(self, features: torch.Tensor) -> torch.Tensor:
        """Features [B, 64, T] -> face [B, 3, 64, 64] (encoder + normalise + generator, no grad)."""
        with torch.no_grad():
            e = normalize_embedding(self.encoder(features))
            return self.generator.eval()(e[:, :, None, None])


def normalize_embedding(e: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(e)
