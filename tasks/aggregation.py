"""Aggregation of overlapping answers: one result per item, with a confidence, from several workers' answers.

Pure functions over plain data, standard library only (no Django models, no numpy). The input of every function
is the answers to one field of one job: `(worker_key, item_key, label)` tuples, where the label is the answer as
its field kind normalises it (`marketplace.answer_fields`: `FIELD_KINDS[kind].normalise(value)`), so two answers
that mean the same have equal labels. Keys and labels may be anything hashable.

Methods, each returning an `Aggregation` (an `ItemResult` per item: label, confidence, distribution):

- `majority_vote`: the label most workers gave; confidence = its share of the item's answers.
- `weighted_majority_vote`: each answer weighs its worker's skill (their accuracy on control tasks); confidence =
  the winner's share of the item's total weight.
- `dawid_skene`: for choice fields, the Dawid–Skene model (a confusion matrix per worker, fitted by EM);
  confidence = the winner's posterior probability.
- `all_answers` and `most_common_normalised`: for free text.

They equal crowd-kit's `MajorityVote` (with and without `skills`) and `DawidSkene` on the same data — same labels,
probabilities within 1e-6 — which tests/tasks/test_aggregation.py checks on random data. To get there this module
follows crowd-kit 1.4.2 step by step: the initialisation, the EM update order, the 1e-10 floor on error rates and
priors, the evidence lower bound and its stopping rule, and the tie-breaking below.

Ties: when several labels share the largest score, the result is the label that sorts first, as crowd-kit's
results (`probas_.idxmax()`, whose columns pandas sorts) have it; so the same set of labels with the same votes
gives the same result on every item, whatever order the answers came in. Labels sort in their natural order
(strings, numbers, booleans); None sorts before everything, and a set (a multiple choice) sorts as the sorted list
of its members, since sets compare by inclusion and have no order of their own (crowd-kit leaves those undefined).
"""

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from operator import add, itemgetter

from marketplace.answer_fields import normalise_text

# What a worker without a control accuracy yet weighs in `weighted_majority_vote`: half of a worker who gets
# every control right. Such a worker counts, but two proven workers outvote them.
DEFAULT_SKILL = 0.5

# crowd-kit's floor (`_EPS = np.float_power(10, -10)`) under error rates, priors and probabilities, so that no
# logarithm is of zero and one never-seen confusion cannot rule out a label for good.
_EPS = 10.0**-10
_EPS_LOG_EPS = _EPS * math.log(_EPS)

