"""TLS: ``[cluster] tls = { ca_file, cert, key }`` and ``[cluster.local] tls = "temporary"``.

A CA and a certificate it signed are generated in the test (``cryptography``);
a real TLS ``dask scheduler`` and ``dask worker`` run on 127.0.0.1 with them,
and ``hmm run`` (a CLI subprocess) goes through them.
"""

from __future__ import annotations

import re

import pytest

from hmm.cli import main
from hmm.cluster import open_cluster, tls_security
from hmm.config import parse_config

from . import dask_processes as dp
from .dask_processes import config


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return dp.make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory, certs):
    """A TLS ``dask scheduler`` and one TLS ``dask worker``; stopped even if a test fails."""
    logs = tmp_path_factory.mktemp("tls-logs")
    port = dp.free_port()
    address = f"tls://127.0.0.1:{port}"
    scheduler = dp.start_scheduler(port, logs / "scheduler.log", certs)
    worker = dp.start_worker(address, logs / "worker.log", certs)
    try:
        cfg = parse_config(config({"address": address, "tls": {k: str(v) for k, v in certs.items()}}))
        dp.wait_for_workers(address, 1, security=tls_security(cfg.cluster.tls))
        yield address
    finally:
        dp.stop(worker, scheduler)


@pytest.fixture(scope="module")
def embedded_tls_result(tmp_path_factory):
    """The reference: the embedded cluster with ``tls = "temporary"`` (one worker), through the CLI."""
    folder = tmp_path_factory.mktemp("embedded-tls")
    out = folder / "embedded.nc"
    cfg = dp.write_config(folder / "run.toml", out, '[cluster.local]\nn_workers = 1\ntls = "temporary"')
    proc = dp.hmm_run(cfg)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"embedded LocalCluster at tls://127\.0\.0\.1:\d+ \(1 workers", proc.stdout), proc.stdout
    return out


def test_a_run_through_a_tls_scheduler_equals_the_embedded_run_bit_for_bit(tmp_path, certs, tls_cluster,
                                                                          embedded_tls_result):
    out = tmp_path / "tls.nc"
    cfg = dp.write_config(tmp_path / "run.toml", out,
                          f'[cluster]\naddress = "{tls_cluster}"\n{dp.tls_table(certs)}')
    proc = dp.hmm_run(cfg)
    assert proc.returncode == 0, proc.stderr
    assert f"external cluster at {tls_cluster} (1 workers, 1 threads)" in proc.stdout
    dp.assert_same_results(out, embedded_tls_result)


def test_a_plain_tcp_address_with_a_tls_config_is_refused_with_exit_2(tmp_path, certs):
    cfg = dp.write_config(tmp_path / "run.toml", tmp_path / "out.nc",
                          f'[cluster]\naddress = "tcp://127.0.0.1:8786"\n{dp.tls_table(certs)}')
    proc = dp.hmm_run(cfg)
    assert proc.returncode == 2, proc.stderr
    assert "cluster.tls asks for TLS but cluster.address = 'tcp://127.0.0.1:8786' is plain" in proc.stderr
    assert "use a tls:// address" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.nc").exists()


def test_a_plain_tcp_scheduler_flag_with_a_tls_config_is_refused(tmp_path, capsys, certs, tls_cluster):
    cfg = dp.write_config(tmp_path / "run.toml", tmp_path / "out.nc",
                          f'[cluster]\naddress = "{tls_cluster}"\n{dp.tls_table(certs)}')
    assert main(["run", str(cfg), "--scheduler", tls_cluster.replace("tls://", "tcp://")]) == 2
    assert "is plain; use a tls:// address" in capsys.readouterr().err
    assert not (tmp_path / "out.nc").exists()


def test_a_tls_scheduler_flag_without_certificates_is_refused(tmp_path, capsys, tls_cluster):
    cfg = dp.write_config(tmp_path / "run.toml", tmp_path / "out.nc")
    assert main(["run", str(cfg), "--scheduler", tls_cluster]) == 2
    assert "needs cluster.tls = { ca_file = ..., cert = ..., key = ... }" in capsys.readouterr().err


def test_a_certificate_from_another_ca_is_refused_by_the_scheduler(tmp_path, capsys, tls_cluster):
    rogue = dp.make_certificates(tmp_path / "rogue", "rogue")
    cfg = dp.write_config(tmp_path / "run.toml", tmp_path / "out.nc",
                          f'[cluster]\naddress = "{tls_cluster}"\n{dp.tls_table(rogue)}')
    assert main(["run", str(cfg), "--timeout", "5"]) == 3
    err = capsys.readouterr().err
    assert f"could not reach the Dask scheduler at {tls_cluster!r}" in err and "TLS" in err
    assert not (tmp_path / "out.nc").exists()


def test_temporary_tls_keeps_the_embedded_cluster_on_127_0_0_1():
    cfg = parse_config(config({"local": {"n_workers": 1, "tls": "temporary"}}))
    with open_cluster(cfg.cluster) as resolved:
        client = resolved.client
        assert re.fullmatch(r"tls://127\.0\.0\.1:\d+", client.scheduler.address)
        assert all(w.startswith("tls://127.0.0.1:") for w in client.scheduler_info()["workers"])
        assert client.security.require_encryption
        assert client.submit(sum, [2, 3]).result() == 5


def test_tls_security_requires_encryption_for_every_role(certs):
    cfg = parse_config(config({"address": "tls://127.0.0.1:8786", "tls": {k: str(v) for k, v in certs.items()}}))
    sec = tls_security(cfg.cluster.tls)
    assert sec.require_encryption and sec.tls_ca_file == str(certs["ca_file"])
    for role in ("client", "scheduler", "worker"):
        assert getattr(sec, f"tls_{role}_cert") == str(certs["cert"])
        assert getattr(sec, f"tls_{role}_key") == str(certs["key"])


def test_a_jobqueue_cluster_with_tls_gives_its_workers_the_certificates(tmp_path, monkeypatch, certs):
    from .test_cluster import SLURM

    fake = tmp_path / "bin" / "sbatch"  # on PATH but never called: adapt_minimum = 0 submits nothing
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}")
    spec = {**SLURM, "adapt_minimum": 0, "interface": "lo"}  # the scheduler on the loopback interface
    cfg = parse_config(config({"jobqueue": spec, "tls": {k: str(v) for k, v in certs.items()}}))
    with open_cluster(cfg.cluster) as resolved:
        assert re.fullmatch(r"tls://127\.0\.0\.1:\d+", resolved.client.scheduler.address)
        assert resolved.description.startswith("SLURMCluster at tls://127.0.0.1:")
        worker = next(line for line in resolved.cluster.job_script().splitlines() if "dask_worker" in line)
        assert resolved.client.scheduler.address in worker
        for flag in ("ca_file", "cert", "key"):
            assert f"--tls-{flag.replace('_', '-')} {certs[flag]}" in worker


def test_the_embedded_cluster_can_use_the_certificate_files(certs):
    cfg = parse_config(config({"local": {"n_workers": 1}, "tls": {k: str(v) for k, v in certs.items()}}))
    with open_cluster(cfg.cluster) as resolved:
        client = resolved.client
        assert re.fullmatch(r"tls://127\.0\.0\.1:\d+", client.scheduler.address)
        assert client.security.tls_ca_file == str(certs["ca_file"])
        assert client.submit(sum, [2, 3]).result() == 5
