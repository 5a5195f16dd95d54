"""Short learning tests on real MNIST subsets (the full recipes and their figures are in
benchmarks/mnist_recipes.py and the README). Skipped when ../shared/data/mnist is absent."""
from pathlib import Path

import pytest

import ganglion
from ganglion import models, nn
from ganglion.cli_data import load_tensors
from ganglion.train import Trainer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data/mnist is absent")


@pytest.fixture(scope="module")
def mnist_subset():
    train, test, _ = load_tensors("mnist", DATA, train_limit=6000)
    x, y = test.tensors
    return train.tensors, (x[:2000], y[:2000])


@pytest.mark.parametrize("name,build,epochs,floor", [
    ("mlp", lambda: models.MLP(784, [256], 10), 3, 0.87),
    ("cnn", lambda: models.MnistCNN(), 2, 0.92),
])
def test_learns_mnist_subset(mnist_subset, name, build, epochs, floor):
    ganglion.manual_seed(0)
    (xtr, ytr), (xte, yte) = mnist_subset
    model = build()
    trainer = Trainer(model, ganglion.optim.Adam(model.parameters(), lr=1e-3),
                      nn.CrossEntropyLoss(), metrics=["accuracy"], progress=False)
    history = trainer.fit((xtr, ytr), (xte, yte), epochs=epochs, batch_size=128)
    losses = history.history["train_loss"]
    assert losses[-1] < losses[0]
    assert history.history["val_accuracy"][-1] >= floor  # chance is 0.10
