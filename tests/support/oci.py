"""Rule: a minimal valid OCI image layout (one empty-tar layer) for skopeo/podman pushes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["make_oci_layout"]

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
