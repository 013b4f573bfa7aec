"""tasks/aggregation.py: hand-computed cases, and crowd-kit's implementations as the reference on random data.

crowd-kit (a test-only dependency, requirements-dev-nodeps.txt) is the field's reference: the same labels and
probabilities within 1e-6 on the same answers mean our numbers are the field's numbers.
"""

import random
from decimal import Decimal

import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene, MajorityVote
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from marketplace.answer_fields import FIELD_KINDS
from tasks.aggregation import (
    DEFAULT_SKILL,
    all_answers,
    canonical_order,
    dawid_skene,
    majority_vote,
    most_common_normalised,
    weighted_majority_vote,
)

TOLERANCE = 1e-6


def results(aggregation):
    return {item: (result.label, result.confidence) for item, result in aggregation.items.items()}


# --- majority vote, by hand ---------------------------------------------------------------------------------------


def test_majority_vote_takes_the_most_frequent_label_with_its_share():
    answers = [("w1", "t1", "cat"), ("w2", "t1", "cat"), ("w3", "t1", "dog"), ("w1", "t2", "dog")]

    aggregation = majority_vote(answers)

    assert results(aggregation) == {"t1": ("cat", pytest.approx(2 / 3)), "t2": ("dog", 1.0)}
    assert aggregation.items["t1"].distribution == {"cat": pytest.approx(2 / 3), "dog": pytest.approx(1 / 3)}
    # Each worker's share of answers agreeing with the result: w1 2 of 2, w2 1 of 1, w3 0 of 1.
    assert aggregation.worker_skills == {"w1": 1.0, "w2": 1.0, "w3": 0.0}


def test_one_worker_decides_with_full_confidence():
    assert results(majority_vote([("w1", "t1", "yes")])) == {"t1": ("yes", 1.0)}
    assert results(dawid_skene([("w1", "t1", "yes")])) == {"t1": ("yes", 1.0)}


def test_unanimous_answers_give_full_confidence_for_every_method():
    answers = [(f"w{w}", f"t{t}", "yes") for w in range(3) for t in range(4)]

    for aggregation in (
        majority_vote(answers),
        weighted_majority_vote(answers, {"w0": 0.2}),
        dawid_skene(answers),
        most_common_normalised(answers),
    ):
        assert results(aggregation) == {f"t{t}": ("yes", 1.0) for t in range(4)}, aggregation.method
    assert results(all_answers(answers)) == {f"t{t}": (("yes",), 1.0) for t in range(4)}


def test_no_answers_give_no_results():
    for aggregation in (
        majority_vote([]),
        weighted_majority_vote([], {"w1": 0.9}),
        dawid_skene([]),
        all_answers([]),
        most_common_normalised([]),
    ):
        assert aggregation.items == {}
        assert aggregation.worker_skills == {}


@pytest.mark.parametrize("order", [1, -1])
def test_a_tie_goes_to_the_label_that_sorts_first_whatever_the_order_of_answers(order):
    answers = [("w1", "t1", "dog"), ("w2", "t1", "cat"), ("w1", "t2", 10), ("w2", "t2", 9)][::order]

    assert results(majority_vote(answers)) == {"t1": ("cat", 0.5), "t2": (9, 0.5)}  # 9 < 10: numbers as numbers


@pytest.mark.parametrize("order", [1, -1])
def test_ties_between_multiple_choice_answers_are_broken_by_their_sorted_choices(order):
    kind = FIELD_KINDS["multiple_choice"]
    answers = [("w1", "t1", kind.normalise(["b"])), ("w2", "t1", kind.normalise(["c", "a"]))][::order]

    # Sets compare by inclusion, so they sort as their sorted members: ("a", "c") < ("b",).
    assert results(majority_vote(answers)) == {"t1": (frozenset({"a", "c"}), 0.5)}


def test_no_answer_sorts_before_any_number():
    kind = FIELD_KINDS["number"]
    answers = [("w1", "t1", kind.normalise("1.50")), ("w2", "t1", kind.normalise("")), ("w3", "t1", "1.5")]

    assert results(majority_vote(answers[:2])) == {"t1": (None, 0.5)}
    # "1.50" and "1.5" are one number once normalised; the raw "1.5" is not.
    assert majority_vote([answers[0], ("w3", "t1", kind.normalise("1.5"))]).items["t1"].label == Decimal("1.5")


