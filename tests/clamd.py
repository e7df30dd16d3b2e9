"""ClamAV for tests: EICAR's test file, and a private clamd a test may stop and start without
disturbing the shared one (scripts/ensure-clamd.sh) other tests use."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SIGNATURES = Path(__file__).resolve().parent / "clamav"

# EICAR's standard anti-virus test file, put together at run time so that this source file is not
# itself reported by a scanner on a developer's machine.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def clamd_binary() -> str:
    return os.environ.get("CLAMD_BIN") or shutil.which("clamd") or "/usr/sbin/clamd"


def _answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(path)
            s.sendall(b"zPING\0")
            return s.recv(16).startswith(b"PONG")
    except OSError:
        return False


class PrivateClamd:
    """A clamd on its own socket, run in the foreground as a child of the test process."""

    def __init__(self) -> None:
        # Unix socket paths are short (108 bytes): a short directory of our own under /tmp.
        self.dir = Path(tempfile.mkdtemp(prefix="clamd-"))
        self.socket = str(self.dir / "clamd.sock")
        self.process: subprocess.Popen | None = None
        (self.dir / "clamd.conf").write_text(
            f"LocalSocket {self.socket}\n"
            f"DatabaseDirectory {SIGNATURES}\n"
            f"LogFile {self.dir / 'clamd.log'}\n"
            "Foreground yes\n"
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [clamd_binary(), f"--config-file={self.dir / 'clamd.conf'}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not _answers(self.socket):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"clamd did not start: see {self.dir / 'clamd.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
        Path(self.socket).unlink(missing_ok=True)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
