"""Downloads by sendfile(2): exact bytes through a slow reader, and a clean refusal when
the transport has bytes of its own queued."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from storage_node.piecestore.sendfile import send_range


async def _pair(sndbuf: int):
    """A loopback connection: (client writer whose transport we send on, server reader)."""
    accepted: asyncio.Future = asyncio.get_running_loop().create_future()

    async def on_conn(reader, writer):
        accepted.set_result((reader, writer))

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    _, writer = await asyncio.open_connection(sock=sock)
    reader, server_writer = await accepted
    return server, writer, reader, server_writer


async def test_a_range_larger_than_the_socket_buffer_arrives_exactly_through_a_slow_reader(tmp_path):
    data = os.urandom(3 * 2**20 + 17)
    path = tmp_path / "piece"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    server, writer, reader, server_writer = await _pair(sndbuf=16 * 1024)
    try:
        offset, count = 1000, len(data) - 1500

        async def slow_read() -> bytes:
            got = bytearray()
            while len(got) < count:
                got += await reader.read(64 * 1024)
                await asyncio.sleep(0.001)  # the sender must wait for the socket to drain
            return bytes(got)

        received, sent = await asyncio.gather(slow_read(), send_range(writer.transport, fd, offset, count))
        assert sent == count
        assert received == data[offset : offset + count]
    finally:
        os.close(fd)
        writer.close()
        server_writer.close()
        server.close()


async def test_nothing_is_sent_while_the_transport_has_bytes_queued(tmp_path):
    path = tmp_path / "piece"
    path.write_bytes(b"x" * 4096)
    fd = os.open(path, os.O_RDONLY)
    server, writer, reader, server_writer = await _pair(sndbuf=4096)
    try:
        # Fill the socket so the transport must queue the rest of this write itself.
        writer.write(b"q" * (4 * 2**20))
        assert writer.transport.get_write_buffer_size() > 0
        assert await send_range(writer.transport, fd, 0, 4096) == 0
        # The queued bytes arrive whole and first: nothing was interleaved.
        assert await reader.readexactly(4 * 2**20) == b"q" * (4 * 2**20)
    finally:
        os.close(fd)
        writer.close()
        server_writer.close()
        server.close()


async def test_a_peer_that_goes_away_midway_raises_connection_error(tmp_path):
    path = tmp_path / "piece"
    path.write_bytes(os.urandom(8 * 2**20))
    fd = os.open(path, os.O_RDONLY)
    server, writer, reader, server_writer = await _pair(sndbuf=16 * 1024)
    try:
        send = asyncio.ensure_future(send_range(writer.transport, fd, 0, 8 * 2**20))
        await reader.read(1024)
        server_writer.transport.abort()  # RST: the client is gone
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(send, 10)
    finally:
        os.close(fd)
        writer.close()
        server.close()
