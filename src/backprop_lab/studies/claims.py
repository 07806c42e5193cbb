"""The claims the study tests, and the verdicts computed from its measurements.

Each claim was made in one of the course reports this study reproduces (``SOURCE`` says what is known of
them; ``LEGEND`` explains the report's terms). A section runs the set-up
the claim was made with and hands its measurements to the claim's verdict function here, which
says *holds*, *does not hold* or *cannot tell with N seeds*, with the figure and the reason. The
functions are pure (numbers in, verdict out), so each is tested on a case where the claim holds and
one where it does not.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from backprop_lab.analysis.comparison import welch

HOLDS, FAILS, UNSURE = "holds", "does not hold", "cannot tell"

# Where the claims come from. This project records no title, author or section of the course reports, so none is
# cited; what is known of them is what the claims and the set-ups the study reruns state.
SOURCE = (
    "The claims come from the course reports the study reproduces; this project does not record their titles, "
    "authors or sections, so none is cited here. What is known of them: they train an MNIST network by hand in "
    "NumPy and again in TensorFlow (tf.GradientTape and Keras fit), measured 0.03 to 0.29 pp between the two "
    "TensorFlow trainings, report 33% for the hand-written network (128 relu units, 0.01·N(0, 1) weights, "
    "full-batch gradient descent, learning rate 0.01, MNIST's 60,000 images) against 98% for TensorFlow, and go on "
    "to a CIFAR-10 two-layer network (1,024 units, MSE with L2), a blend factor alpha, a CNN and transfer learning."
)

# The terms of the report's tables and verdicts, explained under the claims table.
LEGEND: tuple[tuple[str, str], ...] = (
    ("pp", "percentage points: the difference of two accuracies in percent (0.873 against 0.871 is 0.2 pp, not 0.2%)"),
    ("± std", "the sample standard deviation of the figure over the seeds run"),
    (
        "95% interval",
        "the interval of the mean over seeds, mean ± t(0.975, n - 1) · std / √n (Student's t, n seeds): it holds the "
        "mean that endlessly many seeds would give with 95% confidence; with 2 or 3 seeds it is wide",
    ),
    (
        "Welch p",
        "the p-value of Welch's t-test, which asks whether two means differ when their spreads may differ: below "
        "0.05 the difference is beyond the seed-to-seed spread (unlikely to be seed noise), above it these seeds "
        "cannot tell the two apart; p says nothing about how large the difference is",
    ),
    (
        "cannot tell with N seeds",
        "the difference is within what another seed changes, or a time is too short to measure; more seeds "
        "(--preset full, or seeds = 5 in the study file) can turn it into holds or does not hold",
    ),
)


@dataclass(frozen=True)
class Claim:
    key: str
    text: str  # as the course report made it
    section: str  # the study section that tests it


CLAIMS: dict[str, Claim] = {
    c.key: c
    for c in (
        Claim(
            "tape_fit",
            "tf.GradientTape and model.fit differ only by random initialisation and shuffling "
            "(the reports measured 0.03 to 0.29 pp apart)",
            "engines",
        ),
        Claim(
            "same_curves", "hand-written backpropagation and autograd give the same loss and accuracy curves", "engines"
        ),
        Claim("faster", "hand-written backpropagation is a bit faster than autograd", "engines"),
        Claim(
            "numpy33",
            "the hand-written network reaches 33% while TensorFlow reaches 98%, so TensorFlow is better",
            "numpy33",
        ),
        Claim("best_config", "256 neurons, He initialisation and RMSprop is the best configuration", "experiments"),
        Claim("minibatch", "mini-batches regularise and full batch overfits", "experiments"),
        Claim("alpha", "increasing alpha slows learning, and alpha = 1 keeps the loss constant", "blend"),
        Claim("cnn97", "the CNN reaches about 97% in 2 epochs", "cnn"),
        Claim("finetune", "fine-tuning beats head-only transfer and takes about twice the time", "transfer"),
    )
}


@dataclass
class Verdict:
    claim: str  # key into CLAIMS
    verdict: str  # HOLDS, FAILS or "cannot tell with N seeds"
    measured: str  # the figure, in words a reader can check against the section
    reason: str

    @property
    def text(self) -> str:
        return CLAIMS[self.claim].text

    @property
    def section(self) -> str:
        return CLAIMS[self.claim].section

    def to_dict(self) -> dict:
        return asdict(self)


def _unsure(n: int) -> str:
    return f"{UNSURE} with {n} seed{'s' if n != 1 else ''}"


def _welch_p(a: list[float], b: list[float]) -> float | None:

    if len(a) < 2 or len(b) < 2:
        return None
    return welch(a, b)[1]


def _sd(xs: list[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def tape_fit(same_seed_acc_diffs: list[float], same_seed_weight_rel: float, seed_accs: list[float]) -> Verdict:
    """``same_seed_acc_diffs``: tape minus fit test accuracy for each seed, from the same weights and batches;
    ``seed_accs``: one engine's test accuracy over the seeds (the spread that initialisation and shuffling make)."""
    n = len(seed_accs)
    worst = max(abs(d) for d in same_seed_acc_diffs)
    spread = 100 * _sd(seed_accs)
    measured = (
        f"same weights and batches: {100 * worst:.2f} pp apart (weights {same_seed_weight_rel:.1e}); "
        f"between seeds: {spread:.2f} pp (std of test accuracy)"
    )
    if worst > 0 and (n < 2 or 100 * worst > 2 * spread):
        return Verdict(
            "tape_fit",
            FAILS,
            measured,
            "from the same weights and batches the two still differ, by more "
            "than the seed-to-seed spread: something besides initialisation and shuffling differs",
        )
    if n < 2:
        return Verdict(
            "tape_fit", _unsure(n), measured, "with one seed there is no seed-to-seed spread to compare with"
        )
    return Verdict(
        "tape_fit",
        HOLDS,
        measured,
        "with initialisation and shuffling the same, tape and fit agree "
        + ("bit for bit" if worst == 0 and same_seed_weight_rel == 0 else "to far less than the seed spread")
        + "; changing the seed alone moves the accuracy by about the reported differences",
    )


