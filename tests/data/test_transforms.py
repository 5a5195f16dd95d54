"""Conversion, normalization, resizing, cropping and flips: exact expected arrays, and
torch.nn.functional as the oracle for resampling."""
import numpy as np
import pytest

import ganglion
from ganglion.data import transforms as T
from ganglion.data.transforms import functional as F

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
HWC = RNG.integers(0, 256, (6, 8, 3), dtype=np.uint8)
CHW = RNG.random((3, 6, 8)).astype(np.float32)


def test_to_tensor_layouts_and_dtypes():
    t = T.ToTensor()(HWC)
    assert t.shape == (3, 6, 8) and t.dtype == ganglion.float32
    np.testing.assert_allclose(t.numpy(), HWC.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    gray = T.ToTensor()(HWC[..., 0])
    assert gray.shape == (1, 6, 8)
    f64 = T.ToTensor()(HWC.astype(np.float64))  # non-uint8 data is not rescaled
    assert f64.dtype == ganglion.float64 and float(f64.max()) == HWC.max()
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(ganglion.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 4 dimensions"):
        T.ToTensor()(np.zeros((1, 2, 2, 3), np.uint8))
    np.testing.assert_array_equal(T.PILToTensor()(HWC).numpy(), HWC.transpose(2, 0, 1))


def test_normalize_matches_torch_math():
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    ours = T.Normalize(mean, std)(ganglion.tensor(CHW)).numpy()
    ref = ((torch.tensor(CHW) - torch.tensor(mean)[:, None, None])
           / torch.tensor(std)[:, None, None]).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    batch = ganglion.tensor(np.stack([CHW, CHW]))
    np.testing.assert_allclose(T.Normalize(mean, std)(batch).numpy()[1], ref, rtol=1e-6)
    x = ganglion.tensor(CHW.copy())
    out = T.Normalize(mean, std, inplace=True)(x)
    assert out is x
    np.testing.assert_allclose(x.numpy(), ref, rtol=1e-6)


def test_normalize_gradient_and_errors():
    x = ganglion.tensor(CHW, requires_grad=True)
    T.Normalize((0.0, 0.0, 0.0), (2.0, 4.0, 0.5))(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:, 0, 0], [0.5, 0.25, 2.0])
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        T.Normalize((0,), (1,))(ganglion.zeros(1, 2, 2, dtype=ganglion.uint8))
    with pytest.raises(ValueError, match=r"size \(\.\.\., C, H, W\)"):
        T.Normalize((0,), (1,))(ganglion.zeros(2, 2))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0,), (0,))(ganglion.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        T.Normalize((0,), (1,))(HWC)


@pytest.mark.parametrize("img", [HWC, ganglion.tensor(CHW)], ids=["numpy_hwc", "tensor_chw"])
def test_flips_equal_reversed_arrays(img):
    arr = img.numpy() if isinstance(img, ganglion.Tensor) else img
    w_axis, h_axis = (-1, -2) if isinstance(img, ganglion.Tensor) else (1, 0)
    out = T.RandomHorizontalFlip(p=1.0)(img)
    np.testing.assert_array_equal(np.asarray(out), np.flip(arr, w_axis))
    np.testing.assert_array_equal(np.asarray(T.RandomVerticalFlip(p=1.0)(img)),
                                  np.flip(arr, h_axis))
    assert T.RandomHorizontalFlip(p=0.0)(img) is img
    if isinstance(img, ganglion.Tensor):
        np.testing.assert_array_equal(out.numpy(), arr[..., ::-1])


def test_random_flip_probability_and_seed():
    flips = [T.RandomHorizontalFlip()(HWC)[0, 0, 0] != HWC[0, 0, 0] for _ in range(200)]
    assert 60 < sum(flips) < 140
    ganglion.manual_seed(4)
    a = [bool(T.RandomHorizontalFlip()(HWC)[0, 0, 0] == HWC[0, 0, 0]) for _ in range(20)]
    ganglion.manual_seed(4)
    assert a == [bool(T.RandomHorizontalFlip()(HWC)[0, 0, 0] == HWC[0, 0, 0])
                 for _ in range(20)]


def test_crop_and_center_crop_content():
    np.testing.assert_array_equal(F.crop(HWC, 1, 2, 3, 4), HWC[1:4, 2:6])
    t = ganglion.tensor(CHW)
    np.testing.assert_array_equal(F.crop(t, 1, 2, 3, 4).numpy(), CHW[:, 1:4, 2:6])
    # Crops reaching outside the image are zero there.
    out = F.crop(HWC, -1, 6, 3, 4)
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out[1:, :2], HWC[:2, 6:8])
    assert not out[0].any() and not out[:, 2:].any()
    np.testing.assert_array_equal(T.CenterCrop((2, 4))(HWC), HWC[2:4, 2:6])
    big = T.CenterCrop(9)(HWC)  # padded with zeros first: 1 left/top... as torchvision
    np.testing.assert_array_equal(big, np.pad(HWC, ((1, 2), (0, 1), (0, 0))))


