"""Prometheus view of Secrets Manager rotations: how many succeeded and failed, per mount."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hush.engines.awssm.backend import AwssmBackend
from hush.framework.backend import Backend

__all__ = ["RotationCollector"]


class RotationCollector(Collector):
    """Reads the counters of every mounted ``awssm`` backend at scrape time."""

    def __init__(self, backends: Callable[[], Iterable[tuple[str, Backend]]]) -> None:
        self._backends = backends

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """``hush_secret_rotations_total{mount,outcome}`` and the failing-secret gauge."""
        rotations = CounterMetricFamily(
            "hush_secret_rotations",
            "Secret rotations run by this node, by mount and outcome (success, failure).",
            labels=["mount", "outcome"],
        )
        failing = GaugeMetricFamily(
            "hush_secret_rotations_failing",
            "Secrets whose last rotation attempt on this node failed, by mount.",
            labels=["mount"],
        )
        for path, backend in list(self._backends()):
            if isinstance(backend, AwssmBackend):
                stats = backend.rotation.stats
                rotations.add_metric([path, "success"], stats.successes)
                rotations.add_metric([path, "failure"], stats.failures)
                failing.add_metric([path], len(stats.failing))
        yield rotations
        yield failing
