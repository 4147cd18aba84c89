"""Who may use the control page. Bound to 127.0.0.1, ::1 or localhost only this machine can connect: no token,
but the Host header must name this machine (a web site that rebinds its name to 127.0.0.1 is refused). Bound
to any other address (127.0.0.2 included) every request carries the token printed with the URL, in the query or
in the cookie the page sets: none is 401, a wrong one 403. The WebSocket also refuses a foreign Origin (another
site's page driving ours through a visitor's browser)."""
from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

LOCAL_NAMES = ("127.0.0.1", "::1", "localhost")


def token_for(host: str) -> str | None:
    """A fresh token for a server bound to `host`, or None on this machine's own loopback names."""
    return None if host in LOCAL_NAMES else secrets.token_urlsafe(16)


def refusal(request, token: str | None, cookie: str) -> tuple[int, str] | None:
    """(HTTP status, why) when this request may not be served, else None."""
    if token is not None:
        given = request.query.get("token") or request.cookies.get(cookie)
        if not given:
            return 401, "live: open the URL live printed, with its token"
        if not hmac.compare_digest(given.encode(), token.encode()):
            return 403, "live: wrong token — open the URL live printed"
    elif not _is_local(urlsplit("//" + request.host).hostname or ""):
        return 403, "live: this page answers only to this machine's own names"
    return None


def foreign_origin(request) -> bool:
    """A browser page of another site opened this socket (programs send no Origin)."""
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc != request.host


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_address() -> str:
    """This machine's address on the network a phone would join (the route out; no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))
        return s.getsockname()[0]
    except OSError:
        return socket.gethostname()
    finally:
        s.close()
