"""A local stand-in for the parts of Stripe's API FactorTrace uses, for development and tests.

    python scripts/stripe_standin.py --port 12111 --webhook-url http://localhost:8000/stripe/webhook/

It speaks the Checkout Session endpoints (POST /v1/checkout/sessions, GET /v1/checkout/sessions/ID
with expand[], POST /v1/checkout/sessions/ID/expire) with Stripe's JSON shapes and error format,
so the real `stripe` client, pointed here by STRIPE_API_BASE, works unchanged. Each session's `url`
is a hosted page here where a person (or a browser test) "pays"; paying fires the webhook events
Stripe would send (checkout.session.completed, and for a delayed method the async success or
failure), signed with Stripe's scheme (Stripe-Signature: t=...,v1=HMAC-SHA256 of "t.body").
POST /_standin/sessions/ID/refund and /dispute fire charge.refunded and charge.dispute.created.

Nothing here is persistent: sessions live in memory while the process runs."""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_API_KEY = "sk_test_standin"
DEFAULT_WEBHOOK_SECRET = "whsec_standin"  # noqa: S105


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe's signature header for `payload`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (a[b][0][c]=v) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class StandinError(Exception):
    def __init__(self, status: int, message: str, *, code: str = "", param: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": "invalid_request_error", "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


class Standin:
    """The state: sessions by id, and how to reach the app's webhook."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        webhook_url: str = "",
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        webhook_delay: float = 1.0,
    ) -> None:
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.webhook_delay = webhook_delay
        self.base = ""
        self.sessions: dict[str, dict[str, Any]] = {}
        self.sent: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    # ---- the API -------------------------------------------------------------------------

    def create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("mode") != "payment":
            raise StandinError(400, "This stand-in supports mode=payment only.", param="mode")
        for name in ("success_url", "cancel_url"):
            if not str(params.get(name, "")).startswith(("http://", "https://")):
                raise StandinError(400, f"Not a valid URL: {name}", code="url_invalid", param=name)
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StandinError(
                400,
                "Missing required param: line_items.",
                code="parameter_missing",
                param="line_items",
            )
        total, currency = 0, ""
        for n, item in enumerate(items):
            price = item.get("price_data") or {}
            try:
                unit, quantity = int(price["unit_amount"]), int(item.get("quantity", 1))
                currency = str(price["currency"]).lower()
            except (KeyError, TypeError, ValueError):
                raise StandinError(
                    400,
                    "Invalid line item: price_data with currency and unit_amount needed.",
                    code="parameter_invalid_integer",
                    param=f"line_items[{n}][price_data]",
                ) from None
            total += unit * quantity
        now = int(time.time())
        session_id = _new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params["cancel_url"],
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "expires_at": now + 24 * 3600,
            "invoice": None,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"{self.base}/pay/{session_id}",
        }
        with self.lock:
            self.sessions[session_id] = session
        return session

    def get_session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise StandinError(
                404,
                f"No such checkout.session: '{session_id}'",
                code="resource_missing",
                param="session",
            )
        return session

    def retrieve(self, session_id: str, expand: list[str]) -> dict[str, Any]:
        session = dict(self.get_session(session_id))
        intent = session.get("payment_intent")
        if intent and any(e.startswith("payment_intent") for e in expand):
            charge = session["_charge"]
            expanded = {
                "id": intent,
                "object": "payment_intent",
                "amount": session["amount_total"],
                "currency": session["currency"],
                "status": "succeeded" if session["payment_status"] == "paid" else "processing",
                "latest_charge": charge["id"],
            }
            if "payment_intent.latest_charge" in expand:
                expanded["latest_charge"] = charge
            session["payment_intent"] = expanded
        return {k: v for k, v in session.items() if not k.startswith("_")}

    def expire(self, session_id: str) -> dict[str, Any]:
        session = self.get_session(session_id)
        with self.lock:
            if session["status"] != "open":
                raise StandinError(
                    400,
                    f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                    f'Checkout Session has a status of "{session["status"]}".',
                )
            session["status"] = "expired"
        self.fire("checkout.session.expired", session)
        return self.retrieve(session_id, [])

    # ---- the hosted page -----------------------------------------------------------------

    def pay(self, session_id: str, method: str) -> str:
        """Complete the session as Stripe would; returns where the customer goes next."""
        session = self.get_session(session_id)
        with self.lock:
            if session["status"] != "open":
                raise StandinError(400, "This checkout is no longer open.")
            session["status"] = "complete"
            session["payment_intent"] = _new_id("pi")
            session["payment_status"] = "paid" if method == "card" else "unpaid"
            session["_charge"] = {
                "id": _new_id("ch"),
                "object": "charge",
                "amount": session["amount_total"],
                "amount_refunded": 0,
                "currency": session["currency"],
                "paid": True,
                "payment_intent": session["payment_intent"],
                "receipt_url": f"{self.base}/receipts/{session_id}",
                "refunded": False,
            }
        events = ["checkout.session.completed"]
        if method == "delayed":
            events.append("checkout.session.async_payment_succeeded")
        elif method == "delayed_fail":
            events.append("checkout.session.async_payment_failed")
        threading.Thread(target=self._fire_later, args=(events, session), daemon=True).start()
        return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)

    def _fire_later(self, events: list[str], session: dict[str, Any]) -> None:
        time.sleep(self.webhook_delay)
        for n, kind in enumerate(events):
            if n and kind.endswith(("succeeded", "failed")):
                session["payment_status"] = "paid" if kind.endswith("succeeded") else "unpaid"
            self.fire(kind, session)

    def charge_event(self, session_id: str, kind: str, amount: int | None) -> dict[str, Any]:
        session = self.get_session(session_id)
        charge = session.get("_charge")
        if charge is None:
            raise StandinError(400, "This checkout was not paid.")
        if kind == "refund":
            with self.lock:
                charge["amount_refunded"] = min(
                    charge["amount"], charge["amount_refunded"] + (amount or charge["amount"])
                )
                charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            return self.fire("charge.refunded", charge)
        dispute = {
            "id": _new_id("dp"),
            "object": "dispute",
            "amount": charge["amount"],
            "charge": charge["id"],
            "currency": charge["currency"],
            "payment_intent": charge["payment_intent"],
            "reason": "fraudulent",
            "status": "needs_response",
        }
        return self.fire("charge.dispute.created", dispute)

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": "2025-09-30.clover",
            "created": int(time.time()),
            "data": {"object": {k: v for k, v in obj.items() if not k.startswith("_")}},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }

    def fire(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Send one signed event to the webhook URL (if any); returns the event."""
        event = self.event(kind, obj)
        self.sent.append(event)
        if not self.webhook_url:
            return event
        payload = json.dumps(event)
        request = urllib.request.Request(  # noqa: S310 - the configured http(s) webhook URL
            self.webhook_url,
            data=payload.encode(),
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": sign(payload, self.webhook_secret),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status = response.status
        except OSError as exc:
            status = getattr(exc, "code", 0)
        print(f"[stripe-standin] {kind} -> {self.webhook_url}: {status}", file=sys.stderr)
        return event


PAY_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Stripe stand-in: pay {amount}</title></head><body>
<h1>Stripe stand-in (development)</h1>
<p>This page stands in for Stripe Checkout: no money moves.</p>
<p>{name}: <strong>{amount}</strong></p>
<form method="post"><input type="hidden" name="method" value="card">
<button>Pay {amount}</button></form>
<form method="post"><input type="hidden" name="method" value="delayed">
<button>Pay by bank debit (confirmed later)</button></form>
<form method="post"><input type="hidden" name="method" value="delayed_fail">
<button>Bank debit that fails</button></form>
<p><a href="{cancel}">Cancel and go back</a></p></body></html>"""


def handler_for(standin: Standin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "stripe-standin/1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(8)}")
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> str:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length).decode() if length else ""

        def _authorised(self) -> None:
            auth = self.headers.get("Authorization", "")
            key = auth.removeprefix("Bearer ")
            if auth.startswith("Basic "):  # curl -u KEY: (Stripe accepts both)
                try:
                    key = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
                except (ValueError, UnicodeDecodeError):
                    key = ""
            if key != standin.api_key:
                raise StandinError(
                    401, f"Invalid API Key provided: {key[:8]}{'*' * max(0, len(key) - 8)}"
                )

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            path, query = url.path.rstrip("/"), url.query
            body = self._body() if method == "POST" else ""
            try:
                if path.startswith("/v1/"):
                    self._authorised()
                    self._json(200, self._api(method, path, query, body))
                elif path.startswith("/pay/"):
                    self._pay(method, path.split("/")[2], body)
                elif path.startswith("/_standin/sessions/") and method == "POST":
                    _, _, _, session_id, action = path.split("/")
                    amount = parse_form(body).get("amount")
                    event = standin.charge_event(
                        session_id, action, int(amount) if amount else None
                    )
                    self._json(200, event)
                elif path.startswith("/receipts/"):
                    self._html(
                        200, "<!doctype html><title>Receipt</title><p>Receipt (stand-in)</p>"
                    )
                else:
                    raise StandinError(404, f"Unrecognized request URL ({method}: {path}).")
            except StandinError as exc:
                self._json(exc.status, exc.body())

        def _api(self, method: str, path: str, query: str, body: str) -> dict[str, Any]:
            parts = path.split("/")[2:]
            if parts[:2] != ["checkout", "sessions"]:
                raise StandinError(404, f"Unrecognized request URL ({method}: {path}).")
            if method == "POST" and len(parts) == 2:
                return standin.create_session(parse_form(body))
            if method == "GET" and len(parts) == 3:
                expand = parse_form(query).get("expand") or []
                return standin.retrieve(parts[2], expand if isinstance(expand, list) else [expand])
            if method == "POST" and len(parts) == 4 and parts[3] == "expire":
                return standin.expire(parts[2])
            raise StandinError(404, f"Unrecognized request URL ({method}: {path}).")

        def _html(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _pay(self, method: str, session_id: str, body: str) -> None:
            session = standin.get_session(session_id)
            if method == "POST":
                choice = parse_form(body).get("method", "card")
                self.send_response(303)
                self.send_header("Location", standin.pay(session_id, str(choice)))
                self.end_headers()
                return
            if session["status"] != "open":
                self._html(410, f"<p>This checkout is {html.escape(session['status'])}.</p>")
                return
            amount = f"{session['currency'].upper()} {session['amount_total'] / 100:,.2f}"
            self._html(
                200,
                PAY_PAGE.format(
                    amount=html.escape(amount),
                    name=html.escape(str(session["metadata"].get("pack", "Credits"))),
                    cancel=html.escape(session["cancel_url"]),
                ),
            )

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler


def serve(standin: Standin, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; returns the server (its base URL is standin.base)."""
    server = ThreadingHTTPServer((host, port), handler_for(standin))
    standin.base = f"http://{host}:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    parser.add_argument("--webhook-delay", type=float, default=1.0)
    args = parser.parse_args(argv)
    standin = Standin(
        api_key=args.api_key,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        webhook_delay=args.webhook_delay,
    )
    server = serve(standin, args.host, args.port)
    print(f"[stripe-standin] serving Stripe's Checkout API on {standin.base}", file=sys.stderr)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
