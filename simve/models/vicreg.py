"""VICReg (Bardes, Ponce, LeCun 2022): invariance, variance and covariance terms on an expander's output."""

from typing import ClassVar

from simve import losses
from simve.models.base import register
from simve.models.discriminative import Discriminative


@register("vicreg")
class VICReg(Discriminative):
    knobs: ClassVar[dict] = {"head_dim": 512, "invariance": 25.0, "variance": 25.0, "covariance": 1.0}
    positive = ("head_dim",)
    min_views = 2

    def loss(self, views):
        self.check_views(views)
        return losses.vicreg(self.project(views), self.invariance, self.variance, self.covariance)
