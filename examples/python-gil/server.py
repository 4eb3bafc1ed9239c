#!/usr/bin/env python3
"""The GIL lesson: a thread-per-connection Python HTTP server that cannot use more
than one core, however many threads it has, and whose full garbage collections stop
every thread at once.

    python3 server.py --port PORT [--work-ms 1.0] [--heap N] [--garbage N]

  /work     any method: reads and discards the request body, runs about --work-ms of
            pure-Python CPU work (holding the GIL), answers 200 with a small JSON body
  /healthz  200 at once
  other     404

Telemetry goes out over OTLP/gRPC when OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK
reads the endpoint, OTEL_BSP_SCHEDULE_DELAY and OTEL_BLRP_SCHEDULE_DELAY from the
environment); without it the server runs with the API's no-op tracer and exports
nothing:
  - a SERVER span per request, child of the W3C `traceparent` the client sent, so it
    shares the client's trace id and is sampled when the client's flag says so;
  - an OTLP log record per long garbage collection (see GcEvents).
"""

import argparse
import collections
import gc
import inspect
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import propagate, trace
from opentelemetry._logs import LogRecord, SeverityNumber

SERVICE_NAME_DEFAULT = "python-gil"

# Garbage-collection load. CPython before 3.14 runs a full (generation-2) collection
# after ten generation-1 collections, and only once the objects promoted since the
# last one exceed 25% of the old heap. With a heap this size the first condition
# rules: a full collection every ~93,000 promoted objects, so every ~930 /work
# requests at the default --garbage 100. It walks that garbage (~45 ms of it at
# --heap 0 on this machine) and the heap. Measured on 2 cores, CPython 3.11,
# wrk -t1 -c16 -d10s, spans not sampled:
#   --work-ms 1 (~650 req/s):                  every 1.2-1.5 s, 45-126 ms (median 111)
#   --work-ms 0.2 (~1,350 req/s):              every 0.6-0.8 s, 59-160 ms
#   --work-ms 0.2 --garbage 30 (~2,050 req/s): every 1.4-1.6 s, 60-169 ms
HEAP_DEFAULT = 100_000
GARBAGE_DEFAULT = 100
# How many garbage objects the ring keeps alive (see Handler._make_garbage).
GARBAGE_KEEP_OBJECTS = 20_000


# --- CPU work -----------------------------------------------------------------------


def spin(iterations):
    """Pure-Python arithmetic: the interpreter holds the GIL throughout (apart from
    its periodic hand-overs to other threads, which do not make the work parallel)."""
    x = 0
    for i in range(iterations):
        x = (x * 31 + i) & 0xFFFF
    return x


def calibrate_iterations_per_ms():
    """Iterations of `spin` per millisecond of CPU: a count, not a deadline, so under
    contention each request still costs the same CPU. The median of short runs spread
    over about half a second, after a warm-up: a virtual CPU's speed can swing for a
    few hundred milliseconds at a time."""
    n = 50_000
    spin(n)
    times = []
    for _ in range(15):
        t0 = time.process_time()
        spin(n)
        times.append(time.process_time() - t0)
        time.sleep(0.025)
    median = sorted(times)[len(times) // 2]
    return max(1, int(n / (median * 1000.0)))


# --- Garbage-collection events ------------------------------------------------------


class GcEvents:
    """Reports garbage collections as OTLP log records, by satlab's server-event
    convention:
      - event name `python.gc`: the LogRecord's event_name field where the SDK has
        one, and always the attribute `event.name`;
      - `satlab.event.start_unix_nano` (int): wall clock when the collection started;
      - `satlab.event.duration_ns` (int): how long it ran;
      - `satlab.event.seq` (int): 1, 2, ... over the reported events;
      - `satlab.event.scope` = "process": a collection holds the GIL, so every
        Python thread of the process is stopped while it runs;
      - `python.gc.generation` (int).

    Reported: generation-2 (full) collections only, the ones that walk the whole
    heap. Young collections come several times a second and last about 1-3 ms
    under this server's load: reporting them would bury the long pauses.

    The gc callback only appends to a deque (no export, no I/O inside a collection);
    a background thread hands the records to the SDK every ~100 ms.
    """

    FLUSH_INTERVAL_S = 0.1

    def __init__(self, logger, event_name_field):
        self._logger = logger
        self._event_name_field = event_name_field
        self._pending = collections.deque()
        self._start = None  # (wall ns, monotonic ns) of the collection under way
        self._seq = 0

    def start(self):
        gc.callbacks.append(self._on_gc)
        threading.Thread(target=self._run, name="gc-events", daemon=True).start()

    def _on_gc(self, phase, info):
        # Runs inside the collector, with the GIL held: record and return.
        if info["generation"] != 2:
            return
        if phase == "start":
            self._start = (time.time_ns(), time.perf_counter_ns())
            return
        if self._start is None:
            return
        wall_ns, mono_ns = self._start
        self._start = None
        self._seq += 1
        self._pending.append((self._seq, wall_ns, time.perf_counter_ns() - mono_ns, 2))

    def _run(self):
        while True:
            time.sleep(self.FLUSH_INTERVAL_S)
            self.flush()

    def flush(self):
        while True:
            try:
                seq, wall_ns, duration_ns, generation = self._pending.popleft()
            except IndexError:
                return
            attributes = {
                "event.name": "python.gc",
                "satlab.event.start_unix_nano": wall_ns,
                "satlab.event.duration_ns": duration_ns,
                "satlab.event.seq": seq,
                "satlab.event.scope": "process",
                "python.gc.generation": generation,
            }
            fields = dict(
                timestamp=wall_ns,
                severity_number=SeverityNumber.INFO,
                severity_text="INFO",
                body=f"gc generation {generation}: {duration_ns / 1e6:.1f} ms",
                attributes=attributes,
            )
            if self._event_name_field:
                fields["event_name"] = "python.gc"
            self._logger.emit(LogRecord(**fields))


# --- OpenTelemetry ------------------------------------------------------------------


class Telemetry:
    """Tracer and log providers exporting over OTLP/gRPC, or nothing at all when
    OTEL_EXPORTER_OTLP_ENDPOINT is unset."""

    def __init__(self):
        self.tracer = trace.get_tracer("satlab.python-gil")
        self.gc_events = None
        self._providers = []
        if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return

        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME_DEFAULT}
        )
        # The default sampler is parentbased_always_on: the client's sampled flag decides.
        # shutdown_on_exit=False: shutdown() below bounds the flush instead.
        tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = tracer_provider.get_tracer("satlab.python-gil")

        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        event_name_field = "event_name" in inspect.signature(LogRecord.__init__).parameters
        self.gc_events = GcEvents(logger_provider.get_logger("satlab.python-gil"), event_name_field)
        self.gc_events.start()

        self._providers = [tracer_provider, logger_provider]

    def shutdown(self, timeout_s):
        """Flush what is pending; True when done within timeout_s (against an absent
        receiver the exporters would retry for 10 s per signal)."""
        if self.gc_events is not None:
            self.gc_events.flush()

        def run():
            for provider in self._providers:
                provider.shutdown()

        flusher = threading.Thread(target=run, name="otel-shutdown", daemon=True)
        flusher.start()
        flusher.join(timeout_s)
        return not flusher.is_alive()


