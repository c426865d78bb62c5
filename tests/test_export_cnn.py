"""``export-web`` for the CNNs, without a browser: what ``model.js`` holds, what the page says
about the network, and the folder rules (no user file replaced without ``--force``, staged
writes, non-finite weights refused). The JavaScript itself is compared with NumPy in
tests/test_export_cnn_browser.py.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchdl.cli import main
from scratchdl.errors import ConfigError, ModelFileError, ShapeError
from scratchdl.io import load_model, save_model
from scratchdl.nets import DeepConvNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from scratchdl.serve import DigitServer
from scratchdl.serve.about import describe_layers, model_about
from scratchdl.serve.export import (
    MANIFEST,
    PAGE_FILES,
    ExportFolderError,
    export_web,
    web_model,
)


@pytest.fixture(scope="module")
def simple():
    return SimpleConvNet(
        conv_param={"filter_num": 4, "filter_size": 5, "pad": 1, "stride": 2},
        hidden_size=12,
        weight_init_std="he",
        rng=0,
    )


@pytest.fixture(scope="module")
def deep():
    return DeepConvNet(rng=0)


def _model_js(folder: Path) -> dict:
    text = (folder / "model.js").read_text(encoding="utf-8")
    assert text.startswith("window.SCRATCHDL_MODEL = ") and text.endswith(";\n")
    return json.loads(text.removeprefix("window.SCRATCHDL_MODEL = ").removesuffix(";\n"))


def _no_staging(parent: Path) -> None:
    left = [p.name for p in parent.iterdir() if ".new." in p.name]
    assert left == [], f"staging folders left behind: {left}"


# -- what model.js holds -------------------------------------------------------------------------


def test_web_model_of_simple_conv_net_lists_its_layers_and_weights_in_order(simple):
    spec = web_model(simple, "simple.npz")
    assert spec["input"] == [1, 28, 28]
    assert [layer["type"] for layer in spec["layers"]] == [
        "conv",
        "relu",
        "pool",
        "affine",
        "relu",
        "affine",
    ]
    conv, pool = spec["layers"][0], spec["layers"][2]
    assert conv == {"type": "conv", "FN": 4, "C": 1, "FH": 5, "FW": 5, "stride": 2, "pad": 1}
    assert pool == {"type": "pool", "ph": 2, "pw": 2, "stride": 2, "pad": 0}
    # 28 + 2 - 5 = 25, // 2 + 1 = 13 -> pool 6: Affine1 reads 4 * 6 * 6 values.
    assert spec["layers"][3] == {"type": "affine", "in": 144, "out": 12}
    weights = np.frombuffer(base64.b64decode(spec["weights"]), dtype="<f4")
    expected = np.concatenate([simple.params[k].ravel() for k in ("W1", "b1", "W2", "b2", "W3")])
    np.testing.assert_array_equal(weights[: expected.size], expected)
    np.testing.assert_array_equal(weights[-10:], simple.params["b3"])
    assert spec["weight_bytes"] == 4 * sum(p.size for p in simple.params.values())


def test_web_model_of_deep_conv_net_scales_dropout_as_the_book_at_test_time(deep):
    spec = web_model(deep)
    types = [layer["type"] for layer in spec["layers"]]
    assert types.count("conv") == 6 and types.count("pool") == 3 and types.count("affine") == 2
    assert [layer["pad"] for layer in spec["layers"] if layer["type"] == "conv"] == [
        1,
        1,
        1,
        2,
        1,
        1,
    ]
    dropouts = [layer for layer in spec["layers"] if layer["type"] == "dropout"]
    assert dropouts == [{"type": "dropout", "scale": 0.5}] * 2
    assert types[-1] == "dropout"  # the book's last layer, before the softmax


def test_deep_conv_net_page_is_well_under_one_and_a_half_megabytes(deep, tmp_path):
    sizes = export_web(deep, tmp_path / "site", name="deep.npz")
    on_disk = sum(p.stat().st_size for p in (tmp_path / "site").iterdir())
    assert on_disk == sum(sizes.values()) < 1.5e6
    # base64 of float32: 4/3 of the weights' bytes, plus the layer list.
    assert sizes["model.js"] < 4 / 3 * 4 * sum(p.size for p in deep.params.values()) + 5000


def test_an_mlp_with_dropout_is_exported_with_the_books_test_time_scale():
    net = MultiLayerNetExtend(784, [20], 10, use_dropout=True, dropout_ration=0.2, rng=0)
    spec = web_model(net, "drop.npz")
    assert [layer["type"] for layer in spec["layers"]] == [
        "affine",
        "relu",
        "dropout",
        "affine",
    ]
    assert spec["layers"][2]["scale"] == float(np.float32(0.8))
    assert spec["input"] == [784]


def test_batch_norm_is_exported_with_its_running_statistics():
    net = MultiLayerNetExtend(784, [20], 10, use_batchnorm=True, use_dropout=True, rng=0)
    bn = net.layers["BatchNorm1"]
    bn.running_mean[:] = np.linspace(-1, 1, 20)
    bn.running_var[:] = np.linspace(0.5, 2, 20)
    spec = web_model(net, "bn.npz")
    types = [layer["type"] for layer in spec["layers"]]
    assert types == ["affine", "batchnorm", "relu", "dropout", "affine"]
    assert spec["layers"][1] == {"type": "batchnorm", "features": 20}
    weights = np.frombuffer(base64.b64decode(spec["weights"]), dtype="<f4")
    at = 784 * 20 + 20  # after W1, b1: running_mean, 1 / sqrt(running_var + eps), gamma, beta
    np.testing.assert_array_equal(weights[at : at + 20], bn.running_mean)
    inv = (1.0 / np.sqrt(bn.running_var + bn.eps)).astype(np.float32)
    np.testing.assert_array_equal(weights[at + 20 : at + 40], inv)
    assert weights.size == sum(p.size for p in net.params.values()) + 40
    bn.running_var[3] = -1.0  # a damaged file: no square root
    with pytest.raises(ModelFileError, match=r"BatchNorm1\.running_var .* holds 1 non-finite"):
        web_model(net, "bn.npz")


def test_layers_the_page_cannot_run_are_refused_by_name(simple):
    from scratchdl.layers import Softmax

    net = simple.copy()
    net.layers["Softmax"] = Softmax()
    with pytest.raises(
        ConfigError, match=r"has a Softmax layer \(Softmax\): use 'scratchdl serve'"
    ):
        web_model(net, "odd.npz")


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_weights_are_refused_before_anything_is_written(simple, tmp_path, bad):
    net = simple.copy()
    net.params["W2"][3, 1] = bad
    with pytest.raises(ModelFileError, match=r"Affine1\.W holds 1 non-finite value \(NaN or inf"):
        export_web(net, tmp_path / "site")
    assert not (tmp_path / "site").exists()
    _no_staging(tmp_path)


def test_non_finite_weights_are_one_line_from_the_command(simple, tmp_path, capsys):
    """A pickle in the book's form (the only model files that may hold them) with infinity."""
    weights = {k: v.copy() for k, v in simple.params.items()}
    weights["b1"][0] = np.inf
    pkl = tmp_path / "params.pkl"
    pkl.write_bytes(pickle.dumps(weights))
    code = main(["export-web", str(pkl), "--out", str(tmp_path / "site")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "non-finite" in err or "infinite" in err
    assert not (tmp_path / "site").exists()


# -- what the page says about the network --------------------------------------------------------


def test_the_page_names_the_network_its_layers_and_a_recorded_test_accuracy(simple, tmp_path):
    model = save_model(simple, tmp_path / "m.npz", metadata={"dataset": "mnist", "test_acc": 0.91})
    net = load_model(model)
    about = model_about(net)
    assert about["network"] == "SimpleConvNet" and about["test_acc"] == 0.91
    assert about["test_acc_note"] == "recorded when the model was trained, on the mnist test set"
    assert about["summary"] == (
        "conv 4@5x5 pad 1 stride 2 → ReLU → max-pool 2x2 → affine 12 → ReLU → affine 10"
    )
    assert about["parameters"] == sum(p.size for p in simple.params.values())
    export_web(net, tmp_path / "site", name="m.npz", about=about)
    spec = _model_js(tmp_path / "site")
    assert spec["network"] == "SimpleConvNet" and spec["test_acc"] == 0.91
    assert spec["summary"] == about["summary"] and spec["name"] == "m.npz"


def test_without_a_record_or_mnist_on_disk_the_accuracy_is_not_measured(simple, isolated_cache):
    about = model_about(simple, measure=True)
    assert about["test_acc"] is None and about["test_acc_note"].startswith("not measured")
    bad = simple.copy()
    bad.metadata = {"test_acc": float("nan")}
    assert model_about(bad)["test_acc"] is None  # never NaN in the page or in /info


@pytest.mark.skipif(not os.environ.get("SCRATCHDL_DATA_DIR"), reason="needs real MNIST")
def test_without_a_record_the_accuracy_is_measured_on_mnist(tmp_path):
    net = TwoLayerNet(784, 8, 10, rng=0)  # untrained: about one digit in ten
    about = model_about(net, measure=True, when="exported")
    assert 0.0 <= about["test_acc"] <= 0.3
    assert about["test_acc_note"] == "on MNIST's 10,000 test images, measured when exported"


def test_deep_conv_net_summary_reads_like_the_book(deep):
    words = describe_layers(deep).split(" → ")
    assert words[:5] == ["conv 16@3x3 pad 1", "ReLU", "conv 16@3x3 pad 1", "ReLU", "max-pool 2x2"]
    assert words[-5:] == ["affine 50", "ReLU", "dropout 0.5", "affine 10", "dropout 0.5"]


def test_serve_info_has_the_same_facts(simple):
    srv = DigitServer(simple, "127.0.0.1", 0, name="simple.npz")
    try:
        about = srv.info["about"]
        assert about == model_about(simple) and about["network"] == "SimpleConvNet"
        json.dumps(srv.info, allow_nan=False)
    finally:
        srv.server_close()


# -- the folder rules ----------------------------------------------------------------------------


def test_a_new_or_empty_folder_gets_the_page_and_its_manifest(simple, tmp_path):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "new" / "deeper", tmp_path / "empty"):
        sizes = export_web(simple, out)
        assert sorted(p.name for p in out.iterdir()) == sorted((*PAGE_FILES, MANIFEST))
        manifest = json.loads((out / MANIFEST).read_text())
        assert manifest["format"] == "scratchdl-web-export"
        assert {n: f["bytes"] for n, f in manifest["files"].items()} == {
            n: s for n, s in sizes.items() if n != MANIFEST
        }
        assert oct(out.stat().st_mode & 0o077) != "0o0"  # not mkdtemp's private folder
        _no_staging(out.parent)


def test_an_earlier_export_is_replaced_and_the_users_extra_files_kept(simple, deep, tmp_path):
    out = tmp_path / "site"
    export_web(simple, out)
    (out / "CNAME").write_text("digits.example.org\n")
    export_web(deep, out)
    assert _model_js(out)["network"] == "DeepConvNet"
    assert (out / "CNAME").read_text() == "digits.example.org\n"
    _no_staging(tmp_path)


def test_an_export_from_before_the_manifest_is_recognised(simple, tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    for name in ("index.html", "app.js", "mnist.js", "style.css"):
        (out / name).write_text("old\n")
    (out / "model.js").write_text('window.SCRATCHDL_MODEL = {"name": "x"};\n')
    export_web(simple, out)
    assert _model_js(out)["network"] == "SimpleConvNet"


def test_a_folder_of_other_files_is_refused_unless_forced(simple, tmp_path):
    out = tmp_path / "mysite"
    out.mkdir()
    (out / "index.html").write_text("<h1>my home page</h1>")
    (out / "style.css").write_text("body {}")
    with pytest.raises(ExportFolderError, match="pass --force") as info:
        export_web(simple, out)
    assert "\n" not in str(info.value) and "index.html, style.css" in str(info.value)
    assert (out / "index.html").read_text() == "<h1>my home page</h1>"
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "style.css"]
    (out / "notes.txt").write_text("mine")
    export_web(simple, out, force=True)
    assert (out / "notes.txt").read_text() == "mine"  # --force replaces the page's names only
    assert _model_js(out)["network"] == "SimpleConvNet"


def test_the_command_refuses_in_one_line_and_writes_with_force(simple, tmp_path, capsys):
    model = save_model(simple, tmp_path / "m.npz", metadata={"test_acc": 0.5})
    out = tmp_path / "mysite"
    out.mkdir()
    (out / "index.html").write_text("mine")
    assert main(["export-web", str(model), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--force" in err and "Traceback" not in err
    assert (out / "index.html").read_text() == "mine"
    assert main(["export-web", str(model), "--out", str(out), "--force"]) == 0
    assert "SimpleConvNet" in (out / "model.js").read_text()
    said = capsys.readouterr().out
    assert "the page runs SimpleConvNet (" in said and "test accuracy 0.5000 (recorded" in said
    (tmp_path / "file").write_text("x")
    assert main(["export-web", str(model), "--out", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_failed_write_leaves_the_earlier_export_whole(simple, deep, tmp_path, monkeypatch):
    out = tmp_path / "site"
    export_web(simple, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = Path.write_bytes

    def full_disk(self, data):
        if self.name == "net.js":
            raise OSError(28, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match=r"cannot write net\.js \(No space left on device\)") as info:
        export_web(deep, out)
    assert info.value.filename == str(out / "net.js")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    _no_staging(tmp_path)


def test_a_killed_exports_staging_folder_is_removed_by_the_next(simple, tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".site.new.{pid}.abc123"
    stale.mkdir()
    (stale / "model.js").write_text("half")
    export_web(simple, tmp_path / "site")
    assert not stale.exists()
    _no_staging(tmp_path)


def test_a_network_for_other_images_is_refused(tmp_path):
    net = SimpleConvNet((1, 16, 16), hidden_size=8, rng=0)
    with pytest.raises(ShapeError, match="not 28x28 images to 10 digits"):
        export_web(net, tmp_path / "site", name="small.npz")
    assert not (tmp_path / "site").exists()


def test_a_run_folder_is_exported_with_its_name(simple, tmp_path):
    (tmp_path / "runA").mkdir()
    save_model(simple, tmp_path / "runA" / "model.npz", metadata={"test_acc": 0.5})
    assert main(["export-web", str(tmp_path / "runA"), "--out", str(tmp_path / "site")]) == 0
    assert _model_js(tmp_path / "site")["name"] == "runA/model.npz"


def test_a_link_to_an_empty_folder_stays_a_link(simple, tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    export_web(simple, tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target" / "model.js").is_file()


def test_the_command_says_when_it_cannot_measure_the_accuracy(
    simple, tmp_path, capsys, isolated_cache
):
    model = save_model(simple, tmp_path / "m.npz")
    assert main(["export-web", str(model), "--out", str(tmp_path / "site")]) == 0
    err = capsys.readouterr().err
    assert "measuring it on MNIST's test set" in err and "not measured" in err
    assert _model_js(tmp_path / "site")["test_acc_note"].startswith("not measured")


@pytest.mark.slow
def test_killed_or_interrupted_exports_leave_a_folder_the_next_export_repairs(
    simple, deep, tmp_path
):
    """Real child processes, paused at the export's fault points and signalled."""
    import signal

    from _fault_helpers import interrupt_at, kill_at, leftovers, run, snapshot

    first = save_model(simple, tmp_path / "simple.npz", metadata={"test_acc": 0.5})
    second = save_model(deep, tmp_path / "deep.npz", metadata={"test_acc": 0.5})
    out = tmp_path / "site"
    assert run(tmp_path, "export-web", str(first), "--out", str(out)).returncode == 0
    before = snapshot(out)
    argv = ("export-web", str(second), "--out", str(out))

    # Killed with every file staged: the earlier export untouched, the staging folder left.
    code, _, _ = kill_at(tmp_path, "export-web:staged", *argv)
    assert code == -signal.SIGKILL and snapshot(out) == before
    assert len(leftovers(out)) == 1
    # Ctrl-C at the same point: nothing changed, nothing left (the dead one's folder too).
    code, _, err = interrupt_at(tmp_path, "export-web:staged", *argv)
    assert code == 130 and "Traceback" not in err
    assert snapshot(out) == before and leftovers(out) == []
    # Killed among the renames (model.js and the manifest come after app.js): the old
    # manifest stays, so the folder is still recognised as our export.
    code, _, _ = kill_at(tmp_path, "export-web:app.js", *argv)
    assert code == -signal.SIGKILL
    now = snapshot(out)
    assert now[MANIFEST] == before[MANIFEST] and now["model.js"] == before["model.js"]
    result = run(tmp_path, *argv)
    assert result.returncode == 0, result.stderr
    assert leftovers(out) == [] and _model_js(out)["network"] == "DeepConvNet"
    manifest = json.loads((out / MANIFEST).read_text())
    for name, entry in manifest["files"].items():
        assert snapshot(out)[name] == entry["sha256"], name
