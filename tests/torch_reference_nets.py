"""The reference networks in PyTorch, written from docs/recipe.md ("Networks" and "The official weights
files"): the one PyTorch copy, used by the tests (state dicts shaped like the released .pth files) and by
the benchmarks (benchmarks/torch_reference.py, the PyTorch GAN step).

Needs torch: `voice_net(channels)` / `generator_net(channels)` / `face_net(channels)` build the networks,
`randomize(net, seed)` gives every weight and BatchNorm statistic non-trivial values.
"""

import torch


class Wrapped(torch.nn.Module):
    """An `nn.Sequential` kept under the attribute `model`, as in the official code (keys `model.N.*`)."""

    def __init__(self, layers, pool_time=False):
        super().__init__()
        self.model = torch.nn.Sequential(*layers)
        self.pool_time = pool_time

    def forward(self, x):
        x = self.model(x)
        return x.mean(dim=2) if self.pool_time else x


def voice_net(channels=(256, 384, 576, 864), embedding_dim=64, mel_bins=64):
    """Log-mel `[B, mel_bins, T]` -> embedding `[B, embedding_dim]` (mean over time, not normalised)."""
    layers, width = [], mel_bins
    for out in channels:
        layers += [
            torch.nn.Conv1d(width, out, 3, 2, 1, bias=False),
            torch.nn.BatchNorm1d(out),
            torch.nn.ReLU(),
        ]
        width = out
    layers.append(torch.nn.Conv1d(width, embedding_dim, 3, 2, 1))
    return Wrapped(layers, pool_time=True).eval()


def generator_net(channels=(1024, 512, 256, 128, 64), embedding_dim=64, image_channels=3):
    """Embedding `[B, embedding_dim, 1, 1]` -> face `[B, image_channels, 64, 64]` (linear output)."""
    layers = [torch.nn.ConvTranspose2d(embedding_dim, channels[0], 4, 1, 0), torch.nn.ReLU()]
    for width, out in zip(channels, channels[1:], strict=False):
        layers += [torch.nn.ConvTranspose2d(width, out, 4, 2, 1), torch.nn.ReLU()]
    layers.append(torch.nn.ConvTranspose2d(channels[-1], image_channels, 1))
    return Wrapped(layers).eval()


def face_net(channels=(32, 64, 128, 256, 512), embedding_dim=64, slope=0.2):
    """Face `[B, 3, 64, 64]` -> embedding `[B, embedding_dim]` (docs/recipe.md "Networks")."""
    layers = [torch.nn.Conv2d(3, channels[0], 1), torch.nn.LeakyReLU(slope)]
    for width, out in zip(channels, channels[1:], strict=False):
        layers += [torch.nn.Conv2d(width, out, 4, 2, 1), torch.nn.LeakyReLU(slope)]
    layers += [torch.nn.Conv2d(channels[-1], embedding_dim, 4, 1, 0), torch.nn.Flatten()]
    return torch.nn.Sequential(*layers)


def randomize(net, seed=0):
    """Random weights and biases; BatchNorm gets non-trivial affine terms and running statistics."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.3 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.5 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.2 + 2.0 * torch.rand(n, generator=generator))
                module.num_batches_tracked.fill_(1234)
            elif isinstance(module, torch.nn.Conv1d | torch.nn.ConvTranspose2d):
                fan = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=generator) * (2.0 / fan) ** 0.5
                )
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
    return net
