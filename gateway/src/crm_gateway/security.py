"""Security headers on every answer, and who may read /metrics."""
import hmac

from flask import current_app, request

# the web UI styles itself inline; its only script is /static/app.js
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'; object-src 'none'")
# Swagger UI (/api/docs) starts itself with an inline script
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


def init_app(app) -> None:
    app.after_request(_headers)


def _headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy",
                       DOCS_CSP if request.path.startswith("/api/docs") else CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    seconds = int(current_app.config.get("HSTS_SECONDS") or 0)
    if seconds and request.is_secure:  # HTTPS here, or a proxy saying so (ProxyFix)
        headers.setdefault("Strict-Transport-Security",
                           f"max-age={seconds}; includeSubDomains")
    return response


def metrics_token_ok(token: str | None) -> bool:
    """`METRICS_TOKEN`, when set, is what a Prometheus scraper sends as its bearer token;
    an API token of the users does too (the auth layer checks those)."""
    expected = current_app.config.get("METRICS_TOKEN")
    return bool(expected and token and hmac.compare_digest(token.encode(),
                                                           str(expected).encode()))
