from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.sessions import bind_session_to_schema

        user_logged_in.connect(bind_session_to_schema, dispatch_uid="bind_session_to_schema")
