from django.core.management.base import BaseCommand

from channels_app.sandbox.fake_provider import FakeProvider, make_server


class Command(BaseCommand):
    help = (
        "Runs the fake WhatsApp / Messenger / Twilio API on its own (see GET / for what was sent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025)

    def handle(self, *args, host, port, **options):
        server = make_server(FakeProvider(), host, port)
        base = f"http://{host}:{server.server_address[1]}"
        self.stdout.write(
            f"Fake provider on {base}/ ; point an asset's API base URL at {base}/<kind>"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
