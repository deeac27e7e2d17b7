from django.apps import AppConfig


class FactortraceConfig(AppConfig):
    name = "factortrace"
    verbose_name = "FactorTrace"

    def ready(self) -> None:
        from factortrace import checks

        checks.verify_startup()
