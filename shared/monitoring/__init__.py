"""Operations: the bad-buzz rule, the local store of prediction events, loop run reports.

- `buzz`: the bad-buzz rule, computed exactly as shared/queries/bad_buzz.kql computes it (pure).
- `events`: a bounded local store of prediction events (time, label, P(negative), model version,
  language; never the text), read by GET /api/buzz.
- `run_report`: `loop_run` log records (harvest, retrain outcomes) that the loop alerts count.
"""
