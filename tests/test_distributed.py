"""One run on two processes (gloo on the CPU) equals one process on the whole batch.

Every batch-wide loss gathers the ranks' rows with gradients and DDP averages the gradients, so two
ranks of B/2 rows must give the losses and the parameters of one process on B rows with the same
views. The runs use Adam with eps = 1: its step is then close to ``lr * gradient`` and smooth in it,
so a wrong gradient (half of it, or one rank's alone) shows in the parameters, and rounding does not
(with eps = 1e-8 the first steps are nearly ``lr * sign(gradient)``, and gradients that are zero up to
rounding flip their sign at random: 1e-3 apart after a few steps, measured).
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from simve import distributed
from simve import losses as losses_module
from simve.cli import main
from simve.data import MultiView, ViewLoader, load_dataset, preset
from simve.errors import SimveError
from simve.models import build_model
from simve.train import descend, load_config, make_optimizer

RUN = ["--data", "glyphs", "--limit", "600", "--epochs", "1", "--batch-size", "32", "--adam-eps", "1", "--lr", "0.05"]
TOLERANCE = 1e-6  # parameters, after 16 steps; they move by more than 1e-2 from their initial values


def command(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=300)


def simve(*args: str) -> subprocess.CompletedProcess:
    return command([sys.executable, "-m", "simve", *args])


def weights(run) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoint.pt", weights_only=True)["model_state"]


def losses(run) -> tuple[float, float]:
    """The loss logged at step 10 and the mean loss of the epoch (every step's)."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return next(r["loss"] for r in records if r["step"] == 10), next(r["train_loss"] for r in records if "train_loss" in r)


def initial_weights(run) -> dict[str, torch.Tensor]:
    config = load_config(run)
    torch.manual_seed(config.seed)
    data = config.load_data()
    return build_model(config.model, data.image_shape, **config.model_options).state_dict()


def assert_same_run(a, b):
    la, lb = losses(a), losses(b)
    assert la == pytest.approx(lb, rel=1e-6), (la, lb)
    wa, wb, start = weights(a), weights(b), initial_weights(a)
    far = max((wa[k].float() - wb[k].float()).abs().max().item() for k in wa)
    moved = max((wa[k].float() - start[k].float()).abs().max().item() for k in wa)
    assert far < TOLERANCE and moved > 1e-2, (far, moved)


# --- in one process -------------------------------------------------------------------------------


def test_the_shards_of_a_batch_are_its_rows_with_the_same_views():
    data = load_dataset("glyphs", limit=300)
    multiview = MultiView(preset(data.preset), 3)
    whole = list(ViewLoader(data.train, multiview, 24, seed=5).epoch_batches(2))
    shards = [list(ViewLoader(data.train, multiview, 24, seed=5, shard=(rank, 3)).epoch_batches(2)) for rank in range(3)]
    assert all(len(s) == len(whole) for s in shards)
    for b, (views, labels, params) in enumerate(whole):
        assert torch.equal(views, torch.cat([s[b][0] for s in shards]))
        assert torch.equal(labels, torch.cat([s[b][1] for s in shards]))
        assert all(torch.equal(params[k], torch.cat([s[b][2][k] for s in shards])) for k in params)


def test_a_batch_that_does_not_split_over_the_processes_is_refused():
    data = load_dataset("glyphs", limit=300)
    with pytest.raises(SimveError, match="multiple of 3"):
        ViewLoader(data.train, MultiView(preset(data.preset), 2), 32, shard=(0, 3))


@pytest.mark.parametrize("env, words", [
    ({"WORLD_SIZE": "2", "RANK": "0"}, "MASTER_ADDR or MASTER_PORT"),
    ({"WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "x", "MASTER_PORT": "1"}, "not a rank of the world"),
    ({"LOCAL_RANK": "one"}, "LOCAL_RANK='one', not a whole number"),
])
def test_an_environment_that_describes_no_world_is_refused(env, words, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SimveError, match=words):
        distributed.launched()


def test_the_launcher_environment_describes_the_world(monkeypatch):
    assert distributed.launched() == distributed.World()
    for name, value in {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(name, value)
    world = distributed.launched()
    assert (world.rank, world.size, world.local_rank, world.main) == (3, 4, 1, False)


def test_only_train_runs_as_several_processes(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["data", "info", "glyphs"]) == 1
    assert "only simve train runs as several processes" in capsys.readouterr().err


def test_each_rank_has_its_own_noise_stream():
    seeds = {distributed.rank_seed(0, rank) for rank in range(8)} | {distributed.rank_seed(1, 0)}
    assert len(seeds) == 9 and all(0 <= s < 2**32 for s in seeds)


# --- two processes ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("model", ["simclr", "vicreg", "moco", "clip", "align-uniform"])
def test_two_processes_equal_one_on_the_whole_batch(model, tmp_path):
    options = ["--model", model, *RUN] + ([] if model == "align-uniform" else ["--head", "linear"])  # BN: per rank
    assert main(["train", *options, "--out", str(tmp_path / "one")]) == 0
    two = simve("train", *options, "--out", str(tmp_path / "two"), "--nproc", "2")
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("run folder:") == 1  # rank 0 reports
    assert_same_run(tmp_path / "one", tmp_path / "two")


def reference(run) -> tuple[dict[str, torch.Tensor], list[float]]:
    """One process on the doubled batch of the same views, each half's ELBO noise drawn from the stream
    its rank draws from: the mean of the two halves' losses is the loss of the whole batch."""
    config = load_config(run)
    torch.manual_seed(config.seed)
    data = config.load_data()
    model = build_model(config.model, data.image_shape, **config.model_options).train()
    streams = []
    for rank in range(2):
        torch.manual_seed(distributed.rank_seed(config.seed, rank))
        streams.append(torch.get_rng_state())
    loader = ViewLoader(data.train, MultiView(preset(data.preset), config.views), config.batch_size, seed=config.seed)
    optimizer = make_optimizer(model.parameters(), config.lr, config.adam_eps)
    values = []
    for views, _, _ in loader.epoch_batches(0):
        halves = []
        for rank, half in enumerate(views.chunk(2)):
            torch.set_rng_state(streams[rank])
            halves.append(model.loss(half))
            streams[rank] = torch.get_rng_state()
        values.append(descend(sum(halves) / 2, optimizer))
    return model.state_dict(), values


@pytest.mark.slow
@pytest.mark.parametrize("model", ["simve", "vae"])
def test_two_processes_of_an_elbo_equal_one_on_the_whole_batch(model, tmp_path):
    run = tmp_path / "two"
    two = simve("train", "--model", model, *RUN, "--out", str(run), "--nproc", "2")
    assert two.returncode == 0, two.stderr
    expected, values = reference(run)
    assert losses(run) == pytest.approx((values[9], sum(values) / len(values)), rel=1e-6)
    got, start = weights(run), initial_weights(run)
    assert max((got[k] - expected[k]).abs().max().item() for k in got) < TOLERANCE
    assert max((got[k] - start[k]).abs().max().item() for k in got) > 1e-2


def moco_reference(run) -> tuple[dict[str, torch.Tensor], list[float]]:
    """MoCo with its BatchNorm (the MLP head) in one process on the whole batch of the same views, each
    step computed as 2 ranks with rank-local BatchNorm compute it: the queries of each half through
    their own BatchNorm, the keys through the shuffling BN (the batch's key views permuted by rank 0's
    stream, each half of that normalised on its own, then put back in order), one queue for both
    halves, and the loss the mean of the halves' (DDP's average of the gradients)."""
    config = load_config(run)
    torch.manual_seed(config.seed)
    data = config.load_data()
    model = build_model(config.model, data.image_shape, **config.model_options).train()
    torch.manual_seed(distributed.rank_seed(config.seed, 0))  # rank 0 draws the permutations
    loader = ViewLoader(data.train, MultiView(preset(data.preset), config.views), config.batch_size, seed=config.seed)
    optimizer = make_optimizer(model.parameters(), config.lr, config.adam_eps)
    values = []
    for views, _, _ in loader.epoch_batches(0):
        queries = [model.project(half[:, 0]) for half in views.chunk(2)]
        with torch.no_grad():
            model._momentum_update()
            order = torch.randperm(len(views))
            keys = torch.cat([model._key_nets(share) for share in views[order, 1].chunk(2)])[torch.argsort(order)]
        queue = model.queue.clone()
        halves = [losses_module.moco(q, k, queue, model.options.temperature) for q, k in zip(queries, keys.chunk(2))]
        values.append(descend(sum(halves) / 2, optimizer))
        model._enqueue(keys)
    return model.state_dict(), values


@pytest.mark.slow
def test_two_processes_of_moco_with_batchnorm_equal_one_that_normalises_as_the_ranks_do(tmp_path):
    """The BatchNorm path between 1 and 2 processes: on the CPU each rank's BatchNorm sees its own rows
    (gloo has no SyncBatchNorm), so the reference normalises as the ranks do, the keys by the shuffle.
    A MoCo that computes its keys without the shuffle (each rank's key BN on its own rows) fails it."""
    run = tmp_path / "two"
    two = simve("train", "--model", "moco", *RUN, "--out", str(run), "--nproc", "2")
    assert two.returncode == 0, two.stderr
    expected, values = moco_reference(run)
    assert losses(run) == pytest.approx((values[9], sum(values) / len(values)), rel=1e-6)
    got, start = weights(run), initial_weights(run)
    compared = [k for k in got if "running_" not in k and "num_batches" not in k]  # rank 0's BN statistics
    assert "queue" in compared and any("projector.1" in k for k in compared)  # the BatchNorm's weights
    far = max((got[k].float() - expected[k].float()).abs().max().item() for k in compared)
    moved = max((got[k].float() - start[k].float()).abs().max().item() for k in compared)
    assert far < TOLERANCE and moved > 1e-2, (far, moved)


def torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "simve", "train", *args]


LONG = ["--model", "simclr", "--data", "glyphs", "--limit", "2000", "--epochs", "2", "--batch-size", "32",
        "--checkpoint-every", "10"]


def _rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of rank ``rank`` among the workers of the torchrun process ``launcher``."""
    for child in Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split():
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return int(child)
    return None


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (neither gone nor a zombie)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _stderr_of(launcher: subprocess.Popen, timeout: float = 120) -> str:
    """What ``launcher`` wrote to stderr once it ended; on a hang, which of it and its ranks still run."""
    ranks = {rank: _rank_pid(launcher.pid, rank) for rank in range(2)}
    try:
        return launcher.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired as hang:
        everyone = {"the launcher": launcher.pid, **{f"rank {rank}": pid for rank, pid in ranks.items() if pid}}
        running = [name for name, pid in everyone.items() if _running(pid)]
        for pid in everyone.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"still running after {timeout} s: {', '.join(running)}; stderr: {hang.stderr}") from None


@pytest.mark.slow
def test_killing_one_rank_mid_run_and_resuming_gives_the_uninterrupted_run(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = command(torchrun(*LONG, "--out", str(straight)))
    assert done.returncode == 0, done.stderr

    launcher = subprocess.Popen(torchrun(*LONG, "--out", str(killed)), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    _wait_for_a_checkpoint(killed)
    os.kill(_rank_pid(launcher.pid, 1), signal.SIGKILL)
    assert launcher.wait(timeout=120) != 0  # torchrun stops the other rank and fails
    kept = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert 0 < kept["step"] < 2 * 56 and len(kept["rng"]["ranks"]) == 2

    resumed = command(torchrun("--out", str(killed), "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    a, b = weights(straight), weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (straight / "metrics.jsonl").read_text().count("train_loss") == 2
    drop_time = [{k: v for k, v in json.loads(line).items() if k not in ("time", "views_per_s")}
                 for run in (straight, killed) for line in (run / "metrics.jsonl").read_text().splitlines()]
    half = len(drop_time) // 2
    assert drop_time[:half] == drop_time[half:]


def _collectives(rank: int, folder: str) -> None:
    """Rank ``rank`` of 2: the gather's values and gradients, the shuffle's round trip, what BatchNorm sees
    under the shuffle (each of 6 steps: the share it normalised and what came back to this rank's rows),
    MoCo's queue after a step; saved to ``folder/<rank>.pt``."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{folder}/init", rank=rank, world_size=2)
    torch.manual_seed(rank)
    x = torch.full((3, 2), float(rank + 1), requires_grad=True)
    everyone = distributed.gather(x)
    (everyone * torch.arange(6.0)[:, None]).sum().backward()
    rows = torch.arange(4.0 * rank, 4.0 * rank + 4).view(4, 1)
    norm, shares = torch.nn.BatchNorm1d(1), []

    def normalise(share):
        shares.append(share.clone())
        return norm(share)

    normalised = [distributed.shuffled(normalise, rows) for _ in range(6)]
    torch.manual_seed(0)  # the same weights on both ranks, as DDP would make them
    moco = build_model("moco", (1, 28, 28), head="linear", queue_size=8).train()
    moco.loss(torch.rand(2, 2, 1, 28, 28) + rank)
    torch.save({"everyone": everyone.detach(), "grad": x.grad, "doubled": distributed.shuffled(lambda r: 2 * r, rows),
                "shares": torch.stack(shares), "normalised": torch.stack(normalised), "queue": moco.queue.clone(),
                "mean": distributed.agree(torch.tensor(float(rank)), rank == 1)}, f"{folder}/{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.fixture(scope="module")
def collectives(tmp_path_factory) -> list[dict]:
    """What :func:`_collectives` saved on each of 2 ranks (one pair of processes for the tests below)."""
    folder = tmp_path_factory.mktemp("collectives")
    torch.multiprocessing.start_processes(_collectives, args=(str(folder),), nprocs=2, start_method="spawn")
    return [torch.load(folder / f"{rank}.pt", weights_only=True) for rank in range(2)]


@pytest.mark.slow
def test_the_collectives_on_two_processes(collectives):
    got = collectives
    for rank, result in enumerate(got):
        assert torch.equal(result["everyone"], torch.tensor([[1.0] * 2] * 3 + [[2.0] * 2] * 3))
        # every rank's loss weighs row i by i, and each rank's copy sends its gradient home: 2 i
        assert torch.equal(result["grad"], 2 * torch.arange(3.0 * rank, 3.0 * rank + 3)[:, None].expand(3, 2))
        assert torch.equal(result["doubled"], 2 * torch.arange(4.0 * rank, 4.0 * rank + 4).view(4, 1))
        assert result["mean"] == (0.5, True)  # the loss's mean, and rank 1's interrupt told to rank 0 too
    assert torch.equal(got[0]["queue"], got[1]["queue"])  # one queue, filled with both ranks' keys


@pytest.mark.slow
def test_the_shuffling_batchnorm_normalises_random_shares_of_the_whole_batch(collectives):
    """MoCo's shuffling BN on 2 ranks of rows 0..3 and 4..7: at each step the two ranks' BatchNorms see a
    partition of the 8 rows, drawn afresh, in which a share mixes both ranks' rows; every row comes back
    to its own rank, normalised with the statistics of the share it was in. Without the shuffle each
    rank normalises its own rows: a BatchNorm of the rows 0..3 and 4..7."""
    shares = torch.stack([collectives[rank]["shares"][:, :, 0] for rank in range(2)], dim=1)  # (step, rank, 4)
    assert all(torch.equal(step.flatten().sort().values, torch.arange(8.0)) for step in shares)
    mixed = [((share < 4).any() and (share >= 4).any()).item() for step in shares for share in step]
    assert sum(mixed) >= 6 and len({tuple(step[0].sort().values.tolist()) for step in shares}) >= 4, shares
    for step, parts in enumerate(shares):
        for rank in range(2):
            rows = torch.arange(4.0 * rank, 4.0 * rank + 4)
            expected = []
            for row in rows:
                share = next(part for part in parts if (part == row).any())  # a row's share, by hand
                expected.append((row - share.mean()) / (share.var(unbiased=False) + 1e-5).sqrt())
            got = collectives[rank]["normalised"][step, :, 0]
            assert torch.allclose(got, torch.stack(expected), atol=1e-6), (step, rank, parts, got)


def _gloo_threads() -> list[str]:
    """The names of this process's threads that belong to a gloo process group (Linux)."""
    tasks = Path("/proc/self/task")
    return sorted(name for name in ((tasks / t / "comm").read_text().strip() for t in os.listdir(tasks))
                  if "gloo" in name)


def _teardown(rank: int, folder: str, port: int) -> None:
    """Rank ``rank`` of 2 through :func:`distributed.joined` as a run uses it (DDP, which imports
    torch._dynamo, the gather with its backward, the mean, the objects), leaving the block with rank 0's
    last collective still running: rank 1 joins it once rank 0 is on its way out. Saves the gloo threads
    this process has after the block."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    leaving = Path(folder) / "leaving"
    with distributed.joined(distributed.World(rank, 2, rank), torch.device("cpu")):
        torch.manual_seed(0)
        ddp = torch.nn.parallel.DistributedDataParallel(torch.nn.Sequential(torch.nn.Linear(3, 3),
                                                                            torch.nn.BatchNorm1d(3)))
        distributed.gather(ddp(torch.rand(4, 3))).square().sum().backward()
        distributed.agree(torch.tensor(1.0))
        distributed.gather_objects(rank)
        del ddp
        if rank == 0:
            torch.distributed.all_reduce(torch.ones(1), async_op=True)
            leaving.touch()
        else:
            end = time.monotonic() + 60
            while not leaving.exists() and time.monotonic() < end:
                time.sleep(0.01)
            time.sleep(0.2)  # rank 0 is in the teardown, which waits for this
            torch.distributed.all_reduce(torch.ones(1))
    Path(folder, f"{rank}.json").write_text(json.dumps(_gloo_threads()))


def _gloo_threads_left_by(rank_main, folder: Path) -> list[list[str]]:
    """``rank_main(rank, folder, port)`` on 2 spawned ranks (a free port for their rendezvous): the gloo
    threads each rank saved in ``folder``."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch.multiprocessing.start_processes(rank_main, args=(str(folder), port), nprocs=2, start_method="spawn")
    return [json.loads((folder / f"{rank}.json").read_text()) for rank in range(2)]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the threads from /proc")
def test_leaving_the_process_group_ends_its_threads(tmp_path):
    """The flaky abort (exit 134, ``terminate called without an active exception``): the group outlived
    ``joined`` (torch.distributed.nn.functional, imported by DDP through torch._dynamo once the group was
    up, holds it in its default arguments), and with it gloo's workers, into the interpreter's
    finalisation, where a worker that takes the GIL is ended inside a C++ destructor. The group must
    be gone by the end of the block, its threads joined, even with a collective still in flight."""
    assert _gloo_threads_left_by(_teardown, tmp_path) == [[], []]


def _interrupted_teardown(rank: int, folder: str, port: int) -> None:
    """Rank ``rank`` of 2 leaving :func:`distributed.joined` with an error raised in a step, as a Ctrl-C
    leaves a run: its frames hold the DDP and the step's graph. Saves the gloo threads this process has
    while the error is handled."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))

    def step():
        ddp = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 3))
        loss = distributed.gather(ddp(torch.rand(4, 3))).square().sum()
        distributed.agree(loss, interrupted=True)
        raise KeyboardInterrupt

    try:
        with distributed.joined(distributed.World(rank, 2, rank), torch.device("cpu")):
            step()
    except KeyboardInterrupt:
        Path(folder, f"{rank}.json").write_text(json.dumps(_gloo_threads()))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the threads from /proc")
def test_an_error_leaving_the_process_group_does_not_keep_it(tmp_path):
    """An error's traceback holds the frames of the step it stopped, and with them the DDP and the
    graph that use the group: the group must still be gone, its threads joined, as the error leaves."""
    assert _gloo_threads_left_by(_interrupted_teardown, tmp_path) == [[], []]


def _wait_for_a_checkpoint(run, deadline: float = 120) -> None:
    """Until ``run`` holds a checkpoint past step 0."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if torch.load(run / "checkpoint.pt", weights_only=True)["step"] > 0:
                return
        except (OSError, RuntimeError, EOFError):
            pass
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint past step 0 in {run} after {deadline} s")


@pytest.fixture
def python_ctrl_c():
    """Python's own SIGINT handler for the test, as in a terminal: a suite started in the background
    (``make test &``) inherits SIGINT ignored, and Python then installs no handler of its own."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_held_ctrl_c_is_noted_on_several_processes_raised_at_the_end_and_a_second_raises_at_once(python_ctrl_c):
    before = signal.getsignal(signal.SIGINT)
    # a note no step took is raised as the block ends
    with pytest.raises(KeyboardInterrupt), distributed.HeldInterrupt(distributed.World(0, 2)) as held:
        signal.raise_signal(signal.SIGINT)
        assert held.noted
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt), distributed.HeldInterrupt(distributed.World(1, 2)):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        raise AssertionError("the second Ctrl-C did not raise at once")
    with pytest.raises(KeyboardInterrupt), distributed.HeldInterrupt(distributed.World()):  # one process: at once
        signal.raise_signal(signal.SIGINT)
        raise AssertionError("Ctrl-C on one process was held")
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.slow
def test_ctrl_c_stops_every_rank_in_one_line_and_the_run_resumes_on_one_process(tmp_path, capsys):
    run = tmp_path / "run"
    launcher = subprocess.Popen([sys.executable, "-m", "simve", "train", "--nproc", "2", *LONG, "--out", str(run)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for_a_checkpoint(run)
    os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: every process of the group
    err = _stderr_of(launcher)
    assert launcher.returncode == 130 and "Traceback" not in err
    assert len(err.splitlines()) == 1 and "interrupted at step" in err and "--nproc 2" in err
    assert main(["train", "--out", str(run), "--resume"]) == 0  # on one process: the same views, new noise
    assert "trained on 2 processes and resumes on 1 process:" in capsys.readouterr().out
    assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == 2


@pytest.mark.slow
def test_ctrl_c_on_one_rank_alone_stops_both_at_the_same_step_in_one_line(tmp_path):
    run = tmp_path / "run"
    launcher = subprocess.Popen([sys.executable, "-m", "simve", "train", "--nproc", "2", *LONG, "--out", str(run)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_a_checkpoint(run)
    os.kill(_rank_pid(launcher.pid, 1), signal.SIGINT)  # rank 0 hears of it only through the step's all-reduce
    err = _stderr_of(launcher)
    assert launcher.returncode == 130 and "Traceback" not in err
    assert len(err.splitlines()) == 1 and "interrupted at step" in err


def test_among_the_ranks_rank_0_reports_and_a_rank_its_own_failure(monkeypatch, capsys):
    from simve.cli import _reports

    shared, own = SimveError("the same on every rank"), SimveError("this rank's data")
    own.rank_local = True
    assert _reports(shared) and _reports(own)  # one process
    for name, value in {"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(name, value)
    assert not _reports(shared) and _reports(own)
    monkeypatch.setenv("RANK", "0")
    assert _reports(shared)
