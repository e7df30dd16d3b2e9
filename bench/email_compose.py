"""Benchmark: the server's share of the email composer and of "Show images".

- compose: replies/s through `email_html_clean` (nh3 sanitizing with the inbound allow-list and
  the derived text part) for a short reply (a paragraph, bold, a list, a link: 232 bytes) and a long
  one (the same 250 times: 58 kB);
- images: remote images/s through `config/outbound.py fetch()` and the magic-byte check, from a
  loopback HTTP server allowed through OUTBOUND_ALLOWED_HOSTS, for a 1x1 PNG and a 200 kB JPEG-like
  body (what the image view does besides the ownership query).

    .venv/bin/python bench/email_compose.py [--rounds 2000]   # about 10 seconds

No database is touched.
"""

import argparse
import json
import os
import platform
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["OUTBOUND_ALLOWED_HOSTS"] = "127.0.0.1"
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # no deployment: nothing signed

import django  # noqa: E402

django.setup()

from channels_app.media import detect_content_type  # noqa: E402
from channels_app.services.email import email_html_clean  # noqa: E402
from config.outbound import fetch  # noqa: E402
from tests.channels_app.email_support import PNG  # noqa: E402
from tests.loopback import LoopbackServer  # noqa: E402

SHORT = (
    "<div>Hello Erika, the second shoe is on its way. <b>Tracking 4711</b></div>"
    "<ul><li>Left shoe</li><li>Right shoe</li></ul>"
    '<div>Follow it <a href="https://acme.test/track?id=4711">here</a>. <i>Sorry!</i></div>'
    "<script>alert(1)</script>"
)
LONG = SHORT * 250
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * (200 * 1024)


def rate(fn, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        fn()
    return round(rounds / (time.perf_counter() - started), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    result: dict = {"python": platform.python_version(), "rounds": args.rounds}
    result["compose_short_per_s"] = rate(lambda: email_html_clean(SHORT), args.rounds)
    result["compose_long_per_s"] = rate(lambda: email_html_clean(LONG), max(1, args.rounds // 20))
    result["short_bytes"], result["long_bytes"] = len(SHORT), len(LONG)
    with LoopbackServer() as server:
        server.routes["/p.png"] = lambda h: h.reply(200, PNG, {"Content-Type": "image/png"})
        server.routes["/big.jpg"] = lambda h: h.reply(200, JPEG, {"Content-Type": "image/jpeg"})

        def image(path: str, expected: str) -> None:
            fetched = fetch("GET", server.url + path, max_bytes=5 * 1024 * 1024, timeout=10)
            assert detect_content_type(fetched.content) == expected

        rounds = max(1, args.rounds // 10)
        result["image_png_per_s"] = rate(lambda: image("/p.png", "image/png"), rounds)
        result["image_200kb_per_s"] = rate(lambda: image("/big.jpg", "image/jpeg"), rounds)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "email_compose.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
