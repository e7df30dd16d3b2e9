from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "routing.flows"
    label = "flows"
    verbose_name = "Flows and variables"
