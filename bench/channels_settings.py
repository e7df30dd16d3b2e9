"""Settings for bench/webhook_ingest.py only: the project's settings plus a bench URLconf that adds
a minimal insert-one-row view next to the real webhooks. Never used outside the benchmark."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.channels_urls"
