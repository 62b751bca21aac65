"""Settings of the practitioner web pages that the service's Settings does not carry.

Why a separate object: the camera source itself lives in `sotmeasure.settings.Settings`
(`SOTMEASURE_CAMERA_SOURCE`), but how long a capture lasts, how often the live preview runs
the pose model and how big the preview is are page concerns. Same `SOTMEASURE_` prefix, so
an installation configures everything the same way.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    """Page, live-preview and capture settings (environment prefix `SOTMEASURE_`)."""

    model_config = SettingsConfigDict(env_prefix="SOTMEASURE_", extra="ignore")

    capture_seconds: float = Field(
        default=4.0,
        ge=1.0,
        le=30.0,
        description="Length of the window 'Measure pre/post' records from the live source.",
    )
    live_measurement: bool = Field(
        default=True,
        description=(
            "Measure a capture while it records, so its result is ready when it is stored "
            "(false: every capture is measured by the worker afterwards)."
        ),
    )
    live_wait_s: float = Field(
        default=5.0,
        gt=0.0,
        description=(
            "How long a stored capture waits for the measurement made while it recorded "
            "before the worker measures it instead (the worker needs ~6 s for 4 s on 2 cores)."
        ),
    )
    live_pose_hz: float = Field(
        default=3.0,
        gt=0.0,
        le=30.0,
        description="How often the live preview runs the pose model (keeps 2 cores responsive).",
    )
    preview_fps: float = Field(default=12.0, gt=0.0, le=30.0, description="MJPEG frame rate.")
    preview_width_px: int = Field(
        default=960, ge=160, le=3840, description="Width of the preview stream's frames."
    )
    live_idle_stop_s: float = Field(
        default=5.0,
        gt=0.0,
        description="Release the camera this long after the last viewer left.",
    )
    cookie_secure: bool = Field(
        default=False,
        description="Send the login cookie over HTTPS only (set true behind a TLS proxy).",
    )
