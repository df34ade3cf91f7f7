"""What of a webhook endpoint's URL may appear in a log line or an attempt's stored error:
never its credentials.

`safe_url` keeps the scheme, host, port and path, which is what an operator needs to tell
where a delivery went, and drops the userinfo (`user:password@`) and the fragment and
replaces every query value with `***` (tokens often ride there). A URL that keeps its
token in the path (Slack-style hooks) is shown with it: such an endpoint is better named
by its id, which every line carries too. `scrub` takes those secrets out of a message
(an exception's text may quote the URL or a part of it).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"
SECRET_LENGTH_MIN = 3  # shorter values are not masked inside messages: too many false hits


def safe_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "<unparsable url>"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    query = "&".join(
        f"{name}={MASK}" if sep else name
        for name, sep, _ in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def scrub(message: str, url: str) -> str:
    """`message` with the URL shown safely and its userinfo and query values masked."""
    message = message.replace(url, safe_url(url))
    for secret in sorted(_secrets(url), key=len, reverse=True):
        message = message.replace(secret, MASK)
    return message


def _secrets(url: str) -> set[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    userinfo, at, _ = parts.netloc.rpartition("@")
    found = {userinfo if at else "", parts.password or ""}
    found.update(value for _, _, value in (p.partition("=") for p in parts.query.split("&")))
    found.add(parts.fragment)
    return {s for s in found if len(s) >= SECRET_LENGTH_MIN}
