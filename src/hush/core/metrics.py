"""Prometheus metrics of one node, on a registry of its own (never the global one).

Recorded by the front ends (requests, latency), the token store (creations), the seal lifecycle
(seal state), the audit broker (failures) and the lease expiry loop (revocations). ``sys/metrics``
renders them as Prometheus text or as Vault's JSON shape.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The node's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "hush_http_requests",
            "HTTP requests handled, by mount, operation and status.",
            ["mount", "operation", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hush_http_request_duration_seconds",
            "Time to handle a request, by mount.",
            ["mount", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens_created = Counter(
            "hush_token_creations", "Tokens created, by type.", ["type"], registry=self.registry
        )
        self.sealed = Gauge(
            "hush_core_sealed", "1 when sealed, 0 when unsealed.", registry=self.registry
        )
        self.audit_failures = Counter(
            "hush_audit_failures",
            "Audit entries a device failed to record.",
            ["device"],
            registry=self.registry,
        )
        self.storage_latency = Histogram(
            "hush_storage_operation_duration_seconds",
            "Physical storage latency by operation.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lease_revocations = Counter(
            "hush_lease_revocations",
            "Lease revocations by the expiry loop, by lease kind and outcome "
            "(revoked, failed: will be retried, irrevocable: gave up).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.sealed.set(1)

    def observe_request(self, mount: str, operation: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        mount = mount or "unrouted"
        self.requests.labels(mount, operation, str(status)).inc()
        self.latency.labels(mount, operation).observe(seconds)

    def prometheus_text(self) -> bytes:
        """The Prometheus exposition format."""
        return generate_latest(self.registry)

    def vault_json(self) -> dict[str, Any]:
        """Vault's JSON metrics shape (``Timestamp``, ``Gauges``, ``Counters``, ``Samples``)."""
        gauges: list[dict[str, Any]] = []
        counters: list[dict[str, Any]] = []
        samples: list[dict[str, Any]] = []
        for family in self.registry.collect():
            for sample in family.samples:
                entry = {"Name": sample.name, "Labels": dict(sample.labels)}
                if family.type == "gauge":
                    gauges.append({**entry, "Value": sample.value})
                elif family.type == "counter" and sample.name.endswith("_total"):
                    counters.append({**entry, "Count": sample.value, "Sum": sample.value})
                elif family.type == "histogram" and sample.name.endswith(("_sum", "_count")):
                    samples.append({**entry, "Value": sample.value})
        return {
            "Timestamp": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime()),
            "Gauges": gauges,
            "Counters": counters,
            "Samples": samples,
        }
