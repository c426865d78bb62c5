"""One self-contained HTML page from run, sweep and figure folders.

The page embeds every PNG as a base64 ``data:`` URI and carries its CSS inline, so it opens
anywhere (a mail attachment, a browser without network) and needs no JavaScript. All text that
comes from files is escaped with :func:`html.escape`; ``summary.md`` is rendered through a small
markdown subset that escapes first and only then adds tags, so a file cannot inject markup.

Folders are recognised by what they hold:

* a **run** folder (``scratchdl train --out``) has ``history.json``; its model files, other JSON
  files and PNGs (``curves.png``) are shown too;
* a **sweep** folder (``scratchdl sweep``) has ``results.json``, ``results.csv`` or
  ``summary.md``;
* a **figure** folder (``scratchdl figures``) has PNG files and none of the above.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scratchdl import __version__
from scratchdl._fs import atomic_write_text
from scratchdl.errors import ScratchdlError
from scratchdl.plots.korean import current_language, language, tr

__all__ = [
    "ReportError",
    "Section",
    "build_report",
    "classify_folder",
    "render_markdown",
    "write_report",
]

RUN_MARKERS = ("history.json",)
SWEEP_MARKERS = ("results.json", "results.csv", "summary.md")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TABLE_ROWS = 500  # longer CSV/JSON tables are cut, with a note, to keep the page usable
MAX_LIST_INLINE = 12  # longer numeric lists in JSON are summarised rather than printed

#: Captions of the figures ``scratchdl figures`` and ``scratchdl train`` write.
CAPTIONS = {
    "activations": "Step, sigmoid and ReLU activation functions",
    "softmax": "Softmax of a score vector, and the probabilities as one score varies",
    "logic_gates": "AND, NAND and OR perceptrons: decision lines and half-planes",
    "xor": "XOR is not linearly separable; two layers solve it",
    "numerical_diff": "f(x) = 0.01x² + 0.1x with tangents from numerical differentiation",
    "surface": "The surface of f(x0, x1) = x0² + x1²",
    "gradient_field": "Negative gradient field of x0² + x1²",
    "gradient_descent": "Gradient descent with learning rates 0.1, 10 and 1e-10",
    "mnist_samples": "A sample of MNIST digits with their labels",
    "first_layer_weights": "First-layer weights of a trained network as 28 × 28 images",
    "misclassified": "Misclassified test digits: true and predicted labels",
    "learning_curves": "Learning curves: loss per iteration, accuracy per epoch",
    "curves": "Learning curves of this run",
    # scratchdl sweep batch-size and depth-width
    "batch_accuracy": "Accuracy against batch size",
    "batch_time": "Training speed against batch size",
    "batch_curves": "Learning curves by batch size",
    "depth_width_heatmap": "Test accuracy by depth and width",
    "depth_width_lines": "Accuracy, gap and time against depth",
    "depth_width_curves": "Learning curves by depth",
    "depth_width_layers": "Vanishing gradients: gradient size and activation spread per layer",
    # scratchdl figures, chapters 6-7
    "optimizer_paths": "SGD, Momentum, AdaGrad and Adam on the book's f(x, y)",
    "weight_init_histograms": "Hidden-layer activations by initial weights",
    "conv_digit": "What a convolution does to a digit",
    "conv_filters": "First-layer convolution filters before and after training",
    # the chapter 6 sweeps
    "lr_accuracy": "Accuracy and loss against learning rate",
    "lr_curves": "Learning curves by learning rate",
    "optimizer_curves": "Learning curves by optimizer",
    "init_curves": "Learning curves by initial weights",
    "init_histograms": "Hidden-layer activations at initialisation",
    "init_histograms_trained": "Hidden-layer activations after training",
    "batchnorm_grid": "Learning curves with and without batch normalization",
    "batchnorm_scale": "Training accuracy against the initial weight scale",
    "overfit_curves": "Overfitting: train and test accuracy with and without regularization",
    "hyperparams_search": "Hyperparameter search: validation accuracy of each trial",
    "hyperparams_top": "Learning curves of the best hyperparameters",
}


class ReportError(ScratchdlError):
    """A folder given to the report is missing or is not a run, sweep or figure folder."""


@dataclass
class Section:
    """One folder of the report: its kind, title and HTML body."""

    kind: str
    title: str
    path: Path
    body: list[str] = field(default_factory=list)
    images: int = 0

    @property
    def anchor(self) -> str:
        return "sec-" + re.sub(r"[^A-Za-z0-9_-]+", "-", self.title).strip("-")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def classify_folder(path: str | os.PathLike[str]) -> str:
    """Return ``'run'``, ``'sweep'`` or ``'figures'`` for a folder, or raise :class:`ReportError`."""
    folder = Path(path)
    if not folder.exists():
        raise ReportError(
            f"{folder} does not exist: give a folder written by 'scratchdl train "
            "--out', 'scratchdl sweep' or 'scratchdl figures --out'"
        )
    if not folder.is_dir():
        raise ReportError(f"{folder} is a file, not a folder: give the folder that holds it")
    if any((folder / name).is_file() for name in RUN_MARKERS):
        return "run"
    if any((folder / name).is_file() for name in SWEEP_MARKERS):
        return "sweep"
    if any(p.is_file() for p in folder.glob("*.png")):
        return "figures"
    raise ReportError(
        f"{folder} is not a run, sweep or figure folder: it has no history.json (scratchdl train "
        "--out), no results.json, results.csv or summary.md (scratchdl sweep) and no PNG files "
        "(scratchdl figures)"
    )


# -- pieces of HTML ------------------------------------------------------------------------------


def _caption(stem: str) -> str:
    return tr(CAPTIONS.get(stem, stem.replace("_", " ").replace("-", " ").capitalize()))


def _png_info(data: bytes) -> tuple[int, int] | None:
    """Width and height of a valid PNG, or None; checked with Pillow so no broken image ships."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            img.verify()  # checks chunk CRCs without decoding the pixels
            size = img.size
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            img.load()  # verify() misses truncated image data; a full decode does not
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    return size if size[0] > 0 and size[1] > 0 else None


