from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "routing.flows"
    label = "flows"
    verbose_name = "Flows and variables"

    def ready(self) -> None:
        from routing.flows import events

        events.connect()
