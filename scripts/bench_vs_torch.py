"""Training steps of the default Transformer and LSTM: rexbench (JAX) vs the same models in plain PyTorch.

    .venv/bin/pip install -e ".[bench]"          # PyTorch, only for this script
    .venv/bin/python scripts/bench_vs_torch.py [--repeats 5] [--steps 20] [--task anbn] [--models transformer lstm]

Both sides train the same architecture on the same batches (batch 128 rows of the task's
training split at its fixed width, 66 tokens on ``anbn``), AdamW (the recipe's betas, eps,
weight decay on matrices) after global-norm clipping at 1.0, PAD targets masked.
Transformer: pre-LN, d_model 64, 2 layers, 4 heads, MLP 256, GELU, learned positions.
LSTM: embedding 80, 2 layers of 80 (PyTorch's ``nn.LSTM``, its standard fused kernel).
rexbench's side is exactly ``rexbench.baselines.train.train_step`` inside one compiled
``lax.scan`` of ``--steps`` updates (as the trainer runs it), once on the batches as
stored (one sequence per row: "rexbench (JAX)") and once on the same sequences packed
(``rexbench.baselines.packing``, the trainer's default: "rexbench packed"), with the row
count a 1000-step run of the recipe would use. PyTorch's is eager on the unpacked batches
with ``torch.set_num_threads(<cores>)``. The sides are timed alternately, ``--repeats``
times each, after a warm-up, and the script prints per-step milliseconds
(min/median/max), the ratios (PyTorch time / rexbench time: > 1 means rexbench is faster),
the packed step's gain, tokens per second (real, non-PAD targets), the fraction of this
machine's measured float32 matmul peak that the Transformer step's matmul FLOPs reach
(unpacked), and the share of the step's targets that are PAD. It asserts nothing; quote
the ratios of one run with the machine it names.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch

from rexbench.baselines.data import BatchStream, load_task_data
from rexbench.baselines.packing import layout, plan_steps, rows_needed, sequence_lengths
from rexbench.baselines.recipe import DEFAULT
from rexbench.baselines.train import init_params, train_step
from rexbench.tasks import PAD, get_task

D, LAYERS, HEADS, MLP = 64, 2, 4, 256


class TorchBlock(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln_attn, self.ln_mlp = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
        self.qkv, self.attn_out = torch.nn.Linear(D, 3 * D), torch.nn.Linear(D, D)
        self.mlp_in, self.mlp_out = torch.nn.Linear(D, MLP), torch.nn.Linear(MLP, D)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = self.qkv(self.ln_attn(x)).view(B, T, 3, HEADS, D // HEADS).unbind(2)
        att = torch.einsum("bthk,bshk->bhts", q, k) / (D // HEADS) ** 0.5
        att = att.masked_fill(~mask, -1e30).softmax(-1)
        x = x + self.attn_out(torch.einsum("bhts,bshk->bthk", att, v).reshape(B, T, D))
        return x + self.mlp_out(torch.nn.functional.gelu(self.mlp_in(self.ln_mlp(x))))


class TorchTransformer(torch.nn.Module):
    def __init__(self, vocab: int, max_len: int = 256) -> None:
        super().__init__()
        self.tok, self.pos = torch.nn.Embedding(vocab, D), torch.nn.Parameter(torch.randn(max_len, D) * 0.02)
        self.blocks = torch.nn.ModuleList(TorchBlock() for _ in range(LAYERS))
        self.ln, self.head = torch.nn.LayerNorm(D), torch.nn.Linear(D, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        T = tokens.shape[1]
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        x = self.tok(tokens) + self.pos[:T]
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln(x))


class TorchLSTM(torch.nn.Module):
    def __init__(self, vocab: int, width: int = 80, layers: int = 2) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, width)
        self.lstm = torch.nn.LSTM(width, width, num_layers=layers, batch_first=True)
        self.head = torch.nn.Linear(width, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(self.embed(tokens))[0])


TORCH_MODELS = {"transformer": TorchTransformer, "lstm": TorchLSTM}


def torch_steps(model: str, batches: np.ndarray, vocab: int) -> callable:
    torch.manual_seed(0)
    net = TORCH_MODELS[model](vocab)
    decay = [p for p in net.parameters() if p.ndim >= 2]
    rest = [p for p in net.parameters() if p.ndim < 2]
    r = DEFAULT
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": r.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=r.peak_lr, betas=(r.b1, r.b2), eps=r.eps)
    data = torch.from_numpy(batches.astype(np.int64))

    def run() -> None:
        for tokens in data:
            logits = net(tokens[:, :-1])
            targets = tokens[:, 1:]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), ignore_index=PAD)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), r.clip_norm)
            opt.step()

    return run


def jax_steps(model: str, batches: np.ndarray, vocab: int, segments: np.ndarray | None = None) -> callable:
    """``batches`` [K, B, W] (one sequence per row), or packed [K, R, W] with ``segments``."""
    graphdef, params = init_params(model, vocab, [0])
    params = jax.tree.map(lambda x: x[0], params)
    tx = DEFAULT.optimizer()
    state = (params, tx.init(params))
    data = (jnp.asarray(batches), None if segments is None else jnp.asarray(segments))

    @jax.jit
    def loop(params, opt_state, data):
        def body(carry, xs):
            tokens, segs = xs
            p, o, _, _ = train_step(graphdef, tx, *carry, tokens, segments_BW=segs)
            return (p, o), None

        return jax.lax.scan(body, (params, opt_state), data)[0]

    compiled = loop.lower(*state, data).compile()
    return lambda: jax.block_until_ready(compiled(*state, data))


def packed_batches(data, idx_KB: np.ndarray, plan_steps_for_rows: int = 1000) -> tuple[np.ndarray, np.ndarray, int]:
    """The steps ``idx_KB`` packed at the row count of a ``plan_steps_for_rows``-step run
    (the trainer's R is the largest over its run): tokens and segments [K, R, W], R."""
    lengths = sequence_lengths(data.train)
    run_idx = BatchStream(0, len(data.train), DEFAULT.batch_size).take(max(plan_steps_for_rows, len(idx_KB)))
    assert (run_idx[:len(idx_KB)] == idx_KB).all()
    run_plan = plan_steps(run_idx, lengths, data.width)
    rows = rows_needed([run_plan])
    packed = layout(idx_KB, run_plan[:len(idx_KB)], lengths, data.width, rows)
    flat = np.append(data.train.reshape(-1), PAD)
    return flat[packed[..., 0]], packed[..., 1], rows


def matmul_peak(seconds: float = 1.0) -> float:
    """Measured float32 GFLOP/s of a 1024x1024 matmul in XLA on this machine."""
    a = jnp.ones((1024, 1024), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    jax.block_until_ready(f(a))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        jax.block_until_ready(f(a))
        n += 1
    return 2 * 1024**3 * n / (time.perf_counter() - t0) / 1e9


def step_matmul_flops(rows: int, width: int, vocab: int) -> float:
    """Matmul FLOPs of one training step (forward + backward = 3x forward)."""
    t = width - 1
    per_token = 2 * LAYERS * (D * 3 * D + D * D + 2 * D * MLP) + 2 * D * vocab
    attention = 2 * LAYERS * 2 * t * t * D  # scores and weighted values
    return 3 * (rows * t * per_token + rows * attention)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="anbn")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", nargs="+", default=list(TORCH_MODELS), choices=list(TORCH_MODELS))
    args = ap.parse_args()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    task = get_task(args.task)
    data = load_task_data(task)
    idx = BatchStream(0, len(data.train), DEFAULT.batch_size).take(args.steps)
    batches = data.train[idx]  # [steps, B, W]
    real_targets = float((batches[:, :, 1:] != PAD).sum()) / args.steps
    pad_share = 1 - real_targets / (DEFAULT.batch_size * (data.width - 1))
    p_tokens, p_segments, rows = packed_batches(data, idx)
    sides: dict[str, callable] = {}
    for m in args.models:
        sides[f"{m}: rexbench (JAX)"] = jax_steps(m, batches, task.vocab_size)
        sides[f"{m}: rexbench packed"] = jax_steps(m, p_tokens, task.vocab_size, p_segments)
        sides[f"{m}: PyTorch eager"] = torch_steps(m, batches, task.vocab_size)
    for run in sides.values():
        run()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(args.repeats):
        for name, run in sides.items():
            t0 = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - t0) / args.steps * 1e3)
    peak = matmul_peak()
    flops = step_matmul_flops(DEFAULT.batch_size, data.width, task.vocab_size)
    print(f"machine: {platform.processor() or platform.machine()}, {threads} cores; jax {jax.__version__}, "
          f"torch {torch.__version__}; task {task.config}, batch {DEFAULT.batch_size} x {data.width} tokens "
          f"({pad_share:.0%} of the targets are PAD; packed: {rows} rows); {args.steps} steps x {args.repeats} "
          f"repeats; matmul peak {peak:.1f} GFLOP/s")
    print("| model: side | ms/step min | median | max | real tokens/s | matmul share of peak |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, ts in times.items():
        med = statistics.median(ts)
        share = (f"{flops / (med / 1e3) / 1e9 / peak:.0%}" if name.startswith("transformer")
                 and "packed" not in name else "")
        print(f"| {name} | {min(ts):.1f} | {med:.1f} | {max(ts):.1f} | {real_targets / med * 1e3:,.0f} | {share} |")
    print()
    print("| model | ratio PyTorch / rexbench: min | median | max | PyTorch / rexbench packed: min | median | max "
          "| packed gain (median) |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for m in args.models:
        t, j, p = (times[f"{m}: {side}"] for side in ("PyTorch eager", "rexbench (JAX)", "rexbench packed"))
        r_j = [a / b for a, b in zip(t, j, strict=True)]
        r_p = [a / b for a, b in zip(t, p, strict=True)]
        gain = statistics.median(j) / statistics.median(p)
        print(f"| {m} | {min(r_j):.2f} | {statistics.median(r_j):.2f} | {max(r_j):.2f} | {min(r_p):.2f} | "
              f"{statistics.median(r_p):.2f} | {max(r_p):.2f} | {gain:.2f}x |")
    print("(> 1: rexbench faster; the gain is rexbench's own unpacked time over its packed time)")


if __name__ == "__main__":
    main()
