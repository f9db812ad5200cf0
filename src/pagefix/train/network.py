"""PP-LCNet_x1_0 (the orientation classifier's network) in PyTorch, laid out like the shipped ONNX
graph so its weights can be read from the graph's initializers and written back into it.

The graph is the Paddle2ONNX export of PaddleClas' PPLCNet_x1_0 with a 4-way head: conv-BN-hardswish
stem, depthwise-separable blocks (two with squeeze-and-excitation), global pooling, a 1x1 "last
conv" to 1280 channels, Paddle's `downscale_in_infer` dropout (a constant 0.8 multiply at
inference), a linear layer and a softmax.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["BLOCKS", "FIRST_TRAINED_BLOCK", "PPLCNet"]

# (kernel, in, out, stride, squeeze-excite) for every depthwise-separable block, in graph order.
BLOCKS: tuple[tuple[int, int, int, int, bool], ...] = (
    (3, 16, 32, 1, False),
    (3, 32, 64, 2, False),
    (3, 64, 64, 1, False),
    (3, 64, 128, 2, False),
    (3, 128, 128, 1, False),
    (3, 128, 256, 2, False),
    (5, 256, 256, 1, False),
    (5, 256, 256, 1, False),
    (5, 256, 256, 1, False),
    (5, 256, 256, 1, False),
    (5, 256, 256, 1, False),
    (5, 256, 512, 2, True),
    (5, 512, 512, 1, True),
)

# Paddle's BatchNorm epsilon, as stored in the graph.
_BN_EPS = 1e-5

# The first block each partial setting trains ("top": the two squeeze-excite blocks; "head": none,
# the last conv is frozen too but cheap, so it is recomputed from the last block's output).
FIRST_TRAINED_BLOCK = {"top": 11, "head": len(BLOCKS)}


class ConvBN(nn.Sequential):
    """Conv (no bias) + BatchNorm + hardswish, Paddle's ConvBNLayer."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding=(kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch, eps=_BN_EPS),
            nn.Hardswish(),
        )


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels // reduction, 1)
        self.expand = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = F.hardsigmoid(self.expand(F.relu(self.reduce(scale))))
        return x * scale


class DepthwiseSeparable(nn.Sequential):
    def __init__(self, kernel: int, in_ch: int, out_ch: int, stride: int, use_se: bool) -> None:
        layers: list[nn.Module] = [ConvBN(in_ch, in_ch, kernel, stride, groups=in_ch)]
        if use_se:
            layers.append(SqueezeExcite(in_ch))
        layers.append(ConvBN(in_ch, out_ch, 1, 1))
        super().__init__(*layers)


class PPLCNet(nn.Module):
    """PP-LCNet_x1_0 with a `num_classes` head. `forward` returns logits; `probabilities` applies
    the softmax the exported graph ends with.

    >>> PPLCNet()(torch.zeros(1, 3, 224, 224)).shape  # doctest: +SKIP
    torch.Size([1, 4])
    """

    def __init__(self, num_classes: int = 4, dropout: float = 0.2) -> None:
        super().__init__()
        self.stem = ConvBN(3, 16, 3, 2)
        self.blocks = nn.Sequential(*(DepthwiseSeparable(*spec) for spec in BLOCKS))
        self.last_conv = nn.Conv2d(BLOCKS[-1][2], 1280, 1, bias=False)
        self.dropout = dropout
        self.fc = nn.Linear(1280, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 1280-d vector the head sees (after the inference-time dropout scaling)."""
        return self._pooled_features(self.blocks(self.stem(x)))

    def trunk(self, x: torch.Tensor, layers: str) -> torch.Tensor:
        """The output of the layers that `layers` ("top" or "head") leaves frozen: computed once
        per image and view, it is all that training those layers needs."""
        return self.blocks[: FIRST_TRAINED_BLOCK[layers]](self.stem(x))

    def forward_from_trunk(self, x: torch.Tensor, layers: str) -> torch.Tensor:
        """Logits from `trunk(images, layers)`: equal to `self(images)`."""
        return self.fc(self._pooled_features(self.blocks[FIRST_TRAINED_BLOCK[layers]:](x)))

    def _pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.hardswish(self.last_conv(F.adaptive_avg_pool2d(x, 1))).flatten(1)
        if self.training and self.dropout > 0:
            # downscale_in_infer: drop without rescaling while training, scale by (1 - p) at
            # inference. torch's dropout rescales by 1 / (1 - p); multiplying undoes it.
            return F.dropout(x, self.dropout, training=True) * (1.0 - self.dropout)
        return x * (1.0 - self.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(x), dim=-1)

    def parameters_to_train(self, layers: str) -> list[nn.Parameter]:
        """"all"; "top": the two squeeze-excite blocks, the last conv and the head; "head": the
        final linear layer only."""
        if layers == "all":
            return list(self.parameters())
        prefixes: tuple[str, ...]
        if layers == "top":
            prefixes = ("blocks.11.", "blocks.12.", "last_conv.", "fc.")
        elif layers == "head":
            prefixes = ("fc.",)
        else:
            raise ValueError(f"layers must be 'all', 'top' or 'head', not {layers!r}")
        return [p for name, p in self.named_parameters() if name.startswith(prefixes)]
