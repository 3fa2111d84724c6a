"""The processes of one run: a single process, or `torchrun`'s data-parallel group.

torchrun puts RANK, LOCAL_RANK and WORLD_SIZE in the environment of each process it starts; with
more than one process we join the default process group (gloo on the CPU, nccl on CUDA) and wrap
the model in DistributedDataParallel, which averages gradients during `backward`.

Rank 0 alone writes files and prints. Whatever only rank 0 does goes through `on_main`, which
tells every rank whether it worked, so a full disk on rank 0 stops all of them at the same step
instead of leaving the others waiting in their next all-reduce.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from ..errors import DataError, DeviceError, EngineError
from ..model import BabyGPT

T = TypeVar("T")


class PeerFailed(EngineError):
    """Another rank stopped with an error (rank 0 prints its own); this one exits quietly."""


class AgreedFailure(EngineError):
    """An error every rank knows about (they agreed on it in a collective): rank 0 prints it,
    and the others must exit cleanly — a rank exiting non-zero first makes torchrun kill rank 0
    before its message is out."""

    def __init__(self, error: EngineError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1
    local_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_env(env: dict[str, str] | None = None) -> World:
    """The world torchrun describes in the environment; a plain process is a world of one."""
    env = dict(os.environ if env is None else env)
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return World()
    try:
        size = int(env["WORLD_SIZE"])
        return World(
            rank=int(env["RANK"]),
            local_rank=int(env.get("LOCAL_RANK", "0")),
            size=size,
            local_size=int(env.get("LOCAL_WORLD_SIZE", str(size))),
        )
    except ValueError:
        raise DataError(
            f"RANK={env['RANK']!r} / WORLD_SIZE={env['WORLD_SIZE']!r} are not numbers; start with torchrun"
        ) from None


def rank_device(world: World, device: torch.device) -> torch.device:
    """Each process on a node takes its own GPU (cuda:LOCAL_RANK); CPU processes share the CPU."""
    if device.type == "cuda" and world.distributed:
        if torch.cuda.device_count() < world.local_size:
            raise DeviceError(
                f"{world.local_size} processes per node but {torch.cuda.device_count()} CUDA devices; "
                f"use --nproc {torch.cuda.device_count()} or fewer"
            )
        return torch.device("cuda", world.local_rank)
    if device.type == "mps" and world.distributed:
        raise DeviceError("data-parallel training on mps is not supported; use one process (no --nproc)")
    return device


def join(world: World, device: torch.device) -> Sync:
    """Join the process group (no-op for a single process); the Sync of this run."""
    if not world.distributed:
        return Sync(world)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    with _signals_to_the_main_thread():
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        return Sync(world)


@contextlib.contextmanager
def _signals_to_the_main_thread() -> Iterator[None]:
    """Threads started in here (gloo's and nccl's I/O threads) block SIGINT and SIGTERM, so
    Ctrl+C always lands on the main thread. Landing on a gloo thread interrupted its socket
    call (EINTR), which it takes for a lost peer: the run died or hung instead of saving."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no per-thread masks
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def leave(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: BabyGPT, world: World, device: torch.device) -> torch.nn.Module:
    """The module the training step calls: the model itself, or DDP around it."""
    if not world.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def no_sync(module: torch.nn.Module, skip: bool) -> contextlib.AbstractContextManager[object]:
    """DDP's no_sync (skip the gradient all-reduce of this backward) when `skip`, else nothing."""
    from torch.nn.parallel import DistributedDataParallel

    if skip and isinstance(module, DistributedDataParallel):
        return module.no_sync()
    return contextlib.nullcontext()


class Sync:
    """One small all-reduce per step carries what every rank must agree on: stop now (any rank
    got Ctrl+C), rank 0's elapsed time (the time-budget schedule needs the same lr everywhere)
    and, at log steps, the mean training loss.

    gloo carries it even when the gradients go over nccl, so reading it back never waits for the
    GPU."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.group = dist.new_group(backend="gloo") if world.distributed else None

    def step(self, stop: bool, elapsed: float, loss: float | None) -> tuple[bool, float, float | None]:
        if not self.world.distributed:
            return stop, elapsed, loss
        t = torch.tensor(
            [float(stop), elapsed if self.world.is_main else 0.0, 0.0 if loss is None else loss], dtype=torch.float64
        )
        dist.all_reduce(t, group=self.group)
        stop_all, elapsed_main, loss_sum = t.tolist()
        return stop_all > 0, elapsed_main, None if loss is None else loss_sum / self.world.size

    def together(self, fn: Callable[[], T], failed: EngineError | None = None) -> T:
        """Run `fn` on every rank (unless this one has `failed` already) and agree on the outcome:
        if any rank failed, each raises its own error, or PeerFailed if it had none."""
        outcome: tuple[T] | None = None
        if failed is None:
            try:
                outcome = (fn(),)
            except EngineError as e:
                failed = e
        if self.world.distributed:
            flag = torch.tensor([0.0 if failed is None else 1.0])
            dist.all_reduce(flag, group=self.group)
            if flag.item():
                raise AgreedFailure(failed or PeerFailed("another training process stopped with an error"))
        if failed is not None or outcome is None:
            raise failed or PeerFailed("setup did not finish")
        return outcome[0]

    def on_main(self, fn: Callable[[], T]) -> T | None:
        """Run `fn` on rank 0 only; if it raises an EngineError there, every rank stops (rank 0
        with the error, the others with PeerFailed)."""
        result: T | None = None
        error: EngineError | None = None
        if self.world.is_main:
            try:
                result = fn()
            except EngineError as e:
                error = e
        if self.world.distributed:
            flag = torch.tensor([0.0 if error is None else 1.0])
            dist.broadcast(flag, src=0, group=self.group)
            if flag.item():
                raise AgreedFailure(error or PeerFailed("rank 0 stopped with an error"))
        if error is not None:
            raise error
        return result
