"""VICReg (Bardes, Ponce, LeCun 2022): invariance, variance and covariance terms on an expander's output."""

import dataclasses

from simve import losses
from simve.models.base import register
from simve.models.discriminative import Discriminative, DiscriminativeOptions
from simve.settings import option


@dataclasses.dataclass(frozen=True)
class VICRegOptions(DiscriminativeOptions):
    head_dim: int = option(512, "expander output size", positive=True)
    invariance: float = option(25.0, "weight of the invariance (mean squared distance) term")
    variance: float = option(25.0, "weight of the variance (hinge on each dimension's std) term")
    covariance: float = option(1.0, "weight of the covariance (off-diagonal) term")


@register("vicreg")
class VICReg(Discriminative):
    Options = VICRegOptions
    min_views = 2
    table_position = 6

    def objective(self, views):
        o = self.options
        return losses.vicreg(self.whole_batch(self.project(views)), o.invariance, o.variance, o.covariance)