def test_pad_modes_match_numpy_and_fill():
    arr = ganglion.tensor(CHW)
    for mode in ("edge", "reflect", "symmetric"):
        np.testing.assert_array_equal(F.pad(arr, [1, 2, 3, 1], padding_mode=mode).numpy(),
                                      np.pad(CHW, ((0, 0), (2, 1), (1, 3)), mode=mode))
    out = F.pad(HWC, 2, fill=(1, 2, 3))
    assert out.shape == (10, 12, 3) and out[0, 0].tolist() == [1, 2, 3]
    np.testing.assert_array_equal(out[2:-2, 2:-2], HWC)
    np.testing.assert_array_equal(F.pad(HWC, [-1, -2]), HWC[2:-2, 1:-1])  # negative crops
    with pytest.raises(ValueError, match="Padding must be an int or a 1, 2, or 4 element"):
        F.pad(HWC, [1, 2, 3])
    with pytest.raises(ValueError, match="Padding mode should be either constant, edge"):
        T.Pad(1, padding_mode="wrap")


def test_random_crop_is_a_window_of_the_padded_image():
    padded = np.pad(HWC, ((2, 2), (2, 2), (0, 0)))
    for _ in range(10):
        out = T.RandomCrop((5, 7), padding=2)(HWC)
        assert out.shape == (5, 7, 3)
        assert any((padded[i:i + 5, j:j + 7] == out).all() for i in range(6) for j in range(6))
    small = T.RandomCrop(10, pad_if_needed=True, padding_mode="edge")(HWC)
    assert small.shape == (10, 10, 3)
    with pytest.raises(ValueError, match=r"Required crop size \(10, 10\) is larger than input "
                                         r"image size \(6, 8\)"):
        T.RandomCrop(10)(HWC)
    assert T.RandomCrop((6, 8))(HWC).tolist() == HWC.tolist()


def _torch_resize(x, size, mode, antialias):
    kwargs = {} if mode.startswith("nearest") else {"align_corners": False,
                                                     "antialias": antialias}
    return torch.nn.functional.interpolate(torch.tensor(x), size=size, mode=mode,
                                           **kwargs).numpy()


@pytest.mark.parametrize("size,mode,antialias", [
    ((11, 13), "bilinear", False), ((3, 5), "bilinear", True), ((11, 13), "bilinear", True),
    ((3, 5), "bicubic", True), ((3, 5), "nearest", False), ((11, 17), "nearest-exact", False)])
def test_resize_matches_torch_interpolate(size, mode, antialias):
    x = RNG.random((2, 3, 6, 8)).astype(np.float32)
    ours = F.resize(ganglion.tensor(x), list(size), interpolation=mode, antialias=antialias)
    np.testing.assert_allclose(ours.numpy(), _torch_resize(x, size, mode, antialias),
                               atol=2e-6)


