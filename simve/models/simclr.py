"""SimCLR (Chen et al. 2020): NT-Xent over the projections of J >= 2 views, all views of a datum positives."""

import dataclasses

from simve import losses
from simve.models.base import register
from simve.models.discriminative import Discriminative, DiscriminativeOptions
from simve.settings import option


@dataclasses.dataclass(frozen=True)
class SimCLROptions(DiscriminativeOptions):
    temperature: float = option(0.5, "softmax temperature of NT-Xent", positive=True)


@register("simclr")
class SimCLR(Discriminative):
    Options = SimCLROptions
    min_views = 2
    table_position = 5

    def objective(self, views):
        return losses.info_nce(self.whole_batch(self.project(views)), self.options.temperature)
