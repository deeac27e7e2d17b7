"""The Billing page of the tenant app: balance, packs, history, payments; owners buy packs through
Stripe Checkout and redeem vouchers. Every query filters by the request's tenant."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.access import login_required_tenant, role_required
from accounts.models import Role
from billing import gateway
from billing.forms import VoucherForm
from billing.ledger import credit_balance, credit_history
from billing.models import Payment
from billing.vouchers import VoucherError, voucher_redeem
from factortrace.context import tenant_url


def _tenant_id(request: HttpRequest) -> int:
    return int(request.tenant.id)  # type: ignore[attr-defined]


def _get_payment_for_user(request: HttpRequest, payment_id: int) -> Payment:
    """A payment of this tenant; 404 for any other."""
    payment = Payment.objects.filter(id=payment_id, tenant_id=_tenant_id(request)).first()
    if payment is None:
        raise Http404("No such payment in your organisation.")
    return payment


@login_required_tenant
@require_GET
def billing(request: HttpRequest) -> HttpResponse:
    tenant_id = _tenant_id(request)
    return render(
        request,
        "billing/billing.html",
        {
            "balance": credit_balance(tenant_id=tenant_id),
            "packs": gateway.packs(),
            "history": credit_history(tenant_id=tenant_id),
            "payments": Payment.objects.filter(tenant_id=tenant_id)
            .exclude(checkout_session_id__isnull=True)
            .order_by("-id")[:20],
            "configured": gateway.payments_configured(),
            "is_owner": request.user.has_role(Role.OWNER),  # type: ignore[union-attr]
            "voucher_form": VoucherForm(),
        },
    )


@role_required(Role.OWNER)
@require_POST
def billing_buy(request: HttpRequest) -> HttpResponse:
    """Start a Stripe Checkout for one pack and send the owner there."""
    chosen = gateway.pack(request.POST.get("pack", ""))
    if chosen is None:
        messages.error(request, "Choose one of the credit packs.")
        return redirect("billing")
    slug = request.tenant.slug  # type: ignore[attr-defined]
    try:
        _payment, url = gateway.checkout_start(
            tenant_id=_tenant_id(request),
            chosen=chosen,
            user_email=request.user.email,  # type: ignore[union-attr]
            return_url_for=lambda pid: tenant_url(slug, reverse("billing_payment", args=[pid])),
        )
    except gateway.PaymentsUnavailableError as exc:
        messages.error(request, str(exc))
        return redirect("billing")
    return redirect(url)


@role_required(Role.OWNER)
@require_POST
def billing_redeem(request: HttpRequest) -> HttpResponse:
    form = VoucherForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, " ".join(str(e) for e in form.errors.get("code", ["Enter a code."]))
        )
        return redirect("billing")
    try:
        row = voucher_redeem(
            tenant_id=_tenant_id(request),
            code=form.cleaned_data["code"],
            user_email=request.user.email,  # type: ignore[union-attr]
        )
    except VoucherError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Voucher redeemed: {row.credits} credit{'s' if row.credits != 1 else ''} added. "
            f"Balance: {row.balance_after}.",
        )
    return redirect("billing")


@login_required_tenant
@require_GET
def billing_payment(request: HttpRequest, payment_id: int) -> HttpResponse:
    """Where Stripe sends the owner back: nothing is granted here; the page asks again until the
    webhook has landed."""
    payment = _get_payment_for_user(request, payment_id)
    template = "billing/payment.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#status"
    return render(
        request,
        template,
        {
            "payment": payment,
            "cancelled": "cancelled" in request.GET,
            "balance": credit_balance(tenant_id=_tenant_id(request)),
            "is_owner": request.user.has_role(Role.OWNER),  # type: ignore[union-attr]
        },
    )


@role_required(Role.OWNER)
@require_POST
def billing_payment_cancel(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment = _get_payment_for_user(request, payment_id)
    try:
        gateway.checkout_expire(payment=payment)
    except gateway.PaymentsUnavailableError as exc:
        messages.error(request, str(exc))
        return redirect("billing_payment", payment_id=payment.id)
    messages.info(request, "The checkout was cancelled; nothing was charged.")
    return redirect("billing")
