"""The production shape on one machine: a private Redis server, two uvicorn processes, two Celery
workers (thread pool) and Celery beat, each in its own process group so that a SIGKILL hits exactly
the piece meant, and everything started here is stopped at the end (also on Ctrl-C or an error)."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clamd_socket() -> str:
    """The socket scripts/ensure-clamd.sh starts clamd on, if clamd answers there."""
    path = ROOT / "var" / "clamav" / "clamd.sock"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(path))
            sock.sendall(b"zPING\0")
            if sock.recv(16).startswith(b"PONG"):
                return str(path)
    except OSError:
        pass
    return ""


@dataclass
class Piece:
    name: str
    args: list[str]
    process: subprocess.Popen | None = None
    ready: object = ""  # an HTTP URL that answers 200 once the piece serves, a probe, or ""
    starts: int = 0
    kills: list[tuple[float, float]] = field(default_factory=list)  # (killed at, back at)
    exits: list[tuple[float, int, float]] = field(default_factory=list)  # unasked: (at, code, back)
    held: bool = False  # down on purpose (a fault): not restarted by the supervisor


class Stack:
    def __init__(self, *, logdir: Path, env: dict[str, str], redis_port: int) -> None:
        self.logdir = logdir
        self.env = env
        self.redis_port = redis_port
        self.pieces: dict[str, Piece] = {}
        self.lock = threading.Lock()
        self._supervising = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._stopping = False

    # --- starting ------------------------------------------------------------------------------
    def add(self, name: str, args: list[str], ready: str = "") -> Piece:
        piece = Piece(name=name, args=args, ready=ready)
        self.pieces[name] = piece
        return piece

    def start(self, name: str) -> None:
        piece = self.pieces[name]
        log = open(self.logdir / f"{name}.log", "ab")
        piece.process = subprocess.Popen(
            piece.args,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        piece.starts += 1

    def wait_ready(self, name: str, timeout: float = 90) -> None:
        piece = self.pieces[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if piece.process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {piece.process.returncode}:\n{self.tail(name)}"
                )
            if name == "redis":
                try:
                    with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                        s.sendall(b"PING\r\n")
                        if s.recv(16).startswith(b"+PONG"):
                            return
                except OSError:
                    pass
            elif callable(piece.ready):
                if piece.ready():
                    return
            elif piece.ready:
                try:
                    if httpx.get(piece.ready, timeout=5).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            else:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not come up in {timeout:.0f} s:\n{self.tail(name)}")

    def start_all(self) -> None:
        for name, piece in self.pieces.items():
            if piece.process is not None and piece.process.poll() is None:
                continue
            self.start(name)
            self.wait_ready(name)

    # --- faults --------------------------------------------------------------------------------
    def kill(self, name: str, sig: int = signal.SIGKILL) -> float:
        piece = self.pieces[name]
        with self.lock:
            piece.held = True
        at = time.time()
        try:
            os.killpg(piece.process.pid, sig)
        except ProcessLookupError:
            pass
        piece.process.wait(timeout=60)
        piece.kills.append((at, 0.0))
        return at

    def bring_back(self, name: str) -> float:
        self.start(name)
        self.wait_ready(name)
        back = time.time()
        piece = self.pieces[name]
        piece.kills[-1] = (piece.kills[-1][0], back)
        with self.lock:
            piece.held = False
        return back

    # --- supervision ---------------------------------------------------------------------------
    def supervise(self) -> None:
        """Restarts a piece that exits without being asked to, as a deployment's process
        supervisor (systemd's Restart=always) does, and records it: the summary lists them."""

        def loop() -> None:
            while not self._stopping:
                time.sleep(0.5)
                for name, piece in self.pieces.items():
                    with self.lock:
                        if piece.held or piece.process is None or piece.process.poll() is None:
                            continue
                        piece.held = True
                    exited, code = time.time(), piece.process.returncode
                    try:
                        self.start(name)
                        self.wait_ready(name)
                    except Exception as exc:  # noqa: BLE001  (tried again on the next round)
                        print(f"  supervisor: {name} did not come back yet: {exc}", flush=True)
                        with self.lock:
                            piece.held = False
                        continue
                    piece.exits.append((exited, code, time.time()))
                    with self.lock:
                        piece.held = False

        self._supervising.set()
        self._supervisor = threading.Thread(target=loop, name="supervisor", daemon=True)
        self._supervisor.start()

    def check(self) -> None:
        for name, piece in self.pieces.items():
            if piece.held:
                continue
            if piece.process is not None and piece.process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {piece.process.returncode}:\n{self.tail(name)}"
                )

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.logdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # --- stopping ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Every process group started here, Redis last (the others flush to it while stopping)."""
        self._stopping = True
        self._supervising.clear()
        if self._supervisor is not None:
            self._supervisor.join(timeout=120)
        order = [n for n in self.pieces if n != "redis"] + (
            ["redis"] if "redis" in self.pieces else []
        )
        for name in order:
            process = self.pieces[name].process
            if process is not None and process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for name in order:
            process = self.pieces[name].process
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # The group too: a worker's or uvicorn's children die with it.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def build_stack(
    *, logdir: Path, env: dict[str, str], redis_port: int, ports: list[int], concurrency: int
) -> Stack:
    stack = Stack(logdir=logdir, env=env, redis_port=redis_port)
    stack.add(
        "redis",
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(logdir),
            # As a deployment runs it: what the broker holds survives a restart.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            "",
        ],
    )
    python = sys.executable
    for index, port in enumerate(ports, start=1):
        stack.add(
            f"asgi{index}",
            [
                python,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            ready=f"http://127.0.0.1:{port}/healthz",
        )
    for index in (1, 2):
        stack.add(
            f"worker{index}",
            [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "WARNING",
                "-n",
                f"soak{index}-{os.getpid()}@%h",
            ],
        )
    stack.add(
        "beat",
        [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "WARNING",
            "-s",
            str(logdir / "beat-schedule"),
        ],
    )
    return stack


_PING = threading.Lock()


def worker_answers(node: str) -> bool:
    """The worker consumes: it answers a remote-control ping through the broker."""
    from config.celery import app

    with _PING:
        try:
            replies = app.control.ping(destination=[node], timeout=1.0)
        except Exception:  # noqa: BLE001  (the broker itself may be coming back)
            return False
    return any(node in reply for reply in replies or [])


def database_create(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def database_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