def _figure_html(png: Path) -> tuple[str, bool]:
    """A ``<figure>`` embedding ``png``, or a warning when it is not a readable PNG."""
    data = png.read_bytes()
    info = _png_info(data)
    if info is None:
        return _warn(f"{png.name} is not a readable PNG image and was left out."), False
    width, height = info
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    caption = _caption(png.stem)
    return (
        f'<figure><img src="{uri}" width="{width}" height="{height}" alt="{_esc(caption)}">'
        f'<figcaption>{_esc(caption)} <span class="file">({_esc(png.name)})</span>'
        "</figcaption></figure>",
        True,
    )


def _html_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table that scrolls sideways when wide, from cells already in HTML."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        "</table></div>"
    )


def _table(header: Sequence[Any], rows: Iterable[Sequence[Any]], numeric: bool = True) -> str:
    rows = list(rows)
    note = ""
    if len(rows) > MAX_TABLE_ROWS:
        note = f'<p class="note">First {MAX_TABLE_ROWS} of {len(rows)} rows shown.</p>'
        rows = rows[:MAX_TABLE_ROWS]
    cells = [[_esc(_fmt(c) if numeric else c) for c in row] for row in rows]
    return _html_table(map(_esc, header), cells) + note


def _fmt(value: Any) -> str:
    """Short text for a table cell: floats to 4 significant digits, nested values as JSON."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _cell(value: Any) -> Any:
    """A list as text, a long list of numbers summarised; any other value as it is."""
    if not isinstance(value, list):
        return value
    nums = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(value) > MAX_LIST_INLINE and len(nums) == len(value):
        return (
            f"{len(value)} values: first {_fmt(value[0])}, last {_fmt(value[-1])}, "
            f"min {_fmt(min(nums))}, max {_fmt(max(nums))}"
        )
    return _fmt(value)


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(r, dict) for r in value)


def _json_html(value: Any) -> str:
    """Render a JSON value: dicts as key/value tables, lists of records as tables."""
    if isinstance(value, dict):
        parts, scalars = [], []
        for key, item in value.items():
            if _is_records(item) or (isinstance(item, dict) and item):
                parts.append(f"<h4>{_esc(key)}</h4>{_json_html(item)}")
            else:
                scalars.append((key, _cell(item)))
        head = _table(("key", "value"), scalars) if scalars else ""
        return head + "".join(parts)
    if _is_records(value):
        columns = list(dict.fromkeys(key for rec in value for key in rec))
        return _table(columns, [[_cell(r.get(c, "")) for c in columns] for r in value])
    return f"<pre>{_esc(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"


def _read_json(path: Path) -> tuple[Any, str | None]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path.name} cannot be read as JSON ({type(exc).__name__}: {exc})"


def _json_file_html(path: Path) -> str:
    value, err = _read_json(path)
    return _warn(err) if err else _json_html(value)


def _warn(text: str) -> str:
    return f'<p class="warn">{_esc(text)}</p>'


# -- markdown subset -----------------------------------------------------------------------------

_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])"), r"<em>\1</em>"),
]
_BULLET = re.compile(r"^([-*]|\d+[.)])\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _inline(text: str) -> str:
    out = _esc(text)  # escape first: the patterns below then only ever wrap escaped text
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().removeprefix("|").removesuffix("|").split("|")]


def render_markdown(text: str) -> str:
    """Render a safe markdown subset to HTML.

    Supported: ``#`` headings, paragraphs, ``-``/``*`` and ``1.`` lists, pipe tables, fenced
    code blocks and inline ``code``, ``**bold**`` and ``*italic*``. Everything else is shown as
    text; all text is escaped, raw HTML included.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append("<p>" + " ".join(_inline(p) for p in para) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            out.append(f"<pre>{_esc(chr(10).join(code))}</pre>")
            i += 1
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if heading:
            flush()
            # Page levels: h1/h2 are the report's own; a summary's headings start at h3.
            level = min(6, len(heading.group(1)) + 2)
            out.append(f"<h{level}>{_inline(heading.group(2).rstrip('#').strip())}</h{level}>")
            i += 1
            continue
        if stripped.startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            flush()
            header = _cells(stripped)
            i += 2
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out.append(_html_table(map(_inline, header), ([_inline(c) for c in r] for r in rows)))
            continue
        bullet = _BULLET.match(stripped)
        if bullet:
            flush()
            tag = "ol" if bullet.group(1)[0].isdigit() else "ul"
            items = []
            while i < len(lines) and (m := _BULLET.match(lines[i].strip())):
                items.append(f"<li>{_inline(m.group(2))}</li>")
                i += 1
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
            continue
        if not stripped:
            flush()
        else:
            para.append(stripped)
        i += 1
    flush()
    return "\n".join(out)


# -- sections ------------------------------------------------------------------------------------


def _pngs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.png") if p.is_file())


def _add_figures(section: Section, pngs: Iterable[Path]) -> None:
    for png in pngs:
        snippet, ok = _figure_html(png)
        section.body.append(snippet)
        section.images += ok


def _model_html(path: Path) -> str:
    from scratchdl.io import load_model

    try:
        net = load_model(path)
    except ScratchdlError as exc:
        return _warn(f"{path.name}: {exc}")
    n_params = sum(int(v.size) for v in net.params.values())
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in net.params.items())
    rows = [
        ("file", path.name),
        ("network", repr(net)),
        ("parameters", f"{n_params:,}"),
        ("shapes", shapes),
    ]
    meta = getattr(net, "metadata", None) or {}
    html_meta = f"<h4>metadata</h4>{_json_html(meta)}" if meta else ""
    return _table(("property", "value"), rows) + html_meta


