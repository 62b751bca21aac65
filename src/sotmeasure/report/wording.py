"""A stored result in plain words, for the report page and the report folder alike.

Only measurements and their uncertainty: no sentence here interprets a number clinically.
"""

from __future__ import annotations

from sotmeasure.measure.compare import REAL_CHANGE, WITHIN_NOISE
from sotmeasure.measure.result import ResultRecord

COMPONENT_NAMES = {
    "calibration": "camera calibration (marker reprojection)",
    "plane_height": "assumed heel and hip heights above the table",
    "heel_height_difference": "possible height difference between the two heels",
    "heel_resolution": "point-finding resolution",
    "hip_points": "hip point definition",
    "hip_refinement": "hip points left at the pose model's estimate",
    "pelvic_obliquity": "pelvic obliquity the pose model cannot see",
}

#: Said on every page and report of a result measured with the bundled demo calibration.
DEMO_CALIBRATION_SENTENCE = (
    "Demo calibration: measured with the bundled demo calibration of a rendered test rig "
    "(its camera and plane heights), valid only for the bundled demo recordings."
)


def budget_sentences(result: ResultRecord) -> list[str]:
    """The error budget of one measurement in plain words (one sentence per source)."""
    budget = result.error_budget
    out: list[str] = []
    total = budget.total_ci95_half if budget else None
    if total is not None:
        out.append(
            f"Overall, LLD is known to within ±{total.lld_mm or 0:.1f} mm and pelvic tilt "
            f"to within ±{total.pelvic_tilt_deg or 0:.1f} deg (95% confidence)."
        )
    stat = budget.statistical if budget else None
    if stat is not None:
        used = result.frames_used if result.frames_used is not None else "?"
        out.append(
            f"Frame-to-frame variation in the still window contributes "
            f"±{stat.lld_ci95_half_mm or 0:.1f} mm and "
            f"±{stat.pelvic_tilt_ci95_half_deg or 0:.1f} deg (the "
            f"{used} frames used count as about "
            f"{stat.lld_effective_frames or 0:.0f} independent ones, because consecutive "
            "frames are alike)."
        )
    components = (budget.systematic if budget else None) or []
    for c in sorted(components, key=lambda c: -abs(c.lld_u_mm)):
        name = COMPONENT_NAMES.get(str(c.name), str(c.name or "other").replace("_", " "))
        out.append(
            f"{name.capitalize()}: ±{1.96 * c.lld_u_mm:.1f} mm LLD, "
            f"±{1.96 * c.pelvic_tilt_u_deg:.1f} deg tilt (95%); {c.detail or ''}."
        )
    if result.calibration == "homography-only":
        out.append(
            "No camera calibration was used (homography only): points above the table top "
            "are mapped onto it, which the budget above includes."
        )
    if (result.provenance or {}).get("demo_calibration"):
        out.insert(0, DEMO_CALIBRATION_SENTENCE)
    problems = ((result.provenance or {}).get("image_quality") or {}).get("problems") or []
    if problems:
        out.append(f"Image quality: {'; '.join(str(p) for p in problems)}.")
    if result.frames_rejected:
        parts = "; ".join(f"{n} frame(s): {reason}" for reason, n in result.frames_rejected.items())
        out.append(f"Frames not used: {parts}.")
    return out


def hips_sentence(mode: str | None) -> str:
    """What the hip points are in this mode."""
    if mode == "stickers":
        return "Hip points are the centres of the stickers on the PSIS."
    return (
        "Hip points are hip joint centres as estimated by the pose model from the body's "
        "outline, not palpated bony landmarks."
    )


# --- Results in words (the visit page, the report and its PDF use these, nothing else) ---

