"""The tenant app, served at <slug>.<BASE_DOMAIN>. Every name here must appear in the isolation matrix
(tests/test_isolation.py), which fails when one is missing."""

from django.urls import path

from accounts import views as accounts
from factortrace import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", accounts.login_view, name="login"),
    path("logout/", accounts.logout_view, name="logout"),
    path("password/change/", accounts.password_change, name="password_change"),
    path("password/change/done/", accounts.password_change_done, name="password_change_done"),
    path("password/reset/", accounts.password_reset, name="password_reset"),
    path("password/reset/sent/", accounts.password_reset_done, name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/", accounts.password_reset_complete, name="password_reset_complete"
    ),
    path("team/", accounts.team, name="team"),
    path("team/add/", accounts.team_add, name="team_add"),
    path("team/<int:user_id>/role/", accounts.team_role, name="team_role"),
    path("team/<int:user_id>/remove/", accounts.team_remove, name="team_remove"),
    path("imports/", views.imports, name="imports"),
    path("activities/", views.activities, name="activities"),
    path("factors/", views.factors, name="factors"),
    path("reports/", views.reports, name="reports"),
    path("billing/", views.billing, name="billing"),
    path("settings/", views.settings_page, name="settings"),
]
