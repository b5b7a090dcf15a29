"""rexbench: autoregressive models on formal languages, test loss and capability as separate numbers.

The one import name of the project. The repository keeps three folders, installed under
this package so that nothing collides with a user's own ``tasks.py`` or ``benchmark/``:

* :mod:`rexbench.tasks` (``tasks/``): the languages, their rules and their seeded splits;
* :mod:`rexbench.benchmark` (``benchmark/``): the fixed harness (checks, scoring, results,
  leaderboard, the ``rexbench`` command);
* :mod:`rexbench.baselines` (``baselines/``): the baseline models and the training recipe.

The public API, for example::

    import rexbench
    results = rexbench.evaluate("oracle-keep", tasks=["anbn", "ban"], seed=0)   # {task: result}
    task = rexbench.get_task("anbn")
    result = rexbench.score_model(my_model, task, seed=0, model_name="mine")    # one model object
    print(result["metrics"]["excess_loss"], result["metrics"]["ood_rule_extrapolation"])
"""

from rexbench.benchmark import __version__
from rexbench.benchmark.errors import ModelLoadError, ModelRefused
from rexbench.benchmark.evaluate import evaluate
from rexbench.benchmark.protocol import HostFunction, JaxFunction
from rexbench.benchmark.results import load_result, write_result
from rexbench.benchmark.score import score_model
from rexbench.tasks import (
    EOS,
    PAD,
    SOS,
    SPLIT_NAMES,
    SUITE_VERSION,
    TASK_NAMES,
    Split,
    Task,
    get_split,
    get_task,
)

__all__ = [
    "EOS", "PAD", "SOS", "SPLIT_NAMES", "SUITE_VERSION", "TASK_NAMES", "HostFunction", "JaxFunction",
    "ModelLoadError", "ModelRefused", "Split", "Task", "__version__", "evaluate", "get_split", "get_task",
    "load_result", "score_model", "write_result",
]
