"""hugai from Python: the analyses of the hugai binary, with the field names its JSON uses.

Standard library only, so it runs in an AWS Lambda as is. The binary is found in this order: the
HUGAI_BINARY environment variable, the binary bundled in the wheel (hugai/bin/hugai), then
`hugai` on PATH.

    import hugai
    result = hugai.analyze_deployment(source_location="/src/checkout", target_environment="staging")
    result.quality_score, result.security_issues, result.deployment_risk, result.recommendations
"""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

__all__ = ["AnalysisResult", "HugaiError", "analyze_deployment", "binary"]
__version__ = "0.0.0"


class HugaiError(RuntimeError):
    """hugai could not be run, or refused its input; the message is hugai's own."""

    def __init__(self, message: str, exit_code: Optional[int] = None, stderr: str = ""):
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


@dataclass
class AnalysisResult:
    """What `hugai analyze deployment -o json` reports, as attributes (the seed reads them so)."""

    quality_score: int
    security_issues: List[Dict[str, Any]]
    deployment_risk: Dict[str, Any]
    recommendations: List[Dict[str, Any]]
    quality_factors: List[Dict[str, Any]] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> Dict[str, Any]:
        """The whole report, as hugai printed it (JSON-serialisable)."""
        return dict(self.raw)


def binary() -> str:
    """The path of the hugai binary this package runs."""
    env = os.environ.get("HUGAI_BINARY")
    if env:
        return env
    bundled = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "hugai")
    if os.path.isfile(bundled) and os.access(bundled, os.X_OK):
        return bundled
    found = shutil.which("hugai")
    if found:
        return found
    raise HugaiError("no hugai binary: set HUGAI_BINARY, install the wheel that bundles it, or put hugai on PATH")


def analyze_deployment(
    source_location: str,
    target_environment: Optional[str] = None,
    from_ref: Optional[str] = None,
    to_ref: str = "HEAD",
    service_file: Optional[str] = None,
    timeout: float = 600,
) -> AnalysisResult:
    """Judge the change in the git checkout at source_location before it ships to
    target_environment: quality score, secrets in the diff, deployment risk, recommendations.

    from_ref defaults to the last tag before to_ref (else the first commit). Security issues never
    raise: they are in the result, for the caller's pipeline to decide.
    """
    args = [binary(), "analyze", "deployment", "--repo", source_location, "--to", to_ref,
            "--fail-on", "none", "-o", "json"]
    if target_environment:
        args += ["--environment", target_environment]
    if from_ref:
        args += ["--from", from_ref]
    if service_file:
        args += ["--file", service_file]
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HugaiError("run hugai analyze deployment: %s" % e) from e
    if proc.returncode != 0:
        msg = proc.stderr.strip() or "exit status %d" % proc.returncode
        raise HugaiError(msg, exit_code=proc.returncode, stderr=proc.stderr)
    try:
        data = json.loads(proc.stdout)
    except ValueError as e:
        raise HugaiError("hugai analyze deployment printed no JSON: %s" % e) from e
    return AnalysisResult(
        quality_score=data["quality_score"],
        security_issues=data["security_issues"],
        deployment_risk=data["deployment_risk"],
        recommendations=data["recommendations"],
        quality_factors=data.get("quality_factors", []),
        raw=data,
    )
