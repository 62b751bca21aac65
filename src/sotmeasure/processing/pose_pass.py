"""The per-frame part of a measurement: frames -> model -> everything after the model.

Two ways to run the same steps in the same order, so with the same numbers:
`overlapped` (what `measure` does): decoding and the model's input in threads ahead of the
model, the model in the caller's thread, everything after it (`finish`) in a worker thread
behind it (processing/stream.py), so the model's thread does nothing but the model;
`in_turn`: every step in the caller's thread, one frame after the other (one core: a
batch worker per core, bench/batch_scale.py --overlap off).

Both take the frames as any iterable, so bench/pose_speed.py times exactly this code on
frames decoded beforehand.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from typing import Any, TypeVar

from sotmeasure.capture.frame import Frame
from sotmeasure.pose.pipeline import ModelInput, PosePipeline
from sotmeasure.processing.stream import ReadAhead, StageClock, ordered_map, timed

R = TypeVar("R")

#: Model inputs made ahead of the model (each a downscaled, head-up RGB copy).
PREPARED_AHEAD = 2

#: The model's output for one frame, as `PosePipeline.finish` takes it.
Tracked = tuple[Frame, list[Any]]


def overlapped(
    frames: Iterable[Frame],
    pipeline: PosePipeline,
    finish: Callable[[Tracked], R],
    clock: StageClock | None = None,
) -> Generator[R, None, None]:
    """`finish(frame, model output)` of every frame, in order, the stages overlapping.

    Close it (`contextlib.closing`) to stop its threads early, e.g. on an error.
    """
    est = pipeline.estimator

    def prepared() -> Iterator[tuple[Frame, ModelInput | None]]:
        with ReadAhead(frames, clock=clock, background=True) as decoded:
            for frame in decoded:
                with timed(clock, "model_input"):
                    inp = None if est is None else pipeline.model_input(frame.image)
                yield frame, inp

    def tracked() -> Generator[Tracked, None, None]:
        with ReadAhead(prepared(), ahead=PREPARED_AHEAD, background=True) as ready:
            for frame, inp in ready:
                with timed(clock, "model"):
                    people = pipeline.track(frame, inp)
                yield frame, people

    with (
        closing(tracked()) as items,
        closing(ordered_map(finish, items, background=True)) as results,
    ):
        yield from results


def in_turn(
    frames: Iterable[Frame],
    pipeline: PosePipeline,
    finish: Callable[[Tracked], R],
    clock: StageClock | None = None,
) -> Generator[R, None, None]:
    """The same steps one after the other in the caller's thread."""
    est = pipeline.estimator
    it = iter(frames)
    while True:
        with timed(clock, "decode"):
            frame = next(it, None)
        if frame is None:
            return
        with timed(clock, "model_input"):
            inp = None if est is None else pipeline.model_input(frame.image)
        with timed(clock, "model"):
            people = pipeline.track(frame, inp)
        yield finish((frame, people))
