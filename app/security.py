"""HTTP hardening: session cookies marked Secure over https, proxy headers when told to trust
them, and response headers: a Content-Security-Policy without inline script, no framing, no
type sniffing.

Our own pages have no inline script at all (pages pass data in data- attributes to static JS).
Flask-Admin's templates carry a few inline event handlers (the actions menu, the delete button,
the filter menu) and nonce'd inline scripts; rather than allowing all inline script, the policy
allows exactly those handlers by hash ('unsafe-hashes') and the scripts by a per-request nonce.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from flask import Flask, Response, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

#: Headers on every response.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Session cookie ``Secure`` whenever the request came over https (directly or via a trusted
    proxy), so the same install works on plain http in a plant room and behind TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (has_request_context() and request.is_secure))


#: Inline event handlers of Flask-Admin's templates that do not depend on the view.
FLASK_ADMIN_HANDLERS = (
    # Its dropdown toggles are <a href="javascript:void(0)">: a no-op URL, allowed by its hash.
    "javascript:void(0)",
    "return false;",
    "return faHelpers.safeConfirm('Are you sure you want to delete this record?');",
)


def csp_nonce() -> str:
    """This request's script nonce (Flask-Admin puts it on its inline scripts)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def handler_hashes(app: Flask) -> list[str]:
    """Hashes of the inline handlers Flask-Admin renders: the fixed ones and one per bulk action."""
    sources = list(FLASK_ADMIN_HANDLERS)
    admin = app.extensions.get("admin", [])
    for instance in admin if isinstance(admin, list) else [admin]:
        for view in getattr(instance, "_views", []):
            for name in getattr(view, "_actions_data", {}):
                sources.append(f"return modelActions.execute('{name}');")
    return sorted({_hash(source) for source in sources})


def content_security_policy(app: Flask) -> str:
    hashes = app.extensions.setdefault("csp_handler_hashes", handler_hashes(app))
    script = " ".join(["'self'", f"'nonce-{csp_nonce()}'", "'unsafe-hashes'", *hashes])
    return ("default-src 'self'; "
            f"script-src {script}; "
            # Bootstrap and Flask-Admin set a few style attributes; styles cannot run code.
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if has_request_context():
        from flask import current_app

        response.headers.setdefault("Content-Security-Policy", content_security_policy(current_app))
    return response


def init_app(app: Flask) -> None:
    app.session_interface = HttpsAwareSessionInterface()
    proxies = app.config["SETTINGS"].TRUSTED_PROXIES
    if proxies:
        # Only behind a reverse proxy we were told about: otherwise X-Forwarded-* could be forged.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.after_request(_headers)
