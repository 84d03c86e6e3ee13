"""Train the official SimVAE code's models on simve's FashionMNIST split and read them with simve's linear probe.

    python scripts/official_simvae.py --official GITDIR_OR_FOLDER [--commit C] --model selfsup|vae
        --epochs E [--lr 8e-5] [--seed S] [--entropy official|correct] [--curve-epochs 1,2,4,...]
        [--data-root DIR] [--train-limit N] [--threads N] [--device cpu|cuda] --out FILE.json

so that the official code (https://github.com/alicebizeul/simvae) and ``simve train --preset paper`` can be
compared side by side on the same data, views budget and probe. Nothing of the official code is copied
here: ``--official`` names a git directory (bare mirror or checkout; ``main.py`` and ``src/`` of
``--commit``, default HEAD, are extracted to a temporary folder with ``git archive | tar -x``) or a plain
folder holding ``main.py`` and ``src/``, and that code is imported and executed at run time.

What runs, official code (from the extracted copy):

- the model: ``src.model.models.SelfSup`` (``--model selfsup``, ``main.py -S 1``, SimVAE) or
  ``src.model.models.GmmVAEWithAugments`` (``--model vae``, ``main.py -S 0``: every view a VAE datum
  with the N(0, I) prior), built with the arguments ``main.py`` gives them for ``-d fashionmnist -l 3``:
  the MLP 784-2000-500-500-2d encoder and d-500-500-2000-784 decoder (``src.model.models.Encoder`` /
  ``Decoder``), d = 10, ``log_var_x = -4.6``, ``binarise = True`` (the BCE-sum reconstruction on [0, 1]
  pixels), ``var_z_y = 0.15``, ``p_y_prior = "gaussian"``;
- its loss and training step: one epoch is one call of ``main.train(model, loader, ...)`` with the
  schedule ``("train", 1, 0)`` (``model(data)``, ``model.loss``, ``recon + prior + entropy`` summed over
  the batch, backward, ``optimizer.step()``), after ``src.utils.utils.reshape_data`` of the batch;
- its views: ``src.data.data_loader.TransformsSimCLR(size=28, num_sim=J, ds="fashionmnist")``
  (``RandomResizedCrop(28, scale=(0.4, 1), ratio=(0.75, 1.3))``, ``RandomVerticalFlip(0.5)``,
  ``ToTensor``, per image and view), applied by ``src.data.data_loader.MyFashionMNIST.__getitem__``;
- its seeding helper ``src.utils.utils.set_seed`` and its optimiser settings (``main.py``: Adam, eps 1e-4,
  weight decay 0, no schedule), with ``--lr`` (official default 8e-5).

Our glue (this file), and the shims it needs:

- data: simve's split, exactly what ``simve train --data fashionmnist --seed S`` trains on
  (``TrainConfig(...).load_data()``); the official dataset object is made with
  ``MyFashionMNIST.__new__`` and given simve's train images (uint8, ``.data``/``.targets`` as torchvision
  lays them out) instead of reading the raw files; loader: ``torch.utils.data.DataLoader(batch_size=64,
  shuffle=True, drop_last=True)`` as in ``get_loader``, but ``num_workers=0`` (no worker processes);
- ``main.py`` is imported as a module under ``sys.argv = main.py -d fashionmnist -l 3 -Z 10 ...`` (its
  ``src.utils.options`` parses the command line at import); its ``train`` looks up ``tqdm_enumerate``,
  which ``main.py`` defines only under ``__main__``: the shim is ``enumerate`` (the official one is
  ``enumerate`` on a GPU too);
- scikit-learn, which ``src/model/models.py`` imports at the top for evaluators this driver never builds
  (KNN, GMM clustering), is replaced by stub modules when it is not installed (calling them raises);
  torchvision is made importable with ``simve.data.torchvision_compat.ensure_importable``;
- seeds: the official constructor chain drops its ``seed`` (``SelfSup`` -> ``GmmVAE`` -> ``BaseVAE``), so
  its ``Encoder``/``Decoder`` always call ``set_seed(1234)`` and, built after the loaders in ``main.py``,
  leave every later random draw (shuffling, views, reparameterisation) on seed 1234 whatever ``-s`` says.
  Here the encoder and decoder are rebuilt with the official ``Encoder(seed=init_seed, ...)`` /
  ``Decoder(seed=init_seed, ...)`` (``--init-seed``, default ``--seed``; 1234 gives the official
  weights exactly), then ``set_seed(--seed)`` seeds the training stream;
- ``--entropy correct``: a subclass whose ``recon_and_entropy`` calls the official one and replaces its
  entropy ``0.5 * sum(2 * pi * log_var)`` by the Gaussian entropy ``0.5 * sum(log_var) + 0.5 * n (1 +
  log 2 pi)`` (n the number of latent coordinates of the batch);
- the curve: after each epoch of ``--curve-epochs`` (default simve's ``curve_epochs("doubling", E)``:
  1, 2, 4, ... and E / 2 and E), the posterior means (``model.sample_z`` in eval mode, no grad) of
  un-augmented images (uint8 / 255, what the official eval transform ``ToTensor`` gives) of the first
  2000 train images of a permutation seeded by ``--seed`` (the subset simve's own curve reader uses) and
  of the val split are read by ``simve.evaluate.probes.linear_probe(train, val, val, seed=S)``; its
  ``val_accuracy`` is recorded with the epoch, step and training seconds (probe time excluded). The
  test split is never read by the curve;
- at the end: ``linear_probe(train, val, test, seed=S, max_train=10000)["test_accuracy"]`` on the
  features of the whole train split (the test content accuracy), l2 chosen on val.

``--train-limit N`` cuts the train split to its first N images (training and probe features), for smoke
tests. The JSON is rewritten after each curve point (``"finished": false``) and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.machinery
import importlib.util
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

from simve.data.torchvision_compat import ensure_importable
from simve.evaluate.curve import CURVE_MAX_TRAIN
from simve.evaluate.probes import linear_probe
from simve.train import TrainConfig, curve_epochs

OFFICIAL_REPO = "https://github.com/alicebizeul/simvae"
OFFICIAL_INIT_SEED = 1234  # what the official Encoder / Decoder always seed themselves with
SIZE, CHANNELS = 28, 1
X_DIM, M_DIMS = SIZE * SIZE * CHANNELS, [500, 500, 2000]  # main.py, ds_name == "fashionmnist"
ADAM_EPS = 1e-4  # main.py: optim.Adam(..., eps=1e-4)
TEST_MAX_TRAIN = 10_000
SUP_TYPE = {"selfsup": 1, "vae": 0}  # main.py -S: 1 = SelfSup (SimVAE), 0 = GmmVAEWithAugments (VAE on the views)


# ---------------------------------------------------------------------------------------- the official code


def official_source(path: str, commit: str | None, workdir: str) -> tuple[Path, str]:
    """The folder to import the official code from and its commit (``unknown`` for a folder outside git)."""
    source = Path(path)
    git_dir = source if (source / "HEAD").is_file() and (source / "objects").is_dir() else source / ".git"
    if git_dir.is_dir() and (commit is not None or not (source / "main.py").is_file()):
        sha = _git(git_dir, "rev-parse", "--verify", f"{commit or 'HEAD'}^{{commit}}").strip()
        archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", sha, "main.py", "src"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", workdir], input=archive, check=True)
        return Path(workdir), sha
    if not (source / "main.py").is_file() or not (source / "src" / "model" / "models.py").is_file():
        raise SystemExit(f"--official {path}: neither a git directory nor a folder with main.py and src/")
    try:
        sha = _git(git_dir, "rev-parse", "HEAD").strip() if git_dir.is_dir() else "unknown"
    except subprocess.CalledProcessError:
        sha = "unknown"
    return source, sha


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=True).stdout


def _stub_sklearn() -> list[str]:
    """Stub modules for the scikit-learn names ``src/model/models.py`` imports, where it is not installed."""
    if importlib.util.find_spec("sklearn") is not None:
        return []
    names = {"sklearn": (), "sklearn.neighbors": ("KNeighborsClassifier",), "sklearn.mixture": ("GaussianMixture",),
             "sklearn.metrics": ("adjusted_rand_score", "normalized_mutual_info_score")}
    for module_name, attributes in names.items():
        module = types.ModuleType(module_name)
        module.__spec__ = importlib.machinery.ModuleSpec(module_name, None)  # find_spec (torch._dynamo) needs one
        for attribute in attributes:
            module.__dict__[attribute] = _unavailable(f"{module_name}.{attribute}")
        sys.modules[module_name] = module
    return sorted(names)


def _unavailable(name: str):
    def call(*args, **kwargs):
        raise RuntimeError(f"{name}: scikit-learn is not installed; official_simvae.py stubs it (unused here)")
    return call


def import_official(root: Path, argv: list[str]) -> types.SimpleNamespace:
    """``main.py`` (as a module, under ``argv``) and ``src.model.models``, ``src.data.data_loader``,
    ``src.utils.utils`` from ``root``."""
    ensure_importable()
    import torchvision  # noqa: F401  (and torch._dynamo, which find_spec()s modules) before the sklearn stubs

    os.environ.setdefault("MPLBACKEND", "Agg")  # src/utils/plotting.py imports pyplot
    stubs = _stub_sklearn()
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(root))
    saved_argv = sys.argv
    sys.argv = ["main.py", *argv]  # src/utils/options.py parses the command line at import
    try:
        spec = importlib.util.spec_from_file_location("simvae_official_main", root / "main.py")
        main = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(main)
    finally:
        sys.argv = saved_argv
    official = types.SimpleNamespace(
        main=main, models=importlib.import_module("src.model.models"),
        data_loader=importlib.import_module("src.data.data_loader"), utils=importlib.import_module("src.utils.utils"),
        options=importlib.import_module("src.utils.options"), stubs=stubs)
    for module in (official.models, official.data_loader, official.utils, official.options):
        if root.resolve() not in Path(module.__file__).resolve().parents:
            raise SystemExit(f"{module.__name__} was imported from {module.__file__}, not from {root}")
    main.tqdm_enumerate = lambda iterator, total=None, message="", **_: enumerate(iterator)  # main.py: __main__ only
    return official


def with_correct_entropy(base: type) -> type:
    """``base`` whose entropy term is the Gaussian entropy, not the official ``0.5 * sum(2 pi log_var)``."""
    def recon_and_entropy(self, x, q_c_gnv_x, p_x_gnv_z):
        recon, _pi_weighted = base.recon_and_entropy(self, x, q_c_gnv_x, p_x_gnv_z)
        log_var = q_c_gnv_x[1]
        return recon, 0.5 * torch.sum(log_var) + 0.5 * log_var.numel() * (1.0 + math.log(2 * math.pi))
    return type(f"{base.__name__}CorrectEntropy", (base,), {"recon_and_entropy": recon_and_entropy})


def build_model(official, args, num_train: int):
    """The official model of ``args.model`` with ``main.py``'s arguments, its nets seeded with ``init_seed``."""
    models = official.models
    net_args = {"x_dim": X_DIM, "m_dims": list(M_DIMS), "resnet18": False, "n_channels": CHANNELS, "bn": True,
                "c_dim": args.zdim}  # main.py: net_args
    vae_args = {"log_var_x": args.log_var_x, "binarise": True}  # main.py: vae_args (fashionmnist binarise = True)
    selfsup_args = {"var_z_y": args.var_z_y, "num_data": num_train, "p_y_prior": args.p_y_prior}
    base = models.SelfSup if args.model == "selfsup" else models.GmmVAEWithAugments
    cls = base if args.entropy == "official" else with_correct_entropy(base)
    if args.model == "selfsup":
        model = cls(net_args, vae_args, selfsup_args, num_sim=args.views, seed=args.init_seed, binary=False)
    else:
        model = cls(net_args, vae_args, num_sim=args.views, seed=args.init_seed)
    # The constructors above drop `seed` and build both nets with set_seed(1234); rebuild them with the
    # official constructors and the seed they would have received (1234 reproduces them exactly).
    model.encoder = models.Encoder(seed=args.init_seed, **net_args)
    model.decoder = models.Decoder(seed=args.init_seed, **net_args)
    return model, {"net_args": net_args, "vae_args": vae_args,
                   "selfsup_args": selfsup_args if args.model == "selfsup" else None, "class": cls.__name__}


