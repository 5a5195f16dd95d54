"""Rotation/affine warps, colour jitter, blur, noise and erasing."""
import numpy as np
import pytest

import ganglion
from ganglion.data import transforms as T
from ganglion.data.transforms import functional as F
from ganglion.data.transforms.functional_affine import inverse_affine_matrix

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1)
SQUARE = RNG.random((3, 7, 7)).astype(np.float32)
HWC = RNG.integers(0, 256, (6, 8, 3), dtype=np.uint8)


@pytest.mark.parametrize("angle,k", [(90, 1), (180, 2), (-90, -1), (270, 3)])
def test_rotate_square_by_right_angles_equals_rot90(angle, k):
    out = F.rotate(ganglion.tensor(SQUARE), angle)
    np.testing.assert_array_equal(out.numpy(), np.rot90(SQUARE, k, axes=(-2, -1)))
    hw = RNG.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(T.RandomRotation((angle, angle))(hw),
                                  np.rot90(hw, k, axes=(0, 1)))


def test_rotate_expand_non_square():
    out = F.rotate(HWC, 90, expand=True)
    assert out.shape == (8, 6, 3)
    np.testing.assert_array_equal(out, np.rot90(HWC, 1, axes=(0, 1)))


def _torch_warp(x, matrix, mode):
    """The same inverse matrix through torch's affine_grid + grid_sample (normalized
    coordinates, align_corners=False)."""
    h, w = x.shape[-2:]
    a, b, c, d, e, f = matrix
    theta = torch.tensor([[a, b * h / w, 2 * c / w], [d * w / h, e, 2 * f / h]],
                         dtype=torch.float64)[None]
    grid = torch.nn.functional.affine_grid(theta, (1, x.shape[0], h, w), align_corners=False)
    return torch.nn.functional.grid_sample(torch.tensor(x, dtype=torch.float64)[None], grid,
                                           mode=mode, padding_mode="zeros",
                                           align_corners=False)[0].numpy()


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_affine_sampling_matches_torch_grid_sample(mode):
    x = RNG.random((2, 9, 11))
    angle, translate, scale, shear = 25.0, [1.0, -2.0], 1.2, [10.0, 5.0]
    ours = F.affine(ganglion.tensor(x), angle, translate, scale, shear, interpolation=mode)
    matrix = inverse_affine_matrix([0.0, 0.0], angle, translate, scale, shear)
    np.testing.assert_allclose(ours.numpy(), _torch_warp(x, matrix, mode), atol=1e-6)


def test_affine_translation_and_clockwise_angle():
    img = np.zeros((5, 5), np.uint8)
    img[1, 1] = 9
    moved = F.affine(img, 0.0, [2, 1], 1.0, 0.0)
    assert moved[2, 3] == 9 and moved.sum() == 9
    hwc = np.moveaxis(SQUARE, 0, -1)
    np.testing.assert_array_equal(F.affine(hwc, 90.0, [0, 0], 1.0, 0.0),
                                  np.rot90(hwc, -1, axes=(0, 1)))  # clockwise


def test_rotation_fill_blends_outside_like_torchvision():
    x = np.ones((1, 6, 6), np.float32)
    out = F.rotate(ganglion.tensor(x), 45, interpolation="bilinear", fill=[0.5]).numpy()
    # corners come from outside: fill; the centre is inside: unchanged
    assert out[0, 0, 0] == pytest.approx(0.5) and out[0, 3, 3] == pytest.approx(1.0)
    zero = F.rotate(ganglion.tensor(x), 45, interpolation="nearest").numpy()
    assert zero[0, 0, 0] == 0.0


def test_random_affine_params_and_reproducibility():
    ganglion.manual_seed(2)
    t = T.RandomAffine(30, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-5, 5, -3, 3))
    a = t(HWC)
    angle, (tx, ty), s, (sx, sy) = t.get_params(t.degrees, t.translate, t.scale, t.shear,
                                                [8, 6])
    assert -30 <= angle <= 30 and abs(tx) <= 1.6 and abs(ty) <= 0.6 and 0.8 <= s <= 1.2
    assert -5 <= sx <= 5 and -3 <= sy <= 3
    ganglion.manual_seed(2)
    np.testing.assert_array_equal(t(HWC), a)
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(2, 0))
    with pytest.raises(ValueError, match="If degrees is a single number, it must be positive"):
        T.RandomRotation(-3)


