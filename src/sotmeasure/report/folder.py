"""The report folder of a pre/post comparison: images, plots, report.json/.md/.html.

Wording rule: measurements and their uncertainty only. No health claim, no diagnosis, no
advice; hips are named for what they are (the pose model's hip joint centres).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from sotmeasure.measure.compare import Comparison
from sotmeasure.measure.result import MeasurementResult
from sotmeasure.report.annotate import write_annotated
from sotmeasure.report.plot import write_series_plot
from sotmeasure.report.wording import (
    VERDICT_EXPLANATION,
    budget_sentences,
    change_words,
    hips_sentence,
    short_side_words,
    verdict_words,
)

DISCLAIMER = (
    "This report states measurements and their uncertainty only. It makes no health claim, "
    "no diagnosis and no treatment recommendation."
)


def _ci(lo_hi: tuple[float, float] | list[float], unit: str) -> str:
    return f"{lo_hi[0]:+.1f} to {lo_hi[1]:+.1f} {unit}"


def _phase_md(name: str, r: MeasurementResult) -> list[str]:
    return [
        f"## {name}",
        "",
        f"![{name} frame]({name}_frame.png)",
        "",
        f"- LLD: **{r.lld_mm:+.1f} mm** (95% CI {_ci(r.lld_ci95_mm, 'mm')}); short side: "
        f"{short_side_words(r.short_side, r.lld_ci95_mm)} (positive LLD = right heel further "
        "toward the feet; not determined when the 95% CI includes 0)",
        f"- Pelvic tilt: **{r.pelvic_tilt_deg:+.1f} deg** (95% CI "
        f"{_ci(r.pelvic_tilt_ci95_deg, 'deg')}); positive = left hip more toward the head",
        f"- Body axis: {r.body_axis_deg:+.1f} deg to the table's long axis",
        f"- Window: {r.window.start_s:.1f}-{r.window.end_s:.1f} s, {r.frames_used} frames used "
        f"of {r.frames_total}; rejected: "
        + (", ".join(f"{k} ({v})" for k, v in r.frames_rejected.items()) or "none"),
        f"- Calibration: {r.calibration}; mode: {r.mode}. {hips_sentence(r.mode)}",
        "",
        f"![{name} series]({name}_series.png)",
        "",
        "Error budget:",
        "",
        *[f"- {s}" for s in budget_sentences(r.to_record())],
        "",
    ]


def report_markdown(c: Comparison) -> str:
    d = c.to_dict()
    ch = d["change"]
    lines = [
        "# sotmeasure report: pre/post comparison",
        "",
        DISCLAIMER,
        "",
        "## Change (post - pre)",
        "",
        f"- LLD change: **{ch['lld_mm']:+.1f} mm** (95% CI {_ci(ch['lld_ci95_mm'], 'mm')}); "
        f"minimal detectable change {c.mdc95.lld_mm:.1f} mm. "
        + change_words("lld", c.pre.lld_mm, c.post.lld_mm, tuple(ch["lld_ci95_mm"]))
        + f" **{verdict_words('lld', d['verdict']['lld'])}**",
        f"- Pelvic tilt change: **{ch['pelvic_tilt_deg']:+.1f} deg** (95% CI "
        f"{_ci(ch['pelvic_tilt_ci95_deg'], 'deg')}); minimal detectable change "
        f"{c.mdc95.pelvic_tilt_deg:.1f} deg. "
        + change_words(
            "tilt", c.pre.pelvic_tilt_deg, c.post.pelvic_tilt_deg, tuple(ch["pelvic_tilt_ci95_deg"])
        )
        + f" **{verdict_words('tilt', d['verdict']['pelvic_tilt'])}**",
        "",
        f"{VERDICT_EXPLANATION} MDC source: {c.mdc95.source}",
        "",
        *_phase_md("pre", c.pre),
        *_phase_md("post", c.post),
        "## Provenance",
        "",
        "```json",
        json.dumps({"pre": c.pre.provenance, "post": c.post.provenance}, indent=1),
        "```",
        "",
    ]
    return "\n".join(lines)


def _md_to_html(md: str) -> str:
    """A tiny, safe Markdown subset (headings, bullets, bold, images, code) to HTML."""
    import re

    body: list[str] = []
    in_list = in_code = False
    for raw in md.splitlines():
        if raw.startswith("```"):
            body.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
            continue
        if in_code:
            body.append(html.escape(raw))
            continue
        line = html.escape(raw)
        line = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", line)
        line = re.sub(
            r"!\[(.*?)\]\((.+?)\)", r'<img alt="\1" src="\2" style="max-width:100%">', line
        )
        if line.startswith("- "):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{line[2:]}</li>")
            continue
        if in_list:
            body.append("</ul>")
            in_list = False
        if line.startswith("## "):
            body.append(f"<h2>{line[3:]}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{line[2:]}</h1>")
        elif line.strip():
            body.append(f"<p>{line}</p>")
    if in_list:
        body.append("</ul>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>sotmeasure report</title><style>body{font-family:sans-serif;max-width:60em;"
        "margin:2em auto;padding:0 1em}pre{background:#f4f4f4;padding:1em;overflow:auto}"
        "</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )


def write_comparison_report(
    out_dir: Path, comparison: Comparison, pre_video: Path, post_video: Path
) -> dict[str, Any]:
    """Write the whole folder; returns {name: path} of what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {}
    for name, result, video in (
        ("pre", comparison.pre, pre_video),
        ("post", comparison.post, post_video),
    ):
        written[f"{name}_frame"] = write_annotated(
            video, result, f"{name.upper()}", out_dir / f"{name}_frame.png"
        )
        written[f"{name}_series"] = write_series_plot(
            result, f"{name}: per-frame values", out_dir / f"{name}_series.png"
        )
    (out_dir / "report.json").write_text(
        json.dumps(comparison.to_dict(include_frames=True), indent=1) + "\n", encoding="utf-8"
    )
    md = report_markdown(comparison)
    (out_dir / "report.md").write_text(md, encoding="utf-8")
    (out_dir / "report.html").write_text(_md_to_html(md), encoding="utf-8")
    for name in ("report.json", "report.md", "report.html"):
        written[name] = out_dir / name
    return written