Answer = tuple[Hashable, Hashable, Hashable]  # (worker_key, item_key, label)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The aggregated answer of one item.

    `label`: the result (for `all_answers`, the tuple of the distinct answers, most common first).
    `confidence`: in [0, 1]; what it means depends on the method (see each function).
    `distribution`: each label's share of the votes or posterior probability, in label order; a label not in it
    has 0.
    """

    label: Hashable
    confidence: float
    distribution: Mapping[Hashable, float]


@dataclass(frozen=True, slots=True)
class Aggregation:
    """The result of one run over a field's answers: `items` maps each item key to its `ItemResult`;
    `worker_skills` maps each worker key to the method's estimate of how often they are right (empty for the free
    text methods, which have none)."""

    method: str
    items: Mapping[Hashable, ItemResult]
    worker_skills: Mapping[Hashable, float]


@dataclass(frozen=True, slots=True)
class DawidSkeneAggregation(Aggregation):
    """Dawid–Skene's result, with the fitted model: `priors` (label → prior probability of being the true label),
    `error_rates` (worker → {(observed label, true label): probability that the worker answers the observed label
    when the true one is the other}, for the labels the worker used), and the number of EM `iterations` run."""

    priors: Mapping[Hashable, float]
    error_rates: Mapping[Hashable, Mapping[tuple[Hashable, Hashable], float]]
    iterations: int


def sort_key(label: Hashable) -> tuple:
    """The key that puts labels in the order ties are broken by (and item and worker keys in `canonical_order`):
    None first, then booleans, numbers, texts, sets (as the sorted list of their members), tuples, and anything else
    by its type name and repr."""
    if label is None:
        return (0,)
    if isinstance(label, bool):
        return (1, label)
    if isinstance(label, int | float | Decimal | Fraction):
        if label != label:  # NaN: equal to nothing, so it cannot be compared; after every number
            return (2, 1, str(label))
        return (2, 0, label)
    if isinstance(label, str):
        return (3, label)
    if isinstance(label, frozenset | set):
        return (4, tuple(sorted(sort_key(member) for member in label)))
    if isinstance(label, tuple):
        return (5, tuple(sort_key(member) for member in label))
    return (6, type(label).__name__, repr(label))


def canonical_order(answers: Iterable[Answer]) -> list[Answer]:
    """The answers sorted by item, then worker: the order in which the methods that add up floats
    (`weighted_majority_vote`, `dawid_skene`) read them. A float sum depends on the order of its terms in the last
    bit, and two labels whose sums are equal on paper (0.1 + 0.2 and 0.3) tie or not by that bit: reading in one
    order makes a result depend on the answers, never on the order they came in."""
    return sorted(answers, key=lambda answer: (sort_key(answer[1]), sort_key(answer[0])))


def majority_vote(answers: Iterable[Answer]) -> Aggregation:
    """Each item's most frequent label. Confidence: that label's share of the item's answers. Ties: the label that
    sorts first. Worker skills: the share of each worker's answers that agree with the result (crowd-kit's
    `MajorityVote.skills_`)."""
    answers = list(answers)
    scores: dict[Hashable, dict[Hashable, int]] = {}
    for _worker, item, label in answers:
        item_scores = scores.setdefault(item, {})
        item_scores[label] = item_scores.get(label, 0) + 1
    rank = _label_ranks(answers)
    items = {item: _result_of_scores(item_scores, rank) for item, item_scores in scores.items()}
    return Aggregation("majority_vote", items, _agreement_with_results(answers, items))


def weighted_majority_vote(
    answers: Iterable[Answer], skills: Mapping[Hashable, float], *, default_skill: float = DEFAULT_SKILL
) -> Aggregation:
    """Each item's label with the largest sum of its workers' skills (their accuracy on control tasks, in [0, 1]);
    a worker missing from `skills` weighs `default_skill` (DEFAULT_SKILL unless given). Confidence: that label's
    share of the item's total weight. Ties: the label that sorts first (weights are summed in the order the answers
    come in `canonical_order`, with Kahan's compensation as pandas sums them: crowd-kit given the answers in that
    order sees the very same ties).

    An item whose answers all weigh zero has no weighted winner: its label is the plain majority's and its
    confidence 0, so that dynamic overlap asks for another answer. Raises ValueError on a negative or non-finite
    skill. Worker skills: the share of each worker's answers that agree with the result, as `majority_vote`."""
    answers = canonical_order(answers)
    weights = {worker: _checked_weight(worker, skill) for worker, skill in skills.items()}
    default = _checked_weight("default_skill", default_skill)
    # item -> label -> [Kahan sum, compensation]
    sums: dict[Hashable, dict[Hashable, list[float]]] = {}
    counts: dict[Hashable, dict[Hashable, int]] = {}
    for worker, item, label in answers:
        item_sums = sums.setdefault(item, {})
        kahan = item_sums.setdefault(label, [0.0, 0.0])
        weight = weights.get(worker, default)
        corrected = weight - kahan[1]
        total = kahan[0] + corrected
        kahan[1] = (total - kahan[0]) - corrected
        kahan[0] = total
        item_counts = counts.setdefault(item, {})
        item_counts[label] = item_counts.get(label, 0) + 1
    rank = _label_ranks(answers)
    items = {}
    for item, item_sums in sums.items():
        scores = {label: kahan[0] for label, kahan in item_sums.items()}
        if _total_in_label_order(scores, rank) > 0:
            items[item] = _result_of_scores(scores, rank)
        else:
            plain = _result_of_scores(counts[item], rank)
            items[item] = ItemResult(plain.label, 0.0, dict.fromkeys(plain.distribution, 0.0))
    return Aggregation("weighted_majority_vote", items, _agreement_with_results(answers, items))


