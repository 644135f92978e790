"""The front doors: the `promogate` CLI, the FastAPI app, review jobs, the gate client, and
the settings, read here once and passed down explicitly.

What callers use is exported here (pinned by tests/test_exports.py) and imported on first
use, so importing one name does not load the whole package (MLflow, LangChain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from api._cli_gc import SettleAfterFirstReview as SettleAfterFirstReview
    from api._cli_gc import settle_heap as settle_heap
    from api.answer_signature import public_key_from_text as public_key_from_text
    from api.answer_signature import request_digest as request_digest
    from api.answer_signature import verify_answer as verify_answer
    from api.app import (
        create_app as create_app,
    )
    from api.cli import (
        main as main,
    )
    from api.cli_options import (
        AsJson as AsJson,
    )
    from api.demo_site import DemoManifest as DemoManifest
    from api.jobs import ProcrastinateJobQueue as ProcrastinateJobQueue
    from api.jobs import ReviewJob as ReviewJob
    from api.jobs import postgres_conninfo as postgres_conninfo
    from api.render import (
        decisions_table as decisions_table,
    )
    from api.render import (
        print_decision as print_decision,
    )
    from api.services import (
        build_review_service as build_review_service,
    )
    from api.services import (
        configure_mlflow_environment as configure_mlflow_environment,
    )
    from api.services import (
        make_investigator as make_investigator,
    )
    from api.settings import (
        Settings as Settings,
    )
    from api.settings import (
        SettingsError as SettingsError,
    )
    from api.settings import (
        load_settings as load_settings,
    )
    from api.signing import AnswerSigner as AnswerSigner
    from api.signing import SigningMiddleware as SigningMiddleware
    from api.signing import generate_private_pem as generate_private_pem

_EXPORTS: dict[str, str] = {
    "verify_answer": "api.answer_signature",
    "request_digest": "api.answer_signature",
    "public_key_from_text": "api.answer_signature",
    "generate_private_pem": "api.signing",
    "SigningMiddleware": "api.signing",
    "DemoManifest": "api.demo_site",
    "AnswerSigner": "api.signing",
    "AsJson": "api.cli_options",
    "build_review_service": "api.services",
    "configure_mlflow_environment": "api.services",
    "create_app": "api.app",
    "decisions_table": "api.render",
    "load_settings": "api.settings",
    "main": "api.cli",
    "make_investigator": "api.services",
    "print_decision": "api.render",
    "Settings": "api.settings",
    "SettingsError": "api.settings",
    "FakeGitHub": "api.github.testing",
    "FakePull": "api.github.testing",
    "generate_app_key": "api.github.testing",
    "sign_payload": "api.github.signature",
    "ProcrastinateJobQueue": "api.jobs",
    "ReviewJob": "api.jobs",
    "postgres_conninfo": "api.jobs",
    "settle_heap": "api._cli_gc",
    "SettleAfterFirstReview": "api._cli_gc",
}

__all__ = [
    "AnswerSigner",
    "AsJson",
    "DemoManifest",
    "FakeGitHub",
    "FakePull",
    "ProcrastinateJobQueue",
    "ReviewJob",
    "Settings",
    "SettingsError",
    "SettleAfterFirstReview",
    "SigningMiddleware",
    "build_review_service",
    "configure_mlflow_environment",
    "create_app",
    "decisions_table",
    "generate_app_key",
    "generate_private_pem",
    "load_settings",
    "main",
    "make_investigator",
    "postgres_conninfo",
    "print_decision",
    "public_key_from_text",
    "request_digest",
    "settle_heap",
    "sign_payload",
    "verify_answer",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
