"""Secret config is checked at load time against the keys the pods read."""

from __future__ import annotations

from typing import Any

import pytest

from vapora_infra.errors import SpecError
from vapora_infra.spec.secrets import check_secret_config, check_vault_token

KEYS = {
    ("vapora-system", "vapora-secrets"): ["db-password", "jwt-secret"],
    ("vapora-agents", "vapora-secrets"): ["db-password"],
}
SOURCE = "Pulumi.dev.yaml"


def test_a_plan_without_any_secret_values_passes() -> None:
    check_secret_config(SOURCE, KEYS, {}, require=False)


def test_an_update_without_secret_values_is_refused_naming_each_key() -> None:
    message = (
        "Pulumi.dev.yaml: vapora:secretValues: is not set; set each of "
        "vapora-secrets.db-password, vapora-secrets.jwt-secret with"
    )

    with pytest.raises(SpecError, match=message):
        check_secret_config(SOURCE, KEYS, {}, require=True)


@pytest.mark.parametrize("require", [False, True])
def test_partial_secret_values_are_refused_once_per_missing_key(
    require: bool,
) -> None:
    config: dict[str, Any] = {"secretValues": {"vapora-secrets": {"db-password": {}}}}

    with pytest.raises(SpecError) as raised:
        check_secret_config(SOURCE, KEYS, config, require=require)

    text = str(raised.value)
    assert "vapora:secretValues.vapora-secrets.jwt-secret" in text
    assert text.count("db-password") == 0, text


def test_encrypted_values_count_as_set() -> None:
    secure = {"secure": "v1:abc"}
    config = {
        "secretValues": {
            "vapora-secrets": {"db-password": secure, "jwt-secret": secure}
        }
    }

    check_secret_config(SOURCE, KEYS, config, require=True)


def test_vault_token_is_required_for_an_update_only() -> None:
    check_vault_token(SOURCE, True, {}, require=False)

    with pytest.raises(SpecError, match="pulumi config set --secret vapora:vaultToken"):
        check_vault_token(SOURCE, True, {}, require=True)