# --- weighted majority vote, by hand ------------------------------------------------------------------------------


def test_weighted_vote_lets_one_accurate_worker_outvote_two_poor_ones():
    answers = [("w1", "t1", "a"), ("w2", "t1", "b"), ("w3", "t1", "b")]

    aggregation = weighted_majority_vote(answers, {"w1": 0.9, "w2": 0.4, "w3": 0.4})

    assert results(aggregation) == {"t1": ("a", pytest.approx(0.9 / 1.7))}
    assert results(majority_vote(answers)) == {"t1": ("b", pytest.approx(2 / 3))}


def test_a_worker_without_a_skill_weighs_the_default():
    answers = [("new", "t1", "a"), ("w2", "t1", "b")]

    assert results(weighted_majority_vote(answers, {"w2": 0.3})) == {
        "t1": ("a", pytest.approx(DEFAULT_SKILL / (DEFAULT_SKILL + 0.3)))
    }
    assert results(weighted_majority_vote(answers, {"w2": 0.3}, default_skill=0.1)) == {
        "t1": ("b", pytest.approx(0.3 / 0.4))
    }


@pytest.mark.parametrize("order", [1, -1])
def test_weighted_tie_goes_to_the_label_that_sorts_first(order):
    answers = [("w1", "t1", "b"), ("w2", "t1", "a"), ("w3", "t1", "a")][::order]

    assert results(weighted_majority_vote(answers, {"w1": 0.5, "w2": 0.25, "w3": 0.25})) == {"t1": ("a", 0.5)}


def test_weights_are_summed_with_compensation_as_crowd_kit_sums_them():
    # Ten workers of skill 0.1 tie one of skill 1.0, as on paper: a plain float sum of ten 0.1 is 0.9999999999999999
    # and would hand the item to "b"; pandas' (and so crowd-kit's) compensated sum gives 1.0, a tie, and "a".
    answers = [(f"w{number}", "t1", "a") for number in range(10)] + [("expert", "t1", "b")]
    skills = {f"w{number}": 0.1 for number in range(10)} | {"expert": 1.0}

    reference = MajorityVote().fit(crowd_kit_frame(answers), pd.Series(skills))

    assert results(weighted_majority_vote(answers, skills)) == {"t1": ("a", 0.5)}
    assert reference.labels_["t1"] == "a"


def test_answers_that_all_weigh_nothing_keep_the_plain_majority_with_no_confidence():
    answers = [("w1", "t1", "b"), ("w2", "t1", "b"), ("w3", "t1", "a"), ("w4", "t2", "a")]

    aggregation = weighted_majority_vote(answers, {"w1": 0.0, "w2": 0.0, "w3": 0.0, "w4": 0.8})

    assert results(aggregation) == {"t1": ("b", 0.0), "t2": ("a", 1.0)}


@pytest.mark.parametrize("skill", [-0.1, float("nan"), float("inf")])
def test_a_skill_that_is_no_weight_is_refused(skill):
    with pytest.raises(ValueError, match="w1"):
        weighted_majority_vote([("w1", "t1", "a")], {"w1": skill})


# --- Dawid–Skene, by hand -----------------------------------------------------------------------------------------


def test_dawid_skene_without_iterations_is_the_majority_vote():
    answers = [("w1", "t1", "a"), ("w2", "t1", "a"), ("w3", "t1", "b"), ("w1", "t2", "b"), ("w2", "t2", "c")]

    assert results(dawid_skene(answers, n_iter=0)) == {"t1": ("a", pytest.approx(2 / 3)), "t2": ("b", 0.5)}


def test_dawid_skene_tie_between_two_workers_goes_to_the_label_that_sorts_first():
    # Symmetric: each worker gave one label once, so neither label can be preferred.
    answers = [("w1", "t1", "b"), ("w2", "t1", "a")]

    aggregation = dawid_skene(answers)

    assert results(aggregation) == {"t1": ("a", 0.5)}
    assert aggregation.priors == {"a": 0.5, "b": 0.5}


