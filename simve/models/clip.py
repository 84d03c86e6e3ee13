"""CLIP (Radford et al. 2021): one encoder per modality, trained with the symmetric InfoNCE.

Two modalities come from the data:
- 4-channel images (``glyphs-pair``) are an RGB image (channels 0-2) and its grayscale rendering
  (channel 3): each view gives one pair, the image encoder takes the RGB part, the other encoder
  (its own net, e.g. the MLP for 1 channel) the gray part; J = 1 suffices.
- other images: views 1 and 2 play the two modalities, each through its own encoder.
The representation downstream is the first (image) encoder's.
"""

from typing import ClassVar

import torch

from simve import losses
from simve.models.base import register
from simve.models.discriminative import Discriminative, Representation, _flat_apply, projection_head


@register("clip")
class CLIP(Discriminative):
    knobs: ClassVar[dict] = {"temperature": 0.1}
    positive = ("temperature",)

    def __init__(self, image_shape, **options):
        channels, height, width = image_shape
        self.paired = channels == 4
        shape_a, shape_b = ((3, height, width), (1, height, width)) if self.paired else (image_shape, image_shape)
        super().__init__(shape_a, **options)
        self.min_views = 1 if self.paired else 2
        self.encoder_b = Representation(self.net, shape_b, self.latent_dim)
        self.projector_b = projection_head(self.head, self.encoder_b.out_dim, self.head_dim)

    def _image_part(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :3, :, :] if self.paired else x

    def loss(self, views):
        self.check_views(views)
        if self.paired:
            a = self.project(views[:, :, :3])
            b = _flat_apply(self.projector_b, self.encoder_b(views[:, :, 3:]))
            # One CLIP batch per view, so that no datum meets its own other view as a negative.
            return torch.stack([losses.clip(a[:, j], b[:, j], self.temperature) for j in range(views.shape[1])]).mean()
        a = self.project(views[:, 0])
        b = _flat_apply(self.projector_b, self.encoder_b(views[:, 1]))
        return losses.clip(a, b, self.temperature)

    def embed(self, images):
        return self.encoder(self._image_part(images))
