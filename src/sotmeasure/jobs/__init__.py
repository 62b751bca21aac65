"""Background processing: a worker pool claims `pending` measurements and runs the measure step.

The one place that calls `sotmeasure.processing.measure_video` is `jobs.measure_adapter`.
"""

from sotmeasure.jobs.worker import INTERRUPTED_REASON, MeasurementWorker, fail_interrupted

__all__ = ["INTERRUPTED_REASON", "MeasurementWorker", "fail_interrupted"]
