"""The ICL probes of the family (:mod:`rexbench.tasks.icl`), generated from the task's split stream.

Queries: every ``a^j b`` that starts an in-distribution word of at least two members,
j = 1, 2, 3, 4, 6 under the cap of 12 (``a^5 b`` and ``a^8 b`` identify the member). For
every query and every member it is consistent with (12 pairs: j = 1, 3 -> anbn, anb2n;
j = 2, 4 -> all three; j = 6 -> anbn, a2nbn) and every k in ``SHOTS``, ``REPEATS`` (6)
probes: k examples drawn from the member's distribution (n uniform), each followed by
``|``, then the query. So 72 probes per k (at k = 0 the six copies are the same prompt).
The answer is the rest of the member's unique word with that a-block; the *foil* is the
answer of the first other member (family order) consistent with the query.

Regime half: in every (k >= 1, query, member) group of six, the group's distinct prompts
are permuted (seeded) and the first half of them, rounded up, are flagged ``regime`` with
every copy (an anti-ICL regime trains on them only; the others are the held-out half, so
no held-out prompt is ever trained on, even where two draws repeat a prompt). Streams: ``split_rng(task, "icl_probes")`` for the examples and
``split_rng(task, "icl_probes", "/regime")`` for the flags, drawn in probe order.

Worked example (cap 12): query ``aab`` with member ``a2nbn`` has answer ``""`` (``aab``
is already its word: the example ends here); with ``anbn`` it is ``b``, with ``anb2n``
``bbb``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rexbench.tasks.icl_members import MEMBERS, Member
from rexbench.tasks.probes import Probe, ProbeSet
from rexbench.tasks.splits import split_rng

SHOTS: tuple[int, ...] = (0, 1, 2, 4)
REPEATS = 6
TERMINATORS = "|"


def queries(cap: int) -> list[tuple[str, list[Member]]]:
    """(query, consistent members) for every ambiguous ``a^j b``, by j."""
    out = []
    for j in range(1, cap):
        query = "a" * j + "b"
        members = [h for h in MEMBERS if h.consistent_ns(query, h.ns(cap))]
        if len(members) >= 2:
            out.append((query, members))
    return out


def answer(member: Member, query: str, cap: int) -> str:
    (n,) = member.consistent_ns(query, member.ns(cap))  # the a-block fixes n
    return member.word(n)[len(query):]


def foil(member: Member, query: str, members: list[Member], cap: int) -> str:
    """The answer of the first other member (in family order) the query is consistent with."""
    return answer(next(h for h in members if h != member), query, cap)


@lru_cache(maxsize=None)
def build_probe_set(task: Any) -> ProbeSet:
    """The probe set of an ICL task (cached per task object)."""
    cap = task.size
    rng = split_rng(task, "icl_probes")
    flag_rng = split_rng(task, "icl_probes", "/regime")
    probes: list[Probe] = []
    for k in SHOTS:
        for query, members in queries(cap):
            for member in members:
                ns = list(member.ns(cap))
                prompts = []
                for _ in range(REPEATS):
                    draws = rng.integers(0, len(ns), size=k).tolist()
                    prompts.append("".join(member.word(ns[d]) + TERMINATORS for d in draws) + query)
                distinct = sorted(set(prompts))
                order = flag_rng.permutation(len(distinct)).tolist()
                flagged = {distinct[i] for i in order[: (len(distinct) + 1) // 2]} if k else set()
                for prompt in prompts:
                    probes.append(Probe(k, prompt, member.name, (answer(member, query, cap),), prompt in flagged,
                                        foil(member, query, members, cap)))
    return ProbeSet(task.name, SHOTS, TERMINATORS, tuple(probes))
