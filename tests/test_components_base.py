"""Shared component helpers: checkov skips and where workloads declare them."""

from __future__ import annotations

import re

import pytest

from tests.workloads import kind, record_stack
from vapora_infra.components.base import checkov_skips, metadata
from vapora_infra.offline.recorder import Recording

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
SKIP_KEY = re.compile(r"checkov\.io/skip\d+")


@pytest.fixture(scope="module")
def prod() -> Recording:
    return record_stack("prod")


def test_checkov_skips_are_numbered_in_check_order() -> None:
    skips = checkov_skips({"CKV_K8S_43": "Pinned by tag.", "CKV_K8S_15": "Cached."})

    assert skips == {
        "checkov.io/skip1": "CKV_K8S_15=Cached.",
        "checkov.io/skip2": "CKV_K8S_43=Pinned by tag.",
    }


def test_checkov_skips_reach_the_object_annotations() -> None:
    skips = checkov_skips({"CKV_K8S_43": "Pinned by tag."})

    found = metadata("redis", "data", {}, skips)

    assert found["annotations"] == {"checkov.io/skip1": "CKV_K8S_43=Pinned by tag."}


@pytest.mark.parametrize(
    ("check", "reason"),
    [
        ("CKV_K8S_43", "a=b"),
        ("CKV_K8S_43", " "),
        ("CKV_K8S_43=x", "Pinned by tag."),
    ],
)
def test_checkov_skips_refuse_reasons_checkov_cannot_read(
    check: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=r"needs a reason without '='"):
        checkov_skips({check: reason})


def test_every_workload_skip_names_a_check_and_a_sentence(prod: Recording) -> None:
    seen = 0
    for api_kind in WORKLOAD_KINDS:
        for workload in kind(prod, api_kind):
            annotations = workload.inputs["metadata"].get("annotations", {})
            for key, skip in annotations.items():
                if not SKIP_KEY.fullmatch(key):
                    continue
                seen += 1
                assert re.fullmatch(r"CKV_K8S_\d+=[A-Za-z].{40,}\.", skip), (
                    f"{workload.urn}: {skip}"
                )

    assert seen, "no workload of prod declares a checkov skip"