def official_dataset(official, split, views: int):
    """The official FashionMNIST dataset object (its ``__getitem__`` and views) over simve's ``split``."""
    data_loader = official.data_loader
    dataset = data_loader.MyFashionMNIST.__new__(data_loader.MyFashionMNIST)  # not from the raw files
    dataset.data = split.images[:, 0].contiguous()  # uint8 (N, 28, 28), as torchvision holds it
    dataset.targets = split.labels.clone()
    dataset.transform = data_loader.TransformsSimCLR(size=SIZE, num_sim=views, ds="fashionmnist")
    dataset.target_transform = None
    dataset.switch, dataset.representations, dataset.labels, dataset.counter = 1, {}, {}, 0
    return dataset


# ------------------------------------------------------------------------------------------------ probes


@torch.no_grad()
def embed(model, images: torch.Tensor, device: torch.device, chunk: int = 1000) -> torch.Tensor:
    """Posterior means (``model.sample_z`` in eval mode) of un-augmented uint8 images ``(N, 1, 28, 28)``."""
    was_training = model.training
    model.eval()
    features = []
    for start in range(0, len(images), chunk):
        x = images[start:start + chunk].to(device).float().div(255).flatten(1)  # = ToTensor, flattened like reshape_data
        features.append(model.sample_z(x)[1].float().cpu())
    model.train(was_training)
    return torch.cat(features)