#: The two verdicts of `measure.compare.verdict`, said as what was measured (never as an
#: effect of a treatment).
VERDICT_WORDS = {
    REAL_CHANGE: "changed by more than the measurement's noise",
    WITHIN_NOISE: "changed within the measurement's noise",
}
VERDICT_EXPLANATION = (
    "“More than the measurement's noise” means the change is larger than both its own 95% "
    "confidence interval half-width and the minimal detectable change (MDC95); otherwise it "
    "is “within the measurement's noise”. It says whether the number changed, not why."
)
#: Where the markerless tilt's caveat comes from: docs/robustness.md (rendered test clips).
MARKERLESS_TILT_CAVEAT = (
    "Markerless pelvic tilt: the hip points are the pose model's estimate of the hip joint "
    "centres, not the PSIS, and on the project's test clips this tilt did not follow the "
    "true tilt of the pelvis (docs/robustness.md): its CI therefore allows a pelvic "
    "obliquity the model does not see, and says little about the pelvis. For the tilt of "
    "the PSIS line, measure with stickers."
)
SIDE_NOT_DETERMINED = "not determined"
MODE_WORDS = {"markerless": "markerless", "stickers": "stickers on heels and PSIS"}

_QUANTITIES = {
    "lld": ("the difference between the legs", "measured leg length difference", "mm"),
    "tilt": ("the pelvic tilt", "measured pelvic tilt", "deg"),
}


def short_side_words(short_side: str | None, ci95: tuple[float, float] | None) -> str:
    """The short side, or "not determined" when the LLD's 95% CI includes zero (the page
    and the report explain the rule next to the sign conventions)."""
    if short_side is None or ci95 is None:
        return "-"
    if ci95[0] <= 0.0 <= ci95[1]:
        return SIDE_NOT_DETERMINED
    if short_side not in ("left", "right"):
        return "none"
    return short_side


def _number(value: float, unit: str) -> str:
    return f"{value:.1f} {unit}"


def change_words(quantity: str, pre: float, post: float, ci95: tuple[float, float]) -> str:
    """The change post - pre in words: got bigger or smaller, by how much, with its CI.

    "Smaller" and "bigger" are about the size of the difference (or tilt), so they are
    only said when pre and post lie on the same side of zero; a change of side is said as
    such. The CI is the CI of that same number (of the size's change, same direction).
    """
    noun, _, unit = _QUANTITIES[quantity]
    change = post - pre
    if pre * post < 0:
        return (
            f"{noun.capitalize()} changed sides: from {pre:+.1f} {unit} to {post:+.1f} {unit} "
            f"(change {change:+.1f} {unit}, 95% CI {ci95[0]:+.1f} to {ci95[1]:+.1f} {unit})."
        )
    side = 1.0 if (pre if pre != 0 else post) >= 0 else -1.0
    size_change = side * change
    low, high = sorted((side * ci95[0], side * ci95[1]))
    if size_change == 0:
        return f"{noun.capitalize()} did not change (95% CI {low:+.1f} to {high:+.1f} {unit})."
    if size_change > 0:
        word, amount, lo, hi = "bigger", size_change, low, high
    else:  # the CI of "smaller by": the negated CI of the size's change
        word, amount, lo, hi = "smaller", -size_change, -high, -low
    return (
        f"{noun.capitalize()} got {word} by {_number(amount, unit)} "
        f"(95% CI {lo:.1f} to {hi:.1f} {unit})."
    )


def verdict_words(quantity: str, verdict: str) -> str:
    """The verdict as a sentence about what was measured."""
    _, measured, _ = _QUANTITIES[quantity]
    return f"The {measured} {VERDICT_WORDS.get(verdict, verdict)}."


def verdict_short(verdict: str) -> str:
    """The verdict for a table cell: "more than noise" / "within noise"."""
    return "more than the noise" if verdict == REAL_CHANGE else "within the noise"


def tilt_caveat(mode: str | None) -> str | None:
    """The caveat printed next to a markerless tilt number (None for sticker tilt)."""
    return None if mode == "stickers" else MARKERLESS_TILT_CAVEAT


def mode_words(mode: str | None) -> str:
    return MODE_WORDS.get(mode or "", "not recorded")


def person_name(full_name: str | None, email: str | None) -> str:
    """A person as a report names them: the stored name, the e-mail only without one."""
    return (full_name or "").strip() or (email or "-")
