"""``make demo``: regauth end to end against a throwaway local registry (Debian's docker-registry).

Starts a registry with htpasswd Basic auth over HTTPS (a CA made on the spot) on 127.0.0.1, logs in
with ``regauth``, shows ``config.json``, shows what ``get_credentials`` returns (secret redacted),
logs out, and stops the registry.  Nothing outside a temporary directory is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.registry import start_registry_stack


def _run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> int:
    print(f"\n$ {' '.join(argv)}" + ("   # password on stdin" if stdin else ""), flush=True)
    return subprocess.run(argv, input=stdin, text=True, env=env, check=False).returncode


def main() -> int:
    """Run the demo; returns the exit code."""
    if shutil.which("docker-registry") is None:
        print("docker-registry is not installed: apt-get install docker-registry", file=sys.stderr)
        return 1
    regauth = shutil.which("regauth") or "regauth"
    with tempfile.TemporaryDirectory(prefix="regauth-demo-") as tmp:
        work = Path(tmp)
        with start_registry_stack(work / "registry", auth="htpasswd", tls=True) as stack:
            assert stack.cert_dir is not None
            env = dict(os.environ)
            env.update(DOCKER_CONFIG=str(work / "docker"), HOME=str(work / "home"))
            env.pop("DOCKER_AUTH_CONFIG", None)
            print(f"registry (distribution, htpasswd Basic over HTTPS) on {stack.url}")
            print(f"user {stack.username!r}, CA in {stack.cert_dir}")
            steps = [
                _run(
                    [
                        regauth,
                        "login",
                        "--tls-verify=true",
                        "--cert-dir",
                        str(stack.cert_dir),
                        "-u",
                        stack.username,
                        "--password-stdin",
                        stack.host,
                    ],
                    env,
                    stdin=stack.password + "\n",
                ),
            ]
            config = work / "docker" / "config.json"
            print(f"\n$ cat {config}")
            print(config.read_text() if config.exists() else "(missing)")
            steps.append(
                _run(
                    [
                        regauth,
                        "login",
                        "--tls-verify=true",
                        "--cert-dir",
                        str(stack.cert_dir),
                        stack.host,
                    ],
                    env,
                    stdin="",
                )
            )
            steps.append(_run([regauth, "logout", stack.host], env))
            steps.append(_run([regauth, "logout", stack.host], env))
            print(f"\n$ cat {config}")
            print(config.read_text())
        print("\nregistry stopped; demo", "succeeded" if not any(steps) else "FAILED")
        return 1 if any(steps) else 0


if __name__ == "__main__":
    sys.exit(main())
