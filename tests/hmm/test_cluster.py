"""``[cluster]``: an existing scheduler, the embedded cluster, SLURM/PBS job scripts, validation, docs.

Real processes: a ``dask scheduler`` and a ``dask worker`` subprocess on
127.0.0.1, and ``hmm run`` as a CLI subprocess; the results of a run through
them must equal those of the embedded cluster bit for bit.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from hmm.cli import main
from hmm.cluster import (LIFETIME_MARGIN_FRACTION, LIFETIME_MARGIN_MIN_S, jobqueue_cluster, open_cluster,
                         parse_walltime, worker_lifetime)
from hmm.config import parse_config
from hmm.errors import ConfigError

from . import dask_processes as dp

BASE = dp.BASE
config = dp.config


SLURM = {"system": "slurm", "cores": 8, "memory": "16GB", "walltime": "01:00:00", "queue": "short",
         "account": "proj42", "adapt_maximum": 4, "job_extra_directives": ["--qos=debug"]}


# -- the embedded cluster and an external one, through the CLI -------------------------------
@pytest.fixture(scope="module")
def external(tmp_path_factory):
    """A real ``dask scheduler`` and one ``dask worker`` on 127.0.0.1; stopped even if a test fails."""
    logs = tmp_path_factory.mktemp("dask-logs")
    port = dp.free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = dp.start_scheduler(port, logs / "scheduler.log")
    worker = dp.start_worker(address, logs / "worker.log")
    try:
        dp.wait_for_workers(address, 1)
        yield address
    finally:
        dp.stop(worker, scheduler)


@pytest.fixture(scope="module")
def embedded_result(tmp_path_factory):
    """The reference: the run on the embedded cluster (``[cluster.local]``, one worker)."""
    folder = tmp_path_factory.mktemp("embedded")
    out = folder / "embedded.nc"
    cfg = dp.write_config(folder / "run.toml", out, "[cluster.local]\nn_workers = 1")
    proc = dp.hmm_run(cfg)
    assert proc.returncode == 0, proc.stderr
    assert "embedded LocalCluster at tcp://127.0.0.1:" in proc.stdout
    return out


def test_a_run_through_an_existing_scheduler_equals_the_embedded_run_bit_for_bit(tmp_path, external,
                                                                               embedded_result):
    out = tmp_path / "external.nc"
    cfg = dp.write_config(tmp_path / "run.toml", out, f'[cluster]\naddress = "{external}"')
    proc = dp.hmm_run(cfg)
    assert proc.returncode == 0, proc.stderr
    assert f"external cluster at {external} (1 workers, 1 threads)" in proc.stdout
    dp.assert_same_results(out, embedded_result)


def test_scheduler_on_the_command_line_wins_over_the_cluster_section(tmp_path, external, embedded_result):
    out = tmp_path / "override.nc"
    cfg = dp.write_config(tmp_path / "run.toml", out, "[cluster.local]\nn_workers = 2")
    proc = dp.hmm_run(cfg, "--scheduler", external)
    assert proc.returncode == 0, proc.stderr
    assert f"external cluster at {external}" in proc.stdout and "LocalCluster" not in proc.stdout
    dp.assert_same_results(out, embedded_result)


def test_an_unreachable_cluster_address_exits_3_within_the_timeout(tmp_path, capsys):
    port = dp.free_port()  # nothing listens there
    cfg = dp.write_config(tmp_path / "run.toml", tmp_path / "out.nc",
                          f'[cluster]\naddress = "tcp://127.0.0.1:{port}"')
    assert main(["run", str(cfg), "--timeout", "1"]) == 3
    err = capsys.readouterr().err
    assert f"could not reach the Dask scheduler at 'tcp://127.0.0.1:{port}' within 1 s" in err
    assert not (tmp_path / "out.nc").exists()


def test_workers_flag_with_a_scheduler_address_is_a_usage_error(tmp_path, capsys):
    cfg = dp.write_config(tmp_path / "run.toml", tmp_path / "out.nc", '[cluster]\naddress = "tcp://127.0.0.1:9"')
    assert main(["run", str(cfg), "--workers", "2"]) == 2
    assert "--workers sizes the embedded cluster" in capsys.readouterr().err


@pytest.mark.parametrize("cluster, n_workers", [
    (None, None),  # [coupler] workers = 1 (default_workers)
    ({"local": {"n_workers": 1, "memory_limit": "1GB"}}, None),
    ({"local": {"n_workers": 2, "memory_limit": "1GB"}}, 1),  # --workers 1 overrides n_workers
])
def test_the_embedded_cluster_listens_on_127_0_0_1_only(cluster, n_workers):
    cfg = parse_config(config(cluster))
    with open_cluster(cfg.cluster, n_workers=n_workers, default_workers=1) as resolved:
        client = resolved.client
        assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", client.scheduler.address)
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 1 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
        if cluster is not None:  # the configured memory limit reached the worker
            assert [w["memory_limit"] for w in workers.values()] == [10**9]
        assert client.submit(sum, [1, 2]).result() == 3
    assert resolved.client is None  # closed on leaving the context


# -- SLURM and PBS job scripts (the batch systems are not installed here) -----------------------
def _script(spec: dict) -> str:
    cfg = parse_config(config({"jobqueue": spec}))
    cluster = jobqueue_cluster(cfg.cluster.jobqueue, scheduler_host="127.0.0.1")
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def _worker_line(script: str) -> str:
    return next(line for line in script.splitlines() if "distributed.cli.dask_worker" in line)


def test_the_slurm_job_script_holds_the_requested_resources_and_a_lifetime():
    script = _script(SLURM)
    lines = script.splitlines()
    assert lines[0].startswith("#!")
    directives = [line for line in lines if line.startswith("#SBATCH")]
    for wanted in ("#SBATCH -p short", "#SBATCH -A proj42", "#SBATCH --cpus-per-task=8",
                   "#SBATCH -t 01:00:00", "#SBATCH --qos=debug", "#SBATCH -J hmm-worker",
                   # 16 GB = 14.9 GiB; SLURM's --mem is in GiB, rounded up
                   "#SBATCH --mem=15G"):
        assert wanted in directives, (wanted, directives)
    worker = _worker_line(script)
    assert worker.startswith(sys.executable)  # default python: this interpreter
    lifetime, stagger = worker_lifetime(3600)
    assert f"--lifetime {lifetime}s" in worker and f"--lifetime-stagger {stagger}s" in worker
    # one single-threaded worker process per core (processes defaults to cores)
    assert "--nworkers 8" in worker and "--nthreads 1" in worker


def test_the_pbs_job_script_holds_the_requested_resources_and_a_lifetime():
    spec = {**SLURM, "system": "pbs", "walltime": "10:00:00", "processes": 4, "queue": "workq",
            "job_extra_directives": ["-l place=scatter"], "local_directory": "$TMPDIR"}
    script = _script(spec)
    directives = [line for line in script.splitlines() if line.startswith("#PBS")]
    assert script.startswith("#!")
    for wanted in ("#PBS -q workq", "#PBS -A proj42", "#PBS -l walltime=10:00:00", "#PBS -l place=scatter"):
        assert wanted in directives, (wanted, directives)
    assert any(d.startswith("#PBS -l select=1:ncpus=8:mem=") for d in directives), directives
    worker = _worker_line(script)
    lifetime, stagger = worker_lifetime(36000)
    assert f"--lifetime {lifetime}s" in worker and f"--lifetime-stagger {stagger}s" in worker
    assert "--nworkers 4" in worker and "--nthreads 2" in worker and "--local-directory $TMPDIR" in worker


@pytest.mark.parametrize("walltime", [60, 120, 600, 3599, 3600, 86400, 7 * 86400])
def test_workers_retire_before_the_walltime_and_not_all_at_once(walltime):
    lifetime, stagger = worker_lifetime(walltime)
    margin = min(max(LIFETIME_MARGIN_MIN_S, LIFETIME_MARGIN_FRACTION * walltime), walltime / 2)
    # Dask draws each lifetime from lifetime +/- stagger: the last worker leaves >= margin/2 - 1 s
    # (whole-second rounding) before the walltime, the first no earlier than 1.5 margins before it
    assert lifetime + stagger <= walltime - margin / 2 + 1
    assert lifetime - stagger >= walltime - 1.5 * margin - 1
    assert stagger >= 1 and lifetime - stagger > 0


def test_walltime_parsing():
    assert parse_walltime("01:30:00") == 5400 and parse_walltime("48:00:05") == 172805


def test_jobqueue_without_a_submit_command_exits_3(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch on this PATH
    cluster = "[cluster.jobqueue]\n" + "\n".join(
        f"{k} = {v!r}".replace("'", '"') for k, v in {**SLURM, "account": "p"}.items())
    cfg = dp.write_config(tmp_path / "run.toml", tmp_path / "out.nc", cluster)
    assert main(["run", str(cfg)]) == 3
    assert "submits jobs with 'sbatch', which is not on PATH" in capsys.readouterr().err
    assert not (tmp_path / "out.nc").exists()


# -- validation before anything starts -------------------------------------------------------------
@pytest.mark.parametrize("cluster, key, words", [
    ({"jobqueue": {**SLURM, "walltime": "1:00"}}, "cluster.jobqueue.walltime", '"HH:MM:SS"'),
    ({"jobqueue": {**SLURM, "walltime": "01:60:00"}}, "cluster.jobqueue.walltime", '"HH:MM:SS"'),
    ({"jobqueue": {**SLURM, "walltime": "00:00:00"}}, "cluster.jobqueue.walltime", "longer than zero"),
    ({"jobqueue": {**SLURM, "walltime": 3600}}, "cluster.jobqueue.walltime", "valid string"),
    ({"jobqueue": {**SLURM, "cores": 0}}, "cluster.jobqueue.cores", "greater than or equal to 1"),
    ({"jobqueue": {**SLURM, "adapt_minimum": -1}}, "cluster.jobqueue.adapt_minimum", "greater than or equal to 0"),
    ({"jobqueue": {**SLURM, "adapt_minimum": 5}}, "cluster.jobqueue", "exceeds adapt_maximum = 4"),
    ({"jobqueue": {**SLURM, "jobs": 2}}, "cluster.jobqueue", "not both"),
    ({"jobqueue": {k: v for k, v in SLURM.items() if k != "adapt_maximum"}}, "cluster.jobqueue",
     "set jobs"),
    ({"jobqueue": {**SLURM, "processes": 9}}, "cluster.jobqueue", "exceeds cores = 8"),
    ({"jobqueue": {**SLURM, "memory": "lots"}}, "cluster.jobqueue.memory", "memory size"),
    ({"jobqueue": {**SLURM, "system": "lsf"}}, "cluster.jobqueue.system", "'slurm' or 'pbs'"),
    ({"jobqueue": {**SLURM, "colour": "red"}}, "cluster.jobqueue.colour", "Extra inputs"),
    ({"local": {"n_workers": -2}}, "cluster.local.n_workers", "greater than or equal to 1"),
    ({"local": {"threads_per_worker": 0}}, "cluster.local.threads_per_worker", "greater than or equal to 1"),
    ({"local": {"memory_limit": "plenty"}}, "cluster.local.memory_limit", "memory size"),
    ({"local": {"tls": "permanent"}}, "cluster.local.tls", "'temporary'"),
    ({"address": "tcp://127.0.0.1:8786", "local": {}}, "cluster", "got cluster.address and [cluster.local]"),
    ({"local": {}, "jobqueue": SLURM}, "cluster", "got [cluster.local] and [cluster.jobqueue]"),
    ({}, "cluster", "set exactly one of cluster.address, [cluster.local] or [cluster.jobqueue]; got none"),
    ({"address": "localhost"}, "cluster.address", '"tcp://host:port"'),
    ({"address": "tcp://127.0.0.1:99999"}, "cluster.address", '"tcp://host:port"'),
    ({"address": "ucx://127.0.0.1:8786"}, "cluster.address", '"tls://host:port"'),
    ({"address": "tls://127.0.0.1:8786"}, "cluster", "needs cluster.tls"),
    ({"address": "tcp://127.0.0.1:8786", "tls": {"ca_file": "no/ca.pem", "cert": "no/c.pem", "key": "no/k.pem"}},
     "cluster.tls.ca_file", "no such file 'no/ca.pem'"),
])
def test_a_bad_cluster_section_names_the_key(cluster, key, words):
    with pytest.raises(ConfigError) as info:
        parse_config(config(cluster), "test")
    assert key in str(info.value) and words in str(info.value), str(info.value)


@pytest.mark.parametrize("coupler, named", [({"scheduler": "sync"}, "coupler.scheduler"),
                                            ({"workers": 2}, "coupler.workers")])
def test_the_old_coupler_keys_and_a_cluster_section_together_are_refused(coupler, named):
    with pytest.raises(ConfigError) as info:
        parse_config(config({"local": {}}, coupler=coupler), "test")
    assert f"{named} and [cluster] both say where the micro runs go" in str(info.value)


def test_the_old_coupler_keys_still_work_without_a_cluster_section():
    cfg = parse_config(config(coupler={"scheduler": "sync", "workers": 2}), "test")
    assert cfg.cluster is None and cfg.coupler.scheduler == "sync"
    assert open_cluster(cfg.cluster, scheduler=cfg.coupler.scheduler).description == "sync (in process)"


def test_jobqueue_without_dask_jobqueue_installed_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # `import dask_jobqueue` now fails
    with pytest.raises(ConfigError) as info:
        parse_config(config({"jobqueue": SLURM}), "test")
    assert "cluster.jobqueue" in str(info.value) and "needs dask-jobqueue" in str(info.value)


# -- docs/cluster.md ----------------------------------------------------------------------------------
DOC = dp.ROOT / "docs" / "cluster.md"


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _snippets() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_cluster_guide_has_toml_snippets():
    assert len(_snippets()) >= 5


@pytest.mark.parametrize("index", range(len(_snippets())))
def test_every_toml_snippet_of_the_cluster_guide_is_a_valid_config_fragment(index, tmp_path, monkeypatch):
    snippet = tomllib.loads(_snippets()[index])
    monkeypatch.chdir(tmp_path)
    tls = snippet.get("cluster", {}).get("tls", {})
    for path in tls.values():  # the certificate files a snippet names must exist to validate
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("placeholder\n")
    cfg = parse_config(_merge(BASE, snippet), f"docs/cluster.md snippet {index}")
    assert cfg.cluster is not None or cfg.coupler.scheduler is not None
