"""What recording a prediction in the local event store costs POST /api/predict.

    python bench/bench_prediction_events.py

Calls `record_predictions` (the one call predict_texts makes) with one result, N times, into a
fresh store in a temporary folder (buffered writes, one SQLite transaction per 256 events, pruned
at the bound), then reads the last hour back as GET /api/buzz does.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CALLS = 100_000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.environ["PREDICTION_EVENTS_PATH"] = str(Path(folder) / "events.sqlite3")
        os.environ["PREDICTION_EVENTS_MAX"] = "50000"
        from shared.monitoring.events import current_store, record_predictions

        result = [SimpleNamespace(label="negative", negative_probability=0.9,
                                  model_version="v1", language="en")]  # fmt: skip
        record_predictions(result)
        started = time.perf_counter()
        for _ in range(CALLS):
            record_predictions(result)
        per_call = (time.perf_counter() - started) / CALLS
        store = current_store()
        assert store is not None
        started = time.perf_counter()
        events = store.since(time.time() - 3600)
        read = time.perf_counter() - started
        print(f"record, 1 text: {per_call * 1e6:.1f} us per call over {CALLS:,} calls")
        print(f"read back the last hour: {len(events):,} events in {read * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
