"""Rate limits for pages open to anyone (the anonymous report without sign-in, the receipt page):
so many requests per client address and so many from everyone together, per window, counted
in the shared cache (`CACHE_URL`, which sign-in throttling relies on too).

The counters must not become a record of who used an anonymous page. So the cache never holds
an address: a client's counter is keyed by an HMAC of the address under a salt that is drawn at
random for each window and kept only in the cache, with the window's expiry. While the window
lasts, someone who reads the cache could test an address against it; once it is over, the salt
is gone (it expires, and the next window's first request deletes the previous window's salt and
global counter, so even a file cache keeps no expired one on disk long) and the keys cannot be
tested. Keys carry no time and no address, and nothing here is logged.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    scope: str  # what is limited, e.g. "public-report"
    per_client: int  # requests from one address in a window
    overall: int  # requests from everyone in a window
    window: int  # seconds


def _key(limit: Limit, window: int, part: str) -> str:
    return f"andon:ratelimit:{limit.scope}:{window}:{part}"


def _salt(limit: Limit, window: int) -> bytes:
    key = _key(limit, window, "salt")
    cache.add(key, secrets.token_hex(32), timeout=limit.window)
    salt = cache.get(key)
    if salt is None:  # evicted between the two calls: draw again
        salt = secrets.token_hex(32)
        cache.set(key, salt, timeout=limit.window)
    return salt.encode()


def _count(key: str, timeout: int) -> int:
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 1, timeout=timeout)
        return 1


def allow(limit: Limit, client_address: str) -> bool:
    """Count one request from `client_address`; False when it goes beyond the limit of its window
    (per address or overall). A refused request counts too, so a client that keeps trying stays
    refused until the window is over."""
    window = int(time.time() // limit.window)
    # Forget the previous window's salt (its keys can no longer be tested) and overall count.
    cache.delete_many([_key(limit, window - 1, "salt"), _key(limit, window - 1, "all")])
    digest = hmac.new(_salt(limit, window), (client_address or "").encode(), hashlib.sha256).hexdigest()[:32]
    own = _count(_key(limit, window, digest), limit.window)
    everyone = _count(_key(limit, window, "all"), limit.window)
    return own <= limit.per_client and everyone <= limit.overall


def retry_after(limit: Limit) -> int:
    """Seconds until the current window is over (the Retry-After of a refusal)."""
    return max(1, int(limit.window - time.time() % limit.window))


def client_address(request) -> str:
    """The address the request came from, as the server saw it (behind a reverse proxy, the
    proxy's: the per-address limit then acts as a second overall one)."""
    return request.META.get("REMOTE_ADDR", "")


def minutes_refused(limit: Limit, request) -> int | None:
    """Count one request of a page open to anyone: None within the limits, else the whole minutes
    (at least one) until the client may try again, for the page's words and Retry-After."""
    if allow(limit, client_address(request)):
        return None
    return max(1, -(-retry_after(limit) // 60))
