"""Why a run's mean-classifier column can read chance: the offset its features share.

    python -m scripts.feature_offset RUN [RUN ...]   (from the repository root)

Arora et al.'s mean classifier scores ``f(x) . mu_c`` with ``mu_c`` the mean feature of class c, with no
bias and no centring. Write ``mu_c = m + d_c`` with ``m`` the mean over train: the score is
``f . m + f . d_c``, and ``f . d_c = m . d_c + (f - m) . d_c``. When the features share an offset ``m``
much longer than their spread, the image-independent ``m . d_c`` outweighs the rest and every image
goes to one class. For each run this prints, on its validation split (the test split is not read), the
features' mean pairwise cosine, ``|m|`` over the mean distance to ``m``, the mean classifier's accuracy
and how many images each class receives, and the accuracy of the same classifier on features centred by
``m`` (not the theorem's classifier: a diagnostic).
"""

from __future__ import annotations

import argparse

import torch

from simve.evaluate.batches import embed_images
from simve.evaluate.probes import mean_classifier
from simve.train.loop import load_trained


def offset_report(train: torch.Tensor, train_labels: torch.Tensor, held_out: torch.Tensor, held_out_labels: torch.Tensor,
                  pairs: int = 1000) -> dict:
    """The offset's size and the mean classifier's accuracy on ``held_out``, raw and centred by train's mean
    (labels ``0..C-1``, ``C`` read from train's)."""
    train, held_out = train.double(), held_out.double()
    n_classes = int(train_labels.max()) + 1
    offset = train.mean(0)
    unit = torch.nn.functional.normalize(held_out[:pairs], dim=1)
    off_diagonal = ~torch.eye(len(unit), dtype=torch.bool)
    report = {"width": train.shape[1], "mean_cosine": (unit @ unit.T)[off_diagonal].mean().item(),
              "offset_over_spread": (offset.norm() / (train - offset).norm(dim=1).mean()).item()}
    for name, shift in (("raw", 0), ("centred", offset)):
        predictions = ((held_out - shift) @ mean_classifier(train - shift, train_labels, n_classes).T).argmax(1)
        report[name] = (predictions == held_out_labels).double().mean().item()
        report[f"{name}_predicted"] = torch.bincount(predictions, minlength=n_classes).tolist()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN", help="finished run folders")
    for run in parser.parse_args().runs:
        _, data, model = load_trained(run, "cpu", False)
        r = offset_report(embed_images(model, data.train.images), data.train.labels,
                          embed_images(model, data.val.images), data.val.labels)
        print(f"{run}: {r['width']}-d features, mean cosine {r['mean_cosine']:.3f}, offset / spread "
              f"{r['offset_over_spread']:.2f}; mean classifier {100 * r['raw']:.1f} % (validation images per class "
              f"{r['raw_predicted']}), centred {100 * r['centred']:.1f} %")


if __name__ == "__main__":
    main()
