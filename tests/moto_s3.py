"""moto's S3 server on 127.0.0.1 for the S3 tests (test_cluster_storage, test_cluster_batch): its endpoint and
fake credentials in the environment, which Ray workers started meanwhile inherit."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def serve_moto_s3() -> Iterator[str]:
    """Run the server, set AWS_* for it, yield its endpoint URL; stop it afterwards. The caller has
    `pytest.importorskip`ped `moto.server`."""
    from moto import server as moto_server

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
            patch.setenv("AWS_ACCESS_KEY_ID", "testing")
            patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
            yield f"http://{host}:{port}"
    finally:
        server.stop()
