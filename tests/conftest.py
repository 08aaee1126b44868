"""Shared fixtures: small real Dask clusters (127.0.0.1, dashboard off).

Clusters are session-scoped: starting worker processes costs seconds, and
tests only need to see that answers do not depend on the worker count.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_blas():
    """BLAS single-threaded in the test process: the machines are shared and
    small, and a threaded BLAS oversubscribing two busy cores made small
    dense factorisations 30x slower (measured). Worker processes of the
    embedded cluster get the same setting from distributed's nanny."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _client(n_workers: int):
    from distributed import Client

    from hmm._client import start_local_cluster

    cluster = start_local_cluster(n_workers)
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="session")
def client_1w():
    """A Client on an embedded LocalCluster with 1 worker process x 1 thread."""
    yield from _client(1)


@pytest.fixture(scope="session")
def client_2w():
    """A Client on an embedded LocalCluster with 2 worker processes x 1 thread."""
    yield from _client(2)
