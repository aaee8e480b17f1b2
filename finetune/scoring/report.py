"""The evaluation results as a plain-text table (scores, counts and type names only, never text)."""

from __future__ import annotations

from typing import Any

from finetune.scoring.conlleval import ConllevalResult, format_report

_NAME_WIDTH = 36
_HEADER = (f"{'view':<{_NAME_WIDTH}}{'P':>8}{'R':>8}{'F1':>8}{'TP':>8}{'FP':>8}{'FN':>8}"
           f"{'macro P':>9}{'macro R':>9}{'macro F1':>9}")


def _number(value: float | None, width: int) -> str:
    # None is an undefined macro value; the official script prints it as nan.
    return f"{value:>{width}.4f}" if value is not None else f"{'nan':>{width}}"


def _row(name: str, micro: dict[str, Any], macro: dict[str, Any] | None = None) -> str:
    row = (f"{name:<{_NAME_WIDTH}}{micro['precision']:>8.4f}{micro['recall']:>8.4f}{micro['f1']:>8.4f}"
           f"{micro['tp']:>8}{micro['fp']:>8}{micro['fn']:>8}")
    if macro is not None:
        row += "".join(_number(macro[key], 9) for key in ("precision", "recall", "f1"))
    return row


def _entity_section(results: dict[str, Any]) -> list[str]:
    lines = ["Entity level (strict: exact spans + type; relaxed: overlap + type, one-to-one)", _HEADER]
    for view in ("strict", "relaxed"):
        lines.append(_row(view, results[view]["micro"], results[view]["macro"]))
    for view in ("strict", "relaxed"):
        for name, scores in results[view]["per_type"].items():
            lines.append(_row(f"  {view} {name}", scores))
    return lines


def _official_section(official: dict[str, Any]) -> list[str]:
    lines = [f"i2b2 2014 official views ({official['documents']} documents; labels as the official "
             "script prints them)", _HEADER]

    def add(prefix: str, views: dict[str, Any]) -> None:
        for key, scores in views.items():
            name = scores["label"] or f"{prefix}{key}"
            lines.append(_row(name, scores["micro"], scores["macro"]))

    add("", official["views"])
    for category, views in official["by_category"].items():
        add(f"{category} ", views)
    for subtype, views in official["by_subtype"].items():
        add(f"TYPE={subtype} ", views)
    return lines


def format_tables(results: dict[str, Any], conll: ConllevalResult | None = None) -> str:
    """All sections that apply to `results` (as built by `finetune.scoring.documents.evaluate_documents`).

    Args:
        results: the JSON-shaped results.
        conll: the conlleval counts, printed in conlleval.pl's own format.
    """
    documents = results["documents"]
    lines = [f"{results['format']}: {documents['scored']} documents scored, "
             f"{len(documents['missing_in_pred'])} missing from the prediction, "
             f"{len(documents['extra_in_pred'])} extra predictions", ""]
    lines += _entity_section(results)
    if "i2b2_2014" in results:
        lines += [""] + _official_section(results["i2b2_2014"])
    if conll is not None:
        lines += ["", "conlleval (chunk level, as conlleval.pl prints it)", format_report(conll).rstrip("\n")]
    return "\n".join(lines) + "\n"
