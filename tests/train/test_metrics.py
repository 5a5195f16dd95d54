"""Streaming metrics against scikit-learn on random data split into uneven batches."""
import numpy as np
import pytest

import ganglion
from ganglion.train.metrics import (Accuracy, ConfusionMatrix, F1Score, MeanAbsoluteError,
                                    MeanSquaredError, Precision, R2Score, Recall, RocAuc,
                                    RootMeanSquaredError, get_metric)

skm = pytest.importorskip("sklearn.metrics")

SPLITS = [0, 7, 40, 41, 90, 150]  # uneven batches, including a one-sample batch


def _feed(metric, preds, targets):
    for lo, hi in zip(SPLITS[:-1], SPLITS[1:]):
        metric.update(ganglion.from_numpy(preds[lo:hi]), ganglion.from_numpy(targets[lo:hi]))
    return metric.compute()


def _multiclass(seed=0, n=150, c=5):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c)).astype(np.float32)
    targets = rng.integers(0, c, n)
    return logits, targets


def test_accuracy_logits_and_probabilities():
    logits, y = _multiclass()
    expected = skm.accuracy_score(y, logits.argmax(1))
    assert _feed(Accuracy(), logits, y) == pytest.approx(expected, abs=1e-12)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert _feed(Accuracy(), probs, y) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_topk_accuracy(k):
    logits, y = _multiclass(1)
    expected = skm.top_k_accuracy_score(y, logits, k=k, labels=np.arange(5))
    assert _feed(get_metric(f"top{k}_accuracy"), logits, y) == pytest.approx(expected, abs=1e-12)


def test_binary_accuracy_probabilities_and_logits():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=150).astype(np.float32)
    y = rng.integers(0, 2, 150)
    expected = skm.accuracy_score(y, logits >= 0)
    assert _feed(Accuracy(logits=True), logits, y.astype(np.float32)) == pytest.approx(expected)
    probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
    assert _feed(Accuracy(logits=False), probs, y) == pytest.approx(expected)
    auto = Accuracy()  # guesses per batch: logits outside [0, 1] read as logits
    auto.update(ganglion.from_numpy(logits), ganglion.from_numpy(y))
    auto.update(ganglion.from_numpy(probs), ganglion.from_numpy(y))
    assert auto.compute() == pytest.approx(expected)


def test_confusion_matrix_matches_sklearn_and_grows():
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 4, 150), rng.integers(0, 4, 150)
    y[:40] = np.minimum(y[:40], 1)  # the first batches see fewer classes: the matrix must grow
    p[:40] = np.minimum(p[:40], 1)
    got = _feed(ConfusionMatrix(), p, y)
    np.testing.assert_array_equal(got.numpy(), skm.confusion_matrix(y, p))
    norm = _feed(ConfusionMatrix(normalize="true"), p, y)
    np.testing.assert_allclose(norm.numpy(), skm.confusion_matrix(y, p, normalize="true"))


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize("cls,fn", [(Precision, skm.precision_score), (Recall, skm.recall_score),
                                    (F1Score, skm.f1_score)])
def test_prf_multiclass(cls, fn, average):
    logits, y = _multiclass(4, c=6)
    logits[:, 5] -= 10.0  # class 5 is never predicted: exercises the zero-division rule
    y[y == 4] = 3  # class 4 never occurs in the targets
    logits[:, 4] -= 10.0  # nor in the predictions: sklearn leaves it out of the average
    expected = fn(y, logits.argmax(1), average=average, zero_division=0)
    assert _feed(cls(average=average), logits, y) == pytest.approx(expected, abs=1e-12)


def test_prf_binary_and_per_class():
    rng = np.random.default_rng(5)
    probs, y = rng.uniform(size=150), rng.integers(0, 2, 150)
    for cls, fn in [(Precision, skm.precision_score), (Recall, skm.recall_score),
                    (F1Score, skm.f1_score)]:
        expected = fn(y, probs >= 0.5)
        assert _feed(cls(average="binary"), probs, y) == pytest.approx(expected, abs=1e-12)
        per_class = _feed(cls(average=None), probs, y).numpy()
        np.testing.assert_allclose(per_class, fn(y, probs >= 0.5, average=None))


