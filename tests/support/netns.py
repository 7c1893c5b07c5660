"""Rule: run clients inside a private mount + network namespace with its own /etc/hosts.

Linux, as root: ``unshare -m -n`` starts a holder process (``lo`` up, a hosts file bind-mounted over
/etc/hosts); servers and clients join it with ``nsenter -t PID -m -n`` and so see the fake names
and the loopback listeners, while nothing outside the namespace does (docs/hub-web-login.md,
"Running a client against a local stand-in").  Closing the holder's stdin ends the namespace.

API::

    ns = Namespace(directory, {"login.docker.com": "127.0.0.1"})
    ns.start()
    server = ns.start_process([python, "server.py"])     # Popen, stdout/stderr pipes
    done = ns.run(argv, env=env, input=b"...")          # CompletedProcess (bytes)
    proc = ns.spawn(argv, env=env)                       # PtyProcess on a pseudo-terminal
    proc.expect("Username:"); proc.send(b"\\n"); proc.signal(signal.SIGINT)
    code, output = proc.wait(timeout=30)
    ns.stop()

``available()`` says whether this machine can do it (root, unshare, nsenter, ip).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["Namespace", "PtyProcess", "available"]


def available() -> tuple[bool, str]:
    """(True, "") when namespaces can be made here, else (False, why)."""
    if not sys.platform.startswith("linux"):
        return False, "private namespaces need Linux"
    if os.geteuid() != 0:
        return False, "unshare -m -n needs root"
    for tool in ("unshare", "nsenter", "ip", "mount"):
        if shutil.which(tool) is None:
            return False, f"{tool} is not installed"
    return True, ""


class Namespace:
    """A mount + network namespace kept alive by a holder process."""

    def __init__(self, directory: Path, hosts: Mapping[str, str]) -> None:
        self.directory = directory
        self.hosts = dict(hosts)
        self._holder: subprocess.Popen[bytes] | None = None
        self._children: list[subprocess.Popen[bytes]] = []

    @property
    def pid(self) -> int:
        """The holder's pid (what ``nsenter -t`` joins)."""
        if self._holder is None:
            raise RuntimeError("namespace not started")
        return self._holder.pid

    def start(self) -> None:
        """Create the namespace: lo up, the hosts file over /etc/hosts."""
        self.directory.mkdir(parents=True, exist_ok=True)
        hosts_file = self.directory / "hosts"
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost"]
        lines += [f"{address} {name}" for name, address in self.hosts.items()]
        hosts_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        script = 'ip link set lo up && mount --bind "$0" /etc/hosts && echo ready && exec cat >/dev/null'
        self._holder = subprocess.Popen(
            ["unshare", "-m", "-n", "sh", "-c", script, str(hosts_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self._holder.stdout is not None
        line = self._holder.stdout.readline()
        if line.strip() != b"ready":
            self._holder.kill()
            _, err = self._holder.communicate()
            self._holder = None
            raise RuntimeError(f"could not create the namespace: {err.decode(errors='replace')[-400:]}")

    def stop(self) -> None:
        """Stop the processes started with :meth:`start_process`, then the holder."""
        for child in self._children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        self._children.clear()
        if self._holder is not None:
            assert self._holder.stdin is not None
            self._holder.stdin.close()
            try:
                self._holder.wait(10)
            except subprocess.TimeoutExpired:
                self._holder.kill()
                self._holder.wait()
            for stream in (self._holder.stdout, self._holder.stderr):
                if stream is not None:
                    stream.close()
            self._holder = None

    def command(self, argv: list[str], cwd: Path | None = None) -> list[str]:
        """``argv`` wrapped to run inside the namespace, in ``cwd`` (default: the current directory).

        Joining a mount namespace resets the working directory to its root, hence ``--wd``.
        """
        wd = str(cwd) if cwd is not None else os.getcwd()
        return [
            shutil.which("nsenter") or "nsenter",
            "-t",
            str(self.pid),
            "-m",
            "-n",
            f"--wd={wd}",
            "--",
            *argv,
        ]

    def start_process(self, argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
        """A long-lived process inside the namespace (stdout/stderr piped); stopped by :meth:`stop`."""
        proc = subprocess.Popen(
            self.command(argv, options.pop("cwd", None)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **options,
        )
        self._children.append(proc)
        return proc

    def run(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        input: bytes | None = None,
        timeout: float = 60,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``argv`` inside the namespace with pipes (stdin not a terminal)."""
        return subprocess.run(
            self.command(argv, cwd),
            env=dict(env),
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def spawn(self, argv: list[str], *, env: Mapping[str, str], cwd: Path | None = None) -> PtyProcess:
        """Start ``argv`` inside the namespace with stdin, stdout and stderr on a pseudo-terminal."""
        return PtyProcess(self.command(argv, cwd), env=env)


class PtyProcess:
    """A process on a pseudo-terminal; output is collected by a thread (``\\r\\n`` read as ``\\n``)."""

    def __init__(self, argv: list[str], *, env: Mapping[str, str]) -> None:
        import fcntl
        import pty
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self._master = master
        self._buffer = bytearray()
        self._lock = threading.Lock()
        # nsenter execs the client, so the pid is the client's: signals reach it directly.
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=dict(env), start_new_session=True
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 4096)
            except OSError:  # EIO: every holder of the terminal's other end is gone
                return
            if not data:
                return
            with self._lock:
                self._buffer += data

    @property
    def output(self) -> str:
        """Everything written so far."""
        with self._lock:
            return bytes(self._buffer).decode("utf-8", "replace").replace("\r\n", "\n")

    def expect(self, text: str, timeout: float = 30) -> str:
        """Wait until ``text`` was written; the output so far.  AssertionError on timeout or exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.output
            if text in out:
                return out
            if self.proc.poll() is not None:
                self._reader.join(2)
                out = self.output
                if text in out:
                    return out
                raise AssertionError(f"exited {self.proc.returncode} before {text!r}: {out[-800:]!r}")
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout}s: {self.output[-800:]!r}")

    def send(self, data: bytes) -> None:
        """Type ``data`` on the terminal."""
        os.write(self._master, data)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process."""
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 60) -> tuple[int, str]:
        """(exit code, output); kills the process if it outlives ``timeout``."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(2)
            self.close()
            raise AssertionError(f"still running after {timeout}s: {self.output[-800:]!r}") from None
        self._reader.join(5)
        self.close()
        return code, self.output

    def close(self) -> None:
        """Release the terminal."""
        if self._master >= 0:
            os.close(self._master)
            self._master = -1
