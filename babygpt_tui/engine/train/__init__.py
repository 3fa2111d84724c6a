"""Training: `Trainer(TrainConfig(...)).run()`, in one process or under torchrun.

config (settings) · world (processes, DDP) · precision (device, mixed precision, MFU) ·
batches (seeds, batches, schedule) · loop (the steps) · progress (what is reported) ·
resume and files (what is written, and how a failed write reads) · metrics (metrics.jsonl) ·
sample (text at each eval) · signals (Ctrl+C).
"""

from .config import PRESETS, TrainConfig
from .files import metrics_path, plot_path, resume_path
from .loop import Trainer
from .progress import Diverged, Progress
from .signals import install_signal_handlers
from .world import AgreedFailure, PeerFailed, World, world_from_env

__all__ = [
    "PRESETS",
    "Diverged",
    "AgreedFailure",
    "PeerFailed",
    "Progress",
    "TrainConfig",
    "Trainer",
    "World",
    "install_signal_handlers",
    "metrics_path",
    "plot_path",
    "resume_path",
    "world_from_env",
]
