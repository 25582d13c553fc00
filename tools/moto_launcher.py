"""Serve moto's AWS endpoints on loopback, one request at a time, corrected.

moto's own server is threaded, and its conditional writes are not atomic under
concurrent requests: two racing PutItem calls with attribute_not_exists can
both succeed. DynamoDB never allows that, so the tests would prove nothing.
This launcher runs moto's WSGI application under one lock, which makes every
request atomic with respect to every other one. Connections have threads of
their own and keep alive: a request is read in full before it takes the lock,
so a slow or idle client never holds the server (docs/adr/0005).

Before serving, it installs the corrections of moto_fixes.py (atomic
transactions that never replace a table, queries that read one partition,
Kinesis reads that go straight to their position, expiring stream
iterators), and refuses to start if moto is not the code they were written
for.

It binds the requested port (0 picks a free one), writes the bound port to
--port-file once it accepts connections, and exits when told to (SIGINT,
SIGTERM) or when the process named by --parent-pid is gone, so an interrupted
test run never leaves a server behind.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time

from waitress.server import create_server

import moto_fixes

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)


class Stop(Exception):
    """Raised in the serving thread to end the server."""


def watch_parent(parent_pid: int) -> None:
    while True:
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        time.sleep(0.5)


STATS_PATH = "/moto-api/annals/stats"


def operation(environ) -> str:
    """The AWS operation of a request: its X-Amz-Target's action, or the
    Action of a query-protocol request, or its method and path."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    return environ.get("REQUEST_METHOD", "") + " " + environ.get("PATH_INFO", "")


def serialized(app):
    """Run app one request at a time: the lock is held from the call until
    the response body is complete. Each operation's count and time under
    the lock are kept; GET /moto-api/annals/stats returns them (DELETE
    resets them), so that benchmarks can say where the server's time goes."""
    lock = threading.Lock()
    stats: dict[str, list[float]] = {}

    def serve(environ, start_response):
        if environ.get("PATH_INFO") == STATS_PATH:
            with lock:
                if environ.get("REQUEST_METHOD") == "DELETE":
                    stats.clear()
                body = json.dumps({op: {"count": int(c), "ms": round(ms, 3)} for op, (c, ms) in sorted(stats.items())}).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        op = operation(environ)
        with lock:
            began = time.perf_counter()
            result = app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                if hasattr(result, "close"):
                    result.close()
                entry = stats.setdefault(op, [0, 0.0])
                entry[0] += 1
                entry[1] += (time.perf_counter() - began) * 1000

    return serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once serving")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    args = parser.parse_args()

    try:
        moto_fixes.apply()
    except moto_fixes.MotoMismatch as e:
        print(f"moto_launcher: {e}; update tools/moto_fixes.py (docs/adr/0005) before serving", file=sys.stderr, flush=True)
        sys.exit(3)
    app = serialized(DomainDispatcherApplication(create_backend_app))
    # waitress reads each request in full on its I/O thread before the
    # application sees it, writes responses there too, and keeps
    # connections alive: a slow or idle client never holds the one worker.
    server = create_server(
        app,
        host=args.host,
        port=args.port,
        threads=1,
        connection_limit=4096,
        backlog=1024,
        channel_timeout=300,
        ident="moto",
    )
    port = server.effective_port
    # moto builds some URLs (SQS queue URLs) from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)

    def stop(signum, frame):
        # Signals are handled on the main thread, which runs the server's
        # loop: raising here ends it.
        raise Stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"moto serving on http://{args.host}:{port} (one request at a time, corrected for {moto_fixes.MOTO_VERSION})", file=sys.stderr, flush=True)
    try:
        server.run()
    except Stop:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
