"""Helpers for the sweeps' ``summary.md``: number formatting that never hides a value.

Each summary is written from a ``findings`` dict that is also stored in ``results.json``; the
formatters below are the only way numbers enter the text, so every number a reader sees can be
traced to a stored value (``assert_summary_numbers_in_results`` in the tests checks that).
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from scratchdl.experiments.summary_ko import sentence, word
from scratchdl.plots.korean import requested_language

__all__ = ["Summary", "acc", "group_metric", "pm", "sig", "words_list"]


def sig(value: float, digits: int = 3, strip: bool = True) -> str:
    """``value`` to ``digits`` significant figures, never in exponent notation, no trailing
    zeros (``2.0`` -> ``"2"``, ``0.000414`` -> ``"0.000414"``); ``strip=False`` keeps them, so
    numbers set side by side show the same precision (``2.300`` beside ``2.303``)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:.0f}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if strip and "." in text else text


def acc(value: float | None) -> str:
    """An accuracy (or other fraction) with 3 decimals; "n/a" if missing."""
    return "n/a" if value is None else f"{value:.3f}"


def pm(stat: Mapping[str, Any], sig_digits: int | None = None) -> str:
    """``mean ± std`` of an aggregate (3 decimals, or ``sig_digits`` significant figures for
    the mean and 2 for the std), just the mean for one seed."""
    if stat.get("mean") is None:
        return "n/a"
    fmt = acc if sig_digits is None else (lambda v: sig(v, sig_digits))
    if stat.get("n", 0) < 2:
        return fmt(stat["mean"])
    std = acc(stat["std"]) if sig_digits is None else sig(stat["std"], 2)
    return f"{fmt(stat['mean'])} ± {std}"


def words_list(items: Sequence[str], lang: str = "en") -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"`` (Korean: ``"a, b, c"``)."""
    items = list(items)
    if len(items) <= 1 or lang == "ko":
        return ", ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def group_metric(group: Mapping[str, Any], path: str, field: str = "mean") -> float | None:
    """One aggregate number of a group, e.g. ``group_metric(g, "final.test_acc")``."""
    stat = group["metrics"].get(path)
    return None if stat is None else stat.get(field)


#: The format specs of :class:`Summary`, each a function of the value.
_SPECS = {
    "acc": acc,
    "pm": pm,
    "loss": lambda v: sig(v, 4, strip=False),
    "losspm": lambda v: pm(v, sig_digits=4),  # a seed aggregate of losses, which may be near 0
    "x": lambda v: f"{v:.1f}",  # a ratio such as 4.1 (the template writes the ×)
    "sig": sig,
    "sigs": lambda vs: ", ".join("n/a" if v is None else sig(v) for v in vs),  # "0.5, 0.25, 0.1"
}


class _Formatter(string.Formatter):
    """``{name:spec}`` with the specs of :class:`Summary`; plain floats get 3 significant
    figures. ``lang="ko"`` joins lists the Korean way and puts words (a budget, a verdict) in
    Korean; numbers print the same in both."""

    def __init__(self, lang: str = "en") -> None:
        super().__init__()
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if self.lang == "ko" and isinstance(value, str):
            return super().format_field(word(value), format_spec)
        if value is None:
            return "n/a"
        if format_spec == "" and isinstance(value, float):
            format_spec = "sig"
        if format_spec in _SPECS:
            return _SPECS[format_spec](value)
        if format_spec == "list":
            items = [sig(v) if isinstance(v, float) else str(v) for v in value]
            return words_list([word(v) for v in items] if self.lang == "ko" else items, self.lang)
        return super().format_field(value, format_spec)


_FORMAT, _FORMAT_KO = _Formatter(), _Formatter("ko")


class Summary:
    """A ``summary.md`` written as plain sentences filled from named numbers.

    Each sentence is a template (``"lr {lr} reached {acc:pm} in {budget}"``) and the values
    that fill it; both are kept, in order, in the findings stored in ``results.json``
    (``findings["said"]``), so every number in the text can be traced to a stored value.
    ``{budget}`` is filled in every sentence: the budget the sweep measured under.

    Format specs: ``acc`` (3 decimals), ``pm`` (a seed aggregate as mean ± std), ``sig``
    (3 significant figures, the default for floats), ``loss`` (4 significant figures: losses
    near 2.30 differ in the third), ``losspm`` (a seed aggregate of losses: mean to 4 and std
    to 2 significant figures, readable near 0), ``x`` (a ratio such as 4.1), ``list``
    ("a, b and c"; floats as ``sig``), ``sigs`` (numbers, each as ``sig``: "0.5, 0.25, 0.1"); ints and strings
    print as they are.
    """

    def __init__(self, res: Any, title: str, lang: str | None = None) -> None:
        self.res = res
        # Korean when 'sweep --lang ko' asked for it (set_language); the findings keep the
        # English templates either way.
        self.lang = requested_language() if lang is None else lang
        self.budget = res.options["budget"]["text"]
        self.findings: dict[str, Any] = {"budget": res.options["budget"], "said": []}
        question = self._words(res.question)
        label = "**질문:**" if self.lang == "ko" else "**Question:**"
        self.lines = [f"# {self._words(title)}", "", f"{label} {question}", ""]

    def _words(self, text: str) -> str:
        """A title, heading or header cell in the summary's language."""
        return word(text) if self.lang == "ko" else text

    def _fill(self, template: str, values: dict[str, Any]) -> str:
        values = {"budget": self.budget, **values}
        stored = {k: asdict(v) if is_dataclass(v) else v for k, v in values.items()}
        self.findings["said"].append({"template": template, "values": stored})
        if self.lang == "ko":
            return _FORMAT_KO.format(sentence(template), **values)
        return _FORMAT.format(template, **values)

    def heading(self, title: str) -> None:
        self.lines += ["", f"## {self._words(title)}", ""]

    def say(self, template: str, **values: Any) -> None:
        """A paragraph."""
        self.lines += [self._fill(template, values), ""]

    def bullet(self, template: str, **values: Any) -> None:
        """A list item."""
        self.lines.append("- " + self._fill(template, values))

    def table(self, header: Sequence[str], row: str, rows: Sequence[dict[str, Any]]) -> None:
        """A markdown table: ``row`` is the template of one row's cells, ``"{a} | {b:acc}"``."""
        self.lines += [
            "",
            "| " + " | ".join(self._words(h) for h in header) + " |",
            "|" + "---:|" * len(header),
            *("| " + self._fill(row, dict(r)) + " |" for r in rows),
            "",
        ]

    def done(self, figures: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
        """The markdown text and the findings."""
        if figures:
            label = "그림: " if self.lang == "ko" else "Figures: "
            self.lines += ["", label + ", ".join(f"`{n}`" for n in figures)]
        text = "\n".join(self.lines).rstrip() + "\n"
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
        return text, self.findings
