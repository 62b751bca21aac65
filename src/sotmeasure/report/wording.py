"""A stored result in plain words, for the report page and the report folder alike.

Only measurements and their uncertainty: no sentence here interprets a number clinically.
"""

from __future__ import annotations

from sotmeasure.measure.result import ResultRecord

COMPONENT_NAMES = {
    "calibration": "camera calibration (marker reprojection)",
    "plane_height": "assumed heel and hip heights above the table",
    "heel_height_difference": "possible height difference between the two heels",
    "heel_resolution": "point-finding resolution",
    "hip_points": "hip point definition",
    "hip_refinement": "hip points left at the pose model's estimate",
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
