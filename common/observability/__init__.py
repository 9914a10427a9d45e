"""What every process exposes to operators' tooling: Prometheus metrics, ``/health``, JSON logs
that carry the request id from gateway to satellite to nodes."""

from common.observability.http import health_response, http_metrics_middleware, metrics_response
from common.observability.logs import configure_logging
from common.observability.requestid import (
    REQUEST_ID_HEADER,
    current_request_id,
    propagating_trace_config,
    request_id_middleware,
    set_request_id,
)

__all__ = [
    "REQUEST_ID_HEADER",
    "configure_logging",
    "current_request_id",
    "health_response",
    "http_metrics_middleware",
    "metrics_response",
    "propagating_trace_config",
    "request_id_middleware",
    "set_request_id",
]
