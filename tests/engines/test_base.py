"""What an engine hands the training loop (engines/base.py): StepResult and the EngineState protocol."""

from __future__ import annotations

import numpy as np

from backprop_lab.engines.base import EngineState, StepResult
from backprop_lab.engines.scratch.engine import ScratchEngine
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model


def test_a_step_result_is_finite_and_without_norms_unless_told():
    result = StepResult(0.5, np.zeros((2, 3)))
    assert result.finite is True and result.grad_norms is None
    assert StepResult(np.nan, np.zeros(1), finite=False, grad_norms={"w": 1.0}).grad_norms == {"w": 1.0}


def test_the_scratch_state_is_an_engine_state_and_a_state_missing_a_member_is_not():
    spec, config = parse_model("mlp:3", (4,), 2), TrainConfig()
    state = ScratchEngine().start(spec, init_weights(spec.param_shapes(), config.init, 0), config)
    assert isinstance(state, EngineState)

    class NoRollback:
        grad_norms = False

        def __init__(self, state):
            for name in ("step", "weights", "previous_weights", "set_weights", "export_state", "import_state"):
                setattr(self, name, getattr(state, name))
            self.predict, self.drive = state.predict, state.drive

    assert not isinstance(NoRollback(state), EngineState)
