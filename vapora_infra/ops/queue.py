"""Queue depth of agent pools: NATS JetStream consumers or SurrealDB's health table."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vapora_infra.errors import VaporaError

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_SURREAL_URL = "http://127.0.0.1:8000"
# The specification's query; ${AGENT_ROLE} is one of the fixed role names.
SURREAL_QUERY = "SELECT queue_depth FROM agent_health WHERE role = '${AGENT_ROLE}'"
_ROLE = re.compile(r"^[a-z][a-z-]*$")


class QueueError(VaporaError):
    """The queue depth could not be read."""


def consumer_name(role: str) -> str:
    """The JetStream consumer an agent pool pulls its tasks from."""
    return f"agents-{role}"


def nats_depths(
    url: str, stream: str, roles: Sequence[str], timeout: float = 5.0
) -> dict[str, int]:
    """Pending messages of each role's consumer, read over one connection."""
    return asyncio.run(_nats_depths(url, stream, roles, timeout))


async def _nats_depths(
    url: str, stream: str, roles: Sequence[str], timeout: float
) -> dict[str, int]:
    import nats
    from nats.errors import Error as NatsError
    from nats.js.errors import NotFoundError

    async def quiet(_: Exception) -> None:
        # nats-py logs every connection error itself; one QueueError is enough.
        return None

    await _probe(url, timeout)
    try:
        # nats-py may keep retrying a refused first connection on its own, so
        # the whole attempt is bounded here as well.
        client = await asyncio.wait_for(
            nats.connect(
                url,
                connect_timeout=timeout,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                error_cb=quiet,
            ),
            timeout,
        )
    except (NatsError, OSError, TimeoutError) as error:
        reason = str(error) or type(error).__name__
        raise QueueError(f"cannot reach NATS at {url}: {reason}") from None

    depths: dict[str, int] = {}
    try:
        manager = client.jsm()
        for role in roles:
            consumer = consumer_name(role)
            try:
                info = await manager.consumer_info(stream, consumer, timeout=timeout)
            except NotFoundError:
                raise QueueError(
                    f"NATS at {url}: consumer {consumer} on stream {stream} does not "
                    "exist; the agent pool creates it when it starts."
                ) from None
            depths[role] = int(info.num_pending or 0)
    except (NatsError, TimeoutError) as error:
        raise QueueError(f"NATS at {url}: {error}") from None
    finally:
        await client.close()
    return depths


async def _probe(url: str, timeout: float) -> None:
    # nats-py retries a refused first connection until its caller gives up,
    # so a plain TCP connect tells a refused or unknown server at once.
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except ConnectionRefusedError:
        raise QueueError(f"cannot reach NATS at {url}: connection refused.") from None
    except TimeoutError:
        raise QueueError(f"cannot reach NATS at {url}: timed out.") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise QueueError(f"cannot reach NATS at {url}: {reason}.") from None
    writer.close()


@dataclass(frozen=True)
class SurrealSource:
    """SurrealDB's HTTP endpoint and the database holding ``agent_health``."""

    url: str = DEFAULT_SURREAL_URL
    namespace: str = "vapora"
    database: str = "vapora"
    user: str | None = None
    password: str | None = None
    query: str = SURREAL_QUERY

    def depth(self, role: str, timeout: float = 5.0) -> int:
        """The queue depth the agents last reported for ``role``."""
        if not _ROLE.fullmatch(role):
            raise QueueError(f"role {role!r} is not a pool name.")
        text = self.query.replace("${AGENT_ROLE}", role)
        request = urllib.request.Request(
            f"{self.url.rstrip('/')}/sql",
            data=text.encode(),
            method="POST",
            headers=self._headers(),
        )

        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = json.load(response)
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as error:
            raise QueueError(f"SurrealDB at {self.url}: {error}") from None
        return _surreal_depth(body, role, self.url)

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "Content-Type": "text/plain",
            # SurrealDB 2 reads surreal-ns/-db; 1.x read NS/DB. Send both.
            "surreal-ns": self.namespace,
            "surreal-db": self.database,
            "NS": self.namespace,
            "DB": self.database,
        }
        if self.user is not None:
            token = base64.b64encode(f"{self.user}:{self.password or ''}".encode())
            headers["Authorization"] = f"Basic {token.decode()}"
        return headers


def _surreal_depth(body: Any, role: str, url: str) -> int:
    # /sql answers one entry per statement: {"status": "OK", "result": [rows]}.
    if not isinstance(body, list) or not body or not isinstance(body[-1], dict):
        raise QueueError(f"SurrealDB at {url}: unexpected answer {str(body)[:80]}")
    last = body[-1]
    if last.get("status") != "OK":
        raise QueueError(f"SurrealDB at {url}: {str(last.get('result'))[:200]}")
    rows = last.get("result") or []
    if not rows:
        raise QueueError(
            f"SurrealDB at {url}: agent_health has no row for role {role}; the "
            "pool reports its queue depth once it runs."
        )
    value = rows[0].get("queue_depth") if isinstance(rows[0], dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise QueueError(f"SurrealDB at {url}: queue_depth {value!r} is not a count.")
    return value
