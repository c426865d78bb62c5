"""Model files and the restricted unpickler for the book's weights."""

import inspect
import io
import json
import os
import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from _fault_helpers import (
    _forged_header,
    _members,
    _npy,
    _saved_model,
    _write_members,
    cli,
    one_line_error,
)
from scratchdl.cli import main
from scratchdl.errors import ModelFileError
from scratchdl.io import load_book_weights, load_model, read_book_pickle, save_model
from scratchdl.nets import (
    NET_CLASSES,
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    SimpleNet,
    TwoLayerNet,
)

BOOK_WEIGHTS = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
DATA_DIR = os.environ.get("SCRATCHDL_DATA_DIR")


def fake_book_pickle(path):
    rng = np.random.default_rng(0)
    weights = {
        "W1": rng.standard_normal((6, 5)).astype(np.float32),
        "b1": np.zeros(5, np.float32),
        "W2": rng.standard_normal((5, 4)).astype(np.float32),
        "b2": np.ones(4, np.float32),
        "W3": rng.standard_normal((4, 3)).astype(np.float32),
        "b3": np.zeros(3, np.float32),
    }
    path.write_bytes(pickle.dumps(weights, protocol=2))
    return weights


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact(tmp_path, dtype):
    net = MultiLayerNet(
        7,
        [5, 4],
        3,
        activation="sigmoid",
        weight_init_std="xavier",
        weight_decay_lambda=0.01,
        dtype=dtype,
        rng=3,
    )
    path = save_model(net, tmp_path / "m.npz", metadata={"note": "hi"})
    back = load_model(path)
    assert type(back) is MultiLayerNet and back.config() == net.config()
    for key in net.params:
        assert back.params[key].dtype == net.params[key].dtype
        assert back.params[key].tobytes() == net.params[key].tobytes()
    assert back.metadata == {"note": "hi"}
    x = np.random.default_rng(0).random((4, 7)).astype(dtype)
    np.testing.assert_array_equal(back.predict(x), net.predict(x))


def test_two_layer_and_simple_net_round_trip(tmp_path):
    net = TwoLayerNet(4, 3, 2, rng=0)
    assert type(load_model(save_model(net, tmp_path / "a.npz"))) is TwoLayerNet
    simple = SimpleNet(rng=1)
    back = load_model(save_model(simple, tmp_path / "s.npz"))
    np.testing.assert_array_equal(back.params["W"], simple.params["W"])


