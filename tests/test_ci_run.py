"""`.ci/run` serves the run command on a port of its own and stops only the server it started."""

import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


class Broken(BaseHTTPRequestHandler):
    """Someone else's server on port 8000, unhealthy."""

    def do_GET(self):
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def someone_elses_server_on_8000():
    try:
        server = HTTPServer(("127.0.0.1", 8000), Broken)
    except OSError:
        yield None  # already taken by another server: just as good a neighbour
        return
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def someone_elses_uvicorn():
    """A process whose command line matches "uvicorn config.asgi", as another checkout's would."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", "uvicorn", "config.asgi:application"]
    )
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def test_command_recorder(tmp_path):
    """A `bash` first on PATH that records the test and soak commands instead of running the
    whole suite again (this test is part of it) and hands everything else to the real bash."""
    shims = tmp_path / "shims"
    shims.mkdir()
    record = tmp_path / "test-command"
    (shims / "bash").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "scripts/test.sh" ] || [ "$1" = "scripts/soak.sh" ]; then '
        'echo "bash $*" >> "$CI_TEST_COMMAND_RECORD"; exit 0; fi\n'
        'exec /bin/bash "$@"\n'
    )
    (shims / "bash").chmod(0o755)
    return shims, record


def free_port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_ci_run_uses_a_free_port_and_stops_only_its_own_server(
    tmp_path, someone_elses_server_on_8000, someone_elses_uvicorn, test_command_recorder
):
    shims, record = test_command_recorder
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_NAME", "SECRET_KEY", "HTTPS"}
        and not key.startswith("FIELD_ENCRYPTION_KEY")
    }
    env.update(
        PATH=f"{shims}{os.pathsep}{env['PATH']}",
        VAR_DIR=str(tmp_path / "var"),
        CI_TEST_COMMAND_RECORD=str(record),
    )

    result = subprocess.run(
        ["/bin/bash", ".ci/run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=400
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert '"status"' in result.stdout  # /healthz answered
    port = int(result.stdout.split("run command on port ")[1].split()[0])
    assert port != 8000
    assert free_port_is_free(port), "the server .ci/run started is still listening"
    assert someone_elses_uvicorn.poll() is None, "another checkout's server was killed"
    # The README's test command, then the harness's short run.
    assert record.read_text().splitlines() == [
        "bash scripts/test.sh",
        "bash scripts/soak.sh --duration 120 --rate 4",
    ]
