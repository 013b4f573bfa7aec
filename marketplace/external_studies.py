"""External studies (issue 13): a job whose task is a page on the requester's own site (Qualtrics, jsPsych, oTree,
Gorilla…), opened in a frame with the worker's, assignment's, task's and job's ids in its URL, and Mechanical Turk's
ExternalQuestion URLs. Pure functions: checking a study URL and its completion codes, and filling them in.

The ids go into the URL under whatever names the study's tool expects: `{worker_id}` and friends are placeholders
the requester puts where they want them (`?PROLIFIC_PID={worker_id}&SESSION_ID={assignment_id}`).
"""

import re
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from django.conf import settings

from core.errors import InvalidInput
from marketplace.answer_forms import ASSET_HOST_RE

PLACEHOLDERS = ("worker_id", "assignment_id", "task_id", "job_id")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
MAX_URL_CHARS = 2000
MAX_COMPLETION_CODES = 10
# Letters, digits, "-" and "_": a code is a path segment of {SITE_URL}/complete/<code> and is typed by people.
COMPLETION_CODE_RE = re.compile(r"[A-Za-z0-9_-]{4,64}")
CODE_ACTIONS = ("approve", "review")
# What Mechanical Turk puts in a preview's frame URL, and studies test for (jsPsych's turkInfo().previewMode).
ASSIGNMENT_ID_NOT_AVAILABLE = "ASSIGNMENT_ID_NOT_AVAILABLE"


def clean_external_url(raw_url: str) -> str:
    """The study URL as stored, or InvalidInput saying what is wrong. https only (plain http only for the hosts
    settings.LNURL_ALLOWED_INSECURE_HOSTS names, the project's one allowlist of insecure hosts for development and
    tests), no user name or password, not this site itself (the frame keeps the study's own origin, which must never
    be ours), and only the placeholders this module fills."""
    url = str(raw_url or "").strip()
    if not url:
        raise InvalidInput("Give the study's URL.")
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"The study's URL is longer than {MAX_URL_CHARS:,} characters.")
    unknown = [name for name in PLACEHOLDER_RE.findall(url) if name not in PLACEHOLDERS]
    if unknown:
        raise InvalidInput(
            f"“{{{unknown[0][:40]}}}” is not a placeholder Boltwork fills. Use "
            + ", ".join("{" + name + "}" for name in PLACEHOLDERS)
            + "."
        )
    # A brace left over after the placeholders is a typo such as "{worker_id" (URLs have no braces of their own).
    sample = fill_placeholders(url, dict.fromkeys(PLACEHOLDERS, "x"))
    if "{" in sample or "}" in sample:
        raise InvalidInput("The study's URL has a “{” or “}” that is not part of a placeholder such as {worker_id}.")
    check_study_url(sample)
    return url


def check_study_url(url: str) -> str:
    """The URL's origin (`scheme://host[:port]`) if a frame may open it, else InvalidInput. Shared by external
    studies and, for the same reasons, any other page Boltwork frames with the study's own origin."""
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise InvalidInput("The study's URL has a space or a control character in it: encode it as %20 and the like.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidInput("The study's URL is not a valid URL.") from error
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidInput("The study's URL needs a host, as in https://study.example/start.")
    if not ASSET_HOST_RE.fullmatch(host):
        # The origin goes into the task page's Content-Security-Policy: a name of DNS labels (IDNs in their
        # xn-- form) or an IPv4 address, nothing a policy could read as more than a host.
        raise InvalidInput("The study's host must be a domain name such as study.example (or an IP address).")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("The study's URL may not carry a user name or password.")
    origin = f"{scheme}://{host}" + (f":{port}" if port else "")
    if scheme == "http":
        host_port = f"{host}:{port}" if port else host
        if host_port not in settings.LNURL_ALLOWED_INSECURE_HOSTS:
            raise InvalidInput("The study's URL must start with https:// (workers' answers travel over it).")
    elif scheme != "https":
        raise InvalidInput("The study's URL must start with https://.")
    if origin == site_origin():
        raise InvalidInput("The study must be on your own site, not on Boltwork.")
    return origin


def clean_completion_codes(raw_codes: list[dict]) -> list[dict]:
    """The completion codes as stored: `[{"code", "action": "approve" | "review"}]`, each code unique in the job
    (compared ignoring case: people type them), at most MAX_COMPLETION_CODES."""
    if not isinstance(raw_codes, list):
        raise InvalidInput("Completion codes must be a list.")
    codes: list[dict] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_codes, start=1):
        if not isinstance(raw, dict):
            raise InvalidInput(f"Completion code {number} must have a code and an action.")
        code = str(raw.get("code", "")).strip()
        action = raw.get("action")
        if not COMPLETION_CODE_RE.fullmatch(code):
            raise InvalidInput(
                f"Completion code {number}: 4 to 64 letters, digits, “-” or “_” (it is part of a link).",
                details={"code": number},
            )
        if action not in CODE_ACTIONS:
            raise InvalidInput(
                f"Completion code {number} ({code}): choose approve at once or send to review.",
                details={"code": number},
            )
        if code.lower() in seen:
            raise InvalidInput(f"The completion code {code} is there twice.", details={"code": number})
        seen.add(code.lower())
        codes.append({"code": code, "action": action})
    if len(codes) > MAX_COMPLETION_CODES:
        raise InvalidInput(f"At most {MAX_COMPLETION_CODES} completion codes.")
    return codes


def completion_code_of(codes: list[dict], code: str) -> dict | None:
    """The job's completion code `code` (typed in any case), or None."""
    wanted = code.strip().lower()
    return next((entry for entry in codes if entry.get("code", "").lower() == wanted), None)


def uses_placeholder(url: str, name: str) -> bool:
    return name in PLACEHOLDER_RE.findall(url)


def fill_placeholders(url: str, values: dict[str, str]) -> str:
    """`url` with each `{name}` replaced by its value, percent-encoded for any part of a URL (the ids are letters
    and digits; encoding is for whatever else a caller passes)."""
    return PLACEHOLDER_RE.sub(lambda match: quote(values.get(match.group(1), ""), safe=""), url)


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` appended to its own query, which is kept as it is (Mechanical Turk appends
    assignmentId, hitId, workerId and turkSubmitTo to an ExternalURL this way); a fragment stays last."""
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit(parts._replace(query=query))


def site_origin() -> str:
    parts = urlsplit(settings.SITE_URL)
    return f"{parts.scheme}://{parts.netloc}".lower()


def turk_submit_to(*, sandbox: bool) -> str:
    """Where studies post their answers, as Mechanical Turk's `turkSubmitTo`: they add `/mturk/externalSubmit`."""
    return settings.SITE_URL + ("/sandbox" if sandbox else "")


ORIGIN_RE = re.compile(r"https?://[a-z0-9.-]+(?::[0-9]{1,5})?")


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, or "" when it is not that plain (a Content-Security-Policy source must be
    exactly an origin: anything else is left out of the policy, and the frame is then blocked, not widened)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return origin if ORIGIN_RE.fullmatch(origin) else ""


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
