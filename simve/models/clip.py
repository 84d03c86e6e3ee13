"""CLIP (Radford et al. 2021): one encoder per modality, trained with the symmetric InfoNCE.

Two modalities come from the data:
- 4-channel images (``glyphs-pair``) are an RGB image (channels 0-2) and its grayscale rendering
  (channel 3): each view gives one pair, the image encoder takes the RGB part, the other encoder
  (its own net, e.g. the MLP for 1 channel) the gray part; J = 1 suffices.
- other images: views 1 and 2 play the two modalities, each through its own encoder.
The representation downstream is the first (image) encoder's.
"""

import dataclasses

import torch

from simve import losses
from simve.models.base import register
from simve.models.discriminative import Discriminative, DiscriminativeOptions
from simve.nets import build_backbone
from simve.nets.heads import Representation, flat_apply, projection_head
from simve.settings import option


@dataclasses.dataclass(frozen=True)
class CLIPOptions(DiscriminativeOptions):
    temperature: float = option(0.1, "softmax temperature of the symmetric InfoNCE", positive=True)


@register("clip")
class CLIP(Discriminative):
    Options = CLIPOptions

    def __init__(self, image_shape, options=None):
        channels, height, width = image_shape
        paired = channels == 4
        shape_a, shape_b = ((3, height, width), (1, height, width)) if paired else (image_shape, image_shape)
        super().__init__(shape_a, options)
        self.paired, self.min_views = paired, 1 if paired else 2
        o = self.options
        self.encoder_b = Representation(build_backbone(o.net, shape_b), o.latent_dim)
        self.projector_b = projection_head(o.head, self.encoder_b.out_dim, o.head_dim)

    def _image_part(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :3, :, :] if self.paired else x

    def objective(self, views):
        t = self.options.temperature
        if self.paired:
            a = self.whole_batch(self.project(views[:, :, :3]))
            b = self.whole_batch(flat_apply(self.projector_b, self.encoder_b(views[:, :, 3:])))
            # One CLIP batch per view, so that no datum meets its own other view as a negative.
            return torch.stack([losses.clip(a[:, j], b[:, j], t) for j in range(views.shape[1])]).mean()
        a = self.whole_batch(self.project(views[:, 0]))
        b = self.whole_batch(flat_apply(self.projector_b, self.encoder_b(views[:, 1])))
        return losses.clip(a, b, t)

    def embed(self, images):
        return self.encoder(self._image_part(images))
