"""``ganglion.train``: a Keras-comfortable training loop for torch-style models.

``Trainer(model, optimizer, loss, metrics=[...], callbacks=[...]).fit(train, val, epochs)``
returns a ``History``; metrics stream over batches and match scikit-learn; callbacks stop early,
checkpoint (with exact resume), and log to CSV or TensorBoard.

Example:
    >>> import ganglion
    >>> from ganglion.train import Accuracy, History
    >>> acc = Accuracy()
    >>> acc.update(ganglion.tensor([[0.2, 0.8], [0.9, 0.1]]), ganglion.tensor([1, 1]))
    >>> acc.compute()
    0.5
"""
from ganglion.train.callbacks import (Callback, CallbackList, EarlyStopping, LambdaCallback,
                                      LearningRateMonitor, TerminateOnNaN)
from ganglion.train.callbacks_checkpoint import ModelCheckpoint
from ganglion.train.callbacks_logging import CSVLogger, TensorBoard
from ganglion.train.history import History
from ganglion.train.metrics import (Accuracy, ConfusionMatrix, F1Score, MeanAbsoluteError,
                                    MeanSquaredError, Metric, Precision, R2Score, Recall, RocAuc,
                                    RootMeanSquaredError, get_metric)
from ganglion.train.plots import plot_history
from ganglion.train.trainer import Trainer

__all__ = ["Trainer", "History", "Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint",
           "CSVLogger", "TensorBoard", "LearningRateMonitor", "TerminateOnNaN", "LambdaCallback",
           "Metric", "Accuracy", "ConfusionMatrix", "Precision", "Recall", "F1Score", "RocAuc",
           "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "R2Score",
           "get_metric", "plot_history"]
