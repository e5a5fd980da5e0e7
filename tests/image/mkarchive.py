#!/usr/bin/python3
"""Writes an oci-archive with crafted (hostile) layers for the store tests.

usage: mkarchive.py OUT.tar NAME SPEC.json
SPEC: {"layers": [[entry, ...], ...], "truncate_layer": N, "wrong_diff_id": N}
entry: {"name": "a/b", "type": "file|dir|symlink|hardlink|chardev", "data": "...",
        "target": "..."}
"""
import gzip
import hashlib
import io
import json
import sys
import tarfile


def layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.mtime = 1000000000
            kind = e.get("type", "file")
            data = e.get("data", "").encode()
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, e["target"]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, e["target"]
            elif kind == "chardev":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            else:
                info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data) if kind == "file" else None)
    return buf.getvalue()


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def main():
    out, name, spec_path = sys.argv[1:4]
    with open(spec_path) as f:
        spec = json.load(f)
    blobs, layers, diff_ids = {}, [], []
    for i, entries in enumerate(spec["layers"]):
        raw = layer_tar(entries)
        comp = gzip.compress(raw, mtime=0)
        diff_ids.append(digest(raw if spec.get("wrong_diff_id") != i else raw + b"x"))
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": digest(comp), "size": len(comp)})
        if spec.get("truncate_layer") == i:
            comp = comp[: len(comp) // 2]
        blobs[layers[-1]["digest"]] = comp
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digest(config), "size": len(config)},
                           "layers": layers}).encode()
    blobs[digest(config)] = config
    blobs[digest(manifest)] = manifest
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": name}}]}).encode()
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index}
    for d, b in blobs.items():
        files["blobs/sha256/" + d[7:]] = b
    with tarfile.open(out, "w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    print(digest(manifest))


if __name__ == "__main__":
    main()
