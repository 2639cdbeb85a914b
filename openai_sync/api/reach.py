"""Can the API's host be reached at all? Asked once, before the first request, so that an unknown host or a
refused connection is one sentence within seconds: the SDK would retry it for half a minute, as it should for
a connection lost in the middle of a run."""

from __future__ import annotations

import socket
import urllib.parse
import urllib.request

CONNECT_TIMEOUT = 10.0


def unreachable(base_url: str, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why nothing at the base URL's host and port accepts a connection, or None (reached, or behind a proxy,
    whose own reachability is the HTTP client's business)."""
    url = urllib.parse.urlsplit(base_url)
    host = url.hostname
    if not host or _proxied(url.scheme, host):
        return None
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        return (f"the API host {host} is unknown ({e.strerror}); check the base URL ({base_url}: --base-url, "
                "OPENAI_BASE_URL or the config's base_url) and the DNS")
    last: OSError | None = None
    for family, kind, proto, _name, address in addresses:
        try:
            with socket.socket(family, kind, proto) as s:
                s.settimeout(timeout)
                s.connect(address)
                return None
        except OSError as e:
            last = e
    if isinstance(last, ConnectionRefusedError):
        why = "the connection was refused: nothing listens on that port"
    elif isinstance(last, TimeoutError | socket.timeout):
        why = f"no answer within {timeout:.0f} s (a firewall, or a wrong address)"
    else:
        why = f"{type(last).__name__}: {getattr(last, 'strerror', None) or last}"
    return (f"cannot connect to the API at {host}:{port} ({why}); check the base URL ({base_url}: --base-url, "
            "OPENAI_BASE_URL or the config's base_url), that the server is running, and the network")


def _proxied(scheme: str, host: str) -> bool:
    """Whether the HTTP client would go through a proxy (HTTPS_PROXY and the like, outside NO_PROXY)."""
    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host)
