"""Engine-neutral training: the one loop, history, metrics and checkpoints."""

from backprop_lab.numerics.metrics import check_loss_fits, loss_and_accuracy, predicted_labels, targets
from backprop_lab.training.checkpoint import Checkpoint, Checkpointer, read_checkpoint
from backprop_lab.training.history import Callback, EpochAccumulator, EpochRecord, History, Stop
from backprop_lab.training.loop import EngineState, Interrupted, Loop, StepResult, blend, learning_rate

__all__ = [
    "Callback",
    "Checkpoint",
    "Checkpointer",
    "EngineState",
    "EpochAccumulator",
    "EpochRecord",
    "History",
    "Interrupted",
    "Loop",
    "StepResult",
    "Stop",
    "blend",
    "check_loss_fits",
    "learning_rate",
    "loss_and_accuracy",
    "predicted_labels",
    "read_checkpoint",
    "targets",
]
