"""``scratchdl report``: one self-contained, escaped HTML page from run/sweep/figure folders."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchdl.cli import main
from scratchdl.io import save_model
from scratchdl.nets import TwoLayerNet
from scratchdl.report import ReportError, build_report, classify_folder, render_markdown

XSS = '<script>alert("x")</script>'


def write_png(path: Path, color=(30, 90, 160), size=(40, 24)) -> Path:
    img = Image.new("RGB", size, (255, 255, 255))
    img.paste(color, (4, 4, size[0] - 4, size[1] - 4))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")
    return path


def make_run(root: Path, name: str = "run1") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    history = {
        "format": "scratchdl-history",
        "format_version": 1,
        "loss": list(np.linspace(2.3, 0.3, 50)),
        "records": [
            {
                "epoch": 1,
                "iteration": 25,
                "train_acc": 0.81,
                "train_loss": 0.6,
                "test_acc": 0.8,
                "test_loss": 0.62,
            },
            {
                "epoch": 2,
                "iteration": 50,
                "train_acc": 0.9,
                "train_loss": 0.35,
                "test_acc": 0.8875,
                "test_loss": 0.4,
            },
        ],
        "config": {"lr": 0.1, "note": XSS},
        "stop_reason": "completed",
        "iterations": 50,
        "message": "",
    }
    (folder / "history.json").write_text(json.dumps(history))
    write_png(folder / "curves.png")
    save_model(TwoLayerNet(784, 5, 10, rng=0), folder / "model.npz", metadata={"lr": 0.1})
    return folder


def make_sweep(root: Path, name: str = "sweep1") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "summary.md").write_text(
        f"# Learning-rate sweep {XSS}\n\nBest is **lr = 0.1** (`test_acc` 0.93).\n\n"
        "| lr | test_acc |\n|---|---:|\n| 0.01 | 0.88 |\n| 0.1 | 0.93 |\n\n"
        "- one <b>bold?</b>\n- two\n"
    )
    (folder / "results.csv").write_text("lr,test_acc\n0.01,0.88\n0.1,<i>0.93</i>\n")
    (folder / "results.json").write_text(json.dumps([{"lr": 0.01}, {"lr": 0.1}]))
    write_png(folder / "acc_vs_lr.png", color=(200, 80, 20))
    return folder


def make_figures(root: Path, name: str = "figs", n: int = 3) -> Path:
    folder = root / name
    for i in range(n):
        write_png(folder / f"fig_{i}.png", color=(20 * i, 120, 60))
    return folder


def img_srcs(page: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]*)"', page)


def test_report_embeds_every_image_as_a_data_uri(tmp_path):
    run, sweep, figs = make_run(tmp_path), make_sweep(tmp_path), make_figures(tmp_path)
    out = tmp_path / "report.html"
    assert main(["report", str(run), str(sweep), str(figs), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    srcs = img_srcs(page)
    assert len(srcs) == 1 + 1 + 3
    assert page.count("data:image/png;base64,") == 5
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    for src in srcs:  # each one decodes to the PNG it came from
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as img:
            assert img.format == "PNG" and img.size[0] > 0
    # Self-contained: no external resource of any kind, no script.
    for needle in ("<script", "<link", "http://", "https://", "url(", "@import"):
        assert needle not in page.lower()


def test_report_prints_what_it_wrote(tmp_path, capsys):
    figs = make_figures(tmp_path)
    out = tmp_path / "r.html"
    assert main(["report", str(figs), "--out", str(out)]) == 0
    assert f"wrote {out}: 1 section(s), 3 image(s) embedded" in capsys.readouterr().out


def test_report_escapes_text_from_files(tmp_path):
    page, _ = build_report([make_run(tmp_path), make_sweep(tmp_path)])
    assert XSS not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<b>bold?</b>" not in page and "&lt;b&gt;bold?&lt;/b&gt;" in page
    assert "<i>0.93</i>" not in page and "&lt;i&gt;0.93&lt;/i&gt;" in page


def test_run_section_shows_model_history_and_curves(tmp_path):
    page, sections = build_report([make_run(tmp_path)])
    assert sections[0].kind == "run" and sections[0].images == 1
    assert "test accuracy 0.8875, train accuracy 0.9000, 50 iterations" in page
    assert "TwoLayerNet(784-5-10, relu, float32)" in page
    assert "3,985" in page  # parameter count: 784*5 + 5 + 5*10 + 10
    assert "50 values: first 2.3, last 0.3" in page  # the per-iteration loss, summarised
    assert "Learning curves of this run" in page


def test_sweep_section_renders_summary_and_csv(tmp_path):
    page, sections = build_report([make_sweep(tmp_path)])
    assert sections[0].kind == "sweep"
    assert "<strong>lr = 0.1</strong>" in page and "<code>test_acc</code>" in page
    assert "<th>lr</th><th>test_acc</th>" in page  # the markdown table and the CSV header
    assert "<td>0.01</td><td>0.88</td>" in page
    assert "<ul><li>one" in page


def test_markdown_subset():
    html = render_markdown("## Title\n\ntext *it* and **b**\n\n```\n<x> & y\n```\n1. a\n2. b\n")
    assert "<h4>Title</h4>" in html
    assert "<em>it</em>" in html and "<strong>b</strong>" in html
    assert "<pre>&lt;x&gt; &amp; y</pre>" in html
    assert "<ol><li>a</li><li>b</li></ol>" in html
    assert "<img" not in render_markdown('![x](http://e.com/a.png) <img src="a.png">')


def test_classify_folder(tmp_path):
    assert classify_folder(make_run(tmp_path)) == "run"
    assert classify_folder(make_sweep(tmp_path)) == "sweep"
    assert classify_folder(make_figures(tmp_path)) == "figures"


def test_missing_folder_is_one_clear_error(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "nope"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
    assert not out.exists()


def test_unknown_folder_is_refused_and_old_report_kept(tmp_path, capsys):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "readme.txt").write_text("hello")
    out = tmp_path / "r.html"
    out.write_text("old")
    figs = make_figures(tmp_path)
    assert main(["report", str(figs), str(other), "--out", str(out)]) == 2
    assert "is not a run, sweep or figure folder" in capsys.readouterr().err
    assert out.read_text() == "old"


def test_file_instead_of_folder_and_folder_as_out(tmp_path):
    f = write_png(tmp_path / "a.png")
    with pytest.raises(ReportError, match="is a file, not a folder"):
        build_report([f])
    with pytest.raises(ReportError, match="is a folder"):
        from scratchdl.report import write_report

        write_report([make_figures(tmp_path)], tmp_path)


def test_broken_png_is_reported_not_embedded(tmp_path):
    figs = make_figures(tmp_path, n=1)
    good = (figs / "fig_0.png").read_bytes()
    (figs / "truncated.png").write_bytes(good[: len(good) // 2])
    page, sections = build_report([figs])
    assert sections[0].images == 1
    assert len(img_srcs(page)) == 1
    assert "truncated.png is not a readable PNG image" in page


def test_damaged_model_file_is_a_warning_in_the_page(tmp_path):
    run = make_run(tmp_path)
    (run / "model.npz").write_bytes(b"garbage")
    page, _ = build_report([run])
    assert 'class="warn"' in page and "model.npz" in page


def test_same_folder_names_get_distinct_anchors(tmp_path):
    a = make_figures(tmp_path / "a", name="figs")
    b = make_figures(tmp_path / "b", name="figs")
    page, sections = build_report([a, b])
    anchors = [s.anchor for s in sections]
    assert len(set(anchors)) == 2
    for anchor in anchors:
        assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page
