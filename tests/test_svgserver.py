"""The renderer's chart converter (healthgap.render.svgserver) and its client (charts.static_svg).

Through the service a chart's SVG is the same bytes as converted in the kernel's own process;
every way the service can fail (none named, missing, refused, closed mid-way, timed out, a
garbage or error reply) falls back to converting in-process; a spec vl-convert rejects raises
the same error either way; the socket's folder is private and removed with its threads.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import vl_convert as real_vlc

from healthgap import _svgwire, charts
from healthgap.charts import html
from healthgap.disclosure import protect
from healthgap.render.svgserver import svg_service

ENV = _svgwire.ENV_SOCKET
SERVICE_THREADS = "healthgap-svg-service"


# ------------------------------------------------------------------ chart specs


def _rates() -> pl.DataFrame:
    df = pl.DataFrame(
        {
            "imd_quintile": [1, 2, 3, 4, 5],
            "events": [300, 250, 4, 600, 800],
            "value": [10.0, 8.0, 7.0, 5.0, 4.0],
            "lower_ci": [8.0, 6.0, 5.0, 4.0, 3.0],
            "upper_ci": [12.0, 10.0, 9.0, 6.0, 5.0],
        }
    )
    return protect(df, counts=["events"], derived={"events": ["value", "lower_ci", "upper_ci"]})


def _funnel(units: int) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    denominators = rng.integers(100, 20_000, units)
    df = pl.DataFrame(
        {
            "unit": [f"P{i:05d}" for i in range(units)],
            "value": rng.normal(8.5, 1.0, units).round(3),
            "denominator": denominators,
        }
    )
    grid = pl.DataFrame({"denominator": np.geomspace(50, 25_000, 60)})
    se = (8.5 * 1000 / grid["denominator"]).sqrt()
    limits = grid.with_columns(
        lower_95=8.5 - 1.96 * se,
        upper_95=8.5 + 1.96 * se,
        lower_998=8.5 - 3.09 * se,
        upper_998=8.5 + 3.09 * se,
    )
    return charts.chart_spec(charts.funnel(df, limits=limits, target=8.5, title="Practices"))


_STOPS = [{"offset": 0, "color": "#005EB8"}, {"offset": 1, "color": "#FFFFFF"}]
_VALUES = {"values": [{"a": i, "b": i * 2} for i in range(5)]}
#: Clip paths, linear gradients and radial ones (whose patterns are ``p_gradient_N``).
CLIPS_AND_GRADIENTS: dict[str, Any] = {
    "hconcat": [
        {
            "mark": {"type": "bar", "clip": True, "color": {"gradient": "linear", "stops": _STOPS}},
            "encoding": {"x": {"field": "a", "type": "ordinal"}, "y": {"field": "b", "type": "quantitative"}},
        },
        {
            "mark": {"type": "arc", "color": {"gradient": "radial", "stops": _STOPS}},
            "encoding": {"theta": {"field": "b", "type": "quantitative"}},
        },
        {
            "mark": {"type": "line", "clip": True},
            "encoding": {
                "x": {"field": "a", "type": "quantitative"},
                "y": {"field": "b", "type": "quantitative"},
            },
        },
    ],
    "data": _VALUES,
}


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    """Charts of the kinds the book draws, one with thousands of points."""
    rates = _rates()
    by_condition = pl.concat([rates.with_columns(condition=pl.lit(c)) for c in ("chd", "af", "stroke")])
    return {
        "ci": charts.chart_spec(
            charts.ci_chart(
                rates, group="imd_quintile", title="Rate by IMD", reference=6.0, reference_label="All"
            )
        ),
        "small_multiples": charts.chart_spec(
            charts.small_multiples(
                by_condition, facet="condition", group="imd_quintile", title="By condition"
            )
        ),
        "funnel_4000": _funnel(4000),
        "clips_and_gradients": CLIPS_AND_GRADIENTS,
    }


@pytest.fixture(scope="module")
def reference(specs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each spec's SVG converted in this process, the way a kernel without the service does."""
    os.environ.pop(ENV, None)
    return {name: charts.static_svg(spec) for name, spec in specs.items()}


# ------------------------------------------------------------------ helpers


