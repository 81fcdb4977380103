"""The wire between chart code in a kernel and the renderer's chart converter (standard library only).

The built-in renderer runs one vl-convert for a whole render
(:func:`healthgap.render.svgserver.svg_service`) and tells each chapter's kernel where it listens
with the environment variable :data:`ENV_SOCKET`; :func:`healthgap.charts.static_svg` then sends
its Vega-Lite spec there instead of starting a V8 engine of its own (about 0.45 CPU-seconds per
kernel). Both sides use this module, which sits at the bottom of the layers so that ``charts``
never imports ``render``.

One connection carries one conversion. Each message is its length (8 bytes, big-endian,
:data:`HEADER`) and then that many bytes (:func:`send_message`, :func:`recv_message`; the
renderer's fork server, :mod:`healthgap.render.forkserver`, frames its messages the same way):

- request: the JSON object ``{"spec": ..., "vl_version": ..., "converter": ...}``
  (:func:`encode_request`); ``converter`` is the client's vl-convert version, and the server
  refuses a different one, so an SVG never depends on which process drew it;
- reply: :data:`REPLY_SVG` and the SVG in UTF-8, or :data:`REPLY_ERROR` and a JSON object
  ``{"type": ..., "message": ...}`` (:func:`encode_reply`, :func:`decode_reply`).
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ENV_SOCKET",
    "HEADER",
    "MAX_MESSAGE",
    "REPLY_SVG",
    "REPLY_ERROR",
    "WireError",
    "ERR_NO_UNIX",
    "send_message",
    "recv_message",
    "encode_request",
    "decode_request",
    "encode_reply",
    "decode_reply",
    "request_svg",
]

#: The environment variable naming the converter's Unix socket (read at call time only).
ENV_SOCKET = "HEALTHGAP_SVG_SOCKET"
#: The length before each message: an unsigned 64-bit big-endian integer.
HEADER = struct.Struct("!Q")
#: The largest message either side accepts (a chart of tens of thousands of points is a few MB).
MAX_MESSAGE = 512 * 1024 * 1024
#: The first byte of a reply carrying an SVG.
REPLY_SVG = b"S"
#: The first byte of a reply carrying a conversion error.
REPLY_ERROR = b"E"

ERR_SHORT = "the connection closed after {got} of {want} bytes"
ERR_TOO_LONG = "a message of {size} bytes is longer than the limit of {limit} bytes"
ERR_REQUEST = "not a conversion request: {problem}"
ERR_REPLY = "not a conversion reply (first byte {first!r})"
ERR_NO_UNIX = "this system has no Unix sockets"


class WireError(OSError):
    """A message that is cut short, too long or not in the expected form."""


def send_message(sock: socket.socket, payload: bytes) -> None:
    """Send ``payload`` with its length in front (:data:`HEADER`)."""
    if len(payload) > MAX_MESSAGE:
        raise WireError(ERR_TOO_LONG.format(size=len(payload), limit=MAX_MESSAGE))
    sock.sendall(HEADER.pack(len(payload)))
    sock.sendall(payload)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise WireError(ERR_SHORT.format(got=got, want=size))
        got += n
    return bytes(buffer)


def recv_message(sock: socket.socket, *, limit: int = MAX_MESSAGE) -> bytes:
    """Receive one message sent by :func:`send_message`.

    Raises
    ------
    WireError
        The connection closed before the whole message arrived, or the message is longer than
        ``limit`` bytes (nothing more is read).
    OSError
        The socket failed or timed out.
    """
    (size,) = HEADER.unpack(_recv_exactly(sock, HEADER.size))
    if size > limit:
        raise WireError(ERR_TOO_LONG.format(size=size, limit=limit))
    return _recv_exactly(sock, size)


def encode_request(spec: Mapping[str, Any], *, vl_version: str | None, converter: str) -> bytes:
    """The request for ``spec``: strict JSON, so the server reads back exactly the same values.

    Raises
    ------
    TypeError, ValueError
        ``spec`` holds something JSON cannot carry unchanged (a NaN, an object); the caller then
        converts in its own process.
    """
    body = {"spec": spec, "vl_version": vl_version, "converter": converter}
    return json.dumps(body, allow_nan=False, separators=(",", ":")).encode("ascii")


def decode_request(payload: bytes) -> tuple[dict[str, Any], str | None, str]:
    """``(spec, vl_version, converter)`` of a request made by :func:`encode_request`.

    Raises
    ------
    WireError
        The payload is not such a request.
    """
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise WireError(ERR_REQUEST.format(problem=exc)) from None
    if not isinstance(body, dict):
        raise WireError(ERR_REQUEST.format(problem="not a JSON object"))
    spec, vl_version, converter = body.get("spec"), body.get("vl_version"), body.get("converter")
    if not isinstance(spec, dict) or not isinstance(converter, str):
        raise WireError(ERR_REQUEST.format(problem="no spec or converter"))
    if vl_version is not None and not isinstance(vl_version, str):
        raise WireError(ERR_REQUEST.format(problem="vl_version is not a string"))
    return spec, vl_version, converter


def encode_reply(*, svg: str | None = None, error: BaseException | None = None) -> bytes:
    """A reply with ``svg``, or with the type and message of ``error``."""
    if error is not None:
        detail = {"type": type(error).__name__, "message": str(error)}
        return REPLY_ERROR + json.dumps(detail).encode("ascii")
    return REPLY_SVG + (svg or "").encode("utf-8")


def decode_reply(payload: bytes) -> tuple[str | None, dict[str, str] | None]:
    """``(svg, None)`` or ``(None, {"type": ..., "message": ...})`` from a reply.

    Raises
    ------
    WireError
        The payload is neither (unknown first byte, invalid UTF-8 or JSON).
    """
    first, rest = payload[:1], payload[1:]
    try:
        if first == REPLY_SVG:
            return rest.decode("utf-8"), None
        if first == REPLY_ERROR:
            detail = json.loads(rest)
            if isinstance(detail, dict):
                return None, {str(k): str(v) for k, v in detail.items()}
    except ValueError:
        pass
    raise WireError(ERR_REPLY.format(first=first))


def request_svg(
    path: str,
    spec: Mapping[str, Any],
    *,
    vl_version: str | None,
    converter: str,
    timeout: float,
) -> tuple[str | None, dict[str, str] | None]:
    """Ask the converter listening on ``path`` for the SVG of ``spec`` (see :func:`decode_reply`).

    ``timeout`` bounds each step (connecting, each send, each receive), in seconds.

    Raises
    ------
    OSError
        No converter there, or the connection failed, timed out or carried no valid reply
        (:class:`WireError`).
    TypeError, ValueError
        ``spec`` cannot be sent unchanged (:func:`encode_request`).
    """
    family = getattr(socket, "AF_UNIX", None)
    if family is None:  # pragma: no cover - not POSIX
        raise OSError(ERR_NO_UNIX)
    request = encode_request(spec, vl_version=vl_version, converter=converter)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        send_message(sock, request)
        return decode_reply(recv_message(sock))
