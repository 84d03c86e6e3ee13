"""The commands on one trained run: ``simve sample``, ``simve embed``, ``simve eval``, ``simve eval-gen``."""

from __future__ import annotations

from simve.cli.common import positive_int, probe_list, run_dir_parser
from simve.errors import SimveError
from simve.evaluate.probes import PROBES


def add_parser(commands) -> None:
    p = run_dir_parser(commands, "sample", "a grid of samples from a trained generative model")
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.add_argument("--n", type=positive_int, default=64, help="number of samples (default 64)")
    p.set_defaults(run=sample, check=_suffix(".png"))
    p = run_dir_parser(commands, "embed", "export a run's frozen features, labels and task labels as .npz")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--data", help="another dataset (name or .npz) of the same image shape (default: the run's)")
    p.add_argument("--data-root", metavar="DIR")
    p.add_argument("--out", required=True, metavar="FILE.npz")
    p.set_defaults(run=embed, check=_suffix(".npz"))
    p = run_dir_parser(commands, "eval-gen", "test ELBO, IWAE and reconstruction error of a generative run")
    p.add_argument("--particles", type=positive_int, default=100, metavar="K", help="IWAE samples (default 100)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="use the first N test images")
    p.set_defaults(run=eval_gen)
    p = run_dir_parser(commands, "eval", "content and style probes of a trained run: results.json and table.md")
    p.add_argument("--probes", type=probe_list, default=PROBES,
                   help=f"comma-separated probes among {', '.join(PROBES)} (default all)")
    p.add_argument("--max-train", type=positive_int, default=10_000, metavar="N",
                   help="fit probes on at most N training images (default 10000)")
    p.add_argument("--particles", type=int, default=100, metavar="K",
                   help="generative models: IWAE samples for the test bounds, 0 to skip (default 100)")
    p.set_defaults(run=eval_run)


def _suffix(suffix: str):
    def check(parser, args) -> None:
        if not args.out.lower().endswith(suffix):
            parser.error(f"--out must name a {suffix} file, got {args.out!r}")

    return check


def sample(args) -> None:
    import torch

    from simve.plots import save_image_grid, square
    from simve.train import load_trained

    config, _, model = load_trained(args.run_dir, args.device, args.partial)
    if not model.can("sample"):
        raise SimveError(f"{config.model} is not a generative model: it has no samples to draw")
    torch.manual_seed(args.seed)
    with torch.no_grad():
        images = model.sample(args.n)
    path = save_image_grid(square(images), args.out, f"{config.model} on {config.data}: {args.n} samples from the prior")
    print(f"wrote {path}")


def embed(args) -> None:
    from simve.analyse import split_arrays
    from simve.io import save_npz

    arrays, source = split_arrays(args.run_dir, args.split, args.data, args.data_root, args.device, args.partial)
    path = save_npz(args.out, **arrays)
    print(f"wrote {path}: {args.split} features {arrays['features'].shape} of {source}, "
          f"labels and {sum(k.startswith('task_') and not k.endswith('_index') for k in arrays)} task label sets")


def eval_gen(args) -> None:
    from simve.analyse import run_bounds

    metrics, path = run_bounds(args.run_dir, args.command_line, args.particles, args.limit, args.seed, args.device,
                               args.partial)
    print(f"{metrics['model']} on {metrics['data']} test ({metrics['images']} images x {metrics['views']} views, "
          f"K = {args.particles}):")
    print(f"  ELBO {metrics['elbo_per_view']:.2f}  IWAE {metrics['iwae_per_view']:.2f}  nats per view")
    print(f"  reconstruction MSE {metrics['reconstruction_mse']:.5f} per pixel")
    print(f"wrote {path}")


def eval_run(args) -> None:
    from simve.analyse import evaluate_run

    table, path = evaluate_run(args.run_dir, args.command_line, args.probes, args.seed, args.max_train,
                               args.particles, args.device, args.partial)
    print(table)
    print(f"wrote {path}")
