from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from accounts.sessions import bind_session_to_schema
        from accounts.throttle import record_login_failure

        user_logged_in.connect(bind_session_to_schema, dispatch_uid="bind_session_to_schema")
        user_login_failed.connect(record_login_failure, dispatch_uid="record_login_failure")