def dawid_skene(answers: Iterable[Answer], *, n_iter: int = 100, tol: float = 1e-5) -> DawidSkeneAggregation:
    """The Dawid–Skene model fitted by expectation–maximisation, for choice fields: each worker has a confusion
    matrix (how likely they answer each label given each true label), the labels have prior probabilities, and
    each item's true label gets a posterior. Confidence: the posterior of the result. Ties: the label that sorts
    first. Worker skills: the model's probability that the worker answers right, Σ prior(c) · P(answers c | c).

    As crowd-kit's `DawidSkene(n_iter, tol)`: the posteriors start as majority vote's shares; then at most `n_iter`
    rounds of E-step (posteriors from priors and error rates, in log space), priors (the posteriors' means) and
    M-step (error rates: the posteriors summed per worker and answered label, floored at 1e-10, normalised per
    worker and true label); after each round the evidence lower bound per answer is computed and the loop stops
    when it grew by less than `tol`. Answers are read in `canonical_order`.
    """
    answers = canonical_order(answers)
    if not answers:
        return DawidSkeneAggregation("dawid_skene", {}, {}, priors={}, error_rates={}, iterations=0)
    model = _DawidSkeneData(answers)
    n_labels = len(model.labels)

    posteriors = []
    for pairs in model.item_pairs:
        votes = [0] * n_labels
        for pair in pairs:
            votes[model.pair_label[pair]] += 1
        posteriors.append([count / len(pairs) for count in votes])
    priors = _column_means(posteriors)
    _sums, errors = model.m_step(posteriors)
    loss = -math.inf
    iterations = 0
    for _ in range(n_iter):
        posteriors = model.e_step(priors, errors)
        priors = _column_means(posteriors)
        sums, errors = model.m_step(posteriors)
        iterations += 1
        new_loss = model.evidence_lower_bound(posteriors, priors, sums, errors) / len(answers)
        if new_loss - loss < tol:
            break
        loss = new_loss

    items = {}
    for item, row in zip(model.items, posteriors, strict=True):
        best = _first_max(row)
        items[item] = ItemResult(model.labels[best], row[best], dict(zip(model.labels, row, strict=True)))
    error_rates: dict[Hashable, dict[tuple[Hashable, Hashable], float]] = {}
    worker_skills = {}
    for worker, pairs in zip(model.workers, model.worker_pairs, strict=True):
        rates = error_rates[worker] = {}
        skill = 0.0
        for pair in pairs:
            observed = model.pair_label[pair]
            for true, rate in enumerate(errors[pair]):
                rates[model.labels[observed], model.labels[true]] = rate
            skill += priors[observed] * errors[pair][observed]
        worker_skills[worker] = skill
    return DawidSkeneAggregation(
        "dawid_skene",
        items,
        worker_skills,
        priors=dict(zip(model.labels, priors, strict=True)),
        error_rates=error_rates,
        iterations=iterations,
    )


def all_answers(answers: Iterable[Answer]) -> Aggregation:
    """For free text the requester reads whole: each item's label is the tuple of its distinct answers, the most
    common first (ties in label order); confidence: the most common answer's share. Answers are compared as given:
    pass each kind's normalised labels to merge spellings, or the raw texts to keep each one."""
    answers = list(answers)
    counts: dict[Hashable, dict[Hashable, int]] = {}
    for _worker, item, label in answers:
        item_counts = counts.setdefault(item, {})
        item_counts[label] = item_counts.get(label, 0) + 1
    rank = _label_ranks(answers)
    items = {}
    for item, item_counts in counts.items():
        total = sum(item_counts.values())
        ordered = sorted(item_counts, key=lambda label: (-item_counts[label], rank[label]))
        items[item] = ItemResult(
            tuple(ordered),
            item_counts[ordered[0]] / total,
            {label: item_counts[label] / total for label in sorted(item_counts, key=rank.__getitem__)},
        )
    return Aggregation("all_answers", items, {})