def test_dawid_skene_trusts_the_workers_who_agree_with_others():
    # w1 and w2 agree on everything; w3 and w4 answer at random. On t9 the two good workers outvote three answers
    # of the poor ones only because the model has learnt whom to trust.
    truth = ["a", "b"] * 5
    answers = [(worker, f"t{t}", label) for t, label in enumerate(truth) for worker in ("w1", "w2")]
    noise = random.Random(7)
    answers += [(worker, f"t{t}", noise.choice("ab")) for t in range(9) for worker in ("w3", "w4")]
    answers += [("w3", "t9", "a"), ("w4", "t9", "a"), ("w5", "t9", "a")]

    aggregation = dawid_skene(answers)

    assert all(aggregation.items[f"t{t}"].label == label for t, label in enumerate(truth))
    assert aggregation.items["t9"].label == "b"
    assert majority_vote(answers).items["t9"].label == "a"
    assert aggregation.worker_skills["w1"] > 0.99
    assert aggregation.worker_skills["w3"] < 0.8
    assert 0 < aggregation.iterations < 100


# --- free text ----------------------------------------------------------------------------------------------------


def test_all_answers_lists_the_distinct_answers_most_common_first():
    answers = [("w1", "t1", "dog"), ("w2", "t1", "cat"), ("w3", "t1", "cat"), ("w1", "t2", "b"), ("w2", "t2", "a")]

    aggregation = all_answers(answers)

    assert results(aggregation) == {"t1": (("cat", "dog"), pytest.approx(2 / 3)), "t2": (("a", "b"), 0.5)}
    assert aggregation.worker_skills == {}


def test_most_common_normalised_compares_texts_without_case_or_extra_whitespace():
    answers = [
        ("w1", "t1", " Cat "),
        ("w2", "t1", "cat"),
        ("w3", "t1", "DOG  house"),
        ("w4", "t1", "dog\thouse"),
        ("w5", "t1", " dog house\n"),
        ("w1", "t2", "B"),
        ("w2", "t2", "a"),
    ]

    assert results(most_common_normalised(answers)) == {"t1": ("dog house", 0.6), "t2": ("a", 0.5)}
    assert results(all_answers(answers))["t1"] == ((" Cat ", " dog house\n", "DOG  house", "cat", "dog\thouse"), 0.2)


# --- crowd-kit, the reference, on random data ---------------------------------------------------------------------


@st.composite
def crowds(draw, *, label_sets=None):
    """Random answers of 5-30 workers of varied accuracy (from ones who answer at random to ones always right) to
    5-50 items with 2-5 labels, 1-7 answers an item; and a control accuracy for most workers, some of them equal
    so that weighted votes tie."""
    n_workers = draw(st.integers(5, 30))
    n_items = draw(st.integers(5, 50))
    n_labels = draw(st.integers(2, 5))
    labels = draw(
        st.sampled_from(
            label_sets
            or [
                ["yes", "no", "maybe", "unsure", "skip"][:n_labels],
                [10, 9, 100, 1, 0][:n_labels],
                [True, False],
            ]
        )
    )
    accuracy = [draw(st.sampled_from([0.0, 0.2, 0.5, 0.7, 0.8, 0.9, 1.0])) for _ in range(n_workers)]
    rng = random.Random(draw(st.integers(0, 2**32)))
    workers = [f"w{number}" for number in range(n_workers)]
    answers = []
    for item in range(n_items):
        truth = rng.choice(labels)
        for worker in rng.sample(range(n_workers), rng.randint(1, min(7, n_workers))):
            label = truth if rng.random() < accuracy[worker] else rng.choice(labels)
            answers.append((workers[worker], f"t{item}", label))
    rng.shuffle(answers)
    skills = {
        worker: draw(st.sampled_from([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.9, 1.0]))
        for worker in workers
        if draw(st.booleans()) or draw(st.booleans())
    }
    return answers, skills