def test_model_file_is_plain_npz_without_pickles(tmp_path):
    path = save_model(TwoLayerNet(4, 3, 2, rng=0), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def test_save_is_atomic_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    save_model(TwoLayerNet(4, 3, 2, rng=0), path)
    good = path.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_model(TwoLayerNet(4, 3, 2, rng=1), path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temp files left


def test_damaged_and_foreign_files_get_clear_errors(tmp_path):
    path = save_model(TwoLayerNet(4, 3, 2, rng=0), tmp_path / "m.npz")
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(tmp_path / "trunc.npz")
    np.savez(tmp_path / "foreign.npz", a=np.ones(3))
    with pytest.raises(ModelFileError, match="not a scratchdl model"):
        load_model(tmp_path / "foreign.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match="not a .npz archive") as info:
        load_model(tmp_path / "text.npz")
    assert "allow_pickle" not in str(info.value)  # never advise loading a pickle unsafely
    (tmp_path / "pickled.npz").write_bytes(pickle.dumps({"W1": np.ones(2)}))
    with pytest.raises(ModelFileError, match="not a .npz archive"):
        load_model(tmp_path / "pickled.npz")
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.npz")
    # A parameter with the wrong shape is caught, not loaded.
    members = _members(path)
    members["param/W1.npy"] = _npy(np.zeros((2, 2), np.float32))
    _write_members(tmp_path / "shape.npz", members)
    with pytest.raises(ModelFileError, match="W1"):
        load_model(tmp_path / "shape.npz")


def test_book_pickle_loads_as_network(tmp_path):
    weights = fake_book_pickle(tmp_path / "w.pkl")
    net = load_book_weights(tmp_path / "w.pkl")
    assert (net.input_size, net.hidden_size_list, net.output_size) == (6, [5, 4], 3)
    assert net.activation == "sigmoid"
    for key, value in weights.items():
        np.testing.assert_array_equal(net.params[key], value)


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evaluates:
    def __reduce__(self):
        return (eval, ("1+1",))


@pytest.mark.parametrize("payload", ["system", "eval", "nested"])
def test_malicious_pickle_is_refused_before_it_runs(tmp_path, payload):
    marker = tmp_path / "pwned"
    evil = {
        "system": {"W1": _RunsCommand(marker)},
        "eval": {"W1": _Evaluates()},
        "nested": {"W1": np.ones(2), "b1": [np.ones(1), _RunsCommand(marker)]},
    }[payload]
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(evil))
    with pytest.raises(ModelFileError, match="refused"):
        read_book_pickle(path)
    assert not marker.exists()
    assert main(["import-weights", str(path), str(tmp_path / "out.npz")]) == 2
    assert not marker.exists() and not (tmp_path / "out.npz").exists()


def test_non_weight_pickles_rejected(tmp_path):
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ModelFileError, match="dict"):
        read_book_pickle(tmp_path / "list.pkl")
    (tmp_path / "odd.pkl").write_bytes(pickle.dumps({"W1": np.ones((2, 2)), "b7": np.ones(2)}))
    with pytest.raises(ModelFileError, match="W1, b1"):
        load_book_weights(tmp_path / "odd.pkl")
    (tmp_path / "trunc.pkl").write_bytes(pickle.dumps({"W1": np.ones((2, 2))})[:-10])
    with pytest.raises(ModelFileError, match="damaged or truncated"):
        read_book_pickle(tmp_path / "trunc.pkl")


def test_import_weights_cli(tmp_path, capsys):
    fake_book_pickle(tmp_path / "w.pkl")
    assert main(["import-weights", str(tmp_path / "w.pkl"), str(tmp_path / "m.npz")]) == 0
    assert "wrote" in capsys.readouterr().out
    net = load_model(tmp_path / "m.npz")
    assert net.params["W3"].shape == (4, 3)


@pytest.mark.skipif(
    not BOOK_WEIGHTS or not DATA_DIR, reason="set SCRATCHDL_BOOK_WEIGHTS and SCRATCHDL_DATA_DIR"
)
def test_book_sample_weights_give_0_9352():
    from scratchdl.data import load_mnist

    net = load_book_weights(BOOK_WEIGHTS)
    assert (net.input_size, net.hidden_size_list, net.output_size) == (784, [50, 100], 10)
    _, (x_test, t_test) = load_mnist(normalize=True, flatten=True, data_dir=DATA_DIR)
    assert net.accuracy(x_test, t_test) == 0.9352


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_of_plain_arrays_loads(tmp_path, protocol):
    weights = {"W1": np.arange(6, dtype=np.float32).reshape(2, 3), "b1": np.ones(3, np.float64)}
    (tmp_path / "w.pkl").write_bytes(pickle.dumps(weights, protocol=protocol))
    back = read_book_pickle(tmp_path / "w.pkl")
    for key, value in weights.items():
        assert back[key].dtype == value.dtype
        np.testing.assert_array_equal(back[key], value)


def test_cli_reports_os_errors_in_one_line(tmp_path, capsys):
    fake_book_pickle(tmp_path / "w.pkl")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # The output's parent is a file, so the folder cannot be made.
    assert main(["import-weights", str(tmp_path / "w.pkl"), str(blocker / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err


@pytest.mark.skipif(
    not BOOK_WEIGHTS or not DATA_DIR, reason="set SCRATCHDL_BOOK_WEIGHTS and SCRATCHDL_DATA_DIR"
)
def test_import_weights_then_evaluate_json_gives_0_9352(tmp_path, capsys):
    import json

    model = tmp_path / "book.npz"
    assert main(["import-weights", BOOK_WEIGHTS, str(model)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model), "--json", "--data-dir", DATA_DIR]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == 0.9352


def test_folders_and_models_in_the_wrong_place_get_one_clear_line(tmp_path, capsys):
    run = tmp_path / "run"
    model = save_model(TwoLayerNet(6, 4, 3, rng=0), run / "model.npz")
    with pytest.raises(ModelFileError, match=f"is a folder, not a model file: give {model}"):
        load_model(run)
    with pytest.raises(ModelFileError, match="is a folder: give the .pkl weight file"):
        read_book_pickle(run)
    with pytest.raises(ModelFileError, match="is a .npz archive, not the book's pickle"):
        read_book_pickle(model)
    # Destinations: errors name the path given, never our temporary file.
    net = TwoLayerNet(6, 4, 3, rng=0)
    with pytest.raises(IsADirectoryError) as info:
        save_model(net, run)
    assert info.value.filename == str(run) and ".tmp" not in str(info.value)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    with pytest.raises(NotADirectoryError, match="blocker is a file, not a folder"):
        save_model(net, blocker / "deeper" / "m.npz")
    # The commands take a run folder (its model.npz); a folder without one is one line.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["evaluate", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no model found (looked for {empty}" in err
    empty.rmdir()
    assert main(["import-weights", str(model), str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not the book's pickle" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["blocker", "model.npz", "run"]


def _nets_of_every_class():
    return [
        TwoLayerNet(4, 3, 2, weight_init_std=0.5, activation="sigmoid", rng=0),
        MultiLayerNet(4, [3, 5], 2, weight_decay_lambda=0.1, dtype=np.float64, rng=0),
        MultiLayerNetExtend(4, [3], 2, use_batchnorm=True, use_dropout=True, rng=0),
        SimpleNet(rng=0),
        SimpleConvNet((1, 4, 3), {"filter_num": 2, "filter_size": 2}, 3, 2, "he", rng=0),
        DeepConvNet(
            (1, 8, 8),
            *[{"filter_num": 2, "filter_size": 1, "pad": 0}] * 6,
            hidden_size=3,
            output_size=2,
            dropout_ratio=0.2,
            rng=0,
        ),
    ]


def test_config_is_the_constructors_keyword_arguments_for_every_class():
    nets = _nets_of_every_class()
    assert {type(net).__name__ for net in nets} == set(NET_CLASSES)
    for net in nets:
        config = net.config()
        assert set(config) <= set(inspect.signature(type(net)).parameters) - {"rng"}
        shapes = {k: v.shape for k, v in net.params.items()}
        assert type(net).param_shapes(config) == shapes  # what a file's arrays are checked against
        twin = type(net)(**json.loads(json.dumps(config)))
        assert twin.config() == config
        assert {k: v.shape for k, v in twin.params.items()} == {
            k: v.shape for k, v in net.params.items()
        }


@pytest.mark.parametrize("index", range(6))
def test_every_class_round_trips_with_its_layer_state(tmp_path, index):
    net = _nets_of_every_class()[index]
    x = np.random.default_rng(1).standard_normal((5, net.input_size))
    if hasattr(net, "layers"):
        net.gradient(x, np.arange(5) % 2)  # moves BatchNorm's running statistics
    back = load_model(save_model(net, tmp_path / "m.npz"))
    assert type(back) is type(net) and back.config() == net.config()
    np.testing.assert_array_equal(back.predict(x), net.predict(x))


def _write_v1(path, arch, net):
    """A model file exactly as scratchdl wrote it before config() was the constructor's
    keyword arguments (same members, same record)."""
    record = {
        "format": "scratchdl-model",
        "format_version": 1,
        "scratchdl_version": "0.1.0",
        "arch": arch,
        "params": list(net.params),
    }
    state = net.state_dict()
    arrays = {"__scratchdl__": np.frombuffer(json.dumps(record).encode(), dtype=np.uint8)}
    arrays |= {f"param/{k}": v for k, v in state["params"].items()}
    arrays |= {f"state/{k}": v for k, v in state["layers"].items()}
    np.savez(path, **arrays)
    return path


def test_files_written_before_still_load(tmp_path):
    two = TwoLayerNet(4, 3, 2, rng=0)
    ext = MultiLayerNetExtend(4, [3], 2, use_batchnorm=True, use_dropout=True, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    ext.gradient(x, np.arange(5) % 2)
    mlp = {"input_size": 4, "hidden_size_list": [3], "output_size": 2, "activation": "relu"}
    mlp |= {"weight_decay_lambda": 0.0, "dtype": "float32"}
    two_arch = {"class": "TwoLayerNet", **mlp, "weight_init_std": 0.01}
    ext_arch = {"class": "MultiLayerNetExtend", **mlp, "weight_init_std": "relu"}
    ext_arch |= {"use_dropout": True, "dropout_ration": 0.5, "use_batchnorm": True}
    for name, net, arch in (("two", two, two_arch), ("ext", ext, ext_arch)):
        back = load_model(_write_v1(tmp_path / f"{name}.npz", arch, net))
        assert type(back) is type(net) and back.config() == net.config()
        np.testing.assert_array_equal(back.predict(x), net.predict(x))


# -- forged and damaged model files (header limit, record types, shapes, NaN, pickles) -------------


def _with_record(path: Path, edit) -> Path:
    members = _members(path)
    record = json.loads(np.load(io.BytesIO(members["__scratchdl__.npy"])).tobytes())
    edit(record)
    blob = np.frombuffer(json.dumps(record).encode(), dtype=np.uint8)
    members["__scratchdl__.npy"] = _npy(blob)
    _write_members(path, members)
    return path


def _load_refused(path: Path, *fragments: str, **kw) -> str:
    from scratchdl.io import load_model

    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as info:
            load_model(path, **kw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert "allow_pickle" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert peak < 50 * 2**20, f"allocated {peak} bytes before refusing"
    return message


def test_model_header_claiming_74_gib_is_refused_before_allocation(tmp_path):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/W1.npy"] = _forged_header((100000, 100000))
    _write_members(path, members)
    assert path.stat().st_size < 4000
    _load_refused(path, "74.5 GiB", "above the limit of 1 GiB", "SCRATCHDL_MAX_MODEL_BYTES")


def test_model_header_larger_than_its_data_is_refused_even_under_a_raised_limit(tmp_path):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/W1.npy"] = _forged_header((6, 4000))
    _write_members(path, members)
    _load_refused(path, "damaged or forged", "declares", max_bytes=2**40)


def test_the_limit_can_be_raised_by_parameter_and_environment(tmp_path, monkeypatch):
    from scratchdl.io import load_model

    path = _saved_model(tmp_path)
    _load_refused(path, "above the limit", max_bytes=100)
    monkeypatch.setenv("SCRATCHDL_MAX_MODEL_BYTES", "100")
    _load_refused(path, "above the limit")
    monkeypatch.setenv("SCRATCHDL_MAX_MODEL_BYTES", "1e6")
    assert load_model(path).params["W1"].shape == (6, 4)
    monkeypatch.setenv("SCRATCHDL_MAX_MODEL_BYTES", "lots")
    _load_refused(path, "SCRATCHDL_MAX_MODEL_BYTES='lots' is not a positive number")


def test_record_claiming_a_hidden_size_of_1e9_is_refused_before_building(tmp_path):
    def huge(r):
        r["arch"]["hidden_size"] = 10**9

    def other(r):
        r["arch"]["hidden_size"] = 5

    _load_refused(
        _with_record(_saved_model(tmp_path), huge),
        "arch.hidden_size = 1000000000, more than the 43 parameter values",
    )
    _load_refused(
        _with_record(_saved_model(tmp_path), other),
        "parameter W1 has shape (6, 4), its record's architecture needs (6, 5)",
    )


def test_any_size_in_a_record_above_the_values_held_is_refused_before_building(tmp_path):
    def edit(r):
        r["arch"]["class"] = "SomeConvNet"  # refused for its size before its class
        r["arch"]["conv_param"] = {"filter_num": 10**9}

    _load_refused(
        _with_record(_saved_model(tmp_path), edit),
        "arch.conv_param.filter_num = 1000000000, more than the 43 parameter values",
    )


@pytest.mark.parametrize("cls", [SimpleConvNet, DeepConvNet])
def test_a_cnn_record_whose_sizes_multiply_to_terabytes_is_refused_before_building(tmp_path, cls):
    # Each side (100,000) is below the values the file holds; the first Affine layer they
    # imply (tens of billions of weights) is not: refused from the record's arithmetic.
    def wide(r):
        r["arch"]["input_dim"] = [1, 100000, 100000]

    def misfit(r):
        r["arch"]["input_dim"] = [1, 2, 2]

    path = save_model(cls(rng=0), tmp_path / "cnn.npz")
    _load_refused(_with_record(path, wide), "parameter W", "its record's architecture needs")
    path = save_model(cls(rng=0), tmp_path / "cnn.npz")
    _load_refused(_with_record(path, misfit), "does not fit together")


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda r: r.update(arch="x"), "arch = 'x'"),
        (lambda r: r.update(format_version="2"), "format_version = '2'"),
        (lambda r: r.update(format_version=2), "newer scratchdl"),
        (
            lambda r: r["arch"].update(weight_decay_lambda="0.1"),
            "weight_decay_lambda must be a finite number >= 0, got '0.1'",
        ),
        (
            lambda r: r["arch"].update(weight_decay_lambda=-1),
            "weight_decay_lambda must be a finite number >= 0, got -1",
        ),
        (
            lambda r: r["arch"].update(input_size=True),
            "sizes must be positive integers, got [True, 4, 3]",
        ),
        (
            lambda r: r["arch"].update(hidden_size="4"),
            "sizes must be positive integers, got [6, '4', 3]",
        ),
        (lambda r: r["arch"].update(dtype="float16"), "arch.dtype = 'float16'"),
        (lambda r: r["arch"].update({"class": 7}), "arch.class = 7"),
        (lambda r: r["arch"].update({"class": "Evil"}), "unknown network class 'Evil'"),
        (lambda r: r.update(params="W1"), "params = 'W1'"),
        (lambda r: r.update(params=["W1", "b1", "W2"]), "lists parameters"),
        (lambda r: r.update(metadata=[1]), "metadata = [1]"),
        (lambda r: r.update(format="pickle"), "not a scratchdl-model record"),
    ],
    ids=[
        "arch-str",
        "version-str",
        "version-newer",
        "decay-str",
        "decay-negative",
        "size-bool",
        "hidden-str",
        "dtype",
        "class-int",
        "class-unknown",
        "params-str",
        "params-missing",
        "metadata-list",
        "format",
    ],
)
def test_record_with_wrong_types_is_refused(tmp_path, edit, fragment):
    _load_refused(_with_record(_saved_model(tmp_path), edit), fragment)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_model_with_non_finite_weights_is_refused(tmp_path, bad):
    path = _saved_model(tmp_path)
    members = _members(path)
    W = np.load(io.BytesIO(members["param/W2.npy"]))
    W[1, 1] = bad
    members["param/W2.npy"] = _npy(W)
    _write_members(path, members)
    _load_refused(path, "NaN or infinite values in parameter W2")


def test_model_with_an_object_array_is_refused_without_pickle_advice(tmp_path):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/W1.npy"] = _npy(np.array([object()] * 24, dtype=object).reshape(6, 4))
    _write_members(path, members)
    _load_refused(path, "holds Python objects", "may be malicious")


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda b: b[: len(b) // 2], "not a .npz archive"),
        (lambda b: b"", "not a .npz archive"),
        (lambda b: b"\x00" * 500, "not a .npz archive"),
        (lambda b: b"PK\x03\x04" + b"\xff" * 200, "not a .npz archive"),
    ],
    ids=["truncated", "empty", "zeros", "bad-zip"],
)
def test_damaged_model_file_is_one_clear_error(tmp_path, damage, fragment):
    path = _saved_model(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    _load_refused(path, fragment)


def test_model_with_a_wrong_dtype_or_foreign_member_is_refused(tmp_path):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/b1.npy"] = _npy(np.zeros(4, dtype=np.int64))
    _write_members(path, members)
    _load_refused(path, "parameter b1 is int64, its record says float32")
    members = _members(_saved_model(tmp_path))
    members["readme.txt"] = b"hello"
    _write_members(path, members)
    _load_refused(path, "member 'readme.txt' is not a .npy array")


def test_model_members_besides_parameters_and_layer_state_are_refused(tmp_path):
    from scratchdl.io import check_model_file

    path = _saved_model(tmp_path)
    members = _members(path)
    members["state/BatchNorm1/running_mean.npy"] = _npy(np.zeros(4, dtype=np.float32))
    _write_members(path, members)
    record, arrays = check_model_file(path)  # layer state (BatchNorm statistics) is allowed
    assert "state/BatchNorm1/running_mean" in arrays
    assert record["params"] == ["W1", "b1", "W2", "b2"]
    members["extra.npy"] = _npy(np.zeros(3))
    _write_members(path, members)
    _load_refused(path, "it holds extra, which no scratchdl model has")


def test_evaluate_of_a_forged_model_is_one_line(tmp_path, capsys, fake_data):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/W1.npy"] = _forged_header((100000, 100000))
    _write_members(path, members)
    code, _, err = cli(capsys, "evaluate", str(path))
    one_line_error(err, code, "refused to load", "74.5 GiB")
