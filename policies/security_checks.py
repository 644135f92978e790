"""Checks of a policy's `security:` section against the candidate's artifact scan.

Pure and deterministic like the rest of the evaluator: the scan (`tools/artifact_scan.py`) did the
reading; this module judges it. Check ids (documented in docs/policies.md):

- `security.artifacts`: the artifacts were downloaded and hashed (else every other check is moot:
  this one errors and is the only one reported);
- `security.formats`: each flavor's serialization format, read from MLmodel, is allowed;
- `security.skops_trusted_types`: the types MLmodel whitelists for skops are in the policy's list;
- `security.load_code`: no code_paths, custom loader module, pickled python_model or model code,
  unless allowed;
- `security.pickles.picklescan`, `security.pickles.fickling`: every pickle stream cleared by that
  scanner (flags only on allowlisted globals); a stream it could not scan, or a limit it hit, fails;
- `security.requirements.pins`, `.sources`, `.deny`, `.mlflow_version`: the declared environment;
- `security.signature`: a valid OpenSSF model signature by one of the policy's signers over exactly
  the files present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from policies._security_rules import PICKLE_FORMATS, SecurityRules
from policies.result import CheckResult, CheckStatus
from policies.schema import Policy, parse_semver_specifier
from tools.artifact_scan import ArtifactScan, ScanRequest
from tools.model_signature import SignerSpec
from tools.pickle_scan import SCANNERS, ScanLimits, ScannerName

if TYPE_CHECKING:
    from policies.loader import LoadedPolicy
    from tools.evidence import EvidenceBundle, VersionEvidence

__all__ = ["scan_request_for", "security_checks"]

_MAX_LISTED = 10


_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.:/*?@+=,' ()<>-]")


def _safe(text: str, limit: int = 160) -> str:
    """Text from inside a model file (global names, zip member names, scanner messages quoting
    pickle strings) is written by whoever made the file: keep it short and plain, so a check
    message cannot carry instructions or markup to a reader downstream."""
    cleaned = _UNSAFE_CHARS.sub("?", text.replace("\n", " "))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


class _SecurityRun:
    def __init__(self, policy: Policy, rules: SecurityRules, scan: ArtifactScan) -> None:
        self.policy = policy
        self.rules = rules
        self.scan = scan

    def check(
        self,
        id: str,
        status: CheckStatus,
        message: str,
        *,
        how_to_fix: str | None = None,
        **kw: Any,
    ) -> CheckResult:
        return CheckResult(
            id=id,
            policy=self.policy.name,
            kind="security",
            status=status,
            message=message,
            how_to_fix=how_to_fix if status in {"fail", "error", "warn"} else None,
            overridable=self.rules.overridable,
            evidence=kw.pop("evidence", [f"artifacts:{self.scan.source}"]),
            **kw,
        )

    def ref(self, path: str) -> str:
        return f"artifacts:{self.scan.source}/{path}"

    # -- MLmodel --------------------------------------------------------------------------------

    def formats(self) -> CheckResult:
        mlmodel = self.scan.mlmodel
        if mlmodel is None:
            return self.check(
                "security.formats",
                "error",
                f"the serialization formats cannot be read: {self.scan.mlmodel_error}",
                how_to_fix="log the model with mlflow.<flavor>.log_model so it has an MLmodel file",
            )
        allowed = set(self.rules.formats.allow)
        bad: list[str] = []
        unknown: list[str] = []
        seen: list[str] = []
        for flavor in mlmodel.flavors:
            if flavor.name == "python_function" and flavor.serialization_format is None:
                continue  # a pyfunc wrapper loads through another flavor, judged on its own
            fmt = flavor.serialization_format
            if fmt is None:
                unknown.append(_safe(flavor.name))
                continue
            seen.append(_safe(f"{flavor.name}={fmt}"))
            if fmt not in allowed:
                bad.append(_safe(f"{flavor.name}={fmt}"))
        details = {"formats": seen, "allowed": sorted(allowed), "unknown": unknown}
        if bad:
            pickled = any(b.split("=")[1] in PICKLE_FORMATS for b in bad)
            return self.check(
                "security.formats",
                "fail",
                f"serialization format not allowed: {_listing(bad)} (allowed: "
                f"{_listing(sorted(allowed))})",
                observed=", ".join(bad),
                details=details,
                evidence=[self.ref("MLmodel")],
                how_to_fix="save the model in an allowed format (sklearn: "
                "serialization_format='skops'; PyTorch: pt2 or safetensors)"
                + ("; a pickle runs code on load" if pickled else ""),
            )
        if unknown:
            status: CheckStatus = "fail" if self.rules.formats.unknown == "fail" else "warn"
            return self.check(
                "security.formats",
                status,
                f"MLmodel does not say how flavor(s) {_listing(unknown)} serialize the model",
                details=details,
                evidence=[self.ref("MLmodel")],
                how_to_fix="use a flavor whose MLmodel names its format, or set "
                "security.formats.unknown: warn",
            )
        return self.check(
            "security.formats",
            "pass",
            f"serialization formats allowed: {_listing(seen) or 'none declared'}",
            details=details,
            evidence=[self.ref("MLmodel")],
        )

    def skops_types(self) -> CheckResult:
        mlmodel = self.scan.mlmodel
        if mlmodel is None:
            return self.check(
                "security.skops_trusted_types",
                "error",
                f"MLmodel cannot be read: {self.scan.mlmodel_error}",
            )
        allowed = set(self.rules.skops_trusted_types)
        listed = sorted({t for f in mlmodel.flavors for t in (f.skops_trusted_types or [])})
        extra = [_safe(t) for t in listed if t not in allowed]
        details = {"listed": listed, "allowed": sorted(allowed)}
        if extra:
            return self.check(
                "security.skops_trusted_types",
                "fail",
                f"MLmodel trusts skops types the policy does not allow: {_listing(extra)}; a "
                "crafted MLmodel can whitelist any type (GHSA-w582-9x45-8mpx)",
                observed=", ".join(extra),
                details=details,
                evidence=[self.ref("MLmodel")],
                how_to_fix="add the types to security.skops_trusted_types after review, or re-log "
                "the model trusting only the types it needs",
            )
        return self.check(
            "security.skops_trusted_types",
            "pass",
            f"skops trusted types within the allowlist ({len(listed)} listed)",
            details=details,
            evidence=[self.ref("MLmodel")],
        )

    def load_code(self) -> CheckResult:
        mlmodel = self.scan.mlmodel
        if mlmodel is None:
            return self.check(
                "security.load_code", "error", f"MLmodel cannot be read: {self.scan.mlmodel_error}"
            )
        allowed = set(self.rules.load_code.allow)
        found = [_safe(f"{c.kind} ({c.flavor}: {c.detail})") for c in mlmodel.load_code]
        bad = [
            _safe(f"{c.kind} ({c.flavor}: {c.detail})")
            for c in mlmodel.load_code
            if c.kind not in allowed
        ]
        details = {"load_code": found, "allowed": sorted(allowed)}
        if bad:
            return self.check(
                "security.load_code",
                "fail",
                f"code runs when the model is loaded: {_listing(bad)}",
                details=details,
                evidence=[self.ref("MLmodel")],
                how_to_fix="log the model with a built-in flavor and no code_paths, or allow the "
                "kind in security.load_code.allow after reviewing the code",
            )
        return self.check(
            "security.load_code",
            "pass",
            "no code of the model's own runs on load"
            if not found
            else f"load code allowed by policy: {_listing(found)}",
            details=details,
            evidence=[self.ref("MLmodel")],
        )

    # -- pickles --------------------------------------------------------------------------------

    def _allowed(self, name: str | None) -> bool:
        return name is not None and any(
            fnmatchcase(name, glob) for glob in self.rules.pickles.allowed_globals
        )

    def pickles(self, scanner: ScannerName) -> CheckResult:
        check_id = f"security.pickles.{scanner}"
        if not self.scan.pickles_scanned:
            return self.check(check_id, "error", "the artifacts' pickles were not scanned")
        problems: list[str] = []
        cleared: set[str] = set()
        evidence: list[str] = []
        for unreadable in self.scan.unreadable:
            problems.append(f"could not be read for pickle sniffing: {_safe(unreadable)}")
        for pickle in self.scan.pickles:
            label = _safe(pickle.location.label)
            report = next((r for r in pickle.reports if r.scanner == scanner), None)
            if report is None:
                problems.append(f"{label}: not scanned by {scanner}")
                continue
            if report.status in {"error", "timeout", "memory"}:
                problems.append(f"{label}: {_safe(report.message or report.status, 300)}")
                evidence.append(self.ref(pickle.location.path))
                continue
            blocking = []
            for finding in report.findings:
                if finding.clearable and self._allowed(finding.global_name):
                    cleared.add(_safe(str(finding.global_name)))
                elif finding.global_name is not None:
                    blocking.append(_safe(finding.global_name))
                else:
                    blocking.append(f"a {finding.severity} finding ({_safe(finding.message, 80)})")
            if blocking:
                unique = list(dict.fromkeys(blocking))
                problems.append(f"{label}: {scanner} flags {_listing(unique)}")
                evidence.append(self.ref(pickle.location.path))
        details: dict[str, Any] = {
            "streams": [_safe(p.location.label) for p in self.scan.pickles],
            "cleared_by_allowlist": sorted(cleared),
            "problems": problems,
        }
        if problems:
            return self.check(
                check_id,
                "fail",
                f"{len(problems)} pickle problem(s): {_listing(problems)}",
                details=details,
                evidence=evidence or [f"artifacts:{self.scan.source}"],
                how_to_fix="save the model without pickle (skops, safetensors, ONNX), or, for "
                "globals of libraries the team trusts, list them in "
                "security.pickles.allowed_globals; a scanner that could not finish is never a pass",
            )
        n = len(self.scan.pickles)
        message = (
            f"{scanner} cleared {n} pickle stream(s)"
            + (f"; allowlisted globals: {_listing(sorted(cleared))}" if cleared else "")
            if n
            else "no file parses as a pickle"
        )
        return self.check(check_id, "pass", message, details=details)

    # -- requirements ---------------------------------------------------------------------------

    def requirements(self) -> list[CheckResult]:
        rules = self.rules.requirements
        checks: list[CheckResult] = []
        entries = self.scan.requirements
        refs = [self.ref(f) for f in self.scan.requirement_files] or [
            f"artifacts:{self.scan.source}"
        ]
        if not self.scan.requirement_files:
            status: CheckStatus = "error" if rules.required else "skip"
            checks.append(
                self.check(
                    "security.requirements.pins",
                    status,
                    "the model declares no requirements.txt, python_env.yaml or conda.yaml",
                    how_to_fix="log the model with pip_requirements=[...] pinned with ==",
                )
            )
        else:
            exempt = {canonicalize_name(n) for n in rules.unpinned_allowed}
            unpinned = [
                f"{_safe(e.text)!r} ({e.source})"
                for e in entries
                if e.kind == "package"
                and e.pinned is None
                and e.name not in exempt
                and rules.pinned
            ]
            invalid = [
                f"{_safe(e.text)!r} ({e.source}: {e.problem})"
                for e in entries
                if e.kind == "invalid"
            ]
            bad = unpinned + invalid
            checks.append(
                self.check(
                    "security.requirements.pins",
                    "fail" if bad else "pass",
                    f"requirements not pinned to one version: {_listing(bad)}"
                    if bad
                    else f"{sum(e.kind == 'package' for e in entries)} requirements pinned",
                    details={"unpinned": unpinned, "invalid": invalid},
                    evidence=refs,
                    how_to_fix="pin every package with == (e.g. pip_requirements="
                    "['scikit-learn==1.5.2'])",
                )
            )
            sources = [
                f"{_safe(e.text)!r} ({e.kind}, {e.source})"
                for e in entries
                if e.kind in {"url", "vcs", "path", "index"} and e.kind not in rules.allow_sources
            ]
            checks.append(
                self.check(
                    "security.requirements.sources",
                    "fail" if sources else "pass",
                    f"requirements from outside the package index: {_listing(sources)}"
                    if sources
                    else "every requirement comes from the package index",
                    details={"sources": sources, "allowed": list(rules.allow_sources)},
                    evidence=refs,
                    how_to_fix="publish the package to the team's index and pin it, or allow the "
                    "source kind in security.requirements.allow_sources",
                )
            )
            denied = self._denied(entries)
            if rules.deny:
                checks.append(
                    self.check(
                        "security.requirements.deny",
                        "fail" if denied else "pass",
                        f"denied requirements: {_listing(denied)}"
                        if denied
                        else f"none of {len(rules.deny)} denied requirement(s) present",
                        details={"denied": denied, "deny": list(rules.deny)},
                        evidence=refs,
                        how_to_fix="remove or upgrade the denied packages",
                    )
                )
        if rules.mlflow_version is not None:
            checks.append(self._mlflow_version(rules.mlflow_version))
        return checks

    def _denied(self, entries: Sequence[Any]) -> list[str]:
        denied: list[str] = []
        for text in self.rules.requirements.deny:
            deny = Requirement(text)
            name = canonicalize_name(deny.name)
            for e in entries:
                if e.name != name:
                    continue
                if not deny.specifier:
                    denied.append(f"{_safe(e.text)!r} ({e.source}) matches {text!r}")
                elif e.pinned is None:
                    denied.append(f"{_safe(e.text)!r} ({e.source}) may resolve to {text!r}")
                elif deny.specifier.contains(e.pinned, prereleases=True):
                    denied.append(f"{_safe(e.text)!r} ({e.source}) matches {text!r}")
        return denied

    def _mlflow_version(self, wanted: str) -> CheckResult:
        saved = self.scan.mlmodel.mlflow_version if self.scan.mlmodel else None
        if saved is None:
            return self.check(
                "security.requirements.mlflow_version",
                "error",
                "MLmodel does not record the MLflow version that saved the model",
                threshold=wanted,
                evidence=[self.ref("MLmodel")],
            )
        try:
            ok = Version(saved) in parse_semver_specifier(wanted)
        except InvalidVersion:
            ok = False
        return self.check(
            "security.requirements.mlflow_version",
            "pass" if ok else "fail",
            f"saved with MLflow {saved}" + ("" if ok else f", outside {wanted!r}"),
            observed=saved,
            threshold=wanted,
            evidence=[self.ref("MLmodel")],
            how_to_fix=f"re-log the model with an MLflow version in {wanted!r}",
        )

    # -- signature ------------------------------------------------------------------------------

    def signature(self) -> CheckResult | None:
        rules = self.rules.signatures
        if rules is None:
            return None
        wanted = [s.label for s in rules.signers]
        results = [r for r in self.scan.signatures if r.signer in wanted]
        details = {
            "signers": wanted,
            "results": [{**r.model_dump(), "message": _safe(r.message, 300)} for r in results],
        }
        verified = [r for r in results if r.status == "verified"]
        if verified:
            return self.check(
                "security.signature",
                "pass",
                f"signed by {verified[0].signer}: {_safe(verified[0].message)}",
                details=details,
                evidence=[self.ref("model.sig")],
            )
        if len(results) < len(wanted):
            return self.check(
                "security.signature",
                "error",
                "the signature was not verified against every signer the policy names",
                details=details,
            )
        if all(r.status == "missing" for r in results):
            return self.check(
                "security.signature",
                "fail" if rules.required else "warn",
                "the artifacts are not signed (no model.sig)",
                details=details,
                how_to_fix="sign the saved model directory with model-signing (key, certificate or "
                "Sigstore) before logging it, so model.sig is among its artifacts",
            )
        reasons = [f"{r.signer}: {_safe(r.message, 300)}" for r in results if r.status != "missing"]
        return self.check(
            "security.signature",
            "fail",
            f"signature not valid for any allowed signer: {_listing(reasons)}",
            details=details,
            evidence=[self.ref("model.sig")],
            how_to_fix="re-sign the exact artifacts after review with an allowed signer; any "
            "file changed, added or removed since signing fails verification",
        )

    def run(self) -> list[CheckResult]:
        if self.scan.error is not None:
            return [
                self.check(
                    "security.artifacts",
                    "error",
                    f"the artifacts could not be scanned: {self.scan.error}",
                    how_to_fix="check that the model's artifacts can be downloaded",
                )
            ]
        manifest = self.scan.manifest
        n = len(manifest.files) if manifest else 0
        checks = [
            self.check(
                "security.artifacts",
                "pass",
                f"{n} files hashed, manifest digest {self.scan.digest}",
                observed=self.scan.digest,
            ),
            self.formats(),
            self.skops_types(),
            self.load_code(),
            *(self.pickles(s) for s in SCANNERS),
            *self.requirements(),
        ]
        signature = self.signature()
        if signature is not None:
            checks.append(signature)
        return checks


def security_checks(policy: Policy, candidate: VersionEvidence) -> list[CheckResult]:
    """The `security.*` checks of one policy for the candidate (empty without a section).

    Args:
        policy: The policy.
        candidate: The candidate's evidence, with its `artifact_scan` when one was made.
    """
    rules = policy.security
    if rules is None:
        return []
    scan = candidate.artifact_scan
    if scan is None:
        return [
            CheckResult(
                id="security.artifacts",
                policy=policy.name,
                kind="security",
                status="error",
                message=f"the artifacts of {candidate.ref} were not scanned, so the security "
                "section cannot be checked",
                how_to_fix="review through promogate's review pipeline, which scans the artifacts "
                "of versions a security policy applies to",
                overridable=False,
            )
        ]
    return _SecurityRun(policy, rules, scan).run()


def scan_request_for(
    policies: Sequence[LoadedPolicy],
    bundle: EvidenceBundle,
    *,
    sections: Sequence[SecurityRules] = (),
) -> ScanRequest | None:
    """What the matching policies' security sections need scanned; None when none has one.

    Signers are the union of all sections'; limits are the strictest (smallest) of them, since
    they protect the service that runs the scanners.

    Args:
        policies: All loaded policies.
        bundle: The gathered evidence (for selecting the policies that apply).
        sections: Further security sections to include (e.g. default rules).
    """
    from policies.selector import select_policies

    selected = select_policies(policies, bundle.candidate, bundle.target_alias)
    sections = [
        *(p.policy.security for p in selected if p.policy.security is not None),
        *sections,
    ]
    if not sections:
        return None
    signers: dict[str, SignerSpec] = {}
    for section in sections:
        for signer in section.signatures.signers if section.signatures else []:
            signers.setdefault(signer.label, signer)
    limits = ScanLimits(
        timeout_s=min(s.pickles.timeout_s for s in sections),
        memory_mb=min(s.pickles.memory_mb for s in sections),
    )
    return ScanRequest(limits=limits, signers=list(signers.values()))
