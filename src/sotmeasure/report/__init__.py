"""sotmeasure.report: annotated frames, time-series plots and the report folder.

Reports state measurements and their uncertainty only: no health claim, no diagnosis, no
advice (docs/MEASUREMENT.md, "What a report must not say").
"""
