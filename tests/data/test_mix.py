"""MixUp and CutMix: mixed images and soft labels agree with the mixing weight."""
import numpy as np
import pytest

import ganglion
from ganglion.data import transforms as T


def _batch(b=5, c=3, h=8, w=10):
    # image k is the constant k + 1, so every pixel tells which image it came from
    images = np.broadcast_to(np.arange(1, b + 1, dtype=np.float32)[:, None, None, None],
                             (b, c, h, w)).copy()
    labels = np.array([0, 3, 1, 4, 2][:b])
    return ganglion.tensor(images), ganglion.tensor(labels)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mixup_images_and_labels_follow_lambda(seed):
    ganglion.manual_seed(seed)
    images, labels = _batch()
    x, y = T.MixUp(alpha=0.4, num_classes=5)(images, labels)
    y, x, img = y.numpy(), x.numpy(), images.numpy()
    assert y.shape == (5, 5) and y.dtype == np.float32
    np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-6)
    lab = labels.numpy()
    lam = y[0, lab[0]]  # weight on the sample's own class
    assert 0.0 <= lam <= 1.0
    np.testing.assert_allclose(y[np.arange(5), np.roll(lab, 1)], 1 - lam, rtol=1e-5)
    np.testing.assert_allclose(x, lam * img + (1 - lam) * np.roll(img, 1, axis=0), rtol=1e-5)


def test_cutmix_label_weight_is_the_pasted_area():
    images, labels = _batch()
    img, lab = images.numpy(), labels.numpy()
    for seed in range(5):
        ganglion.manual_seed(seed)
        x, y = T.CutMix(alpha=1.0, num_classes=5)((images, labels))
        x, y = x.numpy(), y.numpy()
        pasted = (x != img)[:, 0]  # pixels now holding the previous image's value
        np.testing.assert_array_equal(x[pasted[:, None].repeat(3, 1)],
                                      np.roll(img, 1, axis=0)[pasted[:, None].repeat(3, 1)])
        frac = pasted[0].mean()
        assert (pasted == pasted[0]).all()  # the same box in every image
        np.testing.assert_allclose(y[np.arange(5), lab], 1 - frac, rtol=1e-6)
        np.testing.assert_allclose(y[np.arange(5), np.roll(lab, 1)], frac, rtol=1e-6)
        np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-6)


def test_cutmix_box_is_consistent():
    for _ in range(20):
        (x1, y1, x2, y2), lam = T.CutMix.get_box(0.7, 8, 10)
        assert 0 <= x1 <= x2 <= 10 and 0 <= y1 <= y2 <= 8
        assert lam == pytest.approx(1 - (x2 - x1) * (y2 - y1) / 80)


def test_mix_reproducible_and_soft_label_input():
    images, labels = _batch()
    ganglion.manual_seed(9)
    a = T.MixUp(num_classes=5)(images, labels)[1].numpy()
    ganglion.manual_seed(9)
    np.testing.assert_array_equal(T.MixUp(num_classes=5)(images, labels)[1].numpy(), a)
    soft = ganglion.tensor(np.eye(5, dtype=np.float32)[labels.numpy()])
    ganglion.manual_seed(9)
    np.testing.assert_allclose(T.MixUp()(images, soft)[1].numpy(), a, rtol=1e-6)


def test_mixup_keeps_gradient():
    images, labels = _batch()
    x = images.detach().requires_grad_(True)
    out, _ = T.MixUp(num_classes=5)(x, labels)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.0, rtol=1e-5)  # lam + (1 - lam)


def test_mix_errors():
    images, labels = _batch()
    with pytest.raises(ValueError, match="Expected a batched input with 4 dims, but got 3"):
        T.MixUp(num_classes=5)(images[0], labels)
    with pytest.raises(ValueError, match=r"batch size .* do(es)? not match.*: 4 != 5"):
        T.CutMix(num_classes=5)(images[:4], labels)
    with pytest.raises(ValueError, match="num_classes is needed"):
        T.MixUp()(images, labels)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\]"):
        T.MixUp(num_classes=3)(images, labels)
    with pytest.raises(ValueError, match="alpha must be positive"):
        T.CutMix(alpha=0.0)