def parse_curve_epochs(text: str | None, epochs: int) -> list[int]:
    if text is None:
        return curve_epochs("doubling", epochs)
    if text.strip().lower() in ("", "none", "off"):
        return []
    values = sorted({int(v) for v in text.split(",") if v.strip()})
    if any(v < 1 for v in values):
        raise SystemExit(f"--curve-epochs must be epochs >= 1, got {text}")
    return [v for v in values if v <= epochs]


# -------------------------------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official", required=True, help="git directory (bare mirror or checkout) or folder of the official code")
    p.add_argument("--commit", help="commit to extract from a git directory (default HEAD)")
    p.add_argument("--model", required=True, choices=sorted(SUP_TYPE))
    p.add_argument("--epochs", required=True, type=int)
    p.add_argument("--lr", type=float, default=8e-5, help="Adam lr (official default 8e-5)")
    p.add_argument("--seed", type=int, default=0, help="simve's split seed, the training stream's seed, the probes' seed")
    p.add_argument("--init-seed", type=int, help=f"seed of the nets' initialisation (default --seed; "
                                                  f"{OFFICIAL_INIT_SEED} = the official weights)")
    p.add_argument("--entropy", choices=("official", "correct"), default="official")
    p.add_argument("--curve-epochs", help="comma-separated epochs (default 1, 2, 4, ..., E/2, E); 'none' for none")
    p.add_argument("--test-epochs", default="",
                   help="comma-separated epochs before the last at which the test content is scored too (the weights "
                        "after E epochs of a longer run are those of an E-epoch run: no lr schedule)")
    p.add_argument("--data-root", default=os.environ.get("SIMVE_DATA"), help="simve data root (default $SIMVE_DATA)")
    p.add_argument("--train-limit", type=int, help="cut the train split to its first N images (smoke tests)")
    p.add_argument("--batch", type=int, default=64, help="images a step (official: -B 128 // 2 views = 64)")
    p.add_argument("--views", type=int, default=2, help="views per image (official -a 2)")
    p.add_argument("--zdim", type=int, default=10, help="latent dimension (official -Z 10 for fashionmnist)")
    p.add_argument("--var-z-y", type=float, default=0.15, help="variance of z around y (official -b 0.15)")
    p.add_argument("--log-var-x", type=float, default=-4.6, help="recon divided by exp(this) (official -v -4.6)")
    p.add_argument("--p-y-prior", choices=("gaussian", "uniform"), default="gaussian", help="official -o")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", required=True, help="JSON file to write")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch < 1 or args.views < 2:
        raise SystemExit("--epochs and --batch must be >= 1 and --views >= 2")
    if args.init_seed is None:
        args.init_seed = args.seed
    return args


