"""Robustness bench: is the measurement right, or aware that it is not, on every input?

Issue 11, items 6-7. Every *run* is one clip (rendered, with exact truth), optionally changed
by one realistic image change (bench/perturb.py; what each simulates: docs/robustness.md),
measured through the library exactly as bench/accuracy.py does (`measure_video`, the rendered
rig's setup calibration/setups/rendered_table.toml, a camera profile with the clip's true
intrinsics from its camera.json; a lower-resolution copy gets a rescaled camera.json).

Inputs
  sessions      tests/fixtures/sessions: every clip with a truth.json (not charuco_calibration);
                `stickers` is measured markerless and in sticker mode
  sessions_v2   tests/fixtures/sessions_v2: the 8 clips (copied from ../shared)
  tune, judge   clips rendered with ../shared/scenegen into --rendered DIR (default
                /work/robust_clips); TUNE (seed 7101) is for tuning the code, JUDGE (seed 7202)
                for judging it: keep them apart. Absent: skipped with a printed note.
                Render them (scenegen venv set up as in its README, ~1-4 min per clip):
                  cd ../shared/scenegen
                  $VENV/bin/python scenegen.py --set random --seed 7101 --count 5 \\
                      --out /work/robust_clips/tune
                  $VENV/bin/python scenegen.py --set random --seed 7202 --count 4 \\
                      --out /work/robust_clips/judge
  fresh         clips rendered with seed 7404 (--count 4, --out /work/robust_clips/fresh)
                after the code of 2026-12-07 was written: measured unchanged only, never
                looked at while tuning (new data for each session's judgement).
  fresh2        the same with seed 7606 (--count 4, --out /work/robust_clips/fresh2), rendered
                on 2026-12-07 (third session) before that session's changes, measured only
                once they were made.
  fresh6        the same with seed 8313 (--count 8, --out /work/robust_clips/fresh6), rendered
                on 2026-12-07 (fourth session) while the person mask's floor cut
                (pose/foot_mask.py) was being written, measured only once it was done.

Which changes go on which clips (so the full run fits in ~25 min on 2 cores)
  - every clip once unchanged ("clean");
  - all 11 changes on pre_block (markerless), rotated_body (markerless) and stickers (sticker
    mode: colour and exposure changes matter most to sticker detection);
  - 2 changes on every other measurable clip (not hard_roll / tight_framing, which test
    refusals), taken in turn from the change list so that every change meets varied clips.
  `--quick` (~5 min): pre_block clean + all 11 changes, stickers (sticker mode) clean,
  hard_roll, practitioner_at_feet, pre_towel_beyond_heel and the first JUDGE clip clean.

Classification, separately for LLD (limit 3 mm, CI tolerance 0.5 mm) and tilt (1.5 deg, 0.2 deg).
Let err = measured - truth and miss = how far the truth lies outside the CI95 (0 inside):
  right            |err| <= limit and miss <= tolerance (a CI missing by less than the
                   tolerance still counts as right when the error is small)
  honest-wide      |err| > limit and miss <= tolerance (a CI missing by less than the
                   tolerance counts as honest when the error is large)
  confident-wrong  miss > tolerance, whatever |err| is
  refused          a SotmeasureError (MeasurementError: exit 2) was raised; its text is kept
Coverage counts strictly (truth inside the CI, miss == 0) over measured runs.
Each run also states the honest refusal causes expected for its input (a regex over the
refusal text): a refusal is `reason ok` when its text names one of them, `reason WRONG` when it
does not (e.g. "no still stretch" for a patient who lay still). A measured run is
`off patient` when its measured heel/hip points are not on the patient (median window points
more than 60 mm at table scale from the nearest matching truth pixel); on an input with a second
person in view (composited or rendered) that counts as "second person measured as patient".

    python bench/robustness.py                    # full table and totals
    python bench/robustness.py --quick --jobs 2   # ~5 min subset
    python bench/robustness.py --json             # one JSON object
    python bench/robustness.py --only 'pre_block' # runs whose id matches a regex
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench/ is not a package: its scripts import each other by name (as when run from bench/).
import perturb
from accuracy import SESSIONS, SETUP, profile_from_camera_json, true_tilt_deg
from robustness_why import print_why

ROOT = Path(__file__).resolve().parents[1]
SESSIONS_V2 = ROOT / "tests" / "fixtures" / "sessions_v2"
DEFAULT_RENDERED = Path("/work/robust_clips")
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "sotmeasure-robustness"
RENDERED_GROUPS = ("tune", "judge", "fresh", "fresh2", "fresh6")
#: Groups measured unchanged only (their runs are not given image changes).
CLEAN_ONLY_GROUPS = ("fresh", "fresh2", "fresh6")

LIMITS = {"lld": 3.0, "tilt": 1.5}  # |error| for `right` (mm, deg)
CI_TOLERANCE = {"lld": 0.5, "tilt": 0.2}  # how far outside the CI is still not confident-wrong
ON_PATIENT_MM = 60.0  # measured points farther than this from the truth: not the patient
TARGETS = {
    "confident_wrong": 0,
    "right_share": 0.85,
    "markerless_lld_2mm_share": 0.80,
    "coverage": 0.90,
    "second_person_measured": 0,
}
CLASSES = ("right", "honest-wide", "confident-wrong", "refused")

# Refusal causes a reader would accept as true, as regexes over the refusal text.
QUALITY = r"blur|sharp|focus|contrast|expos|dark|bright|nois|compress|quality|light"
PERSON = r"person|people|second|ambiguous"
HEEL = r"heel|foot|feet"
VISIBILITY = r"no person|not visible|hidden|covered|out of frame|in view"
HIDDEN = r"not visible|hidden|covered"
#: Feet resting on the table: the refusal must name that, not only a heel symptom.
ON_TABLE = r"rest on the table|resting on the table"
MOTION = r"moving|moved|still stretch"
CHANGE_REASONS = {
    "contrast_half": QUALITY,
    "under_exposed": QUALITY,
    "over_exposed": QUALITY,
    "defocus": QUALITY,
    "noise_jpeg": QUALITY,
    "colour_cast": QUALITY + r"|colou?r|sticker",
    "dark_band": HEEL + r"|edge",
    "downscale": r"resolution|pixel|small|" + HEEL,
    "exposure_drift": QUALITY,
    "person_feet": PERSON,
    "person_hips": PERSON,
}
PERSON_CHANGES = ("person_feet", "person_hips")
CLIP_REASONS = {
    "hard_roll": MOTION,
    "tight_framing": VISIBILITY,
    "practitioner_at_feet": PERSON + r"|touch|cover|hand",  # hands at the heels
    "thighs_touching_practitioner_at_hips": PERSON + r"|hip",
    "feet_on_pad_rotated_foot": ON_TABLE,
    "shoes_heel_height_diff": HEEL + r"|shoe|height",
    "dark_pad_compressed": QUALITY,
    "pre_towel_beyond_heel": HEEL + r"|edge",
    "post_wedges": HEEL + r"|edge",
}
FULL_CHANGE_CLIPS = {
    ("sessions", "pre_block", "markerless"),
    ("sessions", "rotated_body", "markerless"),
    ("sessions", "stickers", "stickers"),
}
REFUSAL_CLIPS = {"hard_roll", "tight_framing"}
CHANGES_PER_CLIP = 2


@dataclass(frozen=True, slots=True)
class Run:
    """One measurement to make: a clip folder, a mode and an optional image change."""

    group: str
    clip_dir: Path
    mode: str = "markerless"
    change: str | None = None
    reasons: str | None = None  # regex of the honest refusal causes; None: it should measure

    def with_change(self, change: str) -> Run:
        """The same clip and mode with an image change (and that change's refusal causes)."""
        return Run(
            self.group,
            self.clip_dir,
            self.mode,
            change,
            _reasons(self.group, self.clip_dir, change),
        )

    @property
    def id(self) -> str:
        tail = f":{self.change}" if self.change else ""
        mode = "[stickers]" if self.mode == "stickers" else ""
        return f"{self.group}/{self.clip_dir.name}{mode}{tail}"


# ---------------------------------------------------------------------------------------------
# The plan: which runs


def clip_dirs(folder: Path) -> list[Path]:
    """Clip folders with everything a run needs (a render in progress has no truth.json yet)."""
    need = ("video.mp4", "truth.json", "camera.json", "layout.json")
    if not folder.is_dir():
        return []
    return sorted(d for d in folder.iterdir() if all((d / n).is_file() for n in need))


def rendered_reasons(truth: dict[str, Any]) -> str | None:
    """Honest refusal causes of a scenegen --set random clip, from the options it drew."""
    v2 = truth.get("v2") or {}
    causes = []
    person = v2.get("second_person")
    if person:
        causes.append(PERSON)
        if person.get("where") == "feet":  # hands at the heels, as practitioner_at_feet
            causes.append(CLIP_REASONS["practitioner_at_feet"])
    if (v2.get("feet") or {}).get("mode") == "on_pad":
        causes.append(ON_TABLE)
    if v2.get("shoes") or v2.get("towel"):
        causes.append(HEEL + r"|shoe|edge")
    if abs(v2.get("heel_height_difference_mm") or 0.0) > 5.0:
        causes.append(HEEL + r"|height")
    if not all((v2.get("visible_frame0") or {}).values()):
        causes.append(HIDDEN)
    photo = v2.get("photometric") or {}
    if photo.get("defocus_px", 0) > 1.2 or photo.get("jpeg_quality", 100) < 40:
        causes.append(QUALITY)
    return alternatives(*causes)


def alternatives(*patterns: str | None) -> str | None:
    """One regex of every alternative in `patterns`, each once, in order (None if none)."""
    seen = [a for p in patterns if p for a in p.split("|")]
    return "|".join(dict.fromkeys(seen)) or None


def _reasons(group: str, clip_dir: Path, change: str | None) -> str | None:
    parts = [CLIP_REASONS.get(clip_dir.name)]
    if group in RENDERED_GROUPS:
        parts.append(rendered_reasons(json.loads((clip_dir / "truth.json").read_text())))
    if change:
        parts.append(CHANGE_REASONS[change])
    return alternatives(*parts)


def base_runs(rendered: Path | None) -> list[Run]:
    """Every clip once, unchanged (the stickers clip in both modes)."""
    runs: list[Run] = []
    sources = [("sessions", SESSIONS), ("sessions_v2", SESSIONS_V2)]
    if rendered is not None:
        sources += [(g, rendered / g) for g in RENDERED_GROUPS]
    for group, folder in sources:
        for d in clip_dirs(folder):
            for mode in ("markerless", "stickers") if d.name == "stickers" else ("markerless",):
                runs.append(Run(group, d, mode, None, _reasons(group, d, None)))
    return runs


def changed_runs(bases: Sequence[Run]) -> list[Run]:
    """All changes on the FULL_CHANGE_CLIPS, CHANGES_PER_CLIP in turn on the other clips."""
    names = list(perturb.CHANGES)
    runs: list[Run] = []
    turn = 0
    for b in bases:
        if b.clip_dir.name in REFUSAL_CLIPS or b.group in CLEAN_ONLY_GROUPS:
            continue
        if (b.group, b.clip_dir.name, b.mode) in FULL_CHANGE_CLIPS:
            chosen = names
        elif b.clip_dir.name == "stickers":  # its sticker-mode run takes every change
            continue
        else:
            chosen = [names[(turn + k) % len(names)] for k in range(CHANGES_PER_CLIP)]
            turn += CHANGES_PER_CLIP
        runs += [b.with_change(c) for c in chosen]
    return runs


def quick_runs(bases: Sequence[Run]) -> list[Run]:
    """~5 min: pre_block clean + every change, and a few clean clips that test refusals."""
    keep = {"pre_block", "hard_roll", "practitioner_at_feet", "pre_towel_beyond_heel"}
    picked = [b for b in bases if b.clip_dir.name in keep and b.mode == "markerless"]
    picked += [b for b in bases if b.mode == "stickers"]
    judge = [b for b in bases if b.group == "judge"]
    picked += judge[:1]
    pre = next(b for b in bases if b.clip_dir.name == "pre_block")
    picked += [pre.with_change(c) for c in perturb.CHANGES]
    return picked


# ---------------------------------------------------------------------------------------------
# One run (in a worker process)


def measure_run(run: Run, cache_dir: Path) -> dict[str, Any]:
    """Change the clip (cached), measure it, and return the row with both classifications."""
    from sotmeasure.errors import SotmeasureError
    from sotmeasure.geometry.layout import load_layout
    from sotmeasure.geometry.profile import load_profile
    from sotmeasure.processing import load_setup, measure_video, resolve_params

    t0 = time.perf_counter()
    clip = perturb.changed_clip(run.clip_dir, run.change, cache_dir) if run.change else run.clip_dir
    truth = json.loads((clip / "truth.json").read_text())
    row: dict[str, Any] = {
        "id": run.id,
        "group": run.group,
        "clip": run.clip_dir.name,
        "mode": run.mode,
        "change": run.change,
        "expected_refusal_causes": run.reasons,
        "second_person": run.change in PERSON_CHANGES
        or bool((truth.get("v2") or {}).get("second_person")),
        "true_lld_mm": truth["lld_mm"],
        "true_tilt_deg": true_tilt_deg(truth, run.mode),
        "true_heel_height_difference_mm": heel_height_difference_mm(truth),
        "true_feet": ((truth.get("v2") or {}).get("feet") or {}).get("mode"),
    }
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        profile = load_profile(profile_from_camera_json(clip, Path(tmp)))
    params = resolve_params(mode=run.mode, setup=load_setup(SETUP))  # type: ignore[arg-type]
    try:
        result = measure_video(
            clip / "video.mp4", load_layout(clip / "layout.json"), profile, params
        )
    except SotmeasureError as exc:
        row.update(refused=str(exc))
    except Exception as exc:  # a bug in the measurement code: report it, keep the bench going
        row.update(refused=f"CRASH {type(exc).__name__}: {exc}", crashed=True)
    else:
        camera = perturb.Camera.from_json(json.loads((clip / "camera.json").read_text()))
        row.update(measured_fields(result, truth, camera))
    row.update(
        judge_row(row), change_s=round(t1 - t0, 1), seconds=round(time.perf_counter() - t0, 1)
    )
    return row


def heel_height_difference_mm(truth: dict[str, Any]) -> float | None:
    """Right minus left heel height above the table (mm) in the clip's truth, if it says."""
    heights = truth.get("heel_height_above_table_mm")
    if not heights:
        return None
    return round(float(heights["R"]) - float(heights["L"]), 2)


def measured_fields(result: Any, truth: dict[str, Any], camera: perturb.Camera) -> dict[str, Any]:
    """The numbers of a MeasurementResult (src/sotmeasure/measure/result.py) a row needs."""
    return {
        "lld_mm": round(result.lld_mm, 3),
        "lld_ci95_mm": [round(v, 3) for v in result.lld_ci95_mm],
        "tilt_deg": round(result.pelvic_tilt_deg, 3),
        "tilt_ci95_deg": [round(v, 3) for v in result.pelvic_tilt_ci95_deg],
        "frames_used": result.frames_used,
        "frames_rejected": dict(result.frames_rejected),
        "patient_offset_mm": round(patient_offset_mm(result, truth, camera), 1),
    }


#: The truth points a measured point may stand for (markerless heel edge or heel back,
#: sticker; hip joint centre, PSIS or its sticker): the nearest one counts.
PATIENT_POINTS = {
    "heel_left": ("heel_L", "heel_back_L", "heel_sticker_L"),
    "heel_right": ("heel_R", "heel_back_R", "heel_sticker_R"),
    "hip_left": ("hip_L", "psis_L", "psis_sticker_L"),
    "hip_right": ("hip_R", "psis_R", "psis_sticker_R"),
}


def patient_offset_mm(result: Any, truth: dict[str, Any], camera: perturb.Camera) -> float:
    """Largest distance (table-scale mm) between a measured window point and the nearest truth
    pixel it may stand for on the patient, at the result's representative frame: large when
    the tool measured someone (or something) else."""
    frames = truth["frames"]
    fr = frames[min(int(result.representative_frame), len(frames) - 1)]
    scale = camera.px_per_mm(np.array(fr["points_mm"]["hip_L"]) * (1, 1, 0))
    worst = 0.0
    for ours, candidates in PATIENT_POINTS.items():
        if ours not in result.window_points_px:
            continue
        x, y = result.window_points_px[ours]
        near = min(
            math.hypot(x - fr["points_px"][c][0], y - fr["points_px"][c][1])
            for c in candidates
            if c in fr["points_px"]
        )
        worst = max(worst, near / scale)
    return worst


# ---------------------------------------------------------------------------------------------
# Judging


def classify(err: float, lo: float, hi: float, truth: float, limit: float, tol: float) -> str:
    """right / honest-wide / confident-wrong for one measured number (rules: module doc)."""
    miss = max(lo - truth, truth - hi, 0.0)
    if miss > tol:
        return "confident-wrong"
    return "right" if abs(err) <= limit else "honest-wide"


def refusal_cause(message: str) -> str:
    """The cause part of a refusal: up to the first ';'. What follows is advice ("a
    measurement needs ... hips and heels in view", "record again ...") that would otherwise
    match every expected cause."""
    return message.split(";", 1)[0]


def judge_row(row: dict[str, Any]) -> dict[str, Any]:
    """Classes for LLD and tilt, CI coverage, refusal-reason and other-person checks."""
    if "refused" in row:
        pattern = row["expected_refusal_causes"]
        cause = refusal_cause(row["refused"])
        ok = bool(pattern and not row.get("crashed") and re.search(pattern, cause, re.I))
        return {"lld_class": "refused", "tilt_class": "refused", "reason_ok": ok}
    out: dict[str, Any] = {"reason_ok": None}
    for key, value, ci, true in (
        ("lld", row["lld_mm"], row["lld_ci95_mm"], row["true_lld_mm"]),
        ("tilt", row["tilt_deg"], row["tilt_ci95_deg"], row["true_tilt_deg"]),
    ):
        err = value - true
        out[f"{key}_err"] = round(err, 3)
        out[f"{key}_covers"] = bool(ci[0] <= true <= ci[1])
        out[f"{key}_class"] = classify(err, ci[0], ci[1], true, LIMITS[key], CI_TOLERANCE[key])
    out["off_patient"] = bool(row["patient_offset_mm"] > ON_PATIENT_MM)
    out["second_person_measured"] = bool(out["off_patient"] and row.get("second_person"))
    return out


# ---------------------------------------------------------------------------------------------
# Totals and targets


def _share(hits: int, n: int) -> float | None:
    return None if n == 0 else hits / n


def totals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Class counts, share right, markerless |LLD err| <= 2 mm share, CI coverage."""
    n = len(rows)
    measured = [r for r in rows if "refused" not in r]
    markerless = [r for r in measured if r["mode"] == "markerless"]
    refused = [r for r in rows if "refused" in r]
    out: dict[str, Any] = {"runs": n, "measured": len(measured), "refused": len(refused)}
    for key in ("lld", "tilt"):
        counts = {c: sum(r[f"{key}_class"] == c for r in rows) for c in CLASSES}
        out[key] = {
            "classes": counts,
            "right_share": _share(counts["right"], n),
            "coverage": _share(sum(r[f"{key}_covers"] for r in measured), len(measured)),
        }
    out["markerless_lld_2mm_share"] = _share(
        sum(abs(r["lld_err"]) <= 2.0 for r in markerless), len(markerless)
    )
    out["refusals_reason_ok"] = sum(bool(r["reason_ok"]) for r in refused)
    out["off_patient"] = sum(bool(r.get("off_patient")) for r in measured)
    out["second_person_measured"] = sum(bool(r.get("second_person_measured")) for r in measured)
    return out


def target_checks(t: dict[str, Any]) -> list[dict[str, Any]]:
    """Each issue-11 target: value, target, met, and by how much it is missed."""
    checks: list[tuple[str, float | None, float, bool]] = []  # name, value, target, higher-better
    for key in ("lld", "tilt"):
        checks.append(
            (
                f"{key} confident-wrong runs",
                t[key]["classes"]["confident-wrong"],
                TARGETS["confident_wrong"],
                False,
            )
        )
        checks.append((f"{key} right share", t[key]["right_share"], TARGETS["right_share"], True))
        checks.append((f"{key} CI95 coverage", t[key]["coverage"], TARGETS["coverage"], True))
    checks.append(
        (
            "markerless |LLD err| <= 2 mm share",
            t["markerless_lld_2mm_share"],
            TARGETS["markerless_lld_2mm_share"],
            True,
        )
    )
    checks.append(
        (
            "second person measured as patient",
            t["second_person_measured"],
            TARGETS["second_person_measured"],
            False,
        )
    )
    out = []
    for name, value, target, higher in checks:
        if value is None:
            out.append(
                {"target": name, "value": None, "goal": target, "met": None, "missed_by": None}
            )
            continue
        gap = (target - value) if higher else (value - target)
        out.append(
            {
                "target": name,
                "value": value,
                "goal": target,
                "met": gap <= 0,
                "missed_by": max(gap, 0.0),
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# Printing


def _fmt_num(row: dict[str, Any], key: str, unit_ci: str) -> str:
    if "refused" in row:
        return f"{'':>7} {'':>17} {'refused':>15}"
    lo, hi = row[unit_ci]
    return f"{row[f'{key}_err']:>+7.2f} {f'[{lo:+.1f},{hi:+.1f}]':>17} {row[f'{key}_class']:>15}"


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    head = (
        f"{'run':64} {'LLD err':>7} {'LLD CI95':>17} {'LLD class':>15} {'tilt err':>7} "
        f"{'tilt CI95':>17} {'tilt class':>15} {'s':>4}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        line = (
            f"{r['id'][:64]:64} {_fmt_num(r, 'lld', 'lld_ci95_mm')} "
            f"{_fmt_num(r, 'tilt', 'tilt_ci95_deg')} {r['seconds']:>4.0f}"
        )
        print(line)
        if "refused" in r:
            verdict = "reason ok" if r["reason_ok"] else "reason WRONG"
            print(f"    {verdict}: {r['refused'][:150]}")
        elif r["off_patient"]:
            off = r["patient_offset_mm"]
            extra = " (a second person is in view)" if r.get("second_person") else ""
            print(
                f"    OFF PATIENT: a measured point lies {off:.0f} mm from its truth point{extra}"
            )


def _pct(v: float | None) -> str:
    return "  -  " if v is None else f"{100 * v:5.1f}%"


def print_totals(groups: dict[str, dict[str, Any]], checks: list[dict[str, Any]]) -> None:
    head = (
        f"\n{'totals':14} {'runs':>4} {'meas':>4} | {'LLD R/H/W/F':>12} {'right':>6} {'cover':>6} "
        f"| {'tilt R/H/W/F':>12} {'right':>6} {'cover':>6} | {'ml<=2mm':>7} "
        f"{'reason ok':>9} {'off':>3} {'2nd':>3}"
    )
    print(head)
    for name, t in groups.items():

        def cls(k: str, t: dict[str, Any] = t) -> str:
            c = t[k]["classes"]
            return f"{c['right']}/{c['honest-wide']}/{c['confident-wrong']}/{c['refused']}"

        print(
            f"{name:14} {t['runs']:>4} {t['measured']:>4} | {cls('lld'):>12} "
            f"{_pct(t['lld']['right_share']):>6} {_pct(t['lld']['coverage']):>6} | "
            f"{cls('tilt'):>12} {_pct(t['tilt']['right_share']):>6} "
            f"{_pct(t['tilt']['coverage']):>6} | {_pct(t['markerless_lld_2mm_share']):>7} "
            f"{t['refusals_reason_ok']:>4}/{t['refused']:<4} {t['off_patient']:>3} "
            f"{t['second_person_measured']:>3}"
        )
    print(
        "  classes: R right, H honest-wide, W confident-wrong, F refused; "
        "ml<=2mm: markerless measured runs with |LLD err| <= 2 mm"
    )
    print("\ntargets (issue 11, over all runs):")
    for c in checks:
        if c["met"] is None:
            print(f"  {c['target']:40} no measured runs")
            continue
        fmt = _pct if isinstance(c["goal"], float) else str
        state = "met" if c["met"] else f"MISSED by {fmt(c['missed_by']).strip()}"
        value, goal = fmt(c["value"]).strip(), fmt(c["goal"]).strip()
        print(f"  {c['target']:40} {value:>7} (goal {goal}): {state}")


# ---------------------------------------------------------------------------------------------
# Main


def run_all(
    runs: Sequence[Run],
    cache_dir: Path,
    jobs: int,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure every run in `jobs` worker processes (spawned: MediaPipe is not fork-safe);
    rows come back in plan order."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    if jobs <= 1:
        rows = []
        for r in runs:
            rows.append(measure_run(r, cache_dir))
            if on_done:
                on_done(rows[-1])
        return rows
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(measure_run, r, cache_dir) for r in runs]
        rows = []
        for f in futures:
            rows.append(f.result())
            if on_done:
                on_done(rows[-1])
    return rows


def group_totals(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Totals over all runs, clean vs changed, and per input group (TUNE and JUDGE apart)."""
    sel: dict[str, Iterable[dict[str, Any]]] = {
        "all": rows,
        "clean": [r for r in rows if r["change"] is None],
        "changed": [r for r in rows if r["change"] is not None],
    }
    for g in ("sessions", "sessions_v2", *RENDERED_GROUPS):
        sel[f"{g}"] = [r for r in rows if r["group"] == g]
    return {k: totals(list(v)) for k, v in sel.items() if list(v)}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="~5 min subset")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument(
        "--rendered",
        type=Path,
        default=DEFAULT_RENDERED,
        help="folder holding tune/ and judge/ scenegen clips",
    )
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="changed-video cache")
    p.add_argument("--only", default=None, help="regex: keep runs whose id matches")
    p.add_argument(
        "--from-json", type=Path, default=None, help="re-print the table of a saved --json run"
    )
    return p.parse_args(argv)


