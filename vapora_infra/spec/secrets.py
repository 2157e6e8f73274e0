"""Which Secret keys the stack's pods read, and whether secret config holds them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vapora_infra.errors import NO_VALUE, SpecError
from vapora_infra.spec.taskserv import SECRET_REF, Taskserv

# SurrealDB's root password: the database reads it at start, the migrations
# Job to log in. Services that need it list it in their [secrets] as well.
DB_SECRET = ("vapora-secrets", "db-password")

_SET = "pulumi config set --secret --path 'vapora:secretValues.{}' VALUE"


def secret_keys(
    taskservs: Mapping[str, Taskserv], database_namespace: str | None
) -> dict[tuple[str, str], list[str]]:
    """Keys per (namespace, Secret name) that the stack's pods read, sorted.

    A namespace's copy of a Secret holds only the keys its own pods reference.
    Both secret sources (Pulumi config and a vault) provide exactly these.
    """
    found: dict[tuple[str, str], set[str]] = {}
    if database_namespace is not None:
        found.setdefault((database_namespace, DB_SECRET[0]), set()).add(DB_SECRET[1])
    for taskserv in taskservs.values():
        namespace = taskserv.deployment.namespace
        for reference in taskserv.secrets.values():
            match = SECRET_REF.fullmatch(reference)
            if match is not None:
                place = (namespace, match.group("name"))
                found.setdefault(place, set()).add(match.group("key"))
    return {place: sorted(keys) for place, keys in sorted(found.items())}


def wanted_values(keys: Mapping[tuple[str, str], list[str]]) -> list[str]:
    """``NAME.KEY`` of every value secret config must hold, once each."""
    return sorted({f"{name}.{key}" for (_, name), ks in keys.items() for key in ks})


def check_secret_config(
    source: str,
    keys: Mapping[tuple[str, str], list[str]],
    secret_config: Mapping[str, Any],
    *,
    require: bool,
) -> None:
    """Refuse secret config that lacks a value the pods read.

    Without ``require`` (an offline plan) a stack that has set no values at all
    passes, since the plan shows Secrets masked either way; a stack that set
    some must set all. A real update requires every value.
    """
    wanted = wanted_values(keys)
    values = secret_config.get("secretValues")
    if values is None:
        if require and wanted:
            raise SpecError(
                source,
                "vapora:secretValues",
                NO_VALUE,
                f"is not set; set each of {', '.join(wanted)} with `"
                + _SET.format("NAME.KEY")
                + "`.",
            )
        return
    if not isinstance(values, Mapping):
        raise SpecError(
            source,
            "vapora:secretValues",
            NO_VALUE,
            "must map Secret names to keys, as `" + _SET.format("NAME.KEY") + "` sets.",
        )
    missing = [
        item
        for item in wanted
        if item.split(".", 1)[1] not in (values.get(item.split(".", 1)[0]) or {})
    ]
    if missing:
        raise SpecError(
            source,
            f"vapora:secretValues.{missing[0]}",
            NO_VALUE,
            f"is not set; missing: {', '.join(missing)}; set each with `"
            + _SET.format(missing[0])
            + "`.",
        )


def check_vault_token(
    source: str, needs_token: bool, secret_config: Mapping[str, Any], *, require: bool
) -> None:
    """Refuse a vault token store without its token on a real update."""
    if needs_token and require and secret_config.get("vaultToken") is None:
        raise SpecError(
            source,
            "vapora:vaultToken",
            NO_VALUE,
            "is not set; token auth to the vault needs it: `pulumi config set "
            "--secret vapora:vaultToken TOKEN`.",
        )
