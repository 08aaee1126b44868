"""Real ``dask scheduler`` / ``dask worker`` processes and TLS certificates for the cluster tests.

Every process is started on 127.0.0.1 and is terminated and waited for by
:func:`stop` (the fixtures call it in ``finally``, so also when a test fails).
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

# The small transient run every cluster test makes: a stochastic oracle, so the results depend on
# the seeds the workers derive and would show any change of seed, order or retry.
CONFIG = """
title = "cluster test"
[oracle]
kind = "noisy_cell_problem_flux"
noise = 0.05
cells = 16
coefficient = {{ kind = "layered_cosine", a0 = 2.0, amp = 1.0, macro_slope = 0.5 }}
[macro]
cells = [12]
source = 1.0
initial = {{ kind = "sine", amplitude = 1.0, modes = [1] }}
[run]
mode = "transient"
t_end = 0.05
dt = 0.01
stepper = "crank_nicolson"
[output]
path = "{out}"
{cluster}
"""

# A config dict to validate (not run): a steady cell problem on 4 cells, plus a [cluster] section.
BASE = {"oracle": {"kind": "cell_problem", "coefficient": {"kind": "constant"}},
        "macro": {"cells": [4]}, "run": {"mode": "steady"}}


def config(cluster: dict | None = None, **sections) -> dict:
    """:data:`BASE` with ``sections`` (whole sections) and ``[cluster]`` = ``cluster``."""
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(sections))
    if cluster is not None:
        data["cluster"] = copy.deepcopy(cluster)
    return data


MEASURED = ("micro_cost_s",)
"""Data variables holding measured wall time, which no two runs share; every other one must be equal."""


def env() -> dict[str, str]:
    """The environment of every child process: this worktree first on the path."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_args(certs: dict[str, Path] | None) -> list[str]:
    if certs is None:
        return []
    return ["--tls-ca-file", str(certs["ca_file"]), "--tls-cert", str(certs["cert"]),
            "--tls-key", str(certs["key"])]


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:  # a file, not a pipe: a chatty process can never block on it
        return subprocess.Popen([PY, "-m", *args], env=env(), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def start_scheduler(port: int, log: Path, certs: dict[str, Path] | None = None) -> subprocess.Popen:
    """``dask scheduler`` on 127.0.0.1:port (TLS when ``certs`` are given), dashboard off."""
    proto = ["--protocol", "tls"] if certs else []
    return _spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                   "--no-dashboard", *proto, *tls_args(certs)], log)


def start_worker(address: str, log: Path, certs: dict[str, Path] | None = None) -> subprocess.Popen:
    """One single-threaded ``dask worker`` process (no nanny) on 127.0.0.1."""
    return _spawn(["distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
                   "--no-dashboard", "--host", "127.0.0.1", *tls_args(certs)], log)


def wait_for_workers(address: str, n: int, security=None, timeout_s: float = 90.0) -> None:
    """Block until the scheduler at ``address`` has ``n`` workers (raise after ``timeout_s``)."""
    from distributed import Client

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with Client(address, timeout=5, security=security, set_as_default=False) as client:
                client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                return
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def stop(*procs: subprocess.Popen) -> None:
    """Terminate and wait for every process (kill what does not exit within 15 s)."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=15)


def hmm_run(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m hmm run CONFIG --no-progress ARGS`` in a subprocess (cwd: the config's folder)."""
    return subprocess.run([PY, "-m", "hmm", "run", str(config), "--no-progress", *args], env=env(),
                          cwd=config.parent, capture_output=True, text=True, timeout=timeout)


def write_config(path: Path, out: Path, cluster: str = "") -> Path:
    path.write_text(CONFIG.format(out=out.as_posix(), cluster=cluster))
    return path


def assert_same_results(a: Path, b: Path) -> None:
    """Every data variable (but measured wall time) and coordinate equal, bit for bit."""
    import numpy as np
    import xarray as xr

    da, db = xr.load_dataset(a), xr.load_dataset(b)
    assert set(da.data_vars) == set(db.data_vars)
    for name in da.data_vars:
        if name not in MEASURED:
            assert da[name].equals(db[name]), name
            assert np.array_equal(da[name].values.view(np.uint8), db[name].values.view(np.uint8)), name
    for name in da.coords:
        assert da[name].equals(db[name]), name


def make_certificates(folder: Path, name: str = "cluster") -> dict[str, Path]:
    """A CA and one certificate/key it signed for 127.0.0.1 (client and server use), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = {"not_valid_before": now - datetime.timedelta(minutes=5),
             "not_valid_after": now + datetime.timedelta(days=1)}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} node")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca_file": folder / f"{name}-ca.pem", "cert": folder / f"{name}-cert.pem",
             "key": folder / f"{name}-key.pem"}
    paths["ca_file"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


def tls_table(certs: dict[str, Path]) -> str:
    """The ``tls = { ... }`` line of a ``[cluster]`` section for these files."""
    return ("tls = { " + ", ".join(f'{k} = "{v.as_posix()}"' for k, v in certs.items()) + " }")