def plan(args: argparse.Namespace) -> list[Run]:
    rendered: Path | None = args.rendered
    if rendered is None or not any(clip_dirs(rendered / g) for g in RENDERED_GROUPS):
        print(
            f"note: no rendered clips in {rendered} (tune/, judge/, fresh/, fresh2/, "
            "fresh6/): that part is skipped; render them as the docstring says",
            file=sys.stderr,
        )
        rendered = None
    bases = base_runs(rendered)
    runs = quick_runs(bases) if args.quick else bases + changed_runs(bases)
    if args.only:
        runs = [r for r in runs if re.search(args.only, r.id)]
    return runs


def report(rows: list[dict[str, Any]], wall_s: float, jobs: int, as_json: bool) -> None:
    """Print the table and totals, or one JSON object with the same content."""
    groups = group_totals(rows)
    checks = target_checks(groups["all"]) if rows else []
    if as_json:
        out = {
            "runs": rows,
            "totals": groups,
            "targets": checks,
            "limits": LIMITS,
            "ci_tolerance": CI_TOLERANCE,
            "wall_s": round(wall_s, 1),
            "jobs": jobs,
        }
        print(json.dumps(out, indent=1, default=str))
        return
    print_table(rows)
    print_totals(groups, checks)
    print_why(rows)
    print(f"\n{len(rows)} runs in {wall_s / 60:.1f} min with {jobs} worker(s)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:  # re-judge and re-print a saved --json run (no measuring)
        saved = json.loads(args.from_json.read_text())
        rows = [r | judge_row(r) for r in saved["runs"]]
        report(rows, saved["wall_s"], saved.get("jobs", 0), args.json)
        return 0
    runs = plan(args)
    t0 = time.perf_counter()

    def progress(row: dict[str, Any]) -> None:
        print(f"  done {row['id']} ({row['seconds']:.0f} s)", file=sys.stderr, flush=True)

    rows = run_all(runs, args.cache, args.jobs, progress)
    report(rows, time.perf_counter() - t0, args.jobs, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
