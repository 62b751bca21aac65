"""The pre/post comparison uses a phase's assisted numbers (points the practitioner placed)
when there are any, says so, and keeps the automatic numbers beside them: the API, the
export and the visit page give the same change and the same words.

The placement itself (clicked pixels -> table mm on a measured clip) is tested in
tests/processing/test_assisted.py and the browser test; here a placement is stored as the
service stores one, on imported pre and post results, so the comparison's rule is tested
without measuring a clip.
"""

from __future__ import annotations

import io

import pandas as pd
from api_helpers import PASSWORD, World, make_patient_visit, result_payload
from fastapi.testclient import TestClient

from sotmeasure.measure.error_budget import BudgetComponent, ErrorBudget
from sotmeasure.settings import Settings
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.models import AssistedLandmarks

#: An assisted placement's budget: geometric components plus the click (no frame spread).
ASSISTED_BUDGET = ErrorBudget(
    lld_stat_half_mm=0.0,
    tilt_stat_half_deg=0.0,
    lld_n_eff=1.0,
    tilt_n_eff=1.0,
    components=(
        BudgetComponent("calibration", 0.5, 0.1, "table pose"),
        BudgetComponent("click", 0.4, 0.1, "click placement"),
    ),
)


def _place(settings: Settings, measurement_id: int, user_id: int, lld: float, tilt: float) -> None:
    """Store a placement as `services.assisted.place_landmarks` stores one."""
    half, tilt_half = ASSISTED_BUDGET.lld_half_mm, ASSISTED_BUDGET.tilt_half_deg
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine)() as session:
            session.add(
                AssistedLandmarks(
                    measurement_id=measurement_id,
                    frame_index=10,
                    points_px={"heel_left": [1, 2]},
                    lld_mm=lld,
                    lld_ci95_low_mm=lld - half,
                    lld_ci95_high_mm=lld + half,
                    short_side="left",
                    pelvic_tilt_deg=tilt,
                    pelvic_tilt_ci95_low_deg=tilt - tilt_half,
                    pelvic_tilt_ci95_high_deg=tilt + tilt_half,
                    details={"error_budget": ASSISTED_BUDGET.to_dict()},
                    placed_by_id=user_id,
                )
            )
            session.commit()
    finally:
        engine.dispose()


def test_the_comparison_uses_and_names_assisted_numbers(
    client: TestClient, world: World, settings: Settings
) -> None:
    a = world.headers["prac_a"]
    _pid, vid = make_patient_visit(client, a)
    ids = {}
    for phase, lld in (("pre", 3.0), ("post", 3.5)):
        r = client.post(
            f"/visits/{vid}/measurements",
            json={"phase": phase, "result": result_payload(lld, 1.0, 1.0, 0.5)},
            headers=a,
        )
        assert r.status_code == 201, r.text
        ids[phase] = r.json()["id"]
    automatic = client.get(f"/visits/{vid}/comparison", headers=a).json()["comparison"]
    assert automatic["change"]["lld_mm"] == 0.5
    assert automatic["verdict"]["lld"] == "within noise"
    assert automatic["numbers_used"]["post"]["numbers"] == "automatic"

    # The practitioner places the post's points: LLD 12.0 mm, tilt 1.2 deg
    _place(settings, ids["post"], world.users["prac_a"], 12.0, 1.2)
    got = client.get(f"/visits/{vid}/comparison", headers=a).json()["comparison"]
    used = got["numbers_used"]
    assert used["pre"]["numbers"] == "automatic" and used["post"]["numbers"] == "assisted"
    assert used["post"]["lld_mm"] == 12.0 and used["post"]["placed_by_id"] == world.users["prac_a"]
    assert got["change"]["lld_mm"] == 9.0  # 12.0 - 3.0: the assisted post
    assert abs(got["change"]["pelvic_tilt_deg"] - 0.2) < 1e-9
    assert got["verdict"]["lld"] == "real change"  # 9.0 mm > MDC95 3.7 mm and > CI half
    half = (got["change"]["lld_ci95_mm"][1] - got["change"]["lld_ci95_mm"][0]) / 2
    assert abs(half - (1.0**2 + ASSISTED_BUDGET.lld_half_mm**2) ** 0.5) < 0.01
    assert got["post"]["lld_mm"] == 3.5  # the automatic result stays as it was

    # The export: the same change, which numbers entered it, both numbers on the row
    csv = client.get("/exports/measurements.csv", headers=a)
    assert csv.status_code == 200
    rows = pd.read_csv(io.StringIO(csv.text)).set_index("measurement_id")
    post = rows.loc[ids["post"]]
    assert post["visit_lld_change_mm"] == 9.0 and post["visit_lld_verdict"] == "real change"
    assert post["visit_pre_numbers"] == "automatic" and post["visit_post_numbers"] == "assisted"
    assert post["lld_mm"] == 3.5 and post["assisted_lld_mm"] == 12.0 and bool(post["assisted"])

    # The visit page prints the numbers it compared and says which they are
    login = client.post(
        "/ui/login",
        data={"email": "prac_a@example.org", "password": PASSWORD},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert login.status_code == 303
    page = client.get(f"/ui/visits/{vid}").text
    assert 'id="numbers-used" data-pre="automatic" data-post="assisted"' in page
    assert "post assisted: points placed by prac_a@example.org" in page
    assert "+12.0 mm" in page and "+9.0 mm" in page
    report = client.get(f"/ui/visits/{vid}/report").text
    assert "post assisted: points placed by" in report
