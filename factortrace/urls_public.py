"""The public site at <BASE_DOMAIN>: landing page, sign-up, Stripe's webhook and the operator dashboard (the Django admin,
which also carries django-rq's queue dashboard at /admin/django_rq/dashboard/)."""

from django.contrib import admin
from django.urls import path

from billing.webhooks import stripe_webhook
from tenants import views

admin.site.site_header = "FactorTrace operations"
admin.site.site_title = "FactorTrace operations"

handler400 = "factortrace.errors.bad_request"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("signin/", views.signin, name="signin"),
    path("stripe/webhook/", stripe_webhook, name="stripe_webhook"),
    path("admin/", admin.site.urls),
]
