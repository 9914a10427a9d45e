"""Downloads straight from the page cache to the socket with ``sendfile(2)``.

uvloop does not implement ``loop.sendfile``, so aiohttp would read every chunk of a piece
into a new Python ``bytes`` object and copy it once more into the socket. A storage node
mostly moves bytes from files to sockets, which is what ``sendfile`` is for (Go's
``net/http`` uses it for the same reason): the kernel hands page-cache pages to TCP, the
node process touches no byte, and a 1 MiB download costs one system call instead of two
copies.

The shortcut writes to the connection's socket behind the transport's back, which is safe
only while the transport has nothing queued (its bytes must go first) and carries no TLS.
:func:`send_range` checks both before every call and reports 0 bytes sent when it cannot
help, so the caller falls back to ordinary writes. It waits for the socket to drain on a
duplicate of its descriptor: uvloop refuses readers and writers on a descriptor that one
of its transports owns, and epoll watches a duplicate independently.
"""

from __future__ import annotations

import asyncio
import os

__all__ = ["send_range"]


def usable(transport: asyncio.BaseTransport | None) -> bool:
    """True if bytes may be written to this transport's socket directly right now."""
    if transport is None or transport.is_closing():
        return False
    if transport.get_extra_info("sslcontext") is not None:
        return False
    get_size = getattr(transport, "get_write_buffer_size", None)
    return get_size is not None and get_size() == 0 and transport.get_extra_info("socket") is not None


async def send_range(transport: asyncio.BaseTransport | None, fd: int, offset: int, count: int) -> int:
    """Send ``count`` bytes of file ``fd`` from ``offset`` into the transport's socket.

    Returns ``count``, or 0 without sending anything when the transport cannot take the
    shortcut. Raises ``ConnectionError`` when the peer goes away midway.
    """
    if count <= 0 or not usable(transport):
        return 0
    assert transport is not None
    loop = asyncio.get_running_loop()
    out = os.dup(transport.get_extra_info("socket").fileno())
    sent = 0
    try:
        while sent < count:
            try:
                n = os.sendfile(out, fd, offset + sent, count - sent)
            except BlockingIOError:
                await _writable(loop, out)
                continue
            if n == 0:
                raise ConnectionResetError(f"file ended {count - sent} bytes early while sending")
            sent += n
    finally:
        os.close(out)
    return sent


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready: asyncio.Future[None] = loop.create_future()
    loop.add_writer(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_writer(fd)