def official_argv(args) -> list[str]:
    """The ``main.py`` command line this run corresponds to (``scripts/train.sh`` for fashionmnist)."""
    return ["-d", "fashionmnist", "-l", "3", "-Z", str(args.zdim), "-c", "10", "-a", str(args.views),
            "-B", str(args.batch * args.views), "-L", str(args.lr), "-b", str(args.var_z_y), "-v", str(args.log_var_x),
            "-o", args.p_y_prior, "-S", str(SUP_TYPE[args.model]), "-s", str(args.seed), "-e", str(args.epochs),
            "-w", "0"]


def describe(args, official_commit: str, info: dict, stubs: list[str]) -> str:
    entropy = ("its entropy 0.5*sum(2*pi*log_var) (models.py BaseVAE.recon_and_entropy)" if args.entropy == "official"
               else "the Gaussian entropy 0.5*sum(log_var) + consts in place of its 0.5*sum(2*pi*log_var)")
    return (
        f"Official SimVAE code {OFFICIAL_REPO} at {official_commit}, imported from an extracted copy (nothing copied "
        f"into simve). Model src.model.models.{info['class']} (main.py -S {SUP_TYPE[args.model]}) built with main.py's "
        f"fashionmnist arguments net_args={info['net_args']}, vae_args={info['vae_args']}, "
        f"selfsup_args={info['selfsup_args']}, num_sim={args.views}; encoder/decoder rebuilt with the official "
        f"Encoder/Decoder(seed={args.init_seed}) ({OFFICIAL_INIT_SEED} = the official weights). Trained on simve's "
        f"fashionmnist train split (TrainConfig(seed={args.seed}).load_data(), train-limit {args.train_limit}) through "
        f"the official MyFashionMNIST.__getitem__ and TransformsSimCLR(size=28, num_sim={args.views}, "
        f"ds='fashionmnist') views (RandomResizedCrop scale 0.4-1 ratio 0.75-1.3, RandomVerticalFlip 0.5, ToTensor), "
        f"DataLoader(batch_size={args.batch}, shuffle=True, drop_last=True, num_workers=0); each epoch one call of "
        f"the official main.train(..., schedule=('train', 1, 0)) (reshape_data, model(data), model.loss, loss = "
        f"recon + prior + entropy summed over the batch, backward, step) with {entropy}; Adam(lr={args.lr}, "
        f"eps={ADAM_EPS}, weight_decay=0), no lr schedule; src.utils.utils.set_seed({args.seed}) after the model is "
        f"built. Shims: main.tqdm_enumerate = enumerate; sys.argv = main.py {' '.join(official_argv(args))} while "
        f"main.py is imported; stub modules {stubs or 'none'} for scikit-learn. Curve: posterior means "
        f"(model.sample_z, eval mode) of uint8/255 images, {CURVE_MAX_TRAIN} train images of a permutation seeded "
        f"{args.seed} and the val split, simve linear_probe(train, val, val, seed={args.seed})['val_accuracy']. "
        f"Test: linear_probe(all train, val, test, seed={args.seed}, max_train={TEST_MAX_TRAIN})['test_accuracy'].")


