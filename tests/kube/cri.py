"""A small CRI (runtime.v1) client: what the kubelet sends, nothing more.

The gRPC stubs are generated at run time from cri_subset.proto (the
project's own subset of the API) into a temporary directory, so the tree
holds no generated code.
"""
import importlib
import os
import shutil
import sys
import tempfile

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))


def _generate():
    out = tempfile.mkdtemp(prefix="isola-cri-gen.")
    args = ["protoc", "-I" + HERE, "--python_out=" + out,
            "--grpc_python_out=" + out, os.path.join(HERE, "cri_subset.proto")]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed on cri_subset.proto")
    sys.path.insert(0, out)
    pb = importlib.import_module("cri_subset_pb2")
    stubs = importlib.import_module("cri_subset_pb2_grpc")
    sys.path.remove(out)
    shutil.rmtree(out, ignore_errors=True)
    return pb, stubs


pb, _stubs = _generate()


class Client:
    """RuntimeService and ImageService on one containerd socket."""

    def __init__(self, sock, timeout=60):
        self.chan = grpc.insecure_channel("unix://" + sock)
        self.rt = _stubs.RuntimeServiceStub(self.chan)
        self.img = _stubs.ImageServiceStub(self.chan)
        self.timeout = timeout

    def close(self):
        self.chan.close()

    def call(self, method, **fields):
        """Calls METHOD with a request built from FIELDS; returns the reply."""
        svc = self.img if method == "PullImage" else self.rt
        req = getattr(pb, method + "Request")(**fields)
        return getattr(svc, method)(req, timeout=self.timeout)

    @staticmethod
    def sandbox_config(name, uid, log_dir, cgroup_parent, namespace="isola-cri"):
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace=namespace),
            hostname=name, log_directory=log_dir,
            linux=pb.LinuxPodSandboxConfig(cgroup_parent=cgroup_parent))

    @staticmethod
    def container_config(name, image, command, log_path, cpu_quota=0,
                         cpu_period=0, cpu_shares=0, memory=0):
        res = pb.LinuxContainerResources(
            cpu_quota=cpu_quota, cpu_period=cpu_period, cpu_shares=cpu_shares,
            memory_limit_in_bytes=memory, memory_swap_limit_in_bytes=memory)
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=image),
            command=command, log_path=log_path,
            linux=pb.LinuxContainerConfig(resources=res))