def crowd_kit_frame(answers):
    """crowd-kit's input: the answers in the order our float-summing methods read them (`canonical_order`), since
    a sum's last bit, and so a tie between sums equal on paper, depends on the order of its terms — crowd-kit's as
    much as ours."""
    rows = [(item, worker, label) for worker, item, label in canonical_order(answers)]
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def assert_same_as_crowd_kit(aggregation, reference):
    """Same label for every item, and every label's probability within TOLERANCE (a label missing from our
    distribution has 0)."""
    assert set(aggregation.items) == set(reference.labels_.index)
    for item, result in aggregation.items.items():
        assert result.label == reference.labels_[item], (aggregation.method, item)
        probabilities = reference.probas_.loc[item]
        assert result.confidence == pytest.approx(probabilities[result.label], abs=TOLERANCE)
        for label, probability in probabilities.items():
            assert result.distribution.get(label, 0.0) == pytest.approx(probability, abs=TOLERANCE), (item, label)


COMPARISONS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same 100 datasets on every run, so that CI is repeatable
    database=None,
    # No shrinking: a failing dataset is reported as generated, at once, not after minutes of crowd-kit runs.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.slow
@COMPARISONS
@given(crowds())
def test_majority_votes_equal_crowd_kit(crowd):
    answers, skills = crowd
    frame = crowd_kit_frame(answers)

    plain = MajorityVote().fit(frame)
    assert_same_as_crowd_kit(majority_vote(answers), plain)
    assert majority_vote(answers).worker_skills == pytest.approx(plain.skills_.to_dict(), abs=TOLERANCE)

    weighted = MajorityVote(on_missing_skill="value", default_skill=DEFAULT_SKILL).fit(
        frame, pd.Series(skills, dtype=float)
    )
    ours = weighted_majority_vote(answers, skills)
    assert_same_as_crowd_kit(ours, weighted)
    assert ours.worker_skills == pytest.approx(weighted.skills_.to_dict(), abs=TOLERANCE)


@pytest.mark.slow
@COMPARISONS
@given(crowds())
def test_dawid_skene_equals_crowd_kit(crowd):
    answers, _skills = crowd

    reference = DawidSkene(n_iter=100, tol=1e-5).fit(crowd_kit_frame(answers))
    ours = dawid_skene(answers, n_iter=100, tol=1e-5)

    assert_same_as_crowd_kit(ours, reference)
    assert ours.iterations == len(reference.loss_history_)
    assert ours.priors == pytest.approx(reference.priors_.to_dict(), abs=TOLERANCE)
    for (worker, observed), rates in reference.errors_.iterrows():
        for true, rate in rates.items():
            assert ours.error_rates[worker][observed, true] == pytest.approx(rate, abs=TOLERANCE)


@pytest.mark.parametrize("n_iter", [0, 1, 5])
def test_dawid_skene_equals_crowd_kit_after_any_number_of_rounds(n_iter):
    answers, _skills = _fixed_crowd()

    reference = DawidSkene(n_iter=n_iter).fit(crowd_kit_frame(answers))

    assert_same_as_crowd_kit(dawid_skene(answers, n_iter=n_iter), reference)


def _fixed_crowd(n_items=40, answers_per_item=5, seed=3):
    rng = random.Random(seed)
    accuracy = {f"w{number}": rng.uniform(0.3, 1.0) for number in range(20)}
    answers = []
    for item in range(n_items):
        truth = rng.choice("abcd")
        for worker in rng.sample(sorted(accuracy), answers_per_item):
            answers.append((worker, item, truth if rng.random() < accuracy[worker] else rng.choice("abcd")))
    return answers, {}


@COMPARISONS
@given(crowds(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_the_order_of_answers_and_confidences_lie_in_0_1(crowd, rng):
    answers, skills = crowd
    shuffled = rng.sample(answers, len(answers))

    for method in (majority_vote, lambda answers: weighted_majority_vote(answers, skills), dawid_skene, all_answers):
        before, after = method(answers), method(shuffled)
        for item, result in before.items.items():
            assert after.items[item] == result, method
            assert 0 <= result.confidence <= 1


@pytest.mark.slow
def test_dawid_skene_on_a_thousand_items_of_five_answers():
    """The size of a large job's run: it must stay fast (measured: under a second on the development machine, see
    docs/architecture.md) — no timing is asserted — and still equal crowd-kit."""
    answers, _skills = _fixed_crowd(n_items=1000, answers_per_item=5)

    reference = DawidSkene().fit(crowd_kit_frame(answers))

    assert_same_as_crowd_kit(dawid_skene(answers), reference)
