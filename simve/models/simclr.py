"""SimCLR (Chen et al. 2020): NT-Xent over the projections of J >= 2 views, all views of a datum positives."""

from typing import ClassVar

from simve import losses
from simve.models.base import register
from simve.models.discriminative import Discriminative


@register("simclr")
class SimCLR(Discriminative):
    knobs: ClassVar[dict] = {"temperature": 0.5}
    positive = ("temperature",)
    min_views = 2

    def loss(self, views):
        self.check_views(views)
        return losses.info_nce(self.project(views), self.temperature)
