"""``costcouncil agent`` on a machine without a GPU: one clear line and exit code 0."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from costcouncil.agent import NvmlUnavailable, open_nvml
from costcouncil.cli.agent_cmd import agent_cmd

app = typer.Typer()
app.command(name="agent")(agent_cmd)


@app.callback()
def main() -> None:
    """A one-command app, as ``costcouncil.cli.main`` registers it."""


def gpu_present() -> bool:
    try:
        open_nvml().close()
    except NvmlUnavailable:
        return False
    return True


@pytest.mark.skipif(gpu_present(), reason="this machine has a working NVIDIA GPU")
def test_no_gpu_prints_which_check_failed_and_exits_0() -> None:
    result = CliRunner().invoke(app, ["agent", "--server", "http://127.0.0.1:9", "--once"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("costcouncil agent: no GPU to watch: ")
    assert "NVML" in lines[0] or "driver" in lines[0]


def test_missing_pynvml_is_named() -> None:
    code = (
        "import sys; sys.modules['pynvml'] = None\n"
        "from tests.agent.test_cli import app\n"
        "app(['agent', '--server', 'http://127.0.0.1:9'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "no GPU to watch: the pynvml module is not installed" in out.stdout


def test_a_bad_server_url_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["agent", "--server", "localhost:8000"])
    assert result.exit_code == 2 and "http(s)://host[:port]" in result.output
