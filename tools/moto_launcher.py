"""Serve moto's AWS endpoints on loopback, one request at a time, corrected.

moto's own server is threaded, and its conditional writes are not atomic under
concurrent requests: two racing PutItem calls with attribute_not_exists can
both succeed. DynamoDB never allows that, so the tests would prove nothing.
This launcher serves the same WSGI application from a single thread, which
makes every request atomic with respect to every other one (docs/adr/0002).

Before serving, it installs the corrections of moto_fixes.py (atomic
transactions that never replace a table, queries that read one partition,
Kinesis reads that go straight to their position, expiring stream
iterators, attribute values written in one pass), and refuses to start if
moto is not the code they were written for (docs/adr/0005).

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

from werkzeug.serving import BaseWSGIServer, make_server

import moto_fixes

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def watch_parent(parent_pid: int, server) -> None:
    while True:
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            server.shutdown()
            return
        time.sleep(0.5)


STATS_PATH = "/moto-api/annals/stats"


def operation(environ) -> str:
    """The AWS operation of a request: its X-Amz-Target's action, or its
    method and path."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    return environ.get("REQUEST_METHOD", "") + " " + environ.get("PATH_INFO", "")


def counted(app):
    """Keep each operation's count and serving time. GET
    /moto-api/annals/stats returns them (DELETE resets them), so that
    benchmarks can say where the server's time goes."""
    stats: dict[str, list[float]] = {}

    def serve(environ, start_response):
        if environ.get("PATH_INFO") == STATS_PATH:
            if environ.get("REQUEST_METHOD") == "DELETE":
                stats.clear()
            body = json.dumps({op: {"count": int(c), "ms": round(ms, 3)} for op, (c, ms) in sorted(stats.items())}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        began = time.perf_counter()
        result = app(environ, start_response)
        try:
            return [b"".join(result)]
        finally:
            if hasattr(result, "close"):
                result.close()
            entry = stats.setdefault(operation(environ), [0, 0.0])
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
    # Many clients wait on the one thread at busy moments (parallel test
    # packages, pollers): a long listen queue keeps their connections from
    # being refused or reset before they are served.
    BaseWSGIServer.request_queue_size = 1024
    app = counted(DomainDispatcherApplication(create_backend_app))
    # threaded=False and processes=1: werkzeug's BaseWSGIServer handles one
    # connection at a time and, not being multithreaded, speaks HTTP/1.0, so a
    # client's idle keep-alive connection can never hold the only thread.
    server = make_server(
        args.host,
        args.port,
        app,
        threaded=False,
        processes=1,
        request_handler=MotoRequestHandler,
    )
    port = server.server_port
    # moto builds some URLs (SQS queue URLs) from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return, so it must not run on
        # the serving thread itself.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid, server), daemon=True).start()

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"moto serving on http://{args.host}:{port} (one request at a time, corrected for {moto_fixes.MOTO_VERSION})", file=sys.stderr, flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
