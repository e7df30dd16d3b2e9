"""channels_app.scanning against a real clamd with the project's test signatures."""

import pytest

from channels_app.scanning import scan_bytes, scanner_configured
from tests.clamd import EICAR

pytestmark = pytest.mark.django_db


def test_clean_bytes_are_clean():
    verdict = scan_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 1024)

    assert verdict.status == "clean"
    assert verdict.signature == ""


def test_eicar_is_infected_and_named():
    verdict = scan_bytes(EICAR)

    assert verdict.status == "infected"
    assert verdict.signature.startswith("Eicar-Test-Signature")


def test_eicar_inside_a_larger_file_is_found():
    verdict = scan_bytes(b"A" * 300_000 + EICAR + b"B" * 300_000)

    assert verdict.status == "infected"


def test_no_scanner_configured_is_unavailable_not_an_error(settings):
    settings.CLAMD_SOCKET = ""

    assert scanner_configured() is False
    verdict = scan_bytes(b"hello")
    assert verdict.status == "unavailable"
    assert "CLAMD_SOCKET" in verdict.detail


def test_a_stopped_scanner_is_unavailable_and_a_restarted_one_answers(private_clamd):
    assert scan_bytes(EICAR).status == "infected"

    private_clamd.stop()
    down = scan_bytes(EICAR)
    assert down.status == "unavailable"
    assert down.detail

    private_clamd.start()
    assert scan_bytes(EICAR).status == "infected"


def test_a_socket_nobody_listens_on_is_unavailable(settings, tmp_path):
    settings.CLAMD_SOCKET = str(tmp_path / "nobody.sock")

    assert scanner_configured() is True
    assert scan_bytes(b"hello").status == "unavailable"
