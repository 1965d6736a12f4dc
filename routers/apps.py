from django.apps import AppConfig


class RoutersConfig(AppConfig):
    name = "routers"
    verbose_name = "Read/write routing"

    def ready(self) -> None:
        from . import checks, tracking

        checks.register()
        tracking.connect()
