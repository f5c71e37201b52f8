"""Azure Functions entry point: the FastAPI app behind one HTTP trigger that takes every route.

Kept thin on purpose: everything lives in `shared.api`, which `bad-buzz serve` and the tests run
unchanged. Authentication is done by the app (AUTH_MODE), not by Functions keys, so the page,
the docs and the health check stay open while predict needs the x-api-key header. Other triggers
(the weekly feedback harvest) register on this same `app` object.
"""

import azure.functions as func

from shared.api.app import create_app
from shared.settings import get_settings
from shared.telemetry import configure_telemetry

configure_telemetry(get_settings())
api = create_app()
app = func.AsgiFunctionApp(app=api, http_auth_level=func.AuthLevel.ANONYMOUS)


@app.timer_trigger(schedule="%HARVEST_SCHEDULE%", arg_name="timer", run_on_startup=False)
def feedback_harvest(timer: func.TimerRequest) -> None:
    """Weekly: flagged predictions into Blob Storage; a retrain request past the threshold."""
    from shared.feedback.harvest import harvest_timer

    harvest_timer(timer)
