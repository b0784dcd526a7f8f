"""Worker listeners: one ``SO_REUSEPORT`` socket per worker on one address.

Measured with wrk (c=32, 2 workers): with one shared socket 29 to 32 of the 32 keep-alive
connections landed on one worker (asyncio accepts everything pending at once) and the other core
idled; with a socket per worker the kernel split them 14/18.
"""

from __future__ import annotations

import errno
import socket

import pytest

from hush.server.process import bind_listeners


def test_each_worker_gets_its_own_reuseport_socket_on_the_same_port() -> None:
    sockets = bind_listeners("127.0.0.1", 0, 3)
    try:
        assert len({sock.fileno() for sock in sockets}) == 3
        assert len({sock.getsockname() for sock in sockets}) == 1
        for sock in sockets:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY only then
    finally:
        for sock in sockets:
            sock.close()


def test_connections_reach_every_worker_socket() -> None:
    """The kernel spreads new connections over the group (a hash of their addresses)."""
    sockets = bind_listeners("127.0.0.1", 0, 2)
    clients = []
    try:
        for sock in sockets:
            sock.setblocking(False)
        address = sockets[0].getsockname()
        clients = [socket.create_connection(address, timeout=5) for _ in range(64)]
        accepted = []
        for sock in sockets:
            count = 0
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
            accepted.append(count)
        assert sum(accepted) == 64
        assert min(accepted) >= 12, accepted  # even spread: below 12 of 64 has p < 1e-6
    finally:
        for client in clients:
            client.close()
        for sock in sockets:
            sock.close()


def test_one_worker_binds_one_socket() -> None:
    (sock,) = bind_listeners("127.0.0.1", 0, 1)
    sock.close()


@pytest.mark.parametrize("count", [1, 2])
def test_a_port_another_server_holds_is_refused_even_if_it_set_reuseport(count: int) -> None:
    """Two servers started on one port must not silently share its connections."""
    other = bind_listeners("127.0.0.1", 0, 2)
    try:
        port = other[0].getsockname()[1]
        with pytest.raises(OSError) as refused:
            bind_listeners("127.0.0.1", port, count)
        assert refused.value.errno == errno.EADDRINUSE
    finally:
        for sock in other:
            sock.close()


def test_a_single_worker_socket_does_not_join_a_reuseport_group() -> None:
    (sock,) = bind_listeners("127.0.0.1", 0, 1)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
        intruder = socket.socket()
        intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        with intruder, pytest.raises(OSError):
            intruder.bind(sock.getsockname())
    finally:
        sock.close()
