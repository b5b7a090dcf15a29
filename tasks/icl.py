"""The in-context-learning family: documents of examples of one hidden member.

A document is ``x_1 | x_2 | ... | x_m`` (as a sequence ``SOS x_1 | ... | x_m EOS``):
the member g is drawn uniformly from the three members of
:mod:`rexbench.tasks.icl_members` once per document, the number of examples m from the
task's stated law ``m_law`` (independent of g), and every x_i independently from g
(n uniform on ``1 .. cap // (p + q)``). Alphabet ``a b |`` (a=3, b=4, |=5, V = 6).

The exact next-token distribution is the posterior mixture: after a prefix, the weight
of member h is ``1/3 * prod_i P_h(x_i) * P_h(current example prefix)``; its next-token
law inside an example is that of h's n given the example prefix; when an example can
end, the end is ``|`` with probability ``P(m > i | m >= i)`` and EOS with
``P(m = i | m >= i)`` (i = examples finished, that one included). Because the members
are disjoint, one finished example makes the posterior a point mass. Sampling,
log-probabilities and the Bayes-optimal loss all derive from :meth:`IclTask.distribution`
(the base class), and :meth:`IclTask.member_posterior` is the same posterior written
directly from the definition (the tests check the two against each other and against
a brute-force enumeration of documents).

Rules (R2 is the frame of the data distribution; R1 and R2 together, with m in the
support of ``m_law``, are the language):

* R1 [keep] "over the whole document, #b = #a, #b = 2 #a or #a = 2 #b, and the word does
  not end with |": every document satisfies it (its examples share one member, so the
  totals share its ratio), it is completable after any prefix (top the counts up; at
  most 6 symbols after a 6-symbol prompt, so it fits ``icl-single``'s 12-symbol maximum),
  and no reset satisfies it -- the completion must depend on the prompt's counts, so the
  best constant completion keeps it on 272 of the 724 OOD prompts of ``icl-single``
  (0.38, ``ba``). The
  clause on ``|`` makes one appended symbol (``|``) break every word that keeps it;
* R2 [break] "every example is a word of the first example's member with at most ``cap``
  symbols, and there are at most ``max(m_law)`` examples".

The in-context-learning probes (:mod:`rexbench.tasks.icl_probes`) are separate from these
rules: they ask whether a completion follows the member that the examples identify.

Worked example (``icl-rare``, cap 12): the prefix ``abb|aa`` has finished one example,
``abb`` (a word of ``anb2n`` only), so the posterior is a point mass on ``anb2n``; the
current example ``aa`` starts ``aabbbb``, ``aaabbbbbb`` and ``aaaabbbbbbbb`` (n = 2, 3, 4),
so ``p(b | abb|aa) = 1/3`` and ``p(a | abb|aa) = 2/3``. After ``aab`` at the start the
three members weigh 1/6 : 1/4 : 1/4 (``aabb``, ``aabbbb``, ``aab``), so
``p(b | aab) = (1/6 + 1/4) / (2/3) = 5/8`` and the end of the example has 3/8, of which
``|`` takes ``P(m >= 2 | m >= 1) = 1/400`` and EOS the rest. The OOD prompt ``ab|abb``
breaks R2 (``ab`` is ``anbn``, ``abb`` is ``anb2n``); R1 is completable, with ``a`` + EOS
(3 a's, 3 b's, 1 separator).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar

from rexbench.tasks.base import Rule, Task
from rexbench.tasks.icl_members import MEMBERS, Member, member_of

if TYPE_CHECKING:
    from rexbench.tasks.probes import ProbeSet

SEP = "|"
# (finished examples, identified member index or None, #a, #b of the current example)
IclState = tuple[int, int | None, int, int]


def split_examples(word: str) -> list[str]:
    """``"ab|aab"`` -> ``["ab", "aab"]``; the empty word has no examples."""
    return word.split(SEP) if word else []


def _ratio(na: int, nb: int) -> bool:
    return nb == na or nb == 2 * na or na == 2 * nb


def _r1_holds(word: str) -> bool:
    return _ratio(word.count("a"), word.count("b")) and not word.endswith(SEP)


def _r1_complete(prefix: str) -> str:
    """The shortest ``a^i b^j`` after which R1 holds (most a's first among equal lengths)."""
    na, nb = prefix.count("a"), prefix.count("b")
    for extra in itertools.count(1 if prefix.endswith(SEP) else 0):
        for i in range(extra, -1, -1):
            if _ratio(na + i, nb + extra - i):
                return "a" * i + "b" * (extra - i)
    raise AssertionError("unreachable: a^(2 nb) b^(2 na)-style top-ups always exist")


class IclTask(Task):
    """Base of the three arms; a subclass states only its name and ``m_law``."""

    symbols = "ab" + SEP
    prompt_length = 6
    size_name = "cap"  # the most symbols one example may have
    default_size = 12
    min_size = 3  # the shortest words of anb2n / a2nbn have 3 symbols
    m_law: ClassVar[dict[int, Fraction]]  # P(m); keys 1..max
    language_doc = ("x_1|x_2|...|x_m: m examples (m in the support of the law of m), all words of one member "
                    "a^n b^n, a^n b^2n or a^2n b^n of at most `cap` symbols")

    @property
    def max_examples(self) -> int:
        return max(self.m_law)

    @property
    def distribution_doc(self) -> str:  # type: ignore[override]
        law = ", ".join(f"P(m={m})={p}" for m, p in sorted(self.m_law.items()))
        ranges = ", ".join(f"{m.name}: n uniform on 1..{len(m.ns(self.size))}" for m in MEMBERS)
        return (f"member uniform over the three, once per document; m independent of it: {law}; every example "
                f"independently from the member ({ranges}). Next token = the posterior mixture over members.")

    def make_rules(self) -> Sequence[Rule]:
        return (
            Rule("R1", "over the whole document #b = #a, #b = 2 #a or #a = 2 #b, and the word does not end with |",
                 _r1_holds, lambda p: True, _r1_complete),
            Rule("R2", f"every example is a word of the first example's member with at most {self.size} symbols, "
                       f"and there are at most {self.max_examples} examples",
                 self._frame_holds, self._frame_completable, self._frame_complete),
        )

    def _frame_candidates(self, prefix: str) -> tuple[str, list[Member]]:
        """(current example, members that can still make ``prefix`` satisfy R2); [] if none."""
        examples = split_examples(prefix) or [""]
        *done, current = examples
        if len(examples) > self.max_examples or any(len(x) > self.size for x in examples):
            return current, []
        first = member_of(done[0]) if done else None
        if done and (first is None or any(first.n_of(x) is None for x in done)):
            return current, []
        members = [first] if first is not None else list(MEMBERS)
        return current, [h for h in members if h.consistent_ns(current, h.ns(self.size))]

    def _frame_holds(self, word: str) -> bool:
        if not word:
            return True
        current, members = self._frame_candidates(word)
        return any(h.n_of(current) is not None for h in members)  # the last example is a whole word

    def _frame_completable(self, prefix: str) -> bool:
        return bool(self._frame_candidates(prefix)[1])

    def _frame_complete(self, prefix: str) -> str:
        """Finish the current example with the shortest in-cap word a candidate allows."""
        if self._frame_holds(prefix):
            return ""
        current, members = self._frame_candidates(prefix)
        words = [h.word(h.consistent_ns(current, h.ns(self.size))[0]) for h in members]
        return min(words, key=len)[len(current):]

    def in_language(self, word: str) -> bool:
        return self._frame_holds(word) and self.m_law.get(len(split_examples(word)), 0) > 0

    @property
    def max_word_length(self) -> int:
        return self.max_examples * (self.size + 1) - 1

    # ------------------------------------------------------------------ the distribution
    def initial_state(self) -> IclState:
        return (0, None, 0, 0)

    def transition(self, state: IclState, symbol: str) -> IclState:
        done, member, na, nb = state
        if symbol == "a":
            return (done, member, na + 1, nb)
        if symbol == "b":
            return (done, member, na, nb + 1)
        finished = member_of("a" * na + "b" * nb)
        assert finished is not None, "a separator of positive probability ends a word"
        return (done + 1, MEMBERS.index(finished), 0, 0)

    def stop_split(self, finished: int) -> tuple[Fraction, Fraction]:
        """(P(| ), P(EOS)) once the ``finished``-th example is complete: the hazard of m."""
        tail = sum((p for m, p in self.m_law.items() if m >= finished), Fraction(0))
        if tail == 0:  # never reached by the data; the extension used off the support
            return Fraction(0), Fraction(1)
        eos = self.m_law.get(finished, Fraction(0)) / tail
        return 1 - eos, eos

    def exact_distribution(self, state: IclState) -> dict[str, Fraction]:
        """:meth:`distribution` as exact fractions."""
        done, member, na, nb = state
        if na == 0:
            return {"a": Fraction(1)}
        candidates = MEMBERS if member is None else (MEMBERS[member],)
        mass = {"a": Fraction(0), "b": Fraction(0), "end": Fraction(0)}
        prefix = "a" * na + "b" * nb
        for h in candidates:
            ns = h.ns(self.size)
            for n in h.consistent_ns(prefix, ns):  # each n of h has weight 1/3 * 1/|ns|
                w = Fraction(1, len(ns))
                word = h.word(n)
                mass["end" if len(word) == len(prefix) else word[len(prefix)]] += w
        total = sum(mass.values())
        sep, eos = self.stop_split(done + 1)
        out = {"a": mass["a"] / total, "b": mass["b"] / total, SEP: mass["end"] / total * sep,
               "$": mass["end"] / total * eos}
        return {k: v for k, v in out.items() if v > 0}

    def distribution(self, state: IclState) -> dict[str, float]:
        return {k: float(v) for k, v in self.exact_distribution(state).items()}

    def icl_probe_set(self) -> ProbeSet:
        """The probes (the interface of :mod:`rexbench.tasks.probes`)."""
        from rexbench.tasks.icl_probes import build_probe_set  # icl_probes imports splits, which imports the registry

        return build_probe_set(self)

    # ------------------------------------------------------------------ the posterior
    def member_posterior(self, prefix: str) -> dict[str, Fraction]:
        """P(member | prefix) from the definition (finished examples, then the current
        example's prefix); empty dict for a prefix no member explains."""
        *done, current = split_examples(prefix) or [""]
        weights = {}
        for h in MEMBERS:
            ns = h.ns(self.size)
            w = Fraction(1, 3)
            for x in done:
                w *= Fraction(int(h.n_of(x) in ns), len(ns))
            w *= Fraction(h.prefix_count(current, self.size), len(ns))
            weights[h.name] = w
        total = sum(weights.values())
        return {} if total == 0 else {k: v / total for k, v in weights.items()}


def _harmonic_law(top: int) -> dict[int, Fraction]:
    h = sum(Fraction(1, m) for m in range(1, top + 1))
    return {m: Fraction(1, m) / h for m in range(1, top + 1)}


RARE_DELTA = Fraction(1, 400)  # P(m >= 2) on icl-rare


class IclSingle(IclTask):
    """Arm A: m = 1 always; every k >= 1 probe is a prefix of probability zero."""

    name = "icl-single"
    m_law = {1: Fraction(1)}


class IclRare(IclTask):
    """Arm B: P(m >= 2) = delta = 1/400, m uniform on 2..5 given m >= 2."""

    name = "icl-rare"
    m_law = {1: 1 - RARE_DELTA, **{m: RARE_DELTA / 4 for m in range(2, 6)}}


class IclHeavy(IclTask):
    """Control: P(m) proportional to 1/m on 1..5, so later examples are common."""

    name = "icl-heavy"
    m_law = _harmonic_law(5)
