"""The feedback path, one module per concern.

- `event`: the one definition of a feedback event (what a click records).
- `token`: the signed token predict returns, so only real predictions get feedback.
- `sinks`: where the API writes events (local SQLite, or App Insights), durably before the 202.
- `records`: harvested records and the watermark (pure).
- `sources`: where the harvest reads events (SQLite, or Log Analytics through KQL).
- `index`: the harvest index, partitioned by the UTC day of flagging (which batches count).
- `state`: the harvest's watermark and consumption generation beside the index, and what
  retraining calls (`read_feedback`, `mark_consumed`).
- `dispatch`: retrain requests and their dispatch to GitHub Actions.
- `harvest`: the weekly harvest itself (timer and `python -m shared.feedback.harvest`).
"""
