"""Send traces, metrics and logs to an OTLP receiver with the OpenTelemetry Python SDK.

Usage: otlp_send.py grpc|http ENDPOINT SERVICE

The log record is a satlab server event (event name `satlab.gc_pause` with the
`satlab.event.*` attributes), so the receiver's event extraction is exercised by an
exporter it did not write. Exits non-zero if any export fails.
"""

import sys
import time

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

try:
    from opentelemetry.sdk._logs import LogRecord as SdkLogRecord
except ImportError:  # pragma: no cover
    SdkLogRecord = None


def exporters(protocol, endpoint):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return (
            OTLPSpanExporter(endpoint=endpoint, insecure=True),
            OTLPMetricExporter(endpoint=endpoint, insecure=True),
            OTLPLogExporter(endpoint=endpoint, insecure=True),
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http import Compression

    return (
        OTLPSpanExporter(endpoint=endpoint + "/v1/traces", compression=Compression.Gzip),
        OTLPMetricExporter(endpoint=endpoint + "/v1/metrics"),
        OTLPLogExporter(endpoint=endpoint + "/v1/logs", compression=Compression.Gzip),
    )


def main():
    protocol, endpoint, service = sys.argv[1], sys.argv[2], sys.argv[3]
    resource = Resource.create({"service.name": service})
    span_exp, metric_exp, log_exp = exporters(protocol, endpoint)

    # Traces: three spans in one trace.
    tp = TracerProvider(resource=resource)
    tracer = tp.get_tracer("satlab.interop")
    spans = []
    with tracer.start_as_current_span("POST /api/vector/add") as parent:
        spans.append(parent)
        for _ in range(2):
            with tracer.start_as_current_span("child") as c:
                spans.append(c)
    result = span_exp.export([s for s in spans])
    if result != SpanExportResult.SUCCESS:
        print("span export failed:", result, file=sys.stderr)
        return 1

    # Metrics: a histogram in seconds and a counter, collected once and exported.
    reader = InMemoryMetricReader()
    mp = MeterProvider(resource=resource, metric_readers=[reader])
    meter = mp.get_meter("satlab.interop")
    h = meter.create_histogram("http.server.request.duration", unit="s")
    for v in (0.001, 0.002, 0.040):
        h.record(v, {"http.route": "/api/vector/add"})
    meter.create_counter("satlab.shed.requests").add(2, {"http.response.status_code": 429})
    data = reader.get_metrics_data()
    mres = metric_exp.export(data)
    if getattr(mres, "name", str(mres)) != "SUCCESS":
        print("metric export failed:", mres, file=sys.stderr)
        return 1

    # Logs: one satlab.gc_pause event through the SDK's logger.
    lp = LoggerProvider(resource=resource)
    got = []

    class Capture(SimpleLogRecordProcessor):
        def on_emit(self, record):  # noqa: D401 - SDK hook
            got.append(record)
            super().on_emit(record)

    lp.add_log_record_processor(Capture(log_exp))
    logger = lp.get_logger("satlab.interop")
    now = time.time_ns()
    attrs = {
        "satlab.event.seq": 1,
        "satlab.event.start_unix_nano": now,
        "satlab.event.duration_ns": 40_000_000,
        "satlab.event.request_index": 1000,
        "event.name": "satlab.gc_pause",
    }
    try:
        from opentelemetry._logs import LogRecord as ApiLogRecord

        rec = ApiLogRecord(timestamp=now, body="gc pause", attributes=attrs, event_name="satlab.gc_pause")
    except TypeError:
        from opentelemetry._logs import LogRecord as ApiLogRecord

        rec = ApiLogRecord(timestamp=now, body="gc pause", attributes=attrs)
    logger.emit(rec)
    lp.force_flush()
    lp.shutdown()
    if not got:
        print("no log record was emitted", file=sys.stderr)
        return 1
    print("sent 3 spans, 2 metrics, 1 log record over", protocol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
