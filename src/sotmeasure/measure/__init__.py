"""sotmeasure.measure: pure functions from table-mm points to numbers with uncertainty.

No I/O here: per-frame values (`frame_values`), window statistics (`statistics`), motion
gating and the stillest window (`window`), the error budget (`error_budget`), the result and
its JSON contract (`result`), pre/post comparison (`compare`) and repeatability.
"""

from sotmeasure.measure.errors import MeasurementError

__all__ = ["MeasurementError"]
