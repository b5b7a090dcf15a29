"""A PyTorch submission (needs ``pip install torch``): a small GRU language model, untrained.

The fast path first, one GRU step per decoded token::

    rexbench score --model examples.submit_torch:make_model --task anbn --out my_results/

and the plain callable, which the harness calls on the whole prefix at every decoding
step (correct, and several times slower; ``scripts/bench_host.py`` measures both)::

    rexbench score --model examples.submit_torch:make_model_plain --task anbn --out my_results/

Both give identical results: the step function computes exactly the full pass's logits
at the fed position. Replace ``TinyGRU`` with your trained network (load its weights
in ``make_model``; the factory may take ``task=`` to load per-task weights).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rexbench.benchmark.protocol import HostFunction

torch.set_num_threads(2)


class TinyGRU(torch.nn.Module):
    """Embedding 32, one GRU layer of 64, a linear read-out: 19,301 parameters at V = 5."""

    def __init__(self, vocab_size: int, embed: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, embed)
        self.gru = torch.nn.GRU(embed, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, vocab_size)

    def forward(self, tokens_BT: torch.Tensor, h_1BH: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        y_BTH, h_1BH = self.gru(self.embed(tokens_BT), h_1BH)
        return self.out(y_BTH), h_1BH


def _net(vocab_size: int) -> TinyGRU:
    torch.manual_seed(0)  # deterministic weights: the harness checks determinism
    return TinyGRU(vocab_size).eval()


def make_model_plain(vocab_size: int) -> Callable[[np.ndarray], np.ndarray]:
    """The plain host callable: tokens ``[B, T]`` -> logits ``[B, T, V]``."""
    net = _net(vocab_size)

    @torch.no_grad()
    def logits(tokens_BT: np.ndarray) -> np.ndarray:
        return net(torch.from_numpy(tokens_BT).long())[0].numpy()

    return logits


def make_model(vocab_size: int) -> HostFunction:
    """The fast path: the same network with a step function carrying the GRU state."""
    net = _net(vocab_size)
    full = make_model_plain(vocab_size)

    def init_state(batch_size: int) -> torch.Tensor:
        return torch.zeros(1, batch_size, net.gru.hidden_size)

    @torch.no_grad()
    def step(h_1BH: torch.Tensor, tokens_B: np.ndarray, position: int) -> tuple[np.ndarray, torch.Tensor]:
        logits_B1V, h_1BH = net(torch.from_numpy(tokens_B).long()[:, None], h_1BH)
        return logits_B1V[:, 0].numpy(), h_1BH

    return HostFunction(full, init_state, step, parameters=sum(p.numel() for p in net.parameters()))
