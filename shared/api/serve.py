"""Run the API locally under uvicorn: the same app the Function App runs, on a loopback port.

`bad-buzz serve` calls `serve`; `python -m shared.api.serve --port 7071` does the same without
the training extras. Port 7071 is the Functions host's, so the page and docs behave the same
whichever of the two is running.
"""

from __future__ import annotations

import argparse

from shared.api.app import create_app
from shared.settings import Settings, get_settings
from shared.telemetry import configure_telemetry

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7071


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    settings: Settings | None = None,
    access_log: bool = False,
) -> None:
    """Block serving HTTP until interrupted; loopback only unless `host` says otherwise.

    No access log by default: a line per request costs ~0.1 ms on the event loop, and the app's
    spans already record every prediction.
    """
    import uvicorn  # a dev dependency: the Function App does not need it

    settings = settings or get_settings()
    configure_telemetry(settings)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        server_header=False,
        proxy_headers=False,
        log_level="info",
        access_log=access_log,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the bad-buzz API under uvicorn.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to bind (loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (7071)")
    parser.add_argument("--access-log", action="store_true", help="log every request (debugging)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    serve(args.host, args.port, access_log=args.access_log)


if __name__ == "__main__":
    main()
