"""CI slice of the bench: the harness runs real cases and prints both columns.

Never asserts timings (they depend on the machine); checks that each case produced N timed pairs
for both sides and that the table and JSON hold them.  The delay proxy is checked on its own:
it forwards bytes, counts connections and really delays.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.netem import DelayProxy
from bench.profile import parse_importtime

from tests.support.registry import have_registry
from tests.support.require import require

REPO = Path(__file__).resolve().parents[1]


def test_bench_two_runs_three_cases(tmp_path: Path) -> None:
    """`python -m bench --runs 2` on start-up, logout and login: a table with A and B columns."""
    require(shutil.which("docker") is not None, "the Docker CLI is not installed")
    require(have_registry(), "docker-registry (distribution 2.8) is not installed")
    out_json = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable, "-m", "bench", "--runs", "2", "--warmup", "0",
            "--cases", "version,logout,login-basic", "--json", str(out_json),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("case"))
    assert "A min / median / max" in header and "B (reference)" in header and "A/B" in header
    for name in ("version", "logout", "login-basic"):
        row = next(line for line in lines if line.startswith(name + " "))
        assert "regauth:" in row and "docker:" in row
    data = json.loads(out_json.read_text())
    assert [c["name"] for c in data["cases"]] == ["version", "logout", "login-basic"]
    for case in data["cases"]:
        assert case["error"] is None
        assert len(case["a"]["times"]) == len(case["b"]["times"]) == len(case["ratios"]) == 2
    assert "testpassword" not in done.stdout + done.stderr


def test_bench_python_option_installs_regauth_for_that_interpreter(tmp_path: Path) -> None:
    """`--python`: a wheel of this checkout in a throwaway venv of the system python3 runs the case."""
    system = Path("/usr/bin/python3")
    require(system.exists(), "no system python3 (/usr/bin/python3)")
    require(shutil.which("docker") is not None, "the Docker CLI is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--runs", "1", "--warmup", "0", "--cases", "version",
         "--python", str(system)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    machine = next(line for line in done.stdout.splitlines() if line.startswith("machine:"))
    assert f"({system.resolve()})" in machine  # regauth's python, as the bench found it
    assert next(line for line in done.stdout.splitlines() if line.startswith("version "))


def _echo_server() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def test_delay_proxy_forwards_counts_and_delays() -> None:
    """One round trip through a 60 ms proxy takes ≥ 60 ms (+ one RTT for the connect)."""
    srv, port = _echo_server()
    proxy = DelayProxy(0.06, ("127.0.0.1", port))
    proxy.start()
    try:
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
                start = time.perf_counter()
                conn.sendall(b"\x16\x03\x01hello")
                got = b""
                while len(got) < 8:
                    got += conn.recv(100)
                elapsed = time.perf_counter() - start
            assert got == b"\x16\x03\x01hello"
            assert elapsed >= 0.06 * 2 - 0.005  # RTT/2 each way + the emulated connect RTT
        counters = proxy.counters()
        assert counters.connections == 2
        assert counters.tls_handshakes == 2
    finally:
        proxy.stop()
        srv.close()


def test_importtime_parser_finds_parents() -> None:
    """bench.profile reads real ``-X importtime`` output: json.decoder is imported by json."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    nodes = {n.name: n for n in parse_importtime(done.stderr)}
    assert nodes["json"].depth == 0 and nodes["json"].parent is None
    assert nodes["json.decoder"].parent == "json"
    assert nodes["json"].cumulative_us >= nodes["json.decoder"].cumulative_us
