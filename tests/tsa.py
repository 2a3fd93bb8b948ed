"""A real RFC 3161 time-stamping authority on loopback: OpenSSL's own `openssl ts -reply`
behind a small HTTP handler, signing with a TSA certificate issued by a test CA made here.

`mode` switches what the TSA does for the next requests: "ok", "garbage" (200 with bytes that
are no TimeStampResp), "error" (HTTP 500), "replay" (a valid, signed reply made for another
request: wrong imprint and nonce).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.loopback import Loopback, Reply, serve

TS_CONFIG = """\
[ tsa ]
default_tsa = test_tsa

[ test_tsa ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path, data: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["openssl", *args], cwd=cwd, input=data, capture_output=True, check=False, timeout=60
    )
    assert done.returncode == 0, f"openssl {' '.join(args)}: {done.stderr.decode()}"
    return done.stdout


def make_test_ca(folder: Path) -> Path:
    """A root CA and a TSA certificate it issued (critical EKU timeStamping), EC P-256."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
        "-subj", "/CN=PostVault Test Root CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=PostVault Test TSA",
        cwd=folder,
    )  # fmt: skip
    (folder / "tsa.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=critical,timeStamping\n",
        encoding="utf-8",
    )
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tsa.pem", "-days", "3650", "-extfile", "tsa.ext",
        cwd=folder,
    )  # fmt: skip
    (folder / "serial").write_text("01\n", encoding="utf-8")
    (folder / "ts.cnf").write_text(TS_CONFIG.format(dir=folder), encoding="utf-8")
    return folder


@dataclass
class LoopbackTSA:
    folder: Path
    loopback: Loopback
    mode: str = "ok"
    replies: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.loopback.base_url}/tsa"

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    def reply_to(self, query: bytes) -> bytes:
        with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tsq") as file:
            file.write(query)
            file.flush()
            return _openssl(
                "ts", "-reply", "-config", "ts.cnf", "-queryfile", file.name, cwd=self.folder
            )

    def verify_with_openssl(self, reply: bytes, data: bytes) -> str:
        """`openssl ts -verify` of a reply over `data`, against the test CA; its output."""
        with (
            tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tsr") as tsr,
            tempfile.NamedTemporaryFile(dir=self.folder, suffix=".bin") as blob,
        ):
            tsr.write(reply)
            tsr.flush()
            blob.write(data)
            blob.flush()
            done = subprocess.run(
                [
                    "openssl", "ts", "-verify", "-in", tsr.name, "-data", blob.name,
                    "-CAfile", str(self.ca_file), "-untrusted", str(self.folder / "tsa.pem"),
                ],
                capture_output=True, text=True, check=False, timeout=60,
            )  # fmt: skip
        return (done.stdout + done.stderr).strip()


@contextmanager
def running_tsa(folder: Path) -> Iterator[LoopbackTSA]:
    make_test_ca(folder)
    holder: list[LoopbackTSA] = []

    def handle(method: str, path: str, _headers: dict[str, str], body: bytes) -> Reply:
        tsa = holder[0]
        if method != "POST" or path != "/tsa":
            return Reply(404, b"not here")
        if tsa.mode == "error":
            return Reply(500, b"the TSA is having a bad day")
        if tsa.mode == "garbage":
            return Reply(200, b"<html>not a timestamp</html>", {"Content-Type": "text/html"})
        if tsa.mode == "replay" and tsa.replies:
            reply = tsa.replies[0]
        else:
            reply = tsa.reply_to(body)
            tsa.replies.append(reply)
        return Reply(200, reply, {"Content-Type": "application/timestamp-reply"})

    with serve(handle) as loopback:
        holder.append(LoopbackTSA(folder, loopback))
        yield holder[0]
