"""Rule: moto in server mode (a real AWS emulator) on 127.0.0.1, stopped by pid; a fake ECR for throttling.

``MotoServer`` runs ``python -m moto.server`` with request recording on, so a test can count the
calls moto answered (``calls("GetAuthorizationToken")``).  ``ThrottlingEcr`` is what moto will not
do: an endpoint answering every request with ECR's ``ThrottlingException`` (HTTP 400, the JSON
error body of the ``awsJson1_1`` protocol).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.ports import LOOPBACK, free_port, http_status, wait_until

__all__ = ["ECR_TARGET_PREFIX", "MotoServer", "ThrottlingEcr", "aws_environment"]

#: The X-Amz-Target prefix of ECR's JSON API.
ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."


def aws_environment(endpoint: str, workdir: Path, *, credentials: bool = True) -> dict[str, str]:
    """Environment variables that point botocore's ECR client at ``endpoint`` and nowhere else.

    Shared config and credential files are set to files that do not exist, the instance metadata
    service is off (no one-second probe of 169.254.169.254), and the keys are fake.
    """
    env = {
        "AWS_ENDPOINT_URL_ECR": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if credentials:
        env["AWS_ACCESS_KEY_ID"] = "AKIAREGAUTHTEST00000"
        env["AWS_SECRET_ACCESS_KEY"] = "regauth-fake-secret-key"
    return env


# Variables of the machine's own AWS set-up that would leak into a test's botocore.
AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)


@dataclass
class MotoServer:
    """One moto server process; ``url`` is its endpoint (``http://127.0.0.1:PORT``)."""

    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "moto.log"

    def _ready(self) -> bool:
        path = "/moto-api/recorder/download-recording"
        status, _, _ = http_status(f"{LOOPBACK}:{self.port}", path, tls=False)
        return status == 200

    def _wait(self, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        """True once moto answers; False when the process ended or ``timeout`` passed first."""
        return wait_until(lambda: proc.poll() is not None or self._ready(), timeout=timeout) and (
            proc.poll() is None
        )

    def start(self, timeout: float = 30.0) -> None:
        """Start moto on a free port (another one when the port was taken meanwhile)."""
        last = ""
        (self.workdir / "recording").touch()  # moto reads it before its first recorded request
        for _ in range(4):
            self.port = free_port()
            env = {
                **{k: v for k, v in os.environ.items() if k not in AWS_VARIABLES},
                "MOTO_ENABLE_RECORDING": "true",
                "MOTO_RECORDER_FILEPATH": str(self.workdir / "recording"),
            }
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=str(self.workdir),
                    env=env,
                )
            if self._wait(self.proc, timeout):
                return
            self.stop()
            last = self.log_path.read_text(errors="replace")[-2000:]
            if "in use" not in last:
                break
        raise RuntimeError(f"moto server did not start; log tail:\n{last}")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process by pid; kill it when it does not end in ``timeout`` seconds."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)

    def _post(self, path: str) -> None:
        request = urllib.request.Request(self.url + path, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

    def reset(self) -> None:
        """Forget every request recorded so far (and moto's state)."""
        self._post("/moto-api/reset")
        self._post("/moto-api/recorder/reset-recording")

    def calls(self, action: str) -> int:
        """How many requests for ECR ``action`` moto answered since the last :meth:`reset`."""
        with urllib.request.urlopen(self.url + "/moto-api/recorder/download-recording", timeout=5) as answer:
            lines = answer.read().decode().splitlines()
        targets = [json.loads(line).get("headers", {}).get("X-Amz-Target") for line in lines if line.strip()]
        return targets.count(ECR_TARGET_PREFIX + action)

    def regions(self) -> list[str]:
        """The signing region of each recorded ECR request (from its SigV4 credential scope)."""
        with urllib.request.urlopen(self.url + "/moto-api/recorder/download-recording", timeout=5) as answer:
            lines = answer.read().decode().splitlines()
        found = []
        for line in lines:
            headers = json.loads(line).get("headers", {}) if line.strip() else {}
            scope = headers.get("Authorization", "").split("Credential=", 1)[-1].split(",", 1)[0]
            parts = scope.split("/")
            if headers.get("X-Amz-Target", "").startswith(ECR_TARGET_PREFIX) and len(parts) == 5:
                found.append(parts[2])
        return found


class _Throttle(BaseHTTPRequestHandler):
    server: _ThrottleServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.count += 1
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-ErrorType", "ThrottlingException")
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _ThrottleServer(ThreadingHTTPServer):
    count = 0


class ThrottlingEcr:
    """An HTTP endpoint that throttles every request, counting them; a context manager."""

    def __init__(self) -> None:
        self._server = _ThrottleServer((LOOPBACK, 0), _Throttle)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def count(self) -> int:
        return self._server.count

    def __enter__(self) -> ThrottlingEcr:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
