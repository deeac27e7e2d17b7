"""Pages of the API: its tokens in Settings (owners only), the docs page rendered from the OpenAPI
document (no script: it works under the CSP), and problem+json for unknown /api/v1/ paths."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.access import role_required
from accounts.models import Role
from api.forms import ApiTokenForm
from api.models import ApiToken
from api.problems import PROBLEMS, problem
from api.tokens import api_token_create, api_token_revoke

owner_only = role_required(Role.OWNER)


def _get_token_for_user(request: HttpRequest, token_id: int) -> ApiToken:
    try:
        return ApiToken.objects.get(id=token_id)
    except ApiToken.DoesNotExist as exc:
        raise Http404("No such API token in your organisation.") from exc


@owner_only
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The tokens, and a form to make one; a new token is shown on this answer only."""
    form = ApiTokenForm(request.POST or None)
    context: dict[str, Any] = {"tokens": ApiToken.objects.select_related("created_by")}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            new = api_token_create(user=request.user, **form.values())  # type: ignore[arg-type]
            context["new_token"] = new
            form = ApiTokenForm()
            status = 201
        else:
            status = 422
    context["form"] = form
    response = render(request, "api/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@owner_only
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = api_token_revoke(token=_get_token_for_user(request, token_id))
    messages.success(request, f"Revoked the API token “{token.name}”. It works no more.")
    return redirect("api_tokens")


@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    """The API's reference, from its own OpenAPI document."""
    from api.v1 import api

    schema = api.get_openapi_schema(path_prefix="/api/v1")
    operations = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            body = (op.get("requestBody") or {}).get("content") or {}
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": p["in"],
                            "required": p.get("required", False),
                            "type": _type_of(p.get("schema", {})),
                            "description": p.get("description")
                            or p.get("schema", {}).get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "bodies": list(body),
                    "responses": sorted(op.get("responses", {})),
                    "scope": "write" if method == "post" else "read",
                }
            )
    problems = [
        {"code": code, "status": status, "title": title}
        for code, (status, title) in PROBLEMS.items()
    ]
    context = {"schema": schema, "operations": operations, "problems": problems}
    return render(request, "api/docs.html", context)


def _type_of(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type_of(s) for s in schema["anyOf"] if s.get("type") != "null")
    return str(schema.get("type", ""))


@csrf_exempt  # answers every method with a problem; it changes nothing
def api_not_found(request: HttpRequest) -> HttpResponse:
    return problem("not_found", f"No API endpoint at {request.path}. See /api/v1/docs.")