class CountingVlc:
    """vl_convert as the client sees it, counting conversions made in the client's own process."""

    def __init__(self) -> None:
        self.local = 0
        self.__version__ = real_vlc.__version__
        self.get_vegalite_versions = real_vlc.get_vegalite_versions

    def vegalite_to_svg(self, spec: Any, vl_version: Any = None) -> str:
        self.local += 1
        return real_vlc.vegalite_to_svg(spec, vl_version=vl_version)


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> CountingVlc:
    """Counts in-process conversions; a fresh record of failed services."""
    counting = CountingVlc()
    monkeypatch.setattr(html, "vlc", counting)
    monkeypatch.setattr(html, "_failed_services", set())
    monkeypatch.delenv(ENV, raising=False)
    return counting


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A running service, named in this process's environment."""
    with svg_service() as env:
        assert set(env) == {ENV}
        monkeypatch.setenv(ENV, env[ENV])
        yield env[ENV]


def _fake_server(folder: Path, behave: Callable[[socket.socket], None]) -> tuple[str, threading.Thread]:
    """A one-connection server on a socket in ``folder`` that does ``behave(connection)``."""
    path = str(folder / "fake.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def run() -> None:
        with listener:
            connection, _ = listener.accept()
            with connection:
                behave(connection)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return path, thread


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder with a short path (a Unix socket's path has at most 107 bytes)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hg-") as folder:
        yield Path(folder)


# ------------------------------------------------------------------ through the service


def test_svg_through_the_service_is_byte_identical(specs, reference, local, service):
    assert len(json.dumps(specs["funnel_4000"])) > 400_000  # thousands of points
    for name, spec in specs.items():
        assert charts.static_svg(spec) == reference[name], name
    assert local.local == 0  # none was converted in this process
    assert html._failed_services == set()


def test_figure_html_through_the_service_is_byte_identical(specs, local, service, monkeypatch):
    data = pl.DataFrame({"unit": ["A"], "value": [1.0]})
    args = {
        "id": "fig-x",
        "title": "Title",
        "description": "Description",
        "data": data,
        "download_href": None,
    }
    through = charts.figure_html(specs["ci"], **args)
    assert local.local == 0
    monkeypatch.delenv(ENV)
    assert charts.figure_html(specs["ci"], **args) == through
    assert local.local == 1


def test_many_threads_at_once(specs, reference, local, service, monkeypatch):
    monkeypatch.setattr(html, "SVG_SERVICE_TIMEOUT", 5.0)
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(service)  # a kernel that sends half a request holds up nobody else
    idle.sendall(_svgwire.HEADER.pack(100))
    names = list(specs) * 4
    results: dict[int, str] = {}
    start = threading.Barrier(len(names))

    def convert(i: int) -> None:
        start.wait()
        results[i] = charts.static_svg(specs[names[i]])

    threads = [threading.Thread(target=convert, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    idle.close()
    assert all(results[i] == reference[names[i]] for i in range(len(names)))
    assert local.local == 0


CHILD = """
import json, sys
from healthgap.charts import html
spec = json.loads(sys.stdin.read())
svg = html._svg_from_service(spec, html._vl_version())
sys.stdout.write("NONE" if svg is None else svg)
"""


def test_several_kernel_processes_at_once(specs, reference, service):
    env = {**os.environ, ENV: service}
    spec = json.dumps(specs["small_multiples"])
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [child.communicate(spec, timeout=120)[0] for child in children]
    assert all(child.returncode == 0 for child in children)
    assert outputs == [reference["small_multiples"]] * 3  # from the service, not "NONE"


def test_a_spec_vl_convert_rejects_raises_the_same_error(local, service, specs, reference, monkeypatch):
    bad = {
        "mark": "bar",
        "encoding": {"x": {"field": "a", "type": "nominal"}},
        "data": {"values": [{"a": 1}]},
    }
    bad["encoding"]["x"]["type"] = "no-such-type"
    with pytest.raises(Exception) as in_service:
        charts.static_svg(bad)
    monkeypatch.delenv(ENV)
    with pytest.raises(Exception) as in_process:
        real_vlc.vegalite_to_svg(dict(bad), vl_version=html._vl_version())
    assert type(in_service.value) is type(in_process.value) is ValueError
    assert str(in_service.value) == str(in_process.value)
    assert "Invalid field type" in str(in_service.value)
    # the service is still used for the next chart
    monkeypatch.setenv(ENV, service)
    local.local = 0
    assert charts.static_svg(specs["ci"]) == reference["ci"]
    assert local.local == 0


# ------------------------------------------------------------------ falling back


def _falls_back(spec: dict[str, Any], expected: str, local: CountingVlc, *, seconds: float = 10.0) -> None:
    began = time.monotonic()
    assert charts.static_svg(spec) == expected
    assert local.local == 1
    assert time.monotonic() - began < seconds


def test_no_service_named_converts_in_process(specs, reference, local):
    _falls_back(specs["ci"], reference["ci"], local)


def test_a_missing_socket_falls_back_and_is_not_tried_again(specs, reference, local, short_tmp, monkeypatch):
    path = str(short_tmp / "gone.sock")
    monkeypatch.setenv(ENV, path)
    _falls_back(specs["ci"], reference["ci"], local)
    assert html._failed_services == {path}


def test_a_stopped_service_falls_back(specs, reference, local, monkeypatch):
    with svg_service() as env:
        monkeypatch.setenv(ENV, env[ENV])
        assert charts.static_svg(specs["ci"]) == reference["ci"] and local.local == 0
    assert not os.path.exists(env[ENV])
    _falls_back(specs["ci"], reference["ci"], local)


def test_a_refused_connection_falls_back(specs, reference, local, short_tmp, monkeypatch):
    path = str(short_tmp / "refused.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(path)  # bound, never listening: connect() is refused
        monkeypatch.setenv(ENV, path)
        _falls_back(specs["ci"], reference["ci"], local)


def test_a_connection_closed_mid_way_falls_back(specs, reference, local, short_tmp, monkeypatch):
    def read_then_close(connection: socket.socket) -> None:
        _svgwire.recv_message(connection)
        connection.sendall(_svgwire.HEADER.pack(10_000) + b"S<svg")  # a reply cut short

    path, thread = _fake_server(short_tmp, read_then_close)
    monkeypatch.setenv(ENV, path)
    _falls_back(specs["funnel_4000"], reference["funnel_4000"], local)
    thread.join(5)


def test_a_silent_service_times_out_and_falls_back(specs, reference, local, short_tmp, monkeypatch):
    release = threading.Event()
    path, thread = _fake_server(short_tmp, lambda connection: release.wait(30))
    monkeypatch.setenv(ENV, path)
    monkeypatch.setattr(html, "SVG_SERVICE_TIMEOUT", 0.3)
    _falls_back(specs["ci"], reference["ci"], local, seconds=5)
    assert html._failed_services == {path}
    release.set()
    thread.join(5)


@pytest.mark.parametrize(
    "reply",
    [
        _svgwire.HEADER.pack(4) + b"XYZW",  # an unknown kind of reply
        _svgwire.HEADER.pack(3) + b"S\xff\xfe",  # an SVG that is not UTF-8
        _svgwire.HEADER.pack(4) + b"E{no",  # an error that is not JSON
        b"HTTP/1.1 200 OK\r\n\r\n<svg></svg>",  # not framed: its "length" is far over the limit
    ],
    ids=["unknown", "not-utf8", "bad-error", "unframed"],
)
def test_a_garbage_reply_falls_back(specs, reference, local, short_tmp, monkeypatch, reply):
    def answer(connection: socket.socket) -> None:
        _svgwire.recv_message(connection)
        connection.sendall(reply)

    path, thread = _fake_server(short_tmp, answer)
    monkeypatch.setenv(ENV, path)
    _falls_back(specs["ci"], reference["ci"], local)
    thread.join(5)


def test_an_error_reply_falls_back_to_the_right_svg(specs, reference, local, short_tmp, monkeypatch):
    def refuse(connection: socket.socket) -> None:
        _svgwire.recv_message(connection)
        _svgwire.send_message(connection, _svgwire.encode_reply(error=ValueError("the converter broke")))

    path, thread = _fake_server(short_tmp, refuse)
    monkeypatch.setenv(ENV, path)
    _falls_back(specs["ci"], reference["ci"], local)
    thread.join(5)


def test_a_different_vl_convert_in_the_kernel_is_refused(specs, reference, local, service):
    local.__version__ = "0.0.0"  # the service's SVG might differ: it converts nothing for this kernel
    _falls_back(specs["ci"], reference["ci"], local)


def test_a_spec_json_cannot_carry_is_converted_in_process(local, service):
    spec = {"mark": "point", "data": {"values": [{"a": 1.0}, {"a": float("nan")}]}, "encoding": {}}
    spec["encoding"] = {"x": {"field": "a", "type": "quantitative"}}
    expected = real_vlc.vegalite_to_svg(dict(spec), vl_version=html._vl_version())
    _falls_back(spec, expected, local)
    assert html._failed_services == set()  # the service itself is fine


# ------------------------------------------------------------------ ids that depend on the spec alone

FRESH = """
import json, sys
import vl_convert as vlc
from healthgap.charts import html
spec = json.loads(sys.stdin.read())
first = vlc.vegalite_to_svg(spec, vl_version=html._vl_version())
again = vlc.vegalite_to_svg(spec, vl_version=html._vl_version())
print(json.dumps([first, again, html._fresh_ids(first), html._fresh_ids(again)]))
"""


def test_ids_are_numbered_as_by_a_new_engine():
    run = subprocess.run(
        [sys.executable, "-c", FRESH], input=json.dumps(CLIPS_AND_GRADIENTS), capture_output=True, text=True
    )
    first, again, fresh_first, fresh_again = json.loads(run.stdout)
    ids = set(re.findall(r'id="([^"]+)"', first))
    assert {"clip1", "clip2", "gradient_0"} <= ids  # a new engine's first numbers
    assert any(i.startswith("p_gradient_") for i in ids)  # radial gradients' patterns
    assert first != again  # Vega's counters ran on: the same spec, other ids
    assert fresh_first == first == fresh_again  # numbered as the first conversion, whichever it was
    assert len(set(re.findall(r'id="([^"]+)"', fresh_again))) == len(ids)  # still distinct


def test_the_same_spec_gives_the_same_svg_in_one_process(specs, local):
    spec = specs["clips_and_gradients"]
    assert charts.static_svg(spec) == charts.static_svg(spec) == charts.static_svg(spec)
    assert local.local == 3


# ------------------------------------------------------------------ the service's folder and threads


def _service_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == SERVICE_THREADS or "process_request" in t.name]


def test_the_socket_folder_is_private_and_removed(short_tmp):
    with svg_service(short_tmp) as env:
        socket_path = Path(env[ENV])
        folder = socket_path.parent
        assert folder.parent == short_tmp
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_ISSOCK(socket_path.stat().st_mode)
        assert _service_threads()
    assert not folder.exists()
    assert list(short_tmp.iterdir()) == []
    assert _service_threads() == []


def test_an_error_in_the_block_still_stops_the_service(short_tmp):
    with pytest.raises(RuntimeError, match="a chapter failed"), svg_service(short_tmp) as env:
        folder = Path(env[ENV]).parent
        raise RuntimeError("a chapter failed")
    assert not folder.exists()
    assert _service_threads() == []


def test_an_idle_connection_does_not_hold_up_the_end(short_tmp):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:  # still open after the service
        began = time.monotonic()
        with svg_service(short_tmp) as env:
            idle.connect(env[ENV])
            idle.sendall(_svgwire.HEADER.pack(100))  # half a request, then nothing
            time.sleep(0.2)
            assert len(_service_threads()) == 2  # the server and this connection's thread
        assert time.monotonic() - began < 5  # not CONNECTION_TIMEOUT
        assert _service_threads() == []


def test_no_service_when_the_socket_cannot_be_made(short_tmp):
    deep = short_tmp / ("x" * 120)  # a socket path longer than a Unix socket allows
    deep.mkdir()
    with svg_service(deep) as env:
        assert env == {}
    assert list(deep.iterdir()) == []


# ------------------------------------------------------------------ the wire


def test_messages_round_trip_and_limits():
    left, right = socket.socketpair()
    right.settimeout(10)
    with left, right:
        big = os.urandom(20_000_000)
        sender = threading.Thread(target=_svgwire.send_message, args=(left, big))
        sender.start()
        assert _svgwire.recv_message(right) == big
        sender.join()
        left.sendall(_svgwire.HEADER.pack(1000))
        with pytest.raises(_svgwire.WireError, match="longer than the limit"):
            _svgwire.recv_message(right, limit=999)
        left.sendall(_svgwire.HEADER.pack(10) + b"short")
        left.shutdown(socket.SHUT_WR)
        with pytest.raises(_svgwire.WireError, match="closed after 5 of 10 bytes"):
            _svgwire.recv_message(right)


def test_requests_carry_the_spec_exactly():
    spec = {"b": [1, 2.5, 1e-300, 12345678901234567890, None, True, "é\u2028"], "a": {"z": 0.1}}
    got, version, converter = _svgwire.decode_request(
        _svgwire.encode_request(spec, vl_version="6.4", converter="1")
    )
    assert got == spec and list(got) == ["b", "a"] and (version, converter) == ("6.4", "1")
    assert [type(v) for v in got["b"]] == [type(v) for v in spec["b"]]
    with pytest.raises(ValueError):
        _svgwire.encode_request({"a": float("inf")}, vl_version=None, converter="1")
    with pytest.raises(_svgwire.WireError):
        _svgwire.decode_request(b'{"spec": []}')
