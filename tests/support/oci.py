"""Rule: a minimal valid OCI image layout (one empty-tar layer) for skopeo/podman pushes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.registry import RegistryStack

__all__ = ["make_oci_layout", "skopeo_push"]

_LAYER = b"\0" * 1024  # an empty tar archive: two zero blocks
_INDEX_REF = "org.opencontainers.image.ref.name"


def _blob(root: Path, data: bytes, media_type: str) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def make_oci_layout(directory: str | os.PathLike[str], tag: str = "1") -> Path:
    """Write an OCI layout (1024-zero-byte tar layer, config, manifest, index ref ``tag``)."""
    root = Path(directory)
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    layer = _blob(root, _LAYER, "application/vnd.oci.image.layer.v1.tar")
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }
    config_desc = _blob(
        root,
        json.dumps(config, separators=(",", ":")).encode(),
        "application/vnd.oci.image.config.v1+json",
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer],
    }
    manifest_desc = _blob(
        root,
        json.dumps(manifest, separators=(",", ":")).encode(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    manifest_desc["annotations"] = {_INDEX_REF: tag}
    index = {"schemaVersion": 2, "manifests": [manifest_desc]}
    (root / "index.json").write_text(json.dumps(index), encoding="utf-8")
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}), encoding="utf-8")
    return root


def skopeo_push(
    layout: Path,
    stack: RegistryStack,
    repo: str,
    *,
    authfile: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``skopeo copy oci:LAYOUT:1 docker://HOST/REPO:1`` with the stack's CA directory.

    Credentials come from ``authfile``; without one, from a 0600 auth file written next to the
    layout with the stack's user (never ``--dest-creds``: no password in argv).
    """
    if authfile is None:
        authfile = layout.parent / f"{layout.name}-auth.json"
        token = base64.b64encode(f"{stack.username}:{stack.password}".encode()).decode()
        fd = os.open(authfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"auths": {stack.host: {"auth": token}}}, fh)
    argv = ["skopeo", "copy", "--quiet", "--authfile", str(authfile)]
    if stack.cert_dir is not None:
        argv += ["--dest-cert-dir", str(stack.cert_dir)]
    argv += [f"oci:{layout}:1", f"docker://{stack.host}/{repo}:1"]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
