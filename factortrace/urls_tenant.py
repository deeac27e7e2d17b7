"""The tenant app, served at <slug>.<BASE_DOMAIN>. Every name here must appear in the isolation matrix
(tests/test_isolation.py), which fails when one is missing."""

from django.urls import path, re_path

from accounts import views as accounts
from api import views as api_views
from api.v1 import api
from billing import views as billing
from emissions import views as activities
from emissions import views_settings
from factors import views as factors
from imports import views as imports
from imports import views_sites as import_sites
from reporting import views as reporting
from tenants import views as tenants

handler400 = "factortrace.errors.bad_request"

urlpatterns = [
    path("", reporting.home, name="home"),
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
    path("welcome/<str:token>/", accounts.welcome, name="welcome"),
    path("invite/<uidb64>/<token>/", accounts.invite_accept, name="invite_accept"),
    path("team/", accounts.team, name="team"),
    path("team/add/", accounts.team_add, name="team_add"),
    path("team/<int:user_id>/role/", accounts.team_role, name="team_role"),
    path("team/<int:user_id>/remove/", accounts.team_remove, name="team_remove"),
    path("team/locks/<int:lock_id>/lift/", accounts.team_unlock, name="team_unlock"),
    path("imports/", imports.import_list, name="imports"),
    path("imports/upload/", imports.import_upload, name="import_upload"),
    path("imports/sample/", imports.import_sample, name="import_sample"),
    path("imports/<int:run_id>/", imports.import_detail, name="import_detail"),
    path("imports/<int:run_id>/reading/", imports.import_reading, name="import_reading"),
    path("imports/<int:run_id>/sheet/", imports.import_sheet, name="import_sheet"),
    path("imports/<int:run_id>/mapping/", imports.import_mapping, name="import_mapping"),
    path("imports/<int:run_id>/preview/", imports.import_preview, name="import_preview"),
    path("imports/<int:run_id>/validate/", imports.import_validate, name="import_validate"),
    path("imports/<int:run_id>/check/", imports.import_results, name="import_results"),
    path("imports/<int:run_id>/check/fix/", imports.import_fix, name="import_fix"),
    path("imports/<int:run_id>/check/apply/", imports.import_apply_all, name="import_apply_all"),
    path(
        "imports/<int:run_id>/check/sites/", import_sites.import_add_sites, name="import_add_sites"
    ),
    path(
        "imports/<int:run_id>/invalid-rows.<str:fmt>",
        imports.import_export,
        name="import_export",
    ),
    path("imports/<int:run_id>/factors/", imports.import_factors, name="import_factors"),
    path(
        "imports/<int:run_id>/factors/choose/",
        imports.import_factor_choose,
        name="import_factor_choose",
    ),
    path(
        "imports/<int:run_id>/factors/search/",
        imports.import_factor_search,
        name="import_factor_search",
    ),
    path("imports/<int:run_id>/commit/", imports.import_commit, name="import_commit"),
    path("imports/<int:run_id>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:run_id>/undo/", imports.import_undo, name="import_undo"),
    path("activities/", activities.activity_list, name="activities"),
    path(
        "activities/companion-lines/",
        activities.activity_companion_setting,
        name="activities_companion_setting",
    ),
    path("activities/<int:record_id>/edit/", activities.activity_edit, name="activities_edit"),
    path(
        "activities/<int:record_id>/delete/",
        activities.activity_delete,
        name="activities_delete",
    ),
    path(
        "activities/<int:record_id>/factor/",
        activities.activity_factor_change,
        name="activities_factor_change",
    ),
    path("factors/", factors.factor_list, name="factors"),
    path("factors/<int:factor_id>/", factors.factor_detail, name="factor_detail"),
    path("factors/picker/", factors.factor_picker, name="factor_picker"),
    path("factors/yours/", factors.supplier_factor_list_view, name="supplier_factors"),
    path("factors/yours/add/", factors.supplier_factor_add, name="supplier_factor_add"),
    path(
        "factors/yours/<int:supplier_factor_id>/",
        factors.supplier_factor_detail,
        name="supplier_factor_detail",
    ),
    path(
        "factors/yours/<int:supplier_factor_id>/edit/",
        factors.supplier_factor_edit,
        name="supplier_factor_edit",
    ),
    path(
        "factors/yours/<int:supplier_factor_id>/delete/",
        factors.supplier_factor_delete_view,
        name="supplier_factor_delete",
    ),
    path("reports/", reporting.report_list, name="reports"),
    path(
        "reports/<int:report_id>/download.<str:fmt>",
        reporting.report_download,
        name="report_download",
    ),
    path("billing/", billing.billing, name="billing"),
    path("billing/buy/", billing.billing_buy, name="billing_buy"),
    path("billing/voucher/", billing.billing_redeem, name="billing_redeem"),
    path("billing/payments/<int:payment_id>/", billing.billing_payment, name="billing_payment"),
    path(
        "billing/payments/<int:payment_id>/cancel/",
        billing.billing_payment_cancel,
        name="billing_payment_cancel",
    ),
    path("reports/<int:report_id>/viewer/", reporting.report_viewer, name="report_viewer"),
    path(
        "reports/<int:report_id>/restatement/",
        reporting.report_restatement,
        name="report_restatement",
    ),
    path("settings/", views_settings.settings_page, name="settings"),
    path("settings/periods/add/", views_settings.settings_period_add, name="settings_period_add"),
    path(
        "settings/periods/<int:period_id>/delete/",
        views_settings.settings_period_delete,
        name="settings_period_delete",
    ),
    path("settings/sites/add/", views_settings.settings_site_add, name="settings_site_add"),
    path(
        "settings/sites/<int:site_id>/",
        views_settings.settings_site_edit,
        name="settings_site_edit",
    ),
    path(
        "settings/contracts/add/",
        views_settings.settings_contract_add,
        name="settings_contract_add",
    ),
    path(
        "settings/contracts/<int:instrument_id>/",
        views_settings.settings_contract_edit,
        name="settings_contract_edit",
    ),
    path(
        "settings/contracts/<int:instrument_id>/delete/",
        views_settings.settings_contract_delete,
        name="settings_contract_delete",
    ),
    path("settings/language/", tenants.workspace_language, name="settings_language"),
    path("settings/api-tokens/", api_views.api_tokens, name="api_tokens"),
    path(
        "settings/api-tokens/<int:token_id>/revoke/",
        api_views.api_token_revoke_view,
        name="api_token_revoke",
    ),
    # The JSON API (api/v1.py); /api/v1/health is answered by middleware before any URLconf.
    path("api/v1/docs", api_views.api_docs, name="api_docs"),
    path("api/v1/", api.urls),
    re_path(r"^api/", api_views.api_not_found, name="api_not_found"),
]
