"""SARIF 2.1.0 output of a security scan, for GitHub code scanning (`promogate scan --sarif`).

Each `security.*` check id is a rule; every check that did not pass is a result located at the
artifact file it concerns (paths relative to the model's artifact root, under the base id
`MODEL_ARTIFACTS`, whose URI is the version's `models:/` or `runs:/` source).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from review.artifact_security import SecurityReport

__all__ = ["RULE_DESCRIPTIONS", "sarif_report"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

#: What each check id verifies (also the table in docs/policies.md).
RULE_DESCRIPTIONS: dict[str, str] = {
    "security.artifacts": "The model's artifacts could be downloaded and hashed.",
    "security.formats": "Each flavor's serialization format, read from MLmodel, is allowed.",
    "security.skops_trusted_types": "MLmodel's skops trusted types are within the allowlist.",
    "security.load_code": "No code of the model's own runs when it is loaded.",
    "security.pickles.picklescan": "picklescan clears every pickle stream.",
    "security.pickles.fickling": "fickling clears every pickle stream.",
    "security.requirements.pins": "Every required package is pinned to one version.",
    "security.requirements.sources": "No URL, VCS, local-path or index-option requirements.",
    "security.requirements.deny": "No denied package or version is required.",
    "security.requirements.mlflow_version": "The MLflow version that saved the model is in range.",
    "security.signature": "A valid OpenSSF model signature by an allowed signer covers every file.",
}
_LEVELS = {"fail": "error", "error": "error", "warn": "warning"}


def _location(reference: str, source: str) -> dict[str, Any]:
    prefix = f"artifacts:{source}/"
    path = reference.removeprefix(prefix) if reference.startswith(prefix) else "MLmodel"
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": path, "uriBaseId": "MODEL_ARTIFACTS"},
            "region": {"startLine": 1},
        }
    }


def sarif_report(report: SecurityReport, *, version: str = "0") -> dict[str, Any]:
    """The report as a SARIF log with one run.

    Args:
        report: The scan report.
        version: promogate's version, recorded as the tool's version.
    """
    rule_ids = list(RULE_DESCRIPTIONS)
    rules = [
        {
            "id": rule_id,
            "name": rule_id.replace(".", "_"),
            "shortDescription": {"text": text},
            "helpUri": "https://github.com/promogate/promogate/blob/main/docs/policies.md#security",
            "properties": {"tags": ["security", "ml-model"]},
        }
        for rule_id, text in RULE_DESCRIPTIONS.items()
    ]
    results: list[dict[str, Any]] = []
    for check in report.checks:
        level = _LEVELS.get(check.status)
        if level is None:
            continue
        refs = [e for e in check.evidence if "/" in e.removeprefix(f"artifacts:{report.source}")]
        results.append(
            {
                "ruleId": check.id,
                **({"ruleIndex": rule_ids.index(check.id)} if check.id in rule_ids else {}),
                "level": level,
                "message": {
                    "text": f"{report.model} version {report.version} ({check.policy}): "
                    f"{check.message}" + (f" Fix: {check.how_to_fix}" if check.how_to_fix else "")
                },
                "locations": [_location(r, report.source) for r in refs[:5]]
                or [_location("", report.source)],
                "partialFingerprints": {
                    "promogate/v1": f"{report.model}:{check.id}:{report.artifact_digest or ''}"
                },
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "promogate",
                        "version": version,
                        "informationUri": "https://github.com/promogate/promogate",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"MODEL_ARTIFACTS": {"uri": report.source.rstrip("/") + "/"}},
                "results": results,
                "properties": {
                    "model": report.model,
                    "version": report.version,
                    "artifactDigest": report.artifact_digest,
                    "policies": report.policies,
                },
            }
        ],
    }