def most_common_normalised(answers: Iterable[Answer]) -> Aggregation:
    """For free text: each item's most common answer after normalising it as text answers are compared (case
    folded, outer whitespace dropped, inner whitespace collapsed: `answer_fields.normalise_text`); the result is
    the normalised text. Confidence: its share of the item's answers. Ties: the text that sorts first."""
    result = majority_vote((worker, item, normalise_text(label)) for worker, item, label in answers)
    return Aggregation("most_common_normalised", result.items, {})


# --- helpers ------------------------------------------------------------------------------------------------------


def _label_ranks(answers: list[Answer]) -> dict[Hashable, int]:
    labels = sorted({label for _worker, _item, label in answers}, key=sort_key)
    return {label: position for position, label in enumerate(labels)}


def _result_of_scores(scores: Mapping[Hashable, float], rank: Mapping[Hashable, int]) -> ItemResult:
    """The shares of the scores and the label with the largest one, the first in label order on a tie (crowd-kit
    divides by the row's total first and then takes the first maximum: so do we)."""
    ordered = sorted(scores, key=rank.__getitem__)
    total = _total_in_label_order(scores, rank)
    shares = {label: scores[label] / total for label in ordered}
    best = ordered[_first_max([shares[label] for label in ordered])]
    return ItemResult(best, shares[best], shares)


def _total_in_label_order(scores: Mapping[Hashable, float], rank: Mapping[Hashable, int]) -> float:
    total = 0
    for label in sorted(scores, key=rank.__getitem__):
        total += scores[label]
    return total


def _first_max(values: list[float]) -> int:
    best = 0
    for position, value in enumerate(values):
        if value > values[best]:
            best = position
    return best


def _agreement_with_results(answers: list[Answer], items: Mapping[Hashable, ItemResult]) -> dict[Hashable, float]:
    """Each worker's share of answers equal to their item's result; a worker's repeated equal answer to one item
    counts once (crowd-kit's `get_accuracy`)."""
    agreed: dict[Hashable, int] = {}
    counted: dict[Hashable, int] = {}
    for worker, item, label in dict.fromkeys(answers):
        agreed[worker] = agreed.get(worker, 0) + (label == items[item].label)
        counted[worker] = counted.get(worker, 0) + 1
    return {worker: agreed[worker] / counted[worker] for worker in counted}


def _checked_weight(worker: Hashable, skill: float) -> float:
    weight = float(skill)
    if not math.isfinite(weight) or weight < 0:
        raise ValueError(f"The skill of {worker!r} must be a finite number at least 0, not {skill!r}.")
    return weight


def _rows_getter(indexes: list[int]) -> Callable[[list], tuple]:
    """A function that returns the rows at the indexes, in order, as a tuple (itemgetter's, but a tuple for one
    index too)."""
    if len(indexes) > 1:
        return itemgetter(*indexes)
    (index,) = indexes
    return lambda rows: (rows[index],)


def _column_means(rows: list[list[float]]) -> list[float]:
    return [math.fsum(column) / len(rows) for column in zip(*rows, strict=True)]


