"""Workflow notices to a Slack-compatible incoming webhook."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from vapora_infra.errors import VaporaError


class NotifyError(VaporaError):
    """The webhook refused the notice or could not be reached."""


def post_slack(webhook: str, text: str, timeout: float = 10.0) -> None:
    """POST ``{"text": text}``; errors never show the URL, which is a secret."""
    if not webhook.startswith(("https://", "http://")):
        raise NotifyError("the webhook is not an http(s) URL; check its secret config.")
    request = urllib.request.Request(
        webhook,
        data=json.dumps({"text": text}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )

    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        raise NotifyError(f"the webhook answered HTTP {error.code}.") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise NotifyError(f"the webhook could not be reached: {reason}.") from None
    if not 200 <= status < 300:
        raise NotifyError(f"the webhook answered HTTP {status}.")
