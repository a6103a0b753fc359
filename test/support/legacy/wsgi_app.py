"""A header-trusting legacy WSGI app, for differential tests that put it behind the gateway.

It exists because WSGI folds header names: wsgiref turns `X-User` and `X_User` alike into
HTTP_X_USER (k.replace('-', '_').upper()), so an app that trusts HTTP_X_USER can be fed an
identity through a header the gateway never meant to forward. That conflation is the point;
do not "fix" it. Standard library only, so the tests need nothing beyond python3.

Protocol with test/support/legacy/wsgi.ts, on stdout, one line each, flushed:
  PORT <n>          once, when listening on 127.0.0.1:<n>
  {...json...}      once per request the app actually received, printed before it answers
  SYNC <id>         echo of each `SYNC <id>` line read on stdin. stdout is ordered, so once the
                    harness reads it, it has read every request line printed before; the HTTP
                    response and the stdout pipe, by contrast, race each other
"""

import json
import signal
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# Request threads print concurrently; one lock keeps each JSON line whole.
_out_lock = threading.Lock()


def emit(line):
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    # A thread per connection, so a client holding a connection open cannot stall the others;
    # daemon threads so SIGTERM is not held up by them.
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of connections overflows it and the dropped SYNs
    # are retried only after a second.
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    # The default access log goes to stderr; stderr is kept for real errors (the harness shows it).
    def log_message(self, format, *args):
        pass


def app(environ, start_response):
    # Drain the body so the socket is not reset under the response when the connection closes.
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        environ["wsgi.input"].read(length)

    record = {
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "query": environ.get("QUERY_STRING"),
        "remote_user": environ.get("HTTP_X_USER") or environ.get("HTTP_REMOTE_USER"),
        "env": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
    }
    emit(json.dumps(record))

    status = "200 OK"
    body = dict(record)
    if (record["path"] or "").startswith("/admin"):
        # The legacy authorisation check: whoever the X-User header says you are.
        if environ.get("HTTP_X_USER") == "admin":
            body["admin"] = True
        else:
            status = "403 Forbidden"
            body = {"error": "not admin"}

    data = json.dumps(body).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def echo_syncs():
    if sys.stdin is None:  # started with fd 0 closed: nobody will ask
        return
    for line in sys.stdin:
        line = line.strip()
        if line.startswith("SYNC "):
            emit(line)


def main():
    server = make_server("127.0.0.1", 0, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)

    def on_term(signum, frame):
        # Raised in the main thread, which interrupts serve_forever's select loop.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(target=echo_syncs, daemon=True).start()
    emit("PORT %d" % server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