def same_curves(
    max_loss_diff: float, max_acc_diff: float, seed_loss_spread: float, seed_acc_spread: float, n: int
) -> Verdict:
    """Largest per-epoch difference between the scratch and autograd curves from the same weights and batches,
    against the largest per-epoch spread of the same curves between seeds."""
    measured = (
        f"largest per-epoch difference from the same start: loss {max_loss_diff:.1e}, accuracy "
        f"{100 * max_acc_diff:.2f} pp; between seeds: loss {seed_loss_spread:.1e}, accuracy {100 * seed_acc_spread:.2f} pp"
    )
    if n < 2:
        if max_loss_diff < 1e-3 and max_acc_diff < 0.005:
            return Verdict("same_curves", HOLDS, measured, "the curves agree to float32 round-off")
        return Verdict("same_curves", _unsure(n), measured, "one seed: no spread to judge the difference against")
    if max_loss_diff <= seed_loss_spread and max_acc_diff <= max(seed_acc_spread, 0.005):
        return Verdict(
            "same_curves",
            HOLDS,
            measured,
            "the engines' curves differ far less than changing the seed does: "
            "the difference is float32 round-off growing through training, not a different algorithm",
        )
    return Verdict("same_curves", FAILS, measured, "the curves from the same start differ by more than the seed spread")


# "a bit faster": at most 1.5 times as fast (an epoch time at least 2/3 of the other's); a hand-written step that
# takes half the time is twice as fast, which a reader would not call "a bit"
A_BIT_FASTER = 1.5


def faster(scratch_epoch_s: list[float], autograd_epoch_s: list[float], n_seeds: int = 1) -> Verdict:
    """Steady epoch times (first epochs left out) of the hand-written engine and of GradientTape, measured on this
    machine in one run, over ``n_seeds`` seeds."""
    a, b = statistics.median(scratch_epoch_s), statistics.median(autograd_epoch_s)
    ratio = a / b
    measured = (
        f"median steady epoch: hand-written {a:.3f} s, GradientTape {b:.3f} s (ratio {ratio:.2f}, "
        f"{len(scratch_epoch_s)} epochs each)"
    )
    p = _welch_p(scratch_epoch_s, autograd_epoch_s)
    if p is None:
        return Verdict(
            "faster", _unsure(n_seeds), measured, "one epoch time each: no spread to judge the difference against"
        )
    if p >= 0.05:
        return Verdict(
            "faster", _unsure(n_seeds), measured, f"the difference is within the timing noise (Welch p = {p:.2f})"
        )
    if ratio < 1:
        factor = round(1 / ratio, 2)  # judged as printed, so that the words never contradict the figure
        times = f"{factor:.2f} times as fast"
        how = f"a bit faster ({times})" if factor <= A_BIT_FASTER else f"{times}, more than 'a bit'"
        return Verdict("faster", HOLDS, measured, f"hand-written is {how} (Welch p = {p:.3f})")
    return Verdict("faster", FAILS, measured, f"hand-written is slower here (Welch p = {p:.3f})")


