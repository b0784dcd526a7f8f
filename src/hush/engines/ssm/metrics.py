"""Prometheus view of SSM parameter-policy notifications, per mount and policy type."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from hush.engines.ssm.backend import SsmBackend
from hush.framework.backend import Backend

__all__ = ["PolicyNotificationCollector"]


class PolicyNotificationCollector(Collector):
    """Reads the notification counters of every mounted ``ssm`` backend at scrape time."""

    def __init__(self, backends: Callable[[], Iterable[tuple[str, Backend]]]) -> None:
        """``backends`` lists the mounted (path, backend) pairs when called."""
        self._backends = backends

    def collect(self) -> Iterator[CounterMetricFamily]:
        """``hush_ssm_policy_notifications_total{mount,policy}``."""
        family = CounterMetricFamily(
            "hush_ssm_policy_notifications",
            "ExpirationNotification/NoChangeNotification events raised by this node.",
            labels=["mount", "policy"],
        )
        for path, backend in list(self._backends()):
            if isinstance(backend, SsmBackend):
                for policy, count in sorted(backend.notifications.items()):
                    family.add_metric([path, policy], count)
        yield family
