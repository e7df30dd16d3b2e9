from django.apps import AppConfig


class CareConsoleConfig(AppConfig):
    name = "care_console"
    verbose_name = "Care console"