# --- HTTP ---------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True
    server_version = "python-gil"

    # Set by main().
    telemetry = None
    work_iterations = 0
    work_ms = 0.0
    garbage = 0
    garbage_ring = None

    def log_message(self, format, *args):
        """No access log: a line per request to stderr would cost CPU."""

    def _handle(self):
        method = self.command
        path = self.path.split("?", 1)[0]
        route = path if path in ("/work", "/healthz") else None
        ctx = propagate.extract(self.headers)
        with self.telemetry.tracer.start_as_current_span(
            f"{method} {route}" if route else method,
            context=ctx,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:
            error = self._discard_body()
            if error:
                span.set_attribute("http.response.status_code", error)
                self._reply(error, b'{"error":"body without a valid Content-Length"}', close=True)
                return
            if route == "/work":
                result = spin(self.work_iterations)
                self._make_garbage()
                status = 200
                body = json.dumps({"ok": True, "work_ms": self.work_ms, "result": result})
            elif route == "/healthz":
                status, body = 200, '{"ok":true}'
            else:
                status, body = 404, '{"error":"not found"}'
            span.set_attribute("http.response.status_code", status)
            self._reply(status, body.encode())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _discard_body(self):
        """Read and drop the body by Content-Length; an error status when the body
        is chunked (411) or its length unreadable (400)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return 411
        try:
            remaining = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return 400
        if remaining < 0:
            return 400
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)
        return None

    def _make_garbage(self):
        """`garbage` self-referencing lists (cyclic: only the collector frees them),
        kept in a ring of the last GARBAGE_KEEP_OBJECTS before being dropped. That
        outlives the young collections (generation 0 every 700 net allocations,
        generation 1 every ten of those), so they reach generation 2 and die old:
        promotions are what bring full collections (see GARBAGE_DEFAULT)."""
        if self.garbage:
            objs = []
            for _ in range(self.garbage):
                o = []
                o.append(o)
                objs.append(o)
            self.garbage_ring.append(objs)

    def _reply(self, status, body, close=False):
        reason = self.responses.get(status, ("",))[0]
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            + ("Connection: close\r\n" if close else "")
            + "\r\n"
        ).encode("latin-1")
        # One write for head and body: two small writes would meet Nagle and delayed ACK.
        self.wfile.write(head if self.command == "HEAD" else head + body)
        if close:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096

    def handle_error(self, request, client_address):
        """A client that hangs up mid-exchange is normal under load: no traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--work-ms", type=float, default=1.0, help="CPU work per /work request (ms)")
    p.add_argument(
        "--heap",
        type=int,
        default=HEAP_DEFAULT,
        help="long-lived objects a full collection walks (default %(default)s)",
    )
    p.add_argument(
        "--garbage",
        type=int,
        default=GARBAGE_DEFAULT,
        help="cyclic-garbage objects per /work request (default %(default)s)",
    )
    args = p.parse_args()

    # Long-lived containers: a full collection walks every one of them.
    heap = [[i] for i in range(args.heap)]
    gc.collect()

    Handler.work_ms = args.work_ms
    Handler.work_iterations = int(calibrate_iterations_per_ms() * args.work_ms)
    Handler.garbage = args.garbage
    keep_requests = max(1, GARBAGE_KEEP_OBJECTS // max(1, args.garbage))
    Handler.garbage_ring = collections.deque(maxlen=keep_requests)
    Handler.telemetry = telemetry = Telemetry()

    server = Server((args.host, args.port), Handler)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(
        f"python-gil listening on http://{args.host}:{args.port} "
        f"(work {args.work_ms} ms = {Handler.work_iterations} iterations, heap {len(heap)}, "
        f"garbage {args.garbage}/request, otlp "
        f"{'on' if telemetry.gc_events else 'off'})",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if not telemetry.shutdown(timeout_s=2.0):
            print(
                "python-gil: telemetry not flushed within 2 s, exiting without it",
                file=sys.stderr,
                flush=True,
            )
            os._exit(0)


if __name__ == "__main__":
    main()
