"""SimpleConvNet and DeepConvNet: gradient checks on tiny inputs, input shapes, model files, and
the book's pretrained weights (chapters 7 and 8)."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from scratchdl.errors import ConfigError, ModelFileError, ShapeError
from scratchdl.gradient import numerical_gradient
from scratchdl.io import load_book_weights, load_model, save_model
from scratchdl.layers import Dropout
from scratchdl.nets import DeepConvNet, SimpleConvNet

BOOK_WEIGHTS = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
DATA_DIR = os.environ.get("SCRATCHDL_DATA_DIR")
REFERENCE = Path(BOOK_WEIGHTS).parent if BOOK_WEIGHTS else None


def reference(name):
    """A file beside SCRATCHDL_BOOK_WEIGHTS, or skip."""
    if REFERENCE is None or not (REFERENCE / name).is_file() or not DATA_DIR:
        pytest.skip(f"set SCRATCHDL_BOOK_WEIGHTS (with {name} beside it) and SCRATCHDL_DATA_DIR")
    return REFERENCE / name


def tiny_simple(dtype=np.float64):
    return SimpleConvNet(
        (2, 7, 7),
        {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
        hidden_size=5,
        output_size=4,
        weight_init_std=0.3,
        dtype=dtype,
        rng=0,
    )


def tiny_deep(dtype=np.float64):
    small = [{"filter_num": n} for n in (2, 3, 2, 3, 2, 2)]
    return DeepConvNet((1, 8, 8), *small, hidden_size=6, output_size=3, dtype=dtype, rng=1)


def fixed_masks(net, seed=5):
    """Give every Dropout the same fresh generator, so each forward draws the same masks."""
    for layer in net.layers.values():
        if isinstance(layer, Dropout):
            layer.rng = np.random.default_rng(seed)


@pytest.mark.parametrize("make", [tiny_simple, tiny_deep])
def test_backprop_matches_numerical_gradient_in_float64(make):
    net = make()
    rng = np.random.default_rng(2)
    for key in net.params:
        if key.startswith("b"):
            # Biases of 0 would put the ReLUs of the all-padding border of DeepConvNet's pad-2
            # convolution exactly on the kink, where central differences give 0.5.
            net.params[key] = rng.uniform(0.05, 0.2, net.params[key].shape)
    x = rng.standard_normal((3, *net.input_dim))
    t = np.array([0, 2, 1])
    fixed_masks(net)
    grads = net.gradient(x, t)

    def loss(_):
        fixed_masks(net)
        return net.loss(x, t, train_flg=True)

    assert set(grads) == set(net.params)
    assert sum(isinstance(layer, Dropout) for layer in net.layers.values()) == (
        2 if isinstance(net, DeepConvNet) else 0
    )
    for key, value in net.params.items():
        numeric = numerical_gradient(loss, value)
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)


def test_parameter_names_and_shapes_are_the_books():
    simple = SimpleConvNet(rng=0)
    assert {k: v.shape for k, v in simple.params.items()} == {
        "W1": (30, 1, 5, 5),
        "b1": (30,),
        "W2": (4320, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert list(simple.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert simple.layers["Conv1"].W is simple.params["W1"]
    assert simple.layers["Affine1"].W is simple.params["W2"]  # numbered in order, as the book
    assert simple.lastLayer is simple.last_layer
    deep = DeepConvNet(rng=0)
    assert list(deep.layers)[:5] == ["Conv1", "Relu1", "Conv2", "Relu2", "Pool1"]
    assert list(deep.layers)[-5:] == ["Affine1", "Relu7", "Dropout1", "Affine2", "Dropout2"]
    assert deep.layers["Affine2"].W is deep.params["W8"]
    shapes = {k: v.shape for k, v in deep.params.items()}
    assert shapes["W1"] == (16, 1, 3, 3) and shapes["W4"] == (32, 32, 3, 3)
    assert shapes["W6"] == (64, 64, 3, 3) and shapes["W7"] == (1024, 50)
    assert shapes["W8"] == (50, 10) and len(shapes) == 16
    # He initialisation: std sqrt(2 / fan_in) per layer.
    assert deep.params["W6"].std() == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.05)
    assert simple.params["W2"].std() == pytest.approx(0.01, rel=0.05)


def test_images_flat_rows_and_single_images_are_accepted():
    net = SimpleConvNet(rng=0)
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    scores = net.predict(x)
    assert scores.shape == (4, 10) and scores.dtype == np.float32
    np.testing.assert_array_equal(net.predict(x.reshape(4, 784)), scores)
    # A batch of one may round differently in float32 matrix products.
    np.testing.assert_allclose(net.predict(x[0]), scores[0], rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(net.predict(x[0].ravel()), scores[0], rtol=1e-4, atol=1e-8)
    with pytest.raises(ShapeError, match=r"\(N, 1, 28, 28\) or \(N, 784\)"):
        net.predict(np.ones((4, 3, 28, 28), np.float32))


def test_gradient_never_modifies_the_input_and_keeps_float32():
    net = DeepConvNet(rng=0)
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    x.flags.writeable = False
    grads = net.gradient(x, np.array([3, 4]))
    assert all(g.dtype == np.float32 for g in grads.values())


def test_deep_conv_net_predicts_in_test_mode_and_trains_with_dropout():
    net = DeepConvNet(rng=0)
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(net.predict(x), net.predict(x))  # no dropout at test time
    t = np.array([1, 2, 3])
    assert net.loss(x, t) == net.loss(x, t)  # the contract's default: test mode
    assert net.loss(x, t, train_flg=True) != net.loss(x, t, train_flg=True)  # fresh masks


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="unknown conv_param keys"):
        SimpleConvNet(conv_param={"filters": 3})
    with pytest.raises(ConfigError, match="does not fit"):
        SimpleConvNet((1, 4, 4), {"filter_size": 5})
    with pytest.raises(ConfigError, match="input_dim"):
        SimpleConvNet((28, 28))
    with pytest.raises(ConfigError, match="too small"):
        DeepConvNet((1, 3, 3))


@pytest.mark.parametrize("make", [tiny_simple, tiny_deep])
def test_model_files_record_the_architecture(tmp_path, make):
    net = make(np.float32)
    path = save_model(net, tmp_path / "m.npz", metadata={"note": "x"})
    back = load_model(path)
    assert type(back) is type(net) and back.config() == net.config()
    for key in net.params:
        np.testing.assert_array_equal(back.params[key], net.params[key])
    x = np.random.default_rng(0).random((2, *net.input_dim), dtype=np.float32)
    np.testing.assert_array_equal(back.predict(x), net.predict(x))
    assert back.metadata == {"note": "x"}


def book_pickle(path, net):
    path.write_bytes(pickle.dumps({k: np.array(v, np.float64) for k, v in net.params.items()}))
    return path


@pytest.mark.parametrize(
    ("net", "cls"),
    [(SimpleConvNet(rng=3), SimpleConvNet), (DeepConvNet(rng=3), DeepConvNet)],
)
def test_book_weights_are_detected_from_their_shapes(tmp_path, net, cls):
    path = book_pickle(tmp_path / "w.pkl", net)
    loaded = load_book_weights(path)
    assert type(loaded) is cls and loaded.dtype == np.float32
    for key in net.params:
        np.testing.assert_array_equal(loaded.params[key], net.params[key])
    told = load_book_weights(path, model="cnn" if cls is SimpleConvNet else "deep-cnn")
    assert type(told) is cls


def test_book_weights_detection_derives_simple_conv_geometry(tmp_path):
    net = SimpleConvNet(
        (3, 20, 20), {"filter_num": 4, "filter_size": 3}, hidden_size=7, output_size=5, rng=0
    )
    loaded = load_book_weights(book_pickle(tmp_path / "w.pkl", net))
    assert loaded.config() == net.config()


def test_book_weights_that_fit_nothing_are_refused(tmp_path):
    net = SimpleConvNet(rng=0)
    weights = {k: np.array(v) for k, v in net.params.items()}
    weights["W2"] = weights["W2"][:4000]
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(weights))
    with pytest.raises(ModelFileError, match="do not fit the book's SimpleConvNet"):
        load_book_weights(tmp_path / "bad.pkl")
    with pytest.raises(ModelFileError, match="not a 'mlp' one"):
        load_book_weights(book_pickle(tmp_path / "w.pkl", net), model="mlp")
    weights = {k: np.array(v) for k, v in DeepConvNet(rng=0).params.items()}
    weights["W7"] = np.zeros((1000, 50))
    (tmp_path / "deep.pkl").write_bytes(pickle.dumps(weights))
    with pytest.raises(ModelFileError, match=r"W7 has shape \(1000, 50\)"):
        load_book_weights(tmp_path / "deep.pkl")


def test_book_simple_convnet_weights_give_0_9890():
    from scratchdl.data import load_mnist

    net = load_book_weights(reference("params.pkl"))
    assert isinstance(net, SimpleConvNet)
    _, (x_test, t_test) = load_mnist(flatten=False, data_dir=DATA_DIR, download=False)
    assert net.accuracy(x_test, t_test) == 0.9890


@pytest.mark.slow
def test_book_deep_convnet_weights_give_0_9935():
    from scratchdl.data import load_mnist

    net = load_book_weights(reference("deep_convnet_params.pkl"))
    assert isinstance(net, DeepConvNet)
    _, (x_test, t_test) = load_mnist(flatten=False, data_dir=DATA_DIR, download=False)
    assert net.accuracy(x_test, t_test) == 0.9935


def test_model_files_keep_batchnorm_statistics(tmp_path):
    from scratchdl.nets import MultiLayerNetExtend

    net = MultiLayerNetExtend(6, [5, 4], 3, use_batchnorm=True, use_dropout=True, rng=0)
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    net.gradient(x, np.arange(8) % 3)  # a training pass moves the running statistics
    assert np.any(net.layers["BatchNorm1"].running_mean != 0)
    back = load_model(save_model(net, tmp_path / "bn.npz"))
    for name in ("BatchNorm1", "BatchNorm2"):
        for attr in ("running_mean", "running_var"):
            np.testing.assert_array_equal(
                getattr(back.layers[name], attr), getattr(net.layers[name], attr)
            )
    np.testing.assert_array_equal(back.predict(x), net.predict(x))
