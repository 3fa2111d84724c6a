"""What a run reports: a Progress record after each logged step, and Diverged when it stops."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DataError


class Diverged(DataError):
    """The loss became inf or NaN: stop before anything non-finite is saved."""


@dataclass(frozen=True, slots=True)
class Progress:
    """What the display shows after each logged step (rank 0 only)."""

    iter: int
    max_iters: int | None
    train_loss: float
    val_loss: float | None  # at evals
    best_val: float
    lr: float
    tokens_per_s: float
    mfu: float | None  # fraction of the device's measured matmul peak
    elapsed_s: float
    fraction: float  # of the schedule done, 0..1
    sample: str | None = None  # at evals: the fixed prompt and what the model wrote after it
    saved: bool = False  # the model file was written at this eval (validation improved)


def diverged(which: str, loss: float, lr: float, iteration: int, saved_iter: int) -> Diverged:
    saved = f"the last saved state is at iteration {saved_iter}" if saved_iter else "nothing was saved"
    return Diverged(
        f"iteration {iteration}: the {which} loss is {loss} (not finite): the run diverged and stopped; "
        f"{saved}. Start again with a lower --lr (this step's was {lr:.3g}) or more --warmup-iters"
    )
