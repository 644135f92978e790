"""The investigators (an LLM with read-only tools; the offline plan of the same tool calls),
the agent runner shared by review and chat, untrusted-text screening, test doubles.

What callers use is exported here (pinned by tests/test_exports.py) and imported on first
use, so importing one name does not load the whole package (MLflow, LangChain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from agents._agent_tools import (
        ReviewContext as ReviewContext,
    )
    from agents._agent_tools import (
        call_tool as call_tool,
    )
    from agents._agent_tools import (
        review_tools as review_tools,
    )
    from agents._budget import (
        ReviewBudget as ReviewBudget,
    )
    from agents._runner import (
        AgentRunner as AgentRunner,
    )
    from agents.chat import (
        ChatAnswer as ChatAnswer,
    )
    from agents.chat import (
        ChatSession as ChatSession,
    )
    from agents.chat_model import (
        build_chat_model as build_chat_model,
    )
    from agents.chat_model import (
        parse_model_spec as parse_model_spec,
    )
    from agents.errors import (
        AgentError as AgentError,
    )
    from agents.errors import (
        BudgetExceededError as BudgetExceededError,
    )
    from agents.errors import (
        InvalidReviewError as InvalidReviewError,
    )
    from agents.errors import (
        LlmConfigError as LlmConfigError,
    )
    from agents.errors import (
        LlmUnavailableError as LlmUnavailableError,
    )
    from agents.investigation import (
        Investigation as Investigation,
    )
    from agents.investigation import (
        Investigator as Investigator,
    )
    from agents.llm_investigator import (
        LlmInvestigator as LlmInvestigator,
    )
    from agents.llm_investigator import (
        make_llm_investigator as make_llm_investigator,
    )
    from agents.loopback_server import (
        LoopbackHttpServer as LoopbackHttpServer,
    )
    from agents.loopback_server import (
        LoopbackServerThread as LoopbackServerThread,
    )
    from agents.offline_investigator import (
        OfflineInvestigator as OfflineInvestigator,
    )
    from agents.testing import (
        ScriptedOpenAIServer as ScriptedOpenAIServer,
    )
    from agents.testing import ScriptedReply as ScriptedReply
    from agents.testing import (
        review_playbook as review_playbook,
    )
    from agents.tracing import (
        MlflowReviewTracer as MlflowReviewTracer,
    )
    from agents.untrusted import (
        PLACES as PLACES,
    )
    from agents.untrusted import (
        Place as Place,
    )
    from agents.untrusted import (
        Screening as Screening,
    )
    from agents.untrusted import (
        clear_screening_cache as clear_screening_cache,
    )
    from agents.untrusted import (
        compile_patterns as compile_patterns,
    )
    from agents.untrusted import (
        quote_untrusted as quote_untrusted,
    )
    from agents.untrusted import (
        scan_bundle as scan_bundle,
    )
    from agents.untrusted import (
        screen_bundle as screen_bundle,
    )
    from agents.untrusted import (
        screen_text as screen_text,
    )
    from agents.untrusted import (
        screened_texts as screened_texts,
    )
    from agents.untrusted import (
        untrusted_text_check as untrusted_text_check,
    )
    from agents.untrusted import (
        use_screening_disk_cache as use_screening_disk_cache,
    )
    from agents.untrusted_corpus import (
        BENIGN as BENIGN,
    )
    from agents.untrusted_corpus import (
        PLANTED as PLANTED,
    )
    from agents.untrusted_corpus import (
        CorpusText as CorpusText,
    )
    from agents.untrusted_corpus import (
        external_corpus as external_corpus,
    )

_EXPORTS: dict[str, str] = {
    "ScriptedReply": "agents.testing",
    "PLACES": "agents.untrusted",
    "Place": "agents.untrusted",
    "Screening": "agents.untrusted",
    "clear_screening_cache": "agents.untrusted",
    "compile_patterns": "agents.untrusted",
    "screen_bundle": "agents.untrusted",
    "screen_text": "agents.untrusted",
    "screened_texts": "agents.untrusted",
    "untrusted_text_check": "agents.untrusted",
    "use_screening_disk_cache": "agents.untrusted",
    "BENIGN": "agents.untrusted_corpus",
    "CorpusText": "agents.untrusted_corpus",
    "PLANTED": "agents.untrusted_corpus",
    "external_corpus": "agents.untrusted_corpus",
    "AgentError": "agents.errors",
    "AgentRunner": "agents._runner",
    "BudgetExceededError": "agents.errors",
    "build_chat_model": "agents.chat_model",
    "call_tool": "agents._agent_tools",
    "ChatAnswer": "agents.chat",
    "ChatSession": "agents.chat",
    "InvalidReviewError": "agents.errors",
    "Investigation": "agents.investigation",
    "Investigator": "agents.investigation",
    "LlmConfigError": "agents.errors",
    "LlmInvestigator": "agents.llm_investigator",
    "LlmUnavailableError": "agents.errors",
    "LoopbackHttpServer": "agents.loopback_server",
    "LoopbackServerThread": "agents.loopback_server",
    "make_llm_investigator": "agents.llm_investigator",
    "MlflowReviewTracer": "agents.tracing",
    "OfflineInvestigator": "agents.offline_investigator",
    "parse_model_spec": "agents.chat_model",
    "quote_untrusted": "agents.untrusted",
    "review_playbook": "agents.testing",
    "review_tools": "agents._agent_tools",
    "ReviewBudget": "agents._budget",
    "ReviewContext": "agents._agent_tools",
    "scan_bundle": "agents.untrusted",
    "ScriptedOpenAIServer": "agents.testing",
    "normalize_untrusted": "agents.untrusted",
    "scan_text": "agents.untrusted",
}

__all__ = [
    "BENIGN",
    "PLACES",
    "PLANTED",
    "AgentError",
    "AgentRunner",
    "BudgetExceededError",
    "ChatAnswer",
    "ChatSession",
    "CorpusText",
    "InvalidReviewError",
    "Investigation",
    "Investigator",
    "LlmConfigError",
    "LlmInvestigator",
    "LlmUnavailableError",
    "LoopbackHttpServer",
    "LoopbackServerThread",
    "MlflowReviewTracer",
    "OfflineInvestigator",
    "Place",
    "ReviewBudget",
    "ReviewContext",
    "Screening",
    "ScriptedOpenAIServer",
    "ScriptedReply",
    "build_chat_model",
    "call_tool",
    "clear_screening_cache",
    "compile_patterns",
    "external_corpus",
    "make_llm_investigator",
    "normalize_untrusted",
    "parse_model_spec",
    "quote_untrusted",
    "review_playbook",
    "review_tools",
    "scan_bundle",
    "scan_text",
    "screen_bundle",
    "screen_text",
    "screened_texts",
    "untrusted_text_check",
    "use_screening_disk_cache",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