def _run_section(folder: Path, title: str) -> Section:
    section = Section("run", title, folder)
    history, err = _read_json(folder / "history.json")
    models = sorted(folder.glob("*.npz"))
    if models:
        section.body.append(f"<h3>{tr('Model')}</h3>")
        section.body.extend(_model_html(m) for m in models)
    others = sorted(p for p in folder.glob("*.json") if p.name != "history.json")
    for path in others:
        section.body += [f"<h3>{_esc(path.name)}</h3>", _json_file_html(path)]
    _add_figures(section, _pngs(folder))
    section.body.insert(0, _warn(err) if err else _history_headline(history))
    section.body.append(f"<h3>{tr('Training history')} (history.json)</h3>")
    if not err:
        section.body.append(_json_html(history))
    return section


def _history_headline(history: Any) -> str:
    """One sentence on how the run ended, read from ``history.json``'s last record."""
    if not isinstance(history, dict):
        return _warn("history.json holds no JSON object, so the run cannot be summarised")
    records = history.get("records") or []
    last = records[-1] if records and isinstance(records[-1], dict) else {}
    parts = []
    for key, label in (("test_acc", "test accuracy"), ("train_acc", "train accuracy")):
        value = last.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{tr(label)} {value:.4f}")
    if isinstance(history.get("iterations"), int):
        parts.append(tr(f"{history['iterations']} iterations"))
    if history.get("stop_reason"):
        parts.append(tr(f"stopped: {history['stop_reason']}"))
    text = ", ".join(parts) or tr("no evaluation recorded")
    message = history.get("message")
    extra = f"<br>{_esc(message)}" if message else ""
    return f'<p class="headline"><strong>{_esc(text)}</strong>{extra}</p>'


def _csv_html(path: Path) -> str:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return _warn(f"{path.name} cannot be read as CSV ({type(exc).__name__}: {exc})")
    if not rows:
        return _warn(f"{path.name} is empty")
    return _table(rows[0], rows[1:], numeric=False)


