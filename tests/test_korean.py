"""Korean text: one glossary of terms, figures and summaries in Korean with ``--lang ko``, no
English word left in a Korean figure except code names, units and numbers."""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib.text import Text

from _sweep_helpers import assert_summary_numbers_in_results, blobs, info
from scratchdl.cli import main
from scratchdl.experiments import summary_ko
from scratchdl.plots import ko_text, korean
from scratchdl.plots.glossary import TERMS, forbidden_in

ROOT = Path(__file__).resolve().parents[1]

#: Words a Korean figure may keep: code names (classes, optimizers, gates, activations as
#: their flags spell them), math function names and file names.
ALLOWED = {
    "ReLU", "SGD", "Momentum", "AdaGrad", "Adam", "RMSprop", "Nesterov", "Xavier", "He", "MNIST",
    "SimpleConvNet", "TwoLayerNet", "AND", "NAND", "OR", "XOR", "BN", "BatchNorm", "RMS", "NaN",
    "AlexNet", "GoogLeNet", "ResNet", "Clarifai", "XRCE", "NEC", "UIUC", "ILSVRC", "px", "BLAS",
    "Trainer", "dLoss", "dW",
    "mnist", "fashion", "sgd", "momentum", "adagrad", "rmsprop", "adam", "nesterov", "lr", "std", "exp", "max", "softmax", "params", "pkl", "relu", "sigmoid", "he", "xavier",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _english_after():
    yield
    korean.set_language("en")


def _korean_texts() -> list[str]:
    """Every Korean file a learner reads: README.ko.md, docs/ko and the ko notebooks' cells."""
    texts = [(ROOT / "README.ko.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs" / "ko").glob("*.md"))]
    for nb in sorted((ROOT / "src" / "scratchdl" / "notebooks" / "ko").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        texts += ["".join(c["source"]) for c in cells]
    return texts


def test_glossary_catches_the_drifting_variants():
    assert forbidden_in("시드 잡음보다 크다")[0][1].startswith("시드에 따른 편차")
    assert forbidden_in("오버피팅을 막는 정규화 기법")
    assert forbidden_in("L2 정규화")
    assert forbidden_in("역전파법") and not forbidden_in("오차역전파법")
    assert not forbidden_in("배치 정규화는 각 층의 활성화 값을 정규화합니다")
    assert TERMS["regularization"] == "규제" and TERMS["normalization"] == "정규화"


def test_korean_docs_notebooks_and_tables_use_the_glossary_terms():
    tables = [*ko_text.EXACT.values(), *(k for _, k in ko_text.PATTERNS)]
    tables += [*summary_ko.SENTENCES.values(), *summary_ko.WORDS.values()]
    found = {
        (text[:40], bad, use)
        for text in _korean_texts() + tables
        for bad, use in forbidden_in(text)
    }
    assert not found, found


def _english_words(fig) -> list[str]:  # noqa: ANN001
    """Alphabetic words of every visible text of ``fig`` after drawing, outside the allow-list
    (mathtext such as $10^{-5}$ is a number)."""
    fig.canvas.draw()
    words = []
    for text in fig.findobj(Text):
        if not text.get_visible():
            continue
        plain = re.sub(r"\$[^$]*\$", "", text.get_text())
        words += [w for w in re.findall(r"[A-Za-z]{2,}", plain) if w not in ALLOWED]
    return words


def _book_figures():
    """Every figure of 'scratchdl figures' (MNIST ones on random digits), and the training
    curves: the functions the ko notebooks call."""
    from scratchdl.nets import TwoLayerNet
    from scratchdl.plots import chapter8, chapters67, notes
    from scratchdl.plots.curves import plot_training_curves
    from scratchdl.train import TrainConfig
    from scratchdl.train.history import EpochRecord, History

    rng = np.random.default_rng(0)
    x, t = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    net = TwoLayerNet(784, 10, 10, rng=0)
    history = History(iter_per_epoch=2)
    for i, acc in enumerate((0.3, 0.6)):
        history.loss += [2.3 - i, 2.0 - i]
        history.records.append(
            EpochRecord(i + 1, 2 * (i + 1), acc, 2.0 - i, acc - 0.1, 2.1 - i, 1.0 + i, 1.0)
        )
    figures = {name: build for name, build in notes.MATH_FIGURES}
    figures |= {
        "mnist_samples": lambda: notes.plot_mnist_samples(x, t, count=8),
        "first_layer_weights": lambda: notes.plot_first_layer_weights(net, count=4),
        "misclassified": lambda: notes.plot_misclassified(net, x, t, count=4),
        "conv_digit": lambda: notes._conv_digit(x, t, 0),
        "conv_filters": lambda: notes._conv_filters(
            rng.standard_normal((30, 1, 5, 5)), 0, " (the book's params.pkl)"
        ),
        "conv_filters_trained": lambda: chapters67.plot_conv_filters(
            rng.standard_normal((4, 1, 5, 5)),
            rng.standard_normal((4, 1, 5, 5)),
            " (300 steps of 100, train accuracy 0.912 on 1000 samples)",
        ),
        "conv_filters_notebook": lambda: chapters67.plot_conv_filters(
            rng.standard_normal((4, 1, 5, 5)),
            rng.standard_normal((4, 1, 5, 5)),
            note=" (1 epoch on 10,000 images)",  # the ch07 notebook's note
        ),
        "augmented_digits": lambda: chapter8.plot_augmented_digits(x[:3].reshape(3, 1, 28, 28)),
        "ilsvrc_winners": chapter8.plot_ilsvrc_winners,
        "learning_curves": lambda: plot_training_curves(
            history, title=TrainConfig(epochs=3, seed=0).describe()
        ),
    }
    return figures


#: Quick to draw: the fast suite checks these; the rest run with the slow tests.
_QUICK = {"activations", "softmax", "xor", "learning_curves", "misclassified", "ilsvrc_winners"}
_NAMES = [
    "activations", "softmax", "logic_gates", "xor", "numerical_diff", "surface", "gradient_field",
    "gradient_descent", "optimizer_paths", "weight_init_histograms", "mnist_samples",
    "first_layer_weights", "misclassified", "conv_digit", "conv_filters", "conv_filters_trained",
    "conv_filters_notebook", "augmented_digits", "ilsvrc_winners", "learning_curves",
]  # fmt: skip


def test_the_list_covers_every_figure():
    assert sorted(_NAMES) == sorted(_book_figures())


@pytest.mark.parametrize(
    "name", [n if n in _QUICK else pytest.param(n, marks=pytest.mark.slow) for n in _NAMES]
)
def test_every_book_figure_is_korean_with_lang_ko(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no Hangul font here: glyph warnings only
        with korean.language("ko", need_font=False):
            assert _english_words(_book_figures()[name]()) == []


def test_english_stays_the_default():
    from scratchdl.plots.notes import plot_activations

    fig = plot_activations()
    assert fig.get_suptitle() == "Activation functions"
    assert "Step" in _english_words(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with korean.language("ko", need_font=False):
            assert plot_activations().get_suptitle() == "활성화 함수"
    assert korean.current_language() == "en"


def test_without_a_hangul_font_lang_ko_keeps_english_figures(monkeypatch, capsys):
    monkeypatch.setattr(korean, "find_hangul_font", lambda: None)
    monkeypatch.setattr(korean, "_active", None)
    assert korean.set_language("ko") == "en"
    assert korean.requested_language() == "ko"  # summary.md text needs no font
    assert capsys.readouterr().out.strip() == korean.INSTALL_HINT


def test_unknown_language_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["figures", "--out", str(tmp_path), "--lang", "fr", "--only", "softmax"])
    assert "invalid choice: 'fr'" in capsys.readouterr().err


def _run_ko_sweep(module, opts, out: Path):  # noqa: ANN001
    from scratchdl.experiments.engine import run_sweep
    from scratchdl.plots import sweeps

    src = blobs()
    figs = []
    original = sweeps.localize

    def keep(fig):  # noqa: ANN001, ANN202
        figs.append(original(fig))
        return fig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with korean.language("ko", need_font=False):
            sweeps.localize = keep
            try:
                run_sweep(module.build(opts, info(src)), out, source=src, jobs=0)
            finally:
                sweeps.localize = original
            left = [w for fig in figs for w in _english_words(fig)]
    return figs, left


def _assert_korean_summary(out: Path) -> None:
    text = (out / "summary.md").read_text(encoding="utf-8")
    said = json.loads((out / "results.json").read_text())["findings"]["said"]
    assert said and all(re.search("[A-Za-z]{3}", s["template"]) for s in said)  # kept English
    for s in said:
        words = re.sub(r"\{[^}]*\}", "", s["template"])
        if re.search(r"[A-Za-z]{3,}", words):
            assert summary_ko.sentence(s["template"]) != s["template"], s["template"]
    assert "**질문:**" in text and "그림:" in text
    assert not forbidden_in(text)
    assert_summary_numbers_in_results(out)


def test_lr_sweep_in_korean_keeps_its_numbers(tmp_path):
    from scratchdl.experiments import lr

    opts = lr.Options(
        values=(0.001, 0.1, 10.0), epochs=1, seeds=(0, 1), hidden=(16,), eval_samples=100
    )
    figs, left = _run_ko_sweep(lr, opts, tmp_path)
    assert len(figs) == 2 and left == []
    _assert_korean_summary(tmp_path)
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "# 학습률" in text and "## 결과" in text and "시험 정확도" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["optimizer", "init", "batchnorm", "overfit", "hyperparams"])
def test_ch6_sweeps_in_korean(name, tmp_path):
    from scratchdl.experiments import batchnorm, hyperparams, init, optimizer, overfit

    module, opts = {
        "optimizer": (
            optimizer,
            optimizer.Options(
                optimizers=("sgd", "adam"), iters=60, seeds=(0, 1), hidden=(16, 16), curve_points=5
            ),
        ),
        "init": (
            init,
            init.Options(
                variants=("sigmoid+0.01", "relu+he"), iters=60, seeds=(0,), hidden=(16, 16),
                curve_points=5,
            ),
        ),
        "batchnorm": (
            batchnorm,
            batchnorm.Options(
                scales=(0.01, 1e-4), train_samples=100, hidden=(16,) * 3, lr=0.05, epochs=2,
                seeds=(0, 1),
            ),
        ),
        "overfit": (
            overfit,
            overfit.Options(
                train_samples=40, batch_size=20, hidden=(16, 16), lr=0.1, weight_decay=0.3,
                dropout=0.7, epochs=5,
            ),
        ),
        "hyperparams": (
            hyperparams,
            hyperparams.Options(
                train_samples=200, trials=4, epochs=2, hidden=(16,), lr_range=(1e-4, 1.0), top=2,
                region=2, eval_samples=100,
            ),
        ),
    }[name]  # fmt: skip
    figs, left = _run_ko_sweep(module, opts, tmp_path)
    assert figs and left == []
    _assert_korean_summary(tmp_path)


def test_report_lang_ko_writes_korean_headings(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_report import make_figures, make_run

    out = tmp_path / "r.html"
    assert main(["report", str(make_run(tmp_path)), str(make_figures(tmp_path)), "--out", str(out),
                 "--lang", "ko"]) == 0  # fmt: skip
    page = out.read_text(encoding="utf-8")
    assert '<html lang="ko">' in page and "<title>scratchdl 보고서</title>" in page
    assert "훈련 실행" in page and "훈련 기록" in page and "Training run" not in page
    assert korean.current_language() == "en"


# Seconds of the quick check (kept under 90 s idle); CI runs it with the slow tests.
@pytest.mark.slow
def test_batch_size_sweep_in_korean(tmp_path):
    from scratchdl.experiments import batch_size

    opts = batch_size.Options(
        values=(10, 50), epochs=1, seeds=(0, 1), budget_seconds=1e-6, hidden=(16,), init="he",
        eval_samples=100, curve_points=5,
    )  # fmt: skip
    figs, left = _run_ko_sweep(batch_size, opts, tmp_path)
    assert len(figs) == len(batch_size.FIGURES) and left == []
    _assert_korean_summary(tmp_path)
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "# 배치 크기" in text and "## 속도" in text
    # The report of that folder: its figure captions in Korean too.
    out = tmp_path / "r.html"
    assert main(["report", str(tmp_path), "--out", str(out), "--lang", "ko"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "배치 크기에 따른 정확도" in page and "Accuracy against batch size" not in page


@pytest.mark.slow
def test_depth_width_sweep_in_korean(tmp_path):
    from scratchdl.experiments import depth_width

    opts = depth_width.Options(
        depths=(1, 2), widths=(8, 16), epochs=1, seeds=(0, 1), batch_size=20, eval_samples=50,
        curve_points=3, variants=("sigmoid+0.01", "relu+he"),
    )  # fmt: skip
    figs, left = _run_ko_sweep(depth_width, opts, tmp_path)
    assert len(figs) == len(depth_width.FIGURES) and left == []
    _assert_korean_summary(tmp_path)
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "## 답" in text


def test_every_figure_the_tools_write_has_a_caption_in_both_languages():
    """The report names each figure by a caption, never by its file name, in English and Korean."""
    from scratchdl.experiments import (
        batch_size,
        batchnorm,
        depth_width,
        hyperparams,
        init,
        lr,
        optimizer,
        overfit,
    )
    from scratchdl.plots import notes
    from scratchdl.report import CAPTIONS, _caption

    stems = [name for name, _ in notes.MATH_FIGURES] + [*notes.MNIST_FIGURES, *notes.CONV_FIGURES]
    for sweep in (lr, optimizer, init, batchnorm, overfit, hyperparams, batch_size, depth_width):
        stems += [Path(f).stem for f in sweep.FIGURES]
    assert "lr_curves" in stems and "conv_filters" in stems
    missing = [s for s in stems if s not in CAPTIONS]
    assert missing == [], f"no caption for {missing}"
    with korean.language("ko", need_font=False):
        for stem in stems:
            text = _caption(stem)
            assert re.search("[가-힣]", text), f"{stem}: {text!r} is not Korean"
            # Only the names of code and methods stay in Latin letters (a Hangul particle may
            # follow them directly, so no \b).
            names = r"SGD|Momentum|AdaGrad|Adam|AND|NAND|OR|XOR|ReLU|MNIST|[fxye]\d?"
            left = re.sub(rf"(?<![A-Za-z])({names})(?![A-Za-z])", "", text)
            assert not re.search("[A-Za-z]{2,}", left), f"{stem}: English left in {text!r}"
            assert forbidden_in(text) == [], text
