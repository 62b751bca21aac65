"""What every request handler may need, built once per app in `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sotmeasure.jobs.worker import MeasurementWorker
from sotmeasure.settings import Settings
from sotmeasure.store.recording_files import RecordingFiles


@dataclass
class AppContext:
    """Settings, database and file store of one app instance (stored on `app.state.ctx`)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    files: RecordingFiles
    worker: MeasurementWorker | None = None

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()
