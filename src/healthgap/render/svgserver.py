"""One chart converter for a whole render: vl-convert's V8 engine starts once, not once per chapter.

Every chapter that draws a chart converts its Vega-Lite spec to a static SVG with vl-convert
(:func:`healthgap.charts.static_svg`), and the first conversion in a process starts a V8 engine
(about 0.45 CPU-seconds; later ones take about 0.02). :func:`svg_service` runs one converter in
the renderer's process for the length of a render, on a Unix socket in a private folder; the
kernels find it through the environment entry it returns (:data:`healthgap._svgwire.ENV_SOCKET`)
and send it their specs (the wire format is in :mod:`healthgap._svgwire`). It makes the same
``vlc.vegalite_to_svg(spec, vl_version=...)`` call the kernel would, so the SVG is the same bytes;
a kernel that cannot use it converts in its own process, so a render never fails or changes
because of it.

Each connection is served by a thread of its own; the conversions themselves take turns under
one lock (vl-convert serialises them on its one converter anyway).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import vl_convert as vlc

from healthgap._svgwire import (
    ENV_SOCKET,
    ERR_NO_UNIX,
    WireError,
    decode_request,
    encode_reply,
    recv_message,
    send_message,
)

__all__ = ["svg_service", "SOCKET_NAME", "CONNECTION_TIMEOUT"]

#: The socket's name inside the service's private folder.
SOCKET_NAME = "svg.sock"
#: Seconds the server waits for each part of a request before it drops the connection.
CONNECTION_TIMEOUT = 60.0
#: Seconds between the server's checks for a request to stop.
_POLL_SECONDS = 0.05

ERR_CONVERTER = "the kernel has vl-convert {client!r} and the renderer {server!r}"

_log = logging.getLogger(__name__)


def _converter_version() -> str:
    return str(getattr(vlc, "__version__", ""))


class _Handler(socketserver.BaseRequestHandler):
    """One connection: read one request, convert it, send the reply."""

    server: _Server
    request: socket.socket

    def handle(self) -> None:
        self.request.settimeout(CONNECTION_TIMEOUT)
        try:
            payload = recv_message(self.request)
        except OSError:  # cut short, too long, timed out, or closed by stop()
            return
        reply = self.server.convert(payload)
        with contextlib.suppress(OSError):
            send_message(self.request, reply)


_Base: Any = getattr(socketserver, "UnixStreamServer", socketserver.TCPServer)


class _Server(socketserver.ThreadingMixIn, _Base):
    """A threaded Unix-socket server that converts Vega-Lite specs; :meth:`close` stops it whole."""

    daemon_threads = False  # server_close() joins the connection threads
    block_on_close = True
    request_queue_size = 128

    def __init__(self, path: str) -> None:
        super().__init__(path, _Handler)
        self.convert_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.served = 0
        self.refused = 0

    def convert(self, payload: bytes) -> bytes:
        """The reply to one request: the SVG, or the error that stopped it."""
        try:
            spec, vl_version, converter = decode_request(payload)
            if converter != _converter_version():
                raise WireError(ERR_CONVERTER.format(client=converter, server=_converter_version()))
            with self.convert_lock:
                svg = vlc.vegalite_to_svg(spec, vl_version=vl_version)
            reply = encode_reply(svg=svg)
        except Exception as exc:  # any failure is a reply: the kernel then converts itself
            self.refused += 1
            return encode_reply(error=exc)
        self.served += 1
        return reply

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close(self) -> None:
        """Stop accepting, end every open connection, and wait for their threads."""
        self.shutdown()  # serve_forever() returns
        with self._open_lock:
            still_open = list(self._open)
        for sock in still_open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.server_close()  # closes the listening socket, joins the connection threads


@contextlib.contextmanager
def svg_service(folder: str | os.PathLike[str] | None = None) -> Iterator[dict[str, str]]:
    """Run one chart converter while the block runs; yields the environment entries for kernels.

    Parameters
    ----------
    folder : where to make the service's private folder (mode 0700) holding its socket; the
        system's temporary folder when None.

    Yields
    ------
    dict[str, str]
        ``{"HEALTHGAP_SVG_SOCKET": path}`` to add to each kernel's environment; empty when no
        service could start (no Unix sockets, a socket path too long), and kernels then convert
        their charts themselves.

    On leaving the block, also on an error, the server stops, its threads end, and its folder
    and socket are removed.

    Examples
    --------
    >>> with svg_service() as env:  # doctest: +SKIP
    ...     run_kernels(env={**os.environ, **env})
    """
    private = Path(tempfile.mkdtemp(prefix="healthgap-svg-", dir=folder))
    path = str(private / SOCKET_NAME)
    server: _Server | None = None
    try:
        private.chmod(0o700)
        if not hasattr(socket, "AF_UNIX"):  # pragma: no cover - not POSIX
            raise OSError(ERR_NO_UNIX)
        server = _Server(path)
    except OSError as exc:
        shutil.rmtree(private, ignore_errors=True)
        _log.debug("no chart converter service: %s", exc)
    if server is None:
        yield {}
        return
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_SECONDS},
        name="healthgap-svg-service",
        daemon=True,
    )
    try:
        thread.start()
        yield {ENV_SOCKET: path}
    finally:
        if thread.is_alive():
            server.close()
            thread.join()
        else:
            server.server_close()
        shutil.rmtree(private, ignore_errors=True)
        _log.debug("chart converter: %d converted, %d refused", server.served, server.refused)
