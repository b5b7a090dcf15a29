"""Task definitions: distributions are exact, derived quantities agree, rules behave."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rexbench.tasks import EOS, TASK_NAMES, UnknownTaskError, get_split, get_task
from rexbench.tasks.vocab import NUM_SPECIAL


def reachable_prefixes(task, max_len: int) -> list[str]:
    """Every positive-probability prefix of length <= max_len (breadth-first)."""
    out, frontier = [""], [""]
    for _ in range(max_len):
        frontier = [p + s for p in frontier for s in task.symbols if task.is_reachable(p + s)]
        out.extend(frontier)
    return out


@pytest.mark.parametrize("name", TASK_NAMES)
def test_next_probs_sum_to_one_on_reachable_prefixes(name: str) -> None:
    task = get_task(name)
    prefixes = set(reachable_prefixes(task, 7))
    # also deep prefixes, from the test split (up to the length cap)
    for word in get_split(task, "test").words[:300]:
        prefixes.update(word[:i] for i in range(len(word) + 1))
    for prefix in prefixes:
        probs = task.next_probs(prefix)
        assert probs is not None
        assert abs(probs.sum() - 1.0) < 1e-12
        assert probs[0] == 0 and probs[2] == 0  # never SOS or PAD
        assert (probs >= 0).all()


@pytest.mark.parametrize("name", TASK_NAMES)
def test_empirical_next_token_frequencies_match(name: str) -> None:
    """Chi-square-free check: for every prefix visited >= 400 times in 20,000 fixed-seed
    samples, each next-token frequency is within 5 standard errors (+1e-3) of p."""
    task = get_task(name)
    words = task.sample_words(np.random.default_rng(1234), 20_000)
    counts: dict[str, Counter] = defaultdict(Counter)
    for w in words:
        for i in range(len(w) + 1):
            counts[w[:i]][w[i] if i < len(w) else "$"] += 1
    checked = 0
    for prefix, ctr in counts.items():
        n = sum(ctr.values())
        if n < 400:
            continue
        probs = task.next_probs(prefix)
        for tok in range(1, task.vocab_size):
            if tok == 2:
                continue
            sym = "$" if tok == EOS else task.symbols[tok - NUM_SPECIAL]
            p, freq = probs[tok], ctr[sym] / n
            tol = 5 * math.sqrt(p * (1 - p) / n) + 1e-3
            assert abs(freq - p) <= tol, (prefix, sym, freq, p, n)
        checked += 1
    assert checked >= 5


def test_anbn_word_probabilities_are_uniform_in_n_and_sum_to_one() -> None:
    task = get_task("anbn")
    total = 0.0
    for n in range(1, 33):
        p = math.exp(task.log_prob("a" * n + "b" * n))
        assert p == pytest.approx(1 / 32, rel=1e-12)
        total += p
    assert total == pytest.approx(1.0, abs=1e-12)
    assert task.log_prob("ab" * 2) == -math.inf
    assert task.log_prob("a" * 33 + "b" * 33) == -math.inf


def test_anbncn_word_probabilities_sum_to_one() -> None:
    task = get_task("anbncn")
    probs = [math.exp(task.log_prob("a" * n + "b" * n + "c" * n)) for n in range(1, 22)]
    assert probs == pytest.approx([1 / 21] * 21, rel=1e-12)
    assert sum(probs) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("name", "per_letter", "N"), [("anbn", 2, 32), ("anbncn", 3, 21)])
def test_optimal_loss_closed_form(name: str, per_letter: int, N: int) -> None:
    """Each word costs exactly log N nats (only n is random); a word with block length n
    has per_letter*n + 1 targets. So optimal loss = M log N / sum(per_letter*n_i + 1)."""
    task = get_task(name)
    words = get_split(task, "test").words
    ns = [len(w) // per_letter for w in words]
    expected = len(words) * math.log(N) / sum(per_letter * n + 1 for n in ns)
    total, count = task.nll_sum_count(words)
    assert count == sum(per_letter * n + 1 for n in ns)
    assert total / count == pytest.approx(expected, rel=1e-12)


def test_ban_word_probability_matches_definition() -> None:
    """p(w) = 1/64 * 1/(floor((l-1)/2)+1) * 1/C(l-1, #a): length, a-count, arrangement."""
    task = get_task("ban")
    rng = np.random.default_rng(7)
    for _ in range(200):
        l = int(rng.integers(1, 65))
        k = int(rng.integers(0, (l - 1) // 2 + 1))
        pos = set(rng.choice(l - 1, size=2 * k, replace=False).tolist()) if l > 1 else set()
        word = "b" + "".join("a" if i in pos else "b" for i in range(l - 1))
        expected = (1 / 64) * (1 / ((l - 1) // 2 + 1)) / math.comb(l - 1, 2 * k)
        assert math.exp(task.log_prob(word)) == pytest.approx(expected, rel=1e-9)


def test_bban_word_probability_matches_definition() -> None:
    task = get_task("bban")
    total = 0.0
    for l in range(1, 65):
        for m in range((l - 1) // 2 + 1):
            p = math.exp(task.log_prob("b" * (l - 2 * m) + "a" * (2 * m)))
            assert p == pytest.approx(1 / 64 / ((l - 1) // 2 + 1), rel=1e-9)
            total += p
    assert total == pytest.approx(1.0, abs=1e-9)


def dyck_process_prob(word: str, crossing: bool, cap: int = 64) -> float:
    """The documented stack/counter process, written out independently of the task code."""
    prob, stack = 1.0, []
    for i, ch in enumerate(word + "$"):
        depth, left = len(stack), cap - i
        closers = sorted({")" if s == "(" else "]" for s in stack}) if crossing else (
            [")" if stack[-1] == "(" else "]"] if stack else [])
        if depth == 0:
            options = {"$": 1.0} if left == 0 else (
                {"(": 0.5, "[": 0.5} if i == 0 else {"$": 0.2, "(": 0.4, "[": 0.4})
        elif depth >= left:
            options = {c: 1 / len(closers) for c in closers}
        else:
            options = {"(": 0.25, "[": 0.25, **{c: 0.5 / len(closers) for c in closers}}
        prob *= options.get(ch, 0.0)
        if prob == 0 or ch == "$":
            return prob
        if ch in "([":
            stack.append(ch)
        else:
            stack.remove("(" if ch == ")" else "[") if crossing else stack.pop()
    return prob


@pytest.mark.parametrize(("name", "crossing"), [("dyck", False), ("csdyck", True)])
def test_dyck_word_probability_matches_process(name: str, crossing: bool) -> None:
    task = get_task(name)
    words = list(get_split(task, "val").words[:300]) + ["([)]", "()", "(]", "([])", "[[]]()"]
    for word in words:
        assert math.exp(task.log_prob(word)) == pytest.approx(dyck_process_prob(word, crossing), rel=1e-9)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_sampling_is_deterministic(name: str) -> None:
    task = get_task(name)
    a = task.sample_words(np.random.default_rng(5), 50)
    b = task.sample_words(np.random.default_rng(5), 50)
    c = task.sample_words(np.random.default_rng(6), 50)
    assert a == b and a != c


def brute_force_completion(rule, prefix: str, symbols: str, depth: int) -> str | None:
    """Shortest extension (up to ``depth`` symbols) satisfying the rule, or None."""
    for n in range(depth + 1):
        for ext in itertools.product(symbols, repeat=n):
            if rule.holds(prefix + "".join(ext)):
                return "".join(ext)
    return None


@pytest.mark.parametrize("name", TASK_NAMES)
def test_completable_and_complete_agree_with_brute_force(name: str) -> None:
    task = get_task(name)
    # Search depth that provably covers every shortest completion: a count rule over k
    # symbols needs at most (k-1)*len(prefix) symbols, a bracket rule at most len(prefix).
    max_prefix, factor = {2: (5, 1), 3: (3, 2), 4: (4, 1)}[len(task.symbols)]
    prefixes = ["".join(c) for n in range(max_prefix + 1) for c in itertools.product(task.symbols, repeat=n)]
    for rule in task.rules.values():
        for prefix in prefixes:
            found = brute_force_completion(rule, prefix, task.symbols, factor * len(prefix) + 1)
            assert rule.completable(prefix) == (found is not None), (rule.name, prefix)
            if found is not None:
                ext = rule.complete(prefix)
                assert rule.holds(prefix + ext) and len(ext) == len(found), (rule.name, prefix, ext)


def words_of(task):
    alphabet = st.text(alphabet=task.symbols, max_size=14)
    in_lang = st.sampled_from(get_split(task, "val").words[:200])
    return st.one_of(alphabet, in_lang, st.tuples(in_lang, alphabet).map(lambda t: t[0] + t[1]))


@pytest.mark.parametrize("name", TASK_NAMES)
def test_rule_properties(name: str) -> None:
    task = get_task(name)

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(word=words_of(task), ext=st.text(alphabet=task.symbols, max_size=6))
    def check(word: str, ext: str) -> None:
        in_lang = task.in_language(word)
        # the support of the distribution is exactly the language
        assert in_lang == (task.log_prob(word) > -math.inf)
        if in_lang:
            assert all(task.rule_flags(word).values())
        for rule in task.rules.values():
            if rule.holds(word):
                assert rule.completable(word)
            if rule.completable(word):
                assert rule.holds(word + rule.complete(word))
            else:  # once lost, never regained
                assert not rule.completable(word + ext)
        if task.is_reachable(word):
            assert all(task.completable_flags(word).values())

    check()


def test_unknown_task_lists_valid_names() -> None:
    with pytest.raises(UnknownTaskError, match="valid tasks: anbn, anbncn, ban, bban, dyck, csdyck"):
        get_task("anbm")


def test_size_is_configuration() -> None:
    small = get_task("anbn", 4)
    assert small.max_word_length == 8 and small.in_language("aaaabbbb") and not small.in_language("a" * 5 + "b" * 5)
    assert get_task("dyck", 10).max_word_length == 10
    with pytest.raises(ValueError):
        get_task("anbn", 0)
