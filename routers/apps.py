from django.apps import AppConfig


class RoutersConfig(AppConfig):
    name = "routers"
    verbose_name = "Read/write routing"

    def ready(self) -> None:
        from . import checks, tracking, unscoped

        checks.register()
        tracking.connect()
        unscoped.give_each_command_its_own_writes()