def write(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)


def test_probe(model, train_split, data, device, seed: int) -> dict:
    """simve's linear probe on the features of the whole train split, l2 chosen on val, test scored once."""
    features = [embed(model, split.images, device) for split in (train_split, data.val, data.test)]
    return linear_probe(*zip(features, (train_split.labels, data.val.labels, data.test.labels)), seed=seed,
                        max_train=TEST_MAX_TRAIN)


def score_test(model, train_split, data, device, seed: int) -> float:
    """The test content accuracy of the weights as they are (the random state left as it was)."""
    rng = torch.get_rng_state()
    accuracy = test_probe(model, train_split, data, device, seed)["test_accuracy"]
    torch.set_rng_state(rng)
    return accuracy


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    device = torch.device(args.device)
    out = Path(args.out)
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])

    data = TrainConfig(model="simve", data="fashionmnist", epochs=1, data_root=args.data_root, seed=args.seed).load_data()
    train_split = data.train
    if args.train_limit is not None:
        train_split = train_split.subset(torch.arange(min(args.train_limit, len(train_split))))
    rows = torch.randperm(len(train_split), generator=torch.Generator().manual_seed(args.seed))
    curve_rows = rows[:CURVE_MAX_TRAIN].sort().values  # the train subset simve's CurveReader fits on
    schedule = parse_curve_epochs(args.curve_epochs, args.epochs)
    test_epochs = {int(e) for e in args.test_epochs.split(",") if e.strip()}

    with tempfile.TemporaryDirectory(prefix="official_simvae_") as workdir:
        root, commit = official_source(args.official, args.commit, workdir)
        official = import_official(root, official_argv(args))
        official.utils.set_seed(args.seed)
        model, info = build_model(official, args, len(train_split))
        model = model.to(device)
        official.utils.set_seed(args.seed)  # the training stream: shuffling, views, reparameterisation
        loader = torch.utils.data.DataLoader(official_dataset(official, train_split, args.views), batch_size=args.batch,
                                             shuffle=True, num_workers=0, drop_last=True)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=0.0, eps=ADAM_EPS)
        n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)

        record = {
            "official": {"repo": OFFICIAL_REPO, "commit": commit, "source": str(Path(args.official).resolve()),
                         "imported": ["main.py (main.train)", "src/model/models.py", "src/data/data_loader.py",
                                      "src/utils/utils.py", "src/utils/options.py"],
                         "main_argv": official_argv(args), "sklearn_stubs": official.stubs},
            "model": args.model, "model_class": info["class"], "entropy": args.entropy, "lr": args.lr,
            "adam_eps": ADAM_EPS, "batch_images": args.batch, "views": args.views, "zdim": args.zdim,
            "var_z_y": args.var_z_y, "log_var_x": args.log_var_x, "p_y_prior": args.p_y_prior,
            "epochs": args.epochs, "seed": args.seed, "init_seed": args.init_seed, "device": str(device),
            "threads": args.threads, "parameters": n_params,
            "data": {"dataset": "fashionmnist", "data_root": args.data_root, "train": len(train_split),
                     "val": len(data.val), "test": len(data.test), "train_limit": args.train_limit,
                     "curve_train": len(curve_rows)},
            "steps_per_epoch": len(loader), "steps": 0, "training_seconds": 0.0, "steps_per_second": None,
            "curve_epochs": schedule, "curve": [], "epoch_losses": [], "test_content_accuracy": None, "tests": [],
            "description": describe(args, commit, info, official.stubs), "command": command, "finished": False,
            "torch": torch.__version__,
        }

        steps, seconds = 0, 0.0
        curve_images = train_split.images[curve_rows]
        for epoch in range(1, args.epochs + 1):
            start = time.perf_counter()
            losses, _ = official.main.train(model, loader, device, optimizer, True, "", num_sim=args.views,
                                            schedule=("train", 1, 0), shape=(CHANNELS, SIZE, SIZE))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds += time.perf_counter() - start
            steps += len(loader)
            per_view = args.batch * args.views
            record["epoch_losses"].append({
                "epoch": epoch, "loss_per_view": losses["train"] / per_view,
                "recon_per_view": sum(losses["recon"]) / len(losses["recon"]) / per_view,
                "entropy_per_view": sum(losses["entropy"]) / len(losses["entropy"]) / per_view,
                "neg_log_prior_per_view": sum(losses["prior"]) / len(losses["prior"]) / per_view})
            record.update(steps=steps, training_seconds=seconds, steps_per_second=steps / seconds)
            if epoch in schedule:
                rng = torch.get_rng_state()
                result = linear_probe((embed(model, curve_images, device), train_split.labels[curve_rows]),
                                      (f_val := embed(model, data.val.images, device), data.val.labels),
                                      (f_val, data.val.labels), seed=args.seed)
                torch.set_rng_state(rng)
                record["curve"].append({"epoch": epoch, "step": steps, "training_seconds": seconds,
                                        "val_content_accuracy": result["val_accuracy"], "l2": result["chosen"]["l2"],
                                        "probe_seconds": result["seconds"]})
                print(f"epoch {epoch:4d}  step {steps:7d}  train {seconds:8.1f}s  {steps / seconds:6.2f} steps/s  "
                      f"loss/view {losses['train'] / per_view:9.2f}  val content {result['val_accuracy']:.4f}",
                      flush=True)
                write(out, record)

            if epoch in test_epochs and epoch < args.epochs:
                record["tests"].append({"epoch": epoch, "step": steps,
                                        "test_content_accuracy": score_test(model, train_split, data, device, args.seed)})
                write(out, record)

        result = test_probe(model, train_split, data, device, args.seed)
        record["tests"].append({"epoch": args.epochs, "step": steps, "test_content_accuracy": result["test_accuracy"]})
        record.update(test_content_accuracy=result["test_accuracy"],
                      test_probe={"val_accuracy": result["val_accuracy"], "l2": result["chosen"]["l2"],
                                  "on_edge": result["on_edge"], "max_train": TEST_MAX_TRAIN}, finished=True)
        write(out, record)
        print(f"{args.model} ({args.entropy} entropy), {args.epochs} epochs, {steps} steps in {seconds:.1f}s "
              f"({steps / seconds:.2f} steps/s): test content {result['test_accuracy']:.4f}; wrote {out}", flush=True)
    return record


def main(argv=None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