class _DawidSkeneData:
    """The answers of one Dawid–Skene run as integer indexes: labels in sort order, items and workers in the order
    first seen, and a "pair" for each (worker, answered label) that occurs, which is what an error-rate row
    belongs to (as crowd-kit's `errors_` rows). Lists stand in for numpy's arrays."""

    def __init__(self, answers: list[Answer]) -> None:
        self.labels = sorted({label for _worker, _item, label in answers}, key=sort_key)
        label_index = {label: position for position, label in enumerate(self.labels)}
        item_index: dict[Hashable, int] = {}
        worker_index: dict[Hashable, int] = {}
        pair_index: dict[tuple[int, int], int] = {}
        self.items: list[Hashable] = []
        self.workers: list[Hashable] = []
        self.item_pairs: list[list[int]] = []  # per item, the pair of each of its answers
        self.pair_items: list[list[int]] = []  # per pair, the item of each of its answers
        self.pair_label: list[int] = []
        self.worker_pairs: list[list[int]] = []
        for worker, item, label in answers:
            if item not in item_index:
                item_index[item] = len(self.items)
                self.items.append(item)
                self.item_pairs.append([])
            if worker not in worker_index:
                worker_index[worker] = len(self.workers)
                self.workers.append(worker)
                self.worker_pairs.append([])
            key = (worker_index[worker], label_index[label])
            if key not in pair_index:
                pair_index[key] = len(self.pair_label)
                self.pair_label.append(key[1])
                self.pair_items.append([])
                self.worker_pairs[key[0]].append(pair_index[key])
            pair = pair_index[key]
            self.item_pairs[item_index[item]].append(pair)
            self.pair_items[pair].append(item_index[item])
        # The loops of the EM rounds run in C: these pick, from a list of rows, an item's answers' error-rate rows
        # and a pair's items' posteriors.
        self.item_pairs_getters = [_rows_getter(pairs) for pairs in self.item_pairs]
        self.pair_items_getters = [_rows_getter(items) for items in self.pair_items]

    def m_step(self, posteriors: list[list[float]]) -> tuple[list[list[float]], list[list[float]]]:
        """The posteriors summed per pair (the expected confusion counts), and the error rates: those sums floored
        at 1e-10 and divided, per worker and true label, by their sum over the worker's pairs."""
        sums = [list(map(sum, zip(*rows_of(posteriors), strict=True))) for rows_of in self.pair_items_getters]
        errors: list[list[float]] = [[]] * len(sums)
        for pairs in self.worker_pairs:
            floored = {pair: [max(value, _EPS) for value in sums[pair]] for pair in pairs}
            totals = [sum(column) for column in zip(*floored.values(), strict=True)]
            for pair, row in floored.items():
                errors[pair] = [value / total for value, total in zip(row, totals, strict=True)]
        return sums, errors

    def e_step(self, priors: list[float], errors: list[list[float]]) -> list[list[float]]:
        """Each item's posterior: prior × the product of its answers' error rates, computed as a sum of base-2
        logarithms, shifted so the largest is 0 before exponentiating, then normalised."""
        log_errors = [[math.log2(rate) for rate in row] for row in errors]
        log_priors = [math.log2(max(prior, _EPS)) for prior in priors]
        posteriors = []
        for rows_of in self.item_pairs_getters:
            log_likelihoods = list(map(add, log_priors, map(sum, zip(*rows_of(log_errors), strict=True))))
            top = max(log_likelihoods)
            scaled = [2.0 ** (value - top) for value in log_likelihoods]
            total = sum(scaled)
            posteriors.append([value / total for value in scaled])
        return posteriors

    def evidence_lower_bound(
        self, posteriors: list[list[float]], priors: list[float], sums: list[list[float]], errors: list[list[float]]
    ) -> float:
        """crowd-kit's `_evidence_lower_bound`: Σ over answers and labels of posterior × (ln error rate + ln prior)
        — the prior counted once per answer, as crowd-kit does — plus the posteriors' entropy (posteriors floored at
        1e-10). The first sum is taken per pair: a pair's posterior sums are its answers' posteriors added up."""
        log_priors = [math.log(max(prior, _EPS)) for prior in priors]
        joint = 0.0
        for row_sums, row_errors in zip(sums, errors, strict=True):
            for weight, rate, log_prior in zip(row_sums, row_errors, log_priors, strict=True):
                joint += weight * (math.log(rate) + log_prior)
        entropy = -sum(
            [value * math.log(value) if value > _EPS else _EPS_LOG_EPS for row in posteriors for value in row]
        )
        return joint + entropy