def test_roc_auc_binary_with_ties():
    rng = np.random.default_rng(6)
    scores = np.round(rng.uniform(size=150), 1)  # many ties
    y = rng.integers(0, 2, 150)
    assert _feed(RocAuc(), scores, y) == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)
    logits = rng.normal(size=150).astype(np.float32)  # logits rank like probabilities
    assert _feed(RocAuc(), logits, y) == pytest.approx(skm.roc_auc_score(y, logits), abs=1e-12)


@pytest.mark.parametrize("average", ["macro", "weighted"])
def test_roc_auc_multiclass_ovr(average):
    logits, y = _multiclass(7, c=4)
    logits = np.round(logits, 1)  # ties within classes
    probs = np.exp(logits.astype(np.float64))
    probs /= probs.sum(1, keepdims=True)
    expected = skm.roc_auc_score(y, probs, multi_class="ovr", average=average)
    assert _feed(RocAuc(average=average), probs, y) == pytest.approx(expected, abs=1e-10)
    # Logits are softmaxed first, so they score like the probabilities.
    assert _feed(RocAuc(average=average), logits, y) == pytest.approx(expected, abs=1e-6)


def test_roc_auc_single_class_warns():
    m = RocAuc()
    m.update(ganglion.tensor([0.2, 0.7]), ganglion.tensor([1, 1]))
    with pytest.warns(RuntimeWarning, match="one class"):
        assert np.isnan(m.compute())


@pytest.mark.parametrize("shape", [(150,), (150, 3)])
def test_regression_metrics(shape):
    rng = np.random.default_rng(8)
    y = (rng.normal(size=shape) * 3 + 100).astype(np.float32)  # offset: tests R2's stability
    p = (y + rng.normal(size=shape)).astype(np.float32)
    y64, p64 = y.astype(np.float64), p.astype(np.float64)
    assert _feed(MeanAbsoluteError(), p, y) == pytest.approx(skm.mean_absolute_error(y64, p64))
    assert _feed(MeanSquaredError(), p, y) == pytest.approx(skm.mean_squared_error(y64, p64))
    rmse = np.sqrt(skm.mean_squared_error(y64, p64))
    assert _feed(RootMeanSquaredError(), p, y) == pytest.approx(rmse)
    assert _feed(R2Score(), p, y) == pytest.approx(skm.r2_score(y64, p64), abs=1e-10)


def test_regression_column_output_against_flat_targets():
    y = np.arange(150, dtype=np.float32)
    p = (y + 1.0)[:, None]
    assert _feed(MeanAbsoluteError(), p, y) == pytest.approx(1.0)


def test_reset_and_names():
    m = get_metric("f1_micro")
    assert isinstance(m, F1Score) and m.name == "f1_micro" and m.average == "micro"
    m.update(ganglion.tensor([1, 0]), ganglion.tensor([1, 1]))
    m.reset()
    m.update(ganglion.tensor([1, 1]), ganglion.tensor([1, 1]))
    assert m.compute() == 1.0
    assert get_metric("precision").name == "precision"
    assert not get_metric("mae").higher_is_better and get_metric("accuracy").higher_is_better


def test_errors():
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        get_metric("acuracy")
    with pytest.raises(TypeError, match="get_metric"):
        get_metric(3)
    with pytest.raises(ValueError, match=r"Accuracy: .*\(4, 3\).*\(5,\)"):
        Accuracy().update(ganglion.zeros(4, 3), ganglion.zeros(5, dtype=ganglion.int64))
    with pytest.raises(ValueError, match="non-integer"):
        Accuracy().update(ganglion.zeros(2, 3), ganglion.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="num_classes=2"):
        ConfusionMatrix(num_classes=2).update(ganglion.tensor([0, 2]), ganglion.tensor([0, 1]))
    with pytest.raises(ValueError, match="average='binary'"):
        m = F1Score(average="binary")
        m.update(ganglion.tensor([0, 1, 2]), ganglion.tensor([0, 1, 2]))
        m.compute()
    with pytest.raises(ValueError, match="MeanSquaredError"):
        MeanSquaredError().update(ganglion.zeros(3), ganglion.zeros(4))
