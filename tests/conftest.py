"""Shared fixtures: small real Dask clusters (127.0.0.1, dashboard off).

Clusters are session-scoped: starting worker processes costs seconds, and
tests only need to see that answers do not depend on the worker count.
"""

from __future__ import annotations

import pytest


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