def test_color_adjustments_math():
    x = ganglion.tensor(SQUARE)
    np.testing.assert_allclose(F.adjust_brightness(x, 1.5).numpy(),
                               np.clip(SQUARE * 1.5, 0, 1), rtol=1e-6)
    gray = 0.2989 * SQUARE[0] + 0.587 * SQUARE[1] + 0.114 * SQUARE[2]
    np.testing.assert_allclose(F.adjust_contrast(x, 0.5).numpy(),
                               np.clip(0.5 * SQUARE + 0.5 * gray.mean(), 0, 1), rtol=1e-5)
    sat0 = F.adjust_saturation(x, 0.0).numpy()
    np.testing.assert_allclose(sat0, np.broadcast_to(gray, SQUARE.shape), rtol=1e-5)
    np.testing.assert_allclose(F.adjust_hue(x, 0.0).numpy(), SQUARE, atol=1e-6)
    red = np.zeros((3, 2, 2), np.float32)
    red[0] = 1.0
    green = F.adjust_hue(ganglion.tensor(red), 1 / 3).numpy()
    np.testing.assert_allclose(green[:, 0, 0], [0, 1, 0], atol=1e-6)
    bright = F.adjust_brightness(HWC, 2.0)
    np.testing.assert_array_equal(bright, np.clip(HWC.astype(np.float32) * 2, 0, 255)
                                  .astype(np.uint8))
    with pytest.raises(ValueError, match=r"hue_factor \(0.7\) is not in \[-0.5, 0.5\]"):
        F.adjust_hue(x, 0.7)


def test_color_jitter():
    out = T.ColorJitter(brightness=(2.0, 2.0))(ganglion.tensor(SQUARE * 0.4))
    np.testing.assert_allclose(out.numpy(), SQUARE * 0.8, rtol=1e-6)
    j = T.ColorJitter(0.4, 0.4, 0.4, 0.1)
    ganglion.manual_seed(5)
    a = j(HWC)
    ganglion.manual_seed(5)
    np.testing.assert_array_equal(j(HWC), a)
    assert a.shape == HWC.shape and a.dtype == np.uint8 and not (a == HWC).all()
    assert T.ColorJitter().brightness is None
    with pytest.raises(ValueError, match="If brightness is a single number, it must be non "
                                         "negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match=r"hue values should be between \(-0.5, 0.5\)"):
        T.ColorJitter(hue=0.6)


def test_gaussian_blur_matches_torch_conv():
    x = RNG.random((2, 9, 10)).astype(np.float32)
    sigma, k = 1.3, 5
    out = F.gaussian_blur(ganglion.tensor(x), [k, k], [sigma, sigma]).numpy()
    g = np.exp(-0.5 * (np.linspace(-2, 2, k) / sigma) ** 2)
    kernel = torch.tensor(np.outer(g, g) / np.outer(g, g).sum(), dtype=torch.float32)
    xt = torch.nn.functional.pad(torch.tensor(x)[:, None], [2, 2, 2, 2], mode="reflect")
    ref = torch.nn.functional.conv2d(xt, kernel[None, None])[:, 0].numpy()
    np.testing.assert_allclose(out, ref, atol=1e-6)
    flat = np.full((6, 6, 3), 77, np.uint8)
    np.testing.assert_array_equal(T.GaussianBlur(5, sigma=(0.5, 2.0))(flat), flat)
    with pytest.raises(ValueError, match="Kernel size value should be an odd and positive"):
        T.GaussianBlur(4)
    with pytest.raises(ValueError, match=r"sigma values should be positive and of the form"):
        T.GaussianBlur(3, sigma=(2.0, 1.0))


def test_gaussian_noise_statistics():
    x = ganglion.full((1, 100, 100), 0.5)
    out = T.GaussianNoise(mean=0.1, sigma=0.05)(x).numpy()
    assert abs(out.mean() - 0.6) < 0.005 and abs(out.std() - 0.05) < 0.005
    clipped = T.GaussianNoise(sigma=1.0)(x).numpy()
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    assert T.GaussianNoise(sigma=1.0, clip=False)(x).numpy().max() > 1.0
    with pytest.raises(ValueError, match="Input tensor is expected to be in float dtype"):
        T.GaussianNoise()(HWC)


def test_random_erasing_rectangle():
    x = ganglion.ones(3, 20, 30)
    for _ in range(5):
        out = T.RandomErasing(p=1.0, scale=(0.1, 0.2), value=0)(x).numpy()
        zero = out[0] == 0
        rows, cols = np.flatnonzero(zero.any(1)), np.flatnonzero(zero.any(0))
        # exactly one filled rectangle, in every channel, of the requested area
        assert zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
        assert zero.sum() == len(rows) * len(cols) and (out[1:] == out[0]).all()
        assert 0.07 <= zero.mean() <= 0.23  # integer rounding of the sides
    assert (x.numpy() == 1).all()  # not in place
    assert T.RandomErasing(p=0.0)(x) is x
    noisy = T.RandomErasing(p=1.0, value="random")(x).numpy()
    assert (noisy != 1).any() and noisy.dtype == np.float32
    per_channel = T.RandomErasing(p=1.0, value=(0.1, 0.2, 0.3))(x).numpy()
    np.testing.assert_allclose(np.unique(per_channel[2]), [0.3, 1.0], rtol=1e-6)
    np.testing.assert_allclose(np.unique(per_channel[0]), [0.1, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="If value is str, it should be 'random'"):
        T.RandomErasing(value="zero")
    with pytest.raises(ValueError, match="Scale should be between 0 and 1"):
        T.RandomErasing(scale=(0.5, 2.0))
