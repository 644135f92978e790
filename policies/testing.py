"""Policy tests (`promogate policy test`): run example evidence against expected verdicts.

A test file is YAML: a list of cases, or a mapping with a `cases` list. Each case gives evidence
(a path to an `EvidenceBundle` JSON or YAML file, relative to the test file, or the bundle inline)
and what the policies must conclude:

```yaml
- name: a clean better candidate is approved
  evidence: evidence/clean.json
  expected: approve
  applied: [credit-risk]                 # optional: exactly these policies apply
  checks:                                # optional: check id (or glob) -> status
    metrics.roc_auc.max_drop: pass
    "segments.region.recall.*": pass
- name: no policy covers other models
  bundle: {candidate: {model: fraud, version: 1}}
  expected: block
```

A glob must match at least one check, and every check it matches must have the status.
"""

from __future__ import annotations

import json
import logging
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from policies.errors import PolicyDirectoryError, PolicyIssue, PolicyTestError
from policies.evaluator import evaluate_policies
from policies.loader import LoadedPolicy, load_policy_dir, read_yaml_documents, validation_issues
from policies.result import CheckStatus, PolicyVerdict, Verdict
from tools.evidence import EvidenceBundle

__all__ = [
    "LocatedPolicyTestCase",
    "PolicyTestCase",
    "PolicyTestResult",
    "load_policy_tests",
    "run_policy_case",
    "run_policy_tests",
]

logger = logging.getLogger("promogate.policies")

_GLOB_CHARS = frozenset("*?[")


class PolicyTestCase(BaseModel):
    """One case of a policy test file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    evidence: str | None = Field(
        default=None, description="EvidenceBundle file (JSON or YAML), relative to the test file."
    )
    bundle: EvidenceBundle | None = Field(default=None, description="The EvidenceBundle inline.")
    expected: Verdict
    applied: list[str] | None = Field(
        default=None, description="Names of exactly the policies that must apply."
    )
    checks: dict[str, CheckStatus] = Field(default_factory=dict)

    @field_validator("bundle", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        """An inline bundle may also be given as a JSON string."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"inline bundle is not valid JSON: {exc.msg}") from exc
        return value

    @model_validator(mode="after")
    def _one_evidence(self) -> Self:
        if (self.evidence is None) == (self.bundle is None):
            raise ValueError("give exactly one of 'evidence' (a file) or 'bundle' (inline)")
        return self


class PolicyTestResult(BaseModel):
    """The outcome of one test case."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    file: str
    line: int
    passed: bool
    expected: Verdict
    actual: Verdict | None = None
    failures: list[str] = Field(default_factory=list)
    checks: dict[str, CheckStatus] = Field(default_factory=dict)
    applied: list[str] = Field(default_factory=list)


class LocatedPolicyTestCase(BaseModel):
    """A test case and where it is written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case: PolicyTestCase
    file: str
    line: int


def _case_nodes(source: str, root: yaml.Node, data: Any) -> tuple[list[Any], list[yaml.Node]]:
    if isinstance(data, dict) and set(data) == {"cases"} and isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "cases":
                root = value
        data = data["cases"]
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        mark = root.start_mark
        raise PolicyTestError(
            [
                PolicyIssue(
                    path=source,
                    line=mark.line + 1,
                    column=mark.column + 1,
                    message="a policy test file is a list of cases (or a mapping with 'cases')",
                )
            ]
        )
    return data, list(root.value)


def load_policy_tests(path: str | Path) -> list[LocatedPolicyTestCase]:
    """Read the cases of one test file, or of the test files in a directory.

    In a directory, the `*.test.yaml`/`*.test.yml` files are the tests if there are any (so tests
    can live beside the policies); otherwise every `*.yaml`/`*.yml` file is.

    Args:
        path: A test file or a directory of test files.

    Raises:
        PolicyDirectoryError: The path does not exist or holds no test files.
        PolicySyntaxError: A file is malformed YAML.
        PolicyTestError: A case is invalid (the message names file and line).
    """
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
        # Beside policies, only `*.test.yaml` files are tests.
        marked = [p for p in files if p.name.endswith((".test.yaml", ".test.yml"))]
        files = marked or files
        if not files:
            raise PolicyDirectoryError(str(root), "no policy test files (*.yaml, *.yml)")
    elif root.is_file():
        files = [root]
    else:
        raise PolicyDirectoryError(str(root), "policy test file or directory does not exist")
    cases: list[LocatedPolicyTestCase] = []
    issues: list[PolicyIssue] = []
    for file in files:
        source = str(file)
        for doc in read_yaml_documents(file.read_bytes(), source):
            items, nodes = _case_nodes(source, doc.node, doc.data)
            for item, node in zip(items, nodes, strict=True):
                try:
                    case = PolicyTestCase.model_validate(item)
                except ValidationError as exc:
                    issues.extend(validation_issues(source, node, exc))
                    continue
                cases.append(
                    LocatedPolicyTestCase(case=case, file=source, line=node.start_mark.line + 1)
                )
    if issues:
        raise PolicyTestError(issues)
    if not cases:
        raise PolicyTestError([PolicyIssue(path=str(root), message="no test cases")])
    return cases