def _sweep_section(folder: Path, title: str) -> Section:
    section = Section("sweep", title, folder)
    summary = folder / "summary.md"
    if summary.is_file():
        try:
            section.body.append(render_markdown(summary.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            section.body.append(_warn(f"summary.md cannot be read ({exc})"))
    _add_figures(section, _pngs(folder))
    results_csv = folder / "results.csv"
    if results_csv.is_file():
        section.body.append(f"<h3>{tr('Results')} (results.csv)</h3>")
        section.body.append(_csv_html(results_csv))
    elif (folder / "results.json").is_file():
        section.body.append(f"<h3>{tr('Results')} (results.json)</h3>")
        section.body.append(_json_file_html(folder / "results.json"))
    return section


def _figures_section(folder: Path, title: str) -> Section:
    section = Section("figures", title, folder)
    _add_figures(section, _pngs(folder))
    return section


_BUILDERS = {"run": _run_section, "sweep": _sweep_section, "figures": _figures_section}
_KIND_NAMES = {"run": "Training run", "sweep": "Sweep", "figures": "Figures"}


# -- the page ------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1d232a; background: #f6f7f9; line-height: 1.45; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 1.8em; margin: 0.2em 0; }
h2 { font-size: 1.4em; border-bottom: 2px solid #c9d3df; padding-bottom: 4px; margin: 0 0 12px; }
h3 { font-size: 1.15em; margin: 20px 0 8px; }
h4 { font-size: 1em; margin: 14px 0 6px; color: #3b4754; }
section { background: #fff; border: 1px solid #dde3ea; border-radius: 8px; padding: 18px 22px;
          margin: 18px 0; }
nav ul { padding-left: 20px; margin: 6px 0 0; }
.kind { display: inline-block; font-size: 0.75em; font-weight: 600; color: #fff;
        background: #1f5fa8; border-radius: 4px; padding: 1px 7px; vertical-align: middle;
        margin-right: 8px; }
.path, .file, .note, footer { color: #5b6673; font-size: 0.9em; }
figure { margin: 14px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e7ec; background: #fff; }
figcaption { margin-top: 4px; font-style: italic; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 0.92em; }
th, td { border: 1px solid #d3dae2; padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
tbody tr:nth-child(even) { background: #fafbfc; }
pre { background: #f2f4f7; padding: 10px; overflow-x: auto; border-radius: 4px; }
code { background: #f2f4f7; padding: 0 3px; border-radius: 3px; }
.headline { font-size: 1.05em; }
.warn { color: #8a2c0d; background: #fff1e8; border-left: 4px solid #d9622b; padding: 6px 10px; }
footer { padding: 12px 0 30px; }
"""


def build_report(
    folders: Sequence[str | os.PathLike[str]], title: str = "scratchdl report", lang: str = "en"
) -> tuple[str, list[Section]]:
    """Build the HTML page for ``folders``; return it and its sections.

    ``lang="ko"`` writes the page's own headings, captions and sentences in Korean (the
    folders' figures and summary.md are shown as they were written).

    Raises
    ------
    ReportError
        If no folder is given, or a folder is missing or of no known kind (checked for every
        folder before any work, so one run names the first bad folder).
    """
    if not folders:
        raise ReportError("give at least one run, sweep or figure folder")
    with language(lang, need_font=False):  # HTML text: the reader's browser has the fonts
        return _build_report(folders, title)


def _build_report(
    folders: Sequence[str | os.PathLike[str]], title: str
) -> tuple[str, list[Section]]:
    kinds = [(Path(f), classify_folder(f)) for f in folders]
    sections = []
    used: set[str] = set()
    for folder, kind in kinds:
        label = name = folder.resolve().name or str(folder)
        n = 2
        while label in used:  # two folders named alike still get distinct anchors
            label, n = f"{name} ({n})", n + 1
        used.add(label)
        sections.append(_BUILDERS[kind](folder, label))

    toc = "".join(
        f'<li><a href="#{s.anchor}">{_esc(s.title)}</a> — {_esc(tr(_KIND_NAMES[s.kind]).lower())}, '
        f"{_esc(tr(f'{s.images} image' + ('s' if s.images != 1 else '')))}</li>"
        for s in sections
    )
    body = "".join(
        f'<section id="{s.anchor}"><h2><span class="kind">{_esc(tr(_KIND_NAMES[s.kind]))}</span>'
        f'{_esc(s.title)}</h2><p class="path">{_esc(s.path)}</p>{"".join(s.body)}</section>'
        for s in sections
    )
    page = (
        "<!DOCTYPE html>\n"
        f'<html lang="{current_language()}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<header class="wrap"><h1>{_esc(title)}</h1><nav><ul>{toc}</ul></nav></header>'
        f'<main class="wrap">{body}</main>'
        f'<footer class="wrap">{_esc(tr(f"Generated by scratchdl {__version__}."))}</footer>'
        "</body></html>\n"
    )
    return page, sections


def write_report(
    folders: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    title: str = "scratchdl report",
    lang: str = "en",
) -> list[Section]:
    """Write the report for ``folders`` to ``out`` atomically and return its sections."""
    out = Path(out)
    if out.is_dir():
        raise ReportError(f"--out {out} is a folder: give a file name such as report.html")
    page, sections = build_report(folders, title=title, lang=lang)
    atomic_write_text(out, page)
    return sections
