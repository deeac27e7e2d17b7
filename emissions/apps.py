from django.apps import AppConfig


class EmissionsConfig(AppConfig):
    name = "emissions"
    default_auto_field = "django.db.models.BigAutoField"