def numpy33(low: dict[str, list[float]], good: dict[str, list[float]]) -> Verdict:
    """Test accuracy per engine (over seeds) for the reference set-up (``low``) and a good one (``good``)."""
    mean = {e: statistics.fmean(v) for e, v in low.items()}
    best_good = {e: statistics.fmean(v) for e, v in good.items()}
    gap = max(abs(mean["scratch"] - mean[e]) for e in mean if e != "scratch")
    n = min(len(v) for v in low.values())
    measured = (
        "same set-up, same weights: "
        + " / ".join(f"{e} {mean[e]:.3f}" for e in mean)
        + "; He + Adam + mini-batches: "
        + " / ".join(f"{e} {best_good[e]:.3f}" for e in best_good)
    )
    tf_better = all(mean[e] > mean["scratch"] + 0.02 for e in mean if e != "scratch")
    if tf_better and all(
        ((p := _welch_p(low[e], low["scratch"])) is not None and p < 0.05) or n < 2 for e in mean if e != "scratch"
    ):
        return Verdict(
            "numpy33",
            HOLDS if n > 1 else _unsure(n),
            measured,
            "TensorFlow beats the hand-written network in the same set-up",
        )
    if gap < 0.02 and min(best_good.values()) > max(mean.values()) + 0.1:
        return Verdict(
            "numpy33",
            FAILS,
            measured,
            f"in the same set-up every engine gets the same accuracy (within "
            f"{100 * gap:.1f} pp); the set-up, not the framework, makes the gap: with a good one all engines do well",
        )
    return Verdict("numpy33", _unsure(n), measured, "the engines differ, but not clearly in TensorFlow's favour")


def _claimed_best(cells: dict[str, list[float]], claimed: str) -> tuple[str, str]:
    """(verdict for one experiment, words) for "``claimed`` is the best cell"."""
    means = {k: statistics.fmean(v) for k, v in cells.items()}
    best = max(means, key=means.get)
    others = [k for k in cells if k != claimed]
    if best != claimed:
        p = _welch_p(cells[best], cells[claimed])
        if p is not None and p < 0.05:
            return FAILS, f"{best} ({means[best]:.3f}) beats {claimed} ({means[claimed]:.3f}), p = {p:.3f}"
        return UNSURE, f"{best} ({means[best]:.3f}) vs {claimed} ({means[claimed]:.3f}): within the spread"
    ps = [_welch_p(cells[claimed], cells[k]) for k in others]
    if all(p is not None and p < 0.05 for p in ps):
        return HOLDS, f"{claimed} is best ({means[claimed]:.3f}), beyond the spread of every other"
    return UNSURE, f"{claimed} is best ({means[claimed]:.3f}) but not beyond the spread of every other"


def best_config(experiments: dict[str, dict[str, list[float]]], claimed: dict[str, str], n: int) -> Verdict:
    """``experiments``: experiment name -> cell label -> test accuracies; ``claimed``: experiment -> the claimed cell."""
    parts = {name: _claimed_best(experiments[name], cell) for name, cell in claimed.items() if name in experiments}
    measured = "; ".join(f"{name}: {words}" for name, (_, words) in parts.items())
    verdicts = [v for v, _ in parts.values()]
    if FAILS in verdicts:
        return Verdict("best_config", FAILS, measured, "another setting is better beyond the seed spread")
    if verdicts and all(v == HOLDS for v in verdicts):
        return Verdict(
            "best_config", HOLDS, measured, "each claimed choice beats every alternative beyond the seed spread"
        )
    return Verdict(
        "best_config",
        _unsure(n),
        measured,
        "no alternative is clearly better, but neither is the claimed choice clearly best",
    )


def minibatch(
    full_train: list[float],
    full_test: list[float],
    mini_train: list[float],
    mini_test: list[float],
    full_steps: int,
    mini_steps: int,
) -> Verdict:
    """Train and test accuracy over seeds for full-batch and mini-batch training of the same epochs."""
    gap_full = statistics.fmean(full_train) - statistics.fmean(full_test)
    gap_mini = statistics.fmean(mini_train) - statistics.fmean(mini_test)
    n = len(full_test)
    measured = (
        f"full batch: train {statistics.fmean(full_train):.3f}, test {statistics.fmean(full_test):.3f} "
        f"({full_steps} steps); mini-batch: train {statistics.fmean(mini_train):.3f}, test "
        f"{statistics.fmean(mini_test):.3f} ({mini_steps} steps)"
    )
    overfits = gap_full > gap_mini + 0.01 and statistics.fmean(full_train) >= statistics.fmean(mini_train) - 0.01
    if overfits and statistics.fmean(full_test) < statistics.fmean(mini_test):
        return Verdict(
            "minibatch",
            HOLDS if n > 1 else _unsure(n),
            measured,
            "full batch fits the training set as well but generalises worse",
        )
    if statistics.fmean(full_train) < statistics.fmean(mini_train) - 0.02:
        return Verdict(
            "minibatch",
            FAILS,
            measured,
            f"full batch does not overfit, it underfits: with the same epochs it "
            f"takes {mini_steps // max(full_steps, 1)}x fewer steps, and its training accuracy is the lower one",
        )
    return Verdict("minibatch", _unsure(n), measured, "the generalisation gaps are about the same")


