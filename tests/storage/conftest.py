"""Stores under test: a LocalStore in a temporary folder, and S3Store against moto's S3
server running on loopback (a real HTTP server; boto3 talks to it as to AWS)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import boto3
import pytest
from moto.server import ThreadedMotoServer

from app.storage.base import ArchiveStore, StoreError
from app.storage.local import LocalStore
from app.storage.s3 import S3Store

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


def make_bucket(endpoint: str, *, locked: bool) -> str:
    name = f"pv-{uuid.uuid4().hex[:16]}"
    if locked:
        s3_client(endpoint).create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    else:
        s3_client(endpoint).create_bucket(Bucket=name)
    return name


def s3_store(endpoint: str, bucket: str) -> S3Store:
    return S3Store(
        bucket,
        endpoint_url=endpoint,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        prefix="archive",
    )


class StoreCase(Protocol):
    @property
    def store(self) -> ArchiveStore: ...

    def tamper(self, key: str) -> None:
        """Change one byte of a stored object behind the store's back."""

    def copies(self, key: str) -> int:
        """How many stored copies (files, object versions) hold the key."""

    def interrupted_put(self, data: bytes) -> None:
        """Start a put that is cut off at the OS or network level before it completes."""


@dataclass
class LocalCase:
    store: LocalStore

    def tamper(self, key: str) -> None:
        path = self.store.path_for(key)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))

    def copies(self, key: str) -> int:
        in_objects = [p for p in self.store.objects.rglob("*") if p.is_file()]
        in_tmp = list(self.store.tmp.glob("*")) if self.store.tmp.exists() else []
        return sum(1 for p in in_objects if p.name == key) + len(in_tmp)

    def interrupted_put(self, data: bytes) -> None:
        # A real write failure half-way: the child process may write only 4 KiB per file
        # (RLIMIT_FSIZE), the kernel refuses the rest with EFBIG, as on a full disk.
        code = textwrap.dedent(
            """
            import resource, sys
            from pathlib import Path
            from app.storage.local import LocalStore
            from app.storage.base import StoreError
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
            data = sys.stdin.buffer.read()
            try:
                LocalStore(Path(sys.argv[1])).put(data, mime_type="application/octet-stream")
            except StoreError as exc:
                print(exc)
                sys.exit(3)
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(self.store.root)],
            input=data,
            cwd=PROJECT_ROOT,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 3:
            raise AssertionError(f"the put was not interrupted: {result!r}")
        raise StoreError(result.stdout.decode().strip())


class CuttingProxy:
    """A loopback TCP proxy that forwards only the first `limit` bytes of each request and
    then drops both connections: an upload cut off mid-body, as by a network failure."""

    def __init__(self, upstream: str, limit: int) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.limit = limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as server:
            answers = threading.Thread(target=self._answers, args=(server, client), daemon=True)
            answers.start()
            sent = 0
            while sent < self.limit:
                chunk = client.recv(min(65536, self.limit - sent))
                if not chunk:
                    break
                server.sendall(chunk)
                sent += len(chunk)
            for sock in (client, server):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            answers.join(timeout=5)

    @staticmethod
    def _answers(server: socket.socket, client: socket.socket) -> None:
        try:
            while chunk := server.recv(65536):
                client.sendall(chunk)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()


@dataclass
class S3Case:
    store: S3Store
    endpoint: str
    bucket: str

    @property
    def client(self) -> S3Client:
        return s3_client(self.endpoint)

    def tamper(self, key: str) -> None:
        object_key = self.store.object_key(key)
        data = bytearray(self.client.get_object(Bucket=self.bucket, Key=object_key)["Body"].read())
        data[len(data) // 2] ^= 0x01
        # Whoever can write to the bucket can put a new version over the key.
        self.client.put_object(Bucket=self.bucket, Key=object_key, Body=bytes(data))

    def copies(self, key: str) -> int:
        object_key = self.store.object_key(key)
        listing = self.client.list_object_versions(Bucket=self.bucket, Prefix=object_key)
        return len([v for v in listing.get("Versions", []) if v.get("Key") == object_key])

    def interrupted_put(self, data: bytes) -> None:
        proxy = CuttingProxy(self.endpoint, limit=len(data) // 2)
        try:
            s3_store(proxy.endpoint, self.bucket).put(data, mime_type="application/octet-stream")
        finally:
            proxy.close()
        raise AssertionError("the put through the cutting proxy completed")


@pytest.fixture(params=["local", "s3", "s3-object-lock"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    if request.param == "local":
        return LocalCase(LocalStore(tmp_path / "archive"))
    endpoint: str = request.getfixturevalue("moto_endpoint")
    bucket = make_bucket(endpoint, locked=request.param == "s3-object-lock")
    return S3Case(s3_store(endpoint, bucket), endpoint, bucket)
