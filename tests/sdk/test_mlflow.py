"""``track_run`` against a real MLflow tracking store (SQLite) in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from costcouncil.sdk import CostCouncil
from costcouncil.sdk.mlflow import owners_from_tags, track_run
from tests.sdk.peer import Peer


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer().start()
    yield server
    server.stop()


@pytest.fixture
def mlflow(tmp_path: Path) -> Iterator[ModuleType]:
    """MLflow (imported here: it is slow to import) with a fresh SQLite tracking store."""
    module = pytest.importorskip("mlflow")
    module.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield module
    module.set_tracking_uri(None)  # back to the environment's or MLflow's default


def test_owner_keys_from_tags() -> None:
    tags = {"costcouncil.io/team": "vision", "project": "p", "team": "", "mlflow.user": "ana"}
    assert owners_from_tags(tags) == {"team": "vision", "project": "p", "user": "ana"}


@pytest.mark.slow
def test_track_run_reports_the_active_run(peer: Peer, mlflow: ModuleType) -> None:
    cc = CostCouncil(peer.url, flush_interval=30)
    with pytest.raises(ValueError, match="no active MLflow run"):
        track_run(cc)
    with mlflow.start_run(run_name="det-1", tags={"team": "vision"}) as run:
        mlflow.set_tag("costcouncil.model", "detector")
        with pytest.raises(RuntimeError), track_run(cc, gpus=8, gpu_type="H100", project="eyes"):
            raise RuntimeError("diverged")
    assert cc.flush(timeout=5)
    start, stop = peer.requests[0].events
    run_id = run.info.run_id
    assert start["job_id"] == run_id and start["run"] == run_id and start["kind"] == "training"
    assert (start["team"], start["model"], start["project"]) == ("vision", "detector", "eyes")
    assert start["accelerator_count"] == 8 and start["accelerator_type"] == "H100"
    assert start["attributes"]["mlflow_run_name"] == "det-1"
    assert stop["job_id"] == run_id and stop["status"] == "failed"
    cc.close()
