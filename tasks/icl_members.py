"""The members of the in-context-learning family: three counting languages over ``a``/``b``.

A member ``(p, q)`` is the language ``{a^(p n) b^(q n) : n >= 1}``. The family is

* ``anbn``  = (1, 1): ab, aabb, aaabbb, ...
* ``anb2n`` = (1, 2): abb, aabbbb, ...
* ``a2nbn`` = (2, 1): aab, aaaabb, ...

Their words are pairwise disjoint (``a^i b^j`` fixes ``j / i`` in {1, 2, 1/2}), so one
complete example identifies the member. Inside the data distribution every example has
at most ``cap`` symbols, so ``n`` runs over ``1 .. cap // (p + q)``, uniformly: with the
suite cap of 12 that is n in 1..6 for ``anbn`` (6 words, 2..12 symbols) and n in 1..4 for
the other two (4 words each, 3..12 symbols) -- every member's support is "all its words of
at most 12 symbols", the same length range for all three.

Worked example (cap 12): the example prefix ``aab`` is consistent with ``anbn`` (n = 2,
word ``aabb``), ``anb2n`` (n = 2, ``aabbbb``) and ``a2nbn`` (n = 1, ``aab``); its
probability under each member is 1/6, 1/4 and 1/4 (:func:`prefix_count` / ``ns``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rexbench.tasks.rules import matches


@dataclass(frozen=True)
class Member:
    """The language a^(p n) b^(q n), n >= 1."""

    name: str
    p: int
    q: int

    def ns(self, cap: int) -> range:
        """The values of n inside the data distribution (every word of at most ``cap`` symbols)."""
        return range(1, cap // (self.p + self.q) + 1)

    def word(self, n: int) -> str:
        return "a" * (self.p * n) + "b" * (self.q * n)

    def n_of(self, word: str) -> int | None:
        """n if ``word`` is a word of this member (any n >= 1), else None."""
        if not matches("a+b+", word):
            return None
        na, nb = word.count("a"), word.count("b")
        if na % self.p or na // self.p * self.q != nb:
            return None
        return na // self.p

    def consistent_ns(self, prefix: str, ns: range) -> list[int]:
        """The n in ``ns`` whose word starts with ``prefix`` (an example prefix)."""
        return [n for n in ns if self.word(n).startswith(prefix)]

    def prefix_count(self, prefix: str, cap: int) -> int:
        """How many of the member's words inside the distribution start with ``prefix``."""
        return len(self.consistent_ns(prefix, self.ns(cap)))

    def shortest_extension(self, prefix: str) -> str | None:
        """Shortest ``e`` with ``prefix + e`` a word of the member (any n), or None."""
        if not matches("(a*)(b*)", prefix) or (prefix.startswith("b")):
            return None
        na, nb = prefix.count("a"), prefix.count("b")
        if nb == 0:  # still in the a-block: the smallest n whose a-block is long enough
            n = max(1, -(-na // self.p))
            return "a" * (self.p * n - na) + "b" * (self.q * n)
        if na % self.p or nb > self.q * (na // self.p):
            return None
        return "b" * (self.q * (na // self.p) - nb)


MEMBERS: tuple[Member, ...] = (Member("anbn", 1, 1), Member("anb2n", 1, 2), Member("a2nbn", 2, 1))
MEMBER_NAMES: tuple[str, ...] = tuple(m.name for m in MEMBERS)


def member_of(word: str) -> Member | None:
    """The (unique, the members being disjoint) member of which ``word`` is a word."""
    for member in MEMBERS:
        if member.n_of(word) is not None:
            return member
    return None
