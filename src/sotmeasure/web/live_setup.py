"""Which setup the live preview of a visit analyses with: the visit's setup version (its
choice, else the clinic's default setup), else the installation setup, exactly the version
a measurement queued now would record (`services.setups.version_for_visit`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sotmeasure.jobs.measure_adapter import setup_version_files
from sotmeasure.processing.setup import load_files
from sotmeasure.services.access import get_visit
from sotmeasure.services.context import AppContext
from sotmeasure.services.setups import version_for_visit, version_label
from sotmeasure.store.models import User
from sotmeasure.web.live import LiveHub, LiveSetupChoice

if TYPE_CHECKING:
    from sotmeasure.web.live_analysis import LiveAnalyser


def live_setup_for_visit(
    ctx: AppContext, hub: LiveHub, user: User, visit_id: int | None
) -> LiveSetupChoice | None:
    """The visit's setup for the live analysis (None without a visit: keep the camera's).

    A visit the user may not see is a NotFoundError, as on every visit route."""
    if visit_id is None:
        return None
    with ctx.sessions() as session:
        visit = get_visit(session, user, visit_id)
        version = version_for_visit(session, visit)
        if version is None:
            return hub.installation_setup()
        files = setup_version_files(ctx.settings, version)
        key, label = f"version-{version.id}", version_label(version)
    mode = ctx.settings.measure_mode

    def factory() -> LiveAnalyser:
        # Imported on first use: the pose model loads when a live camera first runs.
        from sotmeasure.web.live_analysis import LiveAnalyser

        return LiveAnalyser(load_files(files, mode=mode))

    return LiveSetupChoice(key, label, factory)