ALPHA_NOISE = 0.01  # one seed per alpha: a final loss within 1% of the previous alpha's is not read as faster learning


def alpha(final_loss: dict[float, float], alpha1_epoch_losses: list[float]) -> Verdict:
    """Final training loss by alpha (one seed each), and the per-epoch training losses of alpha = 1. The loss
    must not fall as alpha grows by more than ``ALPHA_NOISE`` (relative), and must grow from the smallest alpha
    to the largest."""
    order = sorted(final_loss)
    losses = [final_loss[a] for a in order]
    monotone = all(b >= a * (1 - ALPHA_NOISE) for a, b in zip(losses, losses[1:])) and losses[-1] > losses[0]
    constant = max(alpha1_epoch_losses) - min(alpha1_epoch_losses) <= 1e-6 * max(1.0, abs(alpha1_epoch_losses[0]))
    measured = (
        "final training loss by alpha: "
        + ", ".join(f"{a:g}: {final_loss[a]:.4f}" for a in order)
        + f"; alpha = 1 moves the epoch loss by {max(alpha1_epoch_losses) - min(alpha1_epoch_losses):.1e}"
    )
    if monotone and constant:
        return Verdict(
            "alpha",
            HOLDS,
            measured,
            "the loss falls more slowly as alpha grows, and alpha = 1 never moves "
            "the weights, so the loss over the training set stays the same",
        )
    what = [] if monotone else ["the final loss does not grow with alpha"]
    what += [] if constant else ["alpha = 1 does not keep the loss constant"]
    return Verdict("alpha", FAILS, measured, "; ".join(what))


def cnn97(accuracy: float, epochs: int, data: str, train_size: int) -> Verdict:
    """The CNN's test accuracy after ``epochs`` epochs on ``data`` with ``train_size`` training images."""
    measured = f"{accuracy:.4f} after {epochs} epochs on {data} ({train_size:,} training images)"
    if epochs != 2:
        return Verdict("cnn97", UNSURE, measured, "the claim is about 2 epochs")
    if accuracy >= 0.96:
        return Verdict("cnn97", HOLDS, measured, "about 97% (within a point) or better")
    if data not in ("mnist",):
        return Verdict(
            "cnn97",
            UNSURE,
            measured,
            f"the claim was made on MNIST's 60,000 training images; {data} is "
            "a different data set" + (" and smaller: fewer steps in 2 epochs" if train_size < 60_000 else ""),
        )
    return Verdict("cnn97", FAILS, measured, "below 96% on MNIST after 2 epochs")


MIN_TIMED_S = 1.0  # a stage shorter than this is timed mostly by one-off costs and the machine's other work


def finetune(head_acc: float, finetune_acc: float, head_s: float, finetune_total_s: float) -> Verdict:
    """Head-only and fine-tuned test accuracy (one run each) and their wall times (fine-tune including the head).
    "About twice" is 1.3x to 3x; a head stage under ``MIN_TIMED_S`` is too short for its ratio to tell (on
    mnist-5k the head takes 0.2 s, and the same set-up measured 2.4x to 3.7x from run to run)."""
    ratio = finetune_total_s / head_s if head_s > 0 else float("inf")
    gain = finetune_acc - head_acc
    measured = (
        f"head only {head_acc:.4f} in {head_s:.1f} s; fine-tuned {finetune_acc:.4f} in {finetune_total_s:.1f} s "
        f"({ratio:.1f}x the time)"
    )
    if gain < -0.005:
        return Verdict("finetune", FAILS, measured, f"fine-tuning loses {100 * -gain:.1f} pp")
    if head_s < MIN_TIMED_S:
        return Verdict(
            "finetune",
            _unsure(1),
            measured,
            f"the head stage takes {head_s:.1f} s, too short to time: its "
            f"ratio to fine-tuning varies from run to run more than 'about twice' allows"
            + (f" (fine-tuning gains {100 * gain:.1f} pp)" if gain > 0.005 else ""),
        )
    if gain > 0.005 and 1.3 <= ratio <= 3.0:
        return Verdict(
            "finetune", HOLDS, measured, f"fine-tuning gains {100 * gain:.1f} pp and takes about twice the time"
        )
    if gain > 0.005:
        return Verdict(
            "finetune",
            FAILS,
            measured,
            f"fine-tuning gains {100 * gain:.1f} pp but takes {ratio:.1f}x the time, not about twice",
        )
    return Verdict("finetune", _unsure(1), measured, "the accuracies are within half a point: one run cannot tell")
