"""Training and evaluation loops for the text classifiers over ``TokenBatches``: Adam, a
linear learning-rate decay, gradient clipping, a dev evaluation after every epoch and the
best epoch's weights kept (best-checkpoint selection on the dev set).

Example:
    >>> import ganglion
    >>> from ganglion.models.text_classifier import RecurrentTextClassifier
    >>> from ganglion.models.text_classifier_batches import TokenBatches
    >>> _ = ganglion.manual_seed(0)
    >>> seqs = [[1, 2], [3, 4, 4], [1, 1], [3]] * 8
    >>> data = TokenBatches(seqs, labels=[0, 1, 0, 1] * 8, batch_size=8, shuffle=True)
    >>> model = RecurrentTextClassifier(5, 8, 8, 2, padding_idx=0, dropout=0.0)
    >>> result = fit_text_classifier(model, data, data, epochs=4, lr=3e-2, log=None)
    >>> result["best_accuracy"]
    1.0
"""
from __future__ import annotations

import time

import numpy as np

import ganglion
from ganglion import nn

__all__ = ["fit_text_classifier", "predict_text_classifier", "evaluate_text_classifier"]


def _device(model):
    return next(iter(model.parameters())).device


def predict_text_classifier(model, batches) -> np.ndarray:
    """The predicted class of every sequence of ``batches``, in the data set's order.
    Runs in eval mode without a graph and restores the training flag."""
    was_training, device = model.training, _device(model)
    model.eval()
    preds = np.empty(len(batches.lengths), dtype=np.int64)
    try:  # the flag comes back even when a batch raises
        with ganglion.no_grad():
            for index in batches.index_batches():
                ids, mask, _ = batches.collate(index)
                logits = model(ids.to(device), attention_mask=mask.to(device))
                preds[index] = logits.argmax(1).cpu().numpy()
    finally:
        model.train(was_training)
    return preds


def evaluate_text_classifier(model, batches) -> float:
    """Accuracy of ``model`` on labelled ``batches``."""
    if batches.labels is None:
        raise ValueError("evaluate_text_classifier: these batches carry no labels; build "
                         "TokenBatches(..., labels=...) to evaluate")
    return float((predict_text_classifier(model, batches) == batches.labels).mean())


def _copy_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def fit_text_classifier(model, train, dev, epochs: int = 3, lr: float = 1e-3,
                        weight_decay: float = 0.0, clip_norm: float = 5.0,
                        final_lr_fraction: float = 0.1, log=print) -> dict:
    """Train ``model`` on ``train`` (shuffled ``TokenBatches``) with cross-entropy and Adam.

    The learning rate decays linearly per step from ``lr`` to ``lr * final_lr_fraction``.
    After every epoch the dev accuracy is measured; the weights of the best epoch are loaded
    back into ``model`` at the end.

    Args:
        model: a classifier ``model(input_ids, attention_mask=...) -> logits``; batches
            are moved to the device of its parameters.
        train, dev: ``TokenBatches`` with labels.
        epochs, lr, weight_decay: the optimizer's schedule (``weight_decay`` via AdamW).
        clip_norm: the gradient-norm clip (None: no clipping).
        log: called with one line per epoch (None: silent).

    Returns:
        a dict: ``history`` (per epoch: train loss, dev accuracy, seconds), ``best_accuracy``,
        ``best_epoch`` (1-based), ``final_accuracy`` (the last epoch's), ``train_seconds``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (ganglion.optim.AdamW(params, lr=lr, weight_decay=weight_decay) if weight_decay
           else ganglion.optim.Adam(params, lr=lr))
    total = max(1, epochs * len(train))
    sched = ganglion.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 1.0 - (1.0 - final_lr_fraction) * min(step, total) / total)
    history, best, best_state, best_epoch = [], -1.0, None, 0
    device = _device(model)  # batches are built on the host; the model may live elsewhere
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        t0, loss_sum, seen = time.perf_counter(), 0.0, 0
        for ids, mask, y in train:
            ids, mask, y = ids.to(device), mask.to(device), y.to(device)
            loss = nn.functional.cross_entropy(model(ids, attention_mask=mask), y)
            opt.zero_grad()
            loss.backward()
            if clip_norm is not None:
                nn.utils.clip_grad_norm_(params, clip_norm)
            opt.step()
            sched.step()
            loss_sum, seen = loss_sum + loss.item() * len(y), seen + len(y)
        train_s = time.perf_counter() - t0
        acc = evaluate_text_classifier(model, dev)
        history.append({"epoch": epoch, "train_loss": loss_sum / seen, "dev_accuracy": acc,
                        "epoch_seconds": train_s})
        if acc > best:
            best, best_state, best_epoch = acc, _copy_state(model), epoch
        if log is not None:
            log(f"epoch {epoch}/{epochs}: train loss {loss_sum / seen:.4f}, dev accuracy "
                f"{acc:.4f}, {train_s:.1f} s")
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    return {"history": history, "best_accuracy": best, "best_epoch": best_epoch,
            "final_accuracy": history[-1]["dev_accuracy"], "train_seconds": seconds}
