"""Malware scanning: attachment bytes go to clamd over its socket (INSTREAM).

The one question asked here is "is this clean?"; the answer is a verdict, never an exception: a
scanner that is down or cannot read the file says "unavailable", and the caller keeps the file
waiting (inbound) or does not send it (outbound). Nothing passes unscanned.
"""

import io
import logging
from dataclasses import dataclass
from typing import Literal

from clamav_client.clamd import ClamdError, ClamdNetworkSocket, ClamdUnixSocket
from django.conf import settings

logger = logging.getLogger(__name__)

CLEAN = "clean"
INFECTED = "infected"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class ScanVerdict:
    status: Literal["clean", "infected", "unavailable"]
    # The malware's name when infected ("Eicar-Test-Signature"), else "".
    signature: str = ""
    # Why the scan gave no answer, when unavailable.
    detail: str = ""

    @property
    def clean(self) -> bool:
        return self.status == CLEAN


def scanner_configured() -> bool:
    """A clamd address is set (the embedded default has none: files are then not scanned)."""
    return bool(settings.CLAMD_SOCKET)


def _client() -> ClamdNetworkSocket:
    address = settings.CLAMD_SOCKET
    timeout = settings.CLAMD_TIMEOUT_SECONDS
    if address.startswith("tcp://"):
        host, _, port = address.removeprefix("tcp://").rpartition(":")
        return ClamdNetworkSocket(host=host or "127.0.0.1", port=int(port or 3310), timeout=timeout)
    return ClamdUnixSocket(path=address, timeout=timeout)


def scan_bytes(data: bytes) -> ScanVerdict:
    """clamd's verdict on the bytes; "unavailable" when there is no scanner or it cannot answer."""
    if not scanner_configured():
        return ScanVerdict(UNAVAILABLE, detail="no scanner configured (CLAMD_SOCKET is empty)")
    try:
        result = _client().instream(io.BytesIO(data))
    except (ClamdError, OSError, ValueError) as exc:
        # Down, restarting, over its StreamMaxLength, or a broken answer: the file waits.
        logger.warning("clamd did not scan %d bytes: %s", len(data), exc)
        return ScanVerdict(UNAVAILABLE, detail=f"{type(exc).__name__}: {exc}"[:500])
    status, signature = result.get("stream", ("ERROR", "no answer"))
    if status == "OK":
        return ScanVerdict(CLEAN)
    if status == "FOUND":
        return ScanVerdict(INFECTED, signature=signature or "unknown")
    return ScanVerdict(UNAVAILABLE, detail=f"clamd answered {status}: {signature}"[:500])


def scanner_ping() -> str:
    """clamd's version line, for /healthz; raises when it does not answer."""
    client = _client()
    if client.ping() != "PONG":
        raise RuntimeError("clamd did not answer PONG")
    return client.version()