def _read_bundle(case: PolicyTestCase, test_file: str) -> EvidenceBundle:
    if case.bundle is not None:
        return case.bundle
    assert case.evidence is not None
    file = Path(test_file).parent / case.evidence
    try:
        raw = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read evidence file {str(file)!r}: {exc.strerror}") from exc
    try:
        data = json.loads(raw) if file.suffix == ".json" else yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"evidence file {str(file)!r} is not valid JSON/YAML: {exc}") from exc
    try:
        return EvidenceBundle.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(
            f"evidence file {str(file)!r} is not an EvidenceBundle: {where}: {first['msg']} "
            f"({exc.error_count()} errors)"
        ) from exc


def _compare(case: PolicyTestCase, verdict: PolicyVerdict) -> list[str]:
    failures: list[str] = []
    if verdict.verdict != case.expected:
        failures.append(f"verdict is {verdict.verdict!r}, expected {case.expected!r}")
    applied = [o.policy.name for o in verdict.outcomes]
    if case.applied is not None and sorted(applied) != sorted(case.applied):
        failures.append(f"applied policies are {applied!r}, expected {case.applied!r}")
    statuses = {c.id: c.status for c in verdict.checks}
    for pattern, expected in case.checks.items():
        if _GLOB_CHARS & set(pattern):
            matched = {cid: st for cid, st in statuses.items() if fnmatchcase(cid, pattern)}
        else:
            matched = {pattern: statuses[pattern]} if pattern in statuses else {}
        if not matched:
            failures.append(f"no check {pattern!r}; checks were {sorted(statuses)!r}")
            continue
        for cid, status in sorted(matched.items()):
            if status != expected:
                failures.append(f"check {cid!r} is {status!r}, expected {expected!r}")
    return failures


def run_policy_case(
    policies: list[LoadedPolicy], case: PolicyTestCase, *, file: str = "<inline>", line: int = 1
) -> PolicyTestResult:
    """Run one case against already loaded policies.

    Args:
        policies: The policies under test.
        case: The case.
        file: The test file, for the result.
        line: The case's line in the test file, for the result.
    """
    try:
        bundle = _read_bundle(case, file)
    except ValueError as exc:
        return PolicyTestResult(
            name=case.name,
            file=file,
            line=line,
            passed=False,
            expected=case.expected,
            failures=[str(exc)],
        )
    verdict = evaluate_policies(policies, bundle)
    failures = _compare(case, verdict)
    return PolicyTestResult(
        name=case.name,
        file=file,
        line=line,
        passed=not failures,
        expected=case.expected,
        actual=verdict.verdict,
        failures=failures,
        checks={c.id: c.status for c in verdict.checks},
        applied=[o.policy.name for o in verdict.outcomes],
    )


def run_policy_tests(policy_dir: str | Path, tests_path: str | Path) -> list[PolicyTestResult]:
    """Load the policies and run every test case against them.

    Args:
        policy_dir: The policy directory (or a single policy file).
        tests_path: A test file or a directory of test files.

    Raises:
        PolicyError: The policies or the test files cannot be loaded (a case whose evidence file
            is unreadable is a failed result, not an exception).
    """
    policies = load_policy_dir(policy_dir)
    results = [
        run_policy_case(policies, located.case, file=located.file, line=located.line)
        for located in load_policy_tests(tests_path)
    ]
    passed = sum(r.passed for r in results)
    logger.info("policy tests: %d passed, %d failed", passed, len(results) - passed)
    return results