def test_resize_sizes_and_uint8():
    assert T.Resize(3)(HWC).shape == (3, 4, 3)  # the smaller edge, aspect kept
    assert T.Resize(4, max_size=5)(HWC).shape == (4, 5, 3)
    assert T.Resize(4, max_size=6)(np.zeros((6, 12, 3), np.uint8)).shape == (3, 6, 3)
    assert F.get_image_size(T.Resize((4, 2))(ganglion.tensor(CHW))) == [2, 4]
    ref = _torch_resize(HWC.transpose(2, 0, 1)[None].astype(np.float32), (3, 4), "bilinear",
                        True)[0]
    out = T.Resize((3, 4))(HWC)
    assert out.dtype == np.uint8
    # uint8 rounds between the two passes (as PIL): at most 1 off the float result
    diff = out.astype(np.float32) - ref.transpose(1, 2, 0)
    assert np.abs(diff).max() <= 1.0
    with pytest.raises(ValueError, match="max_size = 3 must be strictly greater"):
        T.Resize(4, max_size=3)(HWC)
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize("4")


def test_random_resized_crop():
    out = T.RandomResizedCrop((4, 5))(ganglion.tensor(CHW))
    assert out.shape == (3, 4, 5)
    # The whole image at its own aspect ratio is plain resize.
    full = T.RandomResizedCrop((3, 4), scale=(1.0, 1.0), ratio=(8 / 6, 8 / 6))(HWC)
    np.testing.assert_array_equal(full, T.Resize((3, 4))(HWC))
    i, j, h, w = T.RandomResizedCrop.get_params(HWC, (0.2, 0.5), (0.5, 2.0))
    assert 0 <= i <= 6 - h and 0 <= j <= 8 - w and 0.1 < h * w / 48 < 0.7


def test_compose_lambda_and_repr():
    t = T.Compose([T.Lambda(lambda x: x[:2]), T.ToTensor()])
    assert t(HWC).shape == (3, 2, 8)
    assert repr(T.Compose([T.ToTensor(), T.RandomHorizontalFlip(0.3)])) == (
        "Compose(\n    ToTensor()\n    RandomHorizontalFlip(p=0.3)\n)")
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        T.Lambda(3)


def test_grayscale():
    gray = T.Grayscale()(ganglion.tensor(CHW)).numpy()
    expected = 0.2989 * CHW[0] + 0.587 * CHW[1] + 0.114 * CHW[2]
    np.testing.assert_allclose(gray[0], expected, rtol=1e-5)
    assert T.Grayscale(3)(HWC).shape == (6, 8, 3)


PIL_SIZES = [(20, 30), (60, 90), (37, 20)]


@pytest.mark.parametrize("size", PIL_SIZES)
@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest-exact"])
def test_pil_images_resize_like_pillow(size, mode):
    image_module = pytest.importorskip("PIL.Image")
    x = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    im = image_module.fromarray(x)
    resample = {"bilinear": image_module.BILINEAR, "bicubic": image_module.BICUBIC,
                "nearest-exact": image_module.NEAREST}[mode]
    ours = F.resize(im, list(size), interpolation=mode)
    assert isinstance(ours, image_module.Image) and ours.mode == "RGB"
    ref = np.asarray(im.resize(size[::-1], resample))
    # Pillow computes in fixed point: at most 1 apart
    assert np.abs(np.asarray(ours).astype(int) - ref).max() <= 1


def test_pil_images_through_transforms():
    image_module = pytest.importorskip("PIL.Image")
    im = image_module.fromarray(HWC)
    np.testing.assert_array_equal(T.ToTensor()(im).numpy(), T.ToTensor()(HWC).numpy())
    gray = image_module.fromarray(HWC[..., 0])
    assert T.ToTensor()(gray).shape == (1, 6, 8)
    assert T.ToTensor()(image_module.fromarray(HWC[..., 0] > 100)).numpy().max() == 1.0
    flipped = T.RandomHorizontalFlip(p=1.0)(im)
    assert isinstance(flipped, image_module.Image)
    np.testing.assert_array_equal(np.asarray(flipped), HWC[:, ::-1])
    np.testing.assert_array_equal(np.asarray(F.rotate(gray, 180)), HWC[::-1, ::-1, 0])
    back = T.ToPILImage()(T.ToTensor()(im))
    np.testing.assert_array_equal(np.asarray(back), HWC)
