"""Detectors of planted instructions: what a text tries to do, and how it hides.

Two families, both run on every screened text (`agents.untrusted.screen_text`):

- **carriers** find text hidden from a human reader: HTML and Markdown comments, zero-width and
  direction-control characters inside words, invisible Unicode tag characters, words mixing
  Latin with look-alike Cyrillic or Greek letters, and base64 that decodes to prose. What a
  carrier hides is decoded and read by the intent detectors too.
- **intents** read the text (NFKC-folded, invisible characters removed, look-alikes folded to
  Latin) for what it tries to make the reviewer do: text addressed to an automated reviewer or
  model, claims of approval, exemption or a verdict, claimed policy changes, orders to approve,
  instructions to skip, ignore or reverse checks or to explain a failure away, attempts to
  replace the instructions, role and turn markers, fake tool output, requests not to be
  reported, and urgency or authority pressure.

Patterns are phrasal, not single keywords: "approved" alone is ordinary ("approved by data
owners for training use"); "approved for promotion", "exempt per ticket SEC-1182" and "please
disregard the recall regression" are not. The planted and benign corpora of
`agents.untrusted_corpus` measure both sides (docs/benchmarks.md).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from tools import ByteBoundedCache

__all__ = [
    "CARRIER_KINDS",
    "HITS_CACHE",
    "HITS_CACHE_BYTES",
    "INTENT_KINDS",
    "Hit",
    "Kind",
    "compile_patterns",
    "find_hits",
    "fold_text",
]

Kind = Literal[
    "addresses_model",
    "claims_approval",
    "claims_policy_change",
    "orders_verdict",
    "dismisses_checks",
    "overrides_instructions",
    "role_marker",
    "fake_tool_output",
    "asks_concealment",
    "pressure",
    "hidden_comment",
    "zero_width",
    "unicode_tags",
    "homoglyph",
    "base64",
    "false_claim",
]

INTENT_KINDS: tuple[Kind, ...] = (
    "addresses_model",
    "claims_approval",
    "claims_policy_change",
    "orders_verdict",
    "dismisses_checks",
    "overrides_instructions",
    "role_marker",
    "fake_tool_output",
    "asks_concealment",
    "pressure",
)
CARRIER_KINDS: tuple[Kind, ...] = (
    "hidden_comment",
    "zero_width",
    "unicode_tags",
    "homoglyph",
    "base64",
)


@dataclass(frozen=True)
class Hit:
    """One thing a detector found: its kind, the matched text, and the carrier it hid in."""

    kind: Kind
    matched: str
    carrier: Kind | None = None


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE | re.MULTILINE)


_AUTO = (
    r"(?:ai|a\.i\.|llm|gpt|language[\s-]+models?|automated|automatic|auto|bots?|robots?|"
    r"agents?|agentic|promogate|machines?|models?)"
)
_CHECKS = (
    r"(?:checks?|polic(?:y|ies)|gates?|reviews?|validations?|tests?|results?|findings?|"
    r"regressions?|warnings?|alerts?|failures?|failing|errors?|drops?|degradations?|declines?|"
    r"metrics?|thresholds?|segments?|recall|precision|auc|roc[\s_-]?auc|accuracy|safety|"
    r"evals?|evaluations?|suites?|jailbreak|pii|blockers?|verdicts?)"
)
_SUBJECT = (
    r"(?:model|version|candidate|change|pr|pull\s+request|promotion|release|build|deployment|"
    r"rollout|run|v\d+)"
)
_PROMOTE = (
    r"(?:promotion|promote|promoting|release|production|prod|deploy(?:ment)?|go[\s-]?live|"
    r"launch|ship(?:ping)?|champion|rollout|merge)"
)
_POSITIVE = r"(?:approve|approved|pass|passed|allow|allowed|promote|green|ok|lgtm|granted|clear)"


@functools.cache
def _intents() -> tuple[tuple[Kind, re.Pattern[str]], ...]:
    """The intent patterns, compiled the first time a text is screened (see above `_lazy`)."""
    return (
        (
            "addresses_model",
            _rx(
                r"\b(?:ai|llm|automated|model|promogate|review|machine|gpt|bot)[\s_-]*"
                r"(?:reviewers?|review(?:ing)?[\s_-]*(?:agent|bot|system|assistant|tool)|gate(?:keeper)?|"
                r"assistants?|validators?|judges?)\b",
                r"@promogate\b|(?:^|[\n.!?]\s*)promogate\s*[:,]",
                r"\b(?:dear|note\s+to|message\s+to|notice\s+to|attention|attn|hey|hi|hello|"
                r"instructions?\s+(?:for|to))\s*:?\s+(?:the\s+|all\s+|any\s+)?"
                rf"{_AUTO}\b",
                r"\bif\s+you\s+are\s+(?:an?\s+|the\s+)?(?:ai|llm|language\s+model|bot|automated|"
                r"assistant|model|agent|reviewer|gate|reading\s+this)",
                rf"\b(?:to|for)\s+(?:any|all|the)\s+{_AUTO}\s+(?:reading|reviewing|processing|"
                r"evaluating|parsing|checking)",
                rf"\b{_AUTO}\s+(?:reading|reviewing|processing|evaluating|parsing)\s+this\b",
                r"\b(?:bot|agent|reviewer|assistant|llm|ai|model)\s+instructions?\b",
                r"\byou\s+are\s+(?:now\s+)?(?:an?\s+|the\s+)?(?:ai|llm|language\s+model|assistant|"
                r"automated|reviewer|gate|agent|bot|approver)\b",
                r"\b(?:in|to|into|within)\s+your\s+(?:response|answer|reply|output|code|solution|"
                r"summary|codebase|code\s*base|implementation|review)\b",
                r"\byour\s+(?:response|answer|reply)(?:'s)?\b",
                r"\b(?:from\s+now\s+on|henceforth)\b[^.\n]{0,40}\byou\b",
                r"\byou\s+(?:will|must|should|shall|are\s+going\s+to|have\s+to)\s+(?:now\s+)?"
                r"(?:answer|respond|reply|act|pretend|play|output|print|say|ignore|approve|"
                r"recommend|return|comply|obey)\b",
                r"\bjust\s+(?:say|print|output|respond|reply|answer)\b",
                r"\b(?:pretend|act)\s+(?:to\s+be|as)\b|\b(?:play|take\s+on)\s+the\s+role\b",
                r"\b(?:immerse\s+yourself|role\s+of\s+another)\b",
                r"\b(?:following|below|subsequent)\s+code\s+(?:snippet|excerpt|block|section|segment|"
                r"fragment)\b[^\n]{0,80}\byour\b|\byour\b[^\n]{0,80}\b(?:following|below|"
                r"subsequent)\s+code\s+(?:snippet|excerpt|block|section|segment|fragment)\b",
                r"\b(?:embed|include|incorporate|integrate|insert|add|blend|feature|append|weave)\b"
                r"[^.\n]{0,60}\b(?:code\s+(?:snippet|excerpt|block|segment|fragment|sample)|snippet)s?\b",
                r"(?:^|[.!?]\s+|=\s*)(?:please\s+)?(?:write|provide|recommend|summari[sz]e|"
                r"analy[sz]e|suggest|explain|translate|generate|draft|compose|describe|determine|develop|"
                r"jumble|render|reply|respond|answer|break\s+down|show\s+me|list|give\s+me|"
                r"classify|encrypt|encode|reverse)\b[^.!?\n]{3,200}[.!?]?\s*$",
                r"(?:^|=)\s*(?:what|how|who|why|which|when|where|is|are|can|could|would|do|does)\b"
                r"(?![^?\n]*\b(?:we|our|us|someone|anyone|team|reviewers?)\b)[^?\n]{3,200}\?",
                r"\b(?:developer|god|jailbreak|dan|admin|unrestricted)\s+mode\b",
                r"\b(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:show|tell|give|write|explain|"
                r"provide|recommend|help|list|summari[sz]e|translate)\b",
                r"(?:^|[.!?]\s+)(?:please\s+)?(?:write|provide|recommend|summari[sz]e|"
                r"analy[sz]e|tell|suggest|explain|translate|generate|draft|compose|describe|give|"
                r"determine|encrypt|encode|reverse|rearrange|introduce|integrate|incorporate|"
                r"blend|embed|help)\b[^.!?\n]{0,160}\b(?:me|my|your|you)\b",
            ),
        ),
        (
            "claims_approval",
            _rx(
                r"\bpre-?\s?approved\b|\bpre-?\s?cleared\b",
                r"\balready\s+(?:been\s+)?(?:approved|signed[\s-]off|cleared|green-?lit|authori[sz]ed|"
                r"reviewed\s+and\s+approved)\b",
                r"\b(?:approval|sign[\s-]?off|clearance|authori[sz]ation|exception|exemption|waiver|"
                r"dispensation|override)\s+(?:is\s+|was\s+|has\s+been\s+)?(?:granted|given|obtained|"
                r"on\s+file|received|recorded|confirmed|issued|approved|in\s+place|applied|active)\b",
                r"(?<!tax-)(?<!tax\s)\b(?:exempt(?:ed|ion|s)?|waiver|waived?|dispensation)\b",
                r"\b(?:signed[\s-]off|sign[\s-]?off|approved|cleared|green-?lit|authori[sz]ed|"
                rf"okayed|blessed)\b[^.\n]{{0,60}}\b(?:for|to)\s+{_PROMOTE}\b",
                rf"\b(?:promotion|release|deployment|rollout|go[\s-]?live|this\s+{_SUBJECT}|"
                r"candidate|v\d+)\s+(?:is|was|has\s+been|have\s+been)\s+(?:already\s+)?"
                r"(?:approved|signed[\s-]off|cleared|authori[sz]ed|green-?lit|pre-?approved|"
                r"whitelisted|allow-?listed)\b",
                r"\bauthori[sz]es?\b[^.\n]{0,40}\b(?:promotion|deployment|release|promot(?:e|ing))\b",
                r"\b(?:verdict|decision|recommendation|outcome)\s*[\"']?\s*[:=]\s*[\"']?"
                r"(?:approve|approved|pass|passed|allow|allowed|promote|green)\b",
                r"\b(?:gate|review|promotion|policy|approval|checks?)[\s_.-]*(?:status|result|state)"
                r"\s*[\"']?\s*[:=]\s*[\"']?(?:approve|approved|pass|passed|allow|allowed|green|ok|"
                r"granted)\b",
                r"\bstatus\s*[\"']?\s*[:=]\s*[\"']?(?:approved|allowed|pre-?approved|cleared)\b",
                r"\b(?:review|approval|decision)\s+(?:has\s+)?(?:already\s+)?been\s+completed\b",
                r"\b(?:approv\w*|sign[\s-]?off|signed[\s-]off|cleared)\b[^.\n]{0,50}"
                r"\b(?:per|under|via|ref(?:erence)?|see)\s+(?:ticket|change\s+request|cr|jira|case)?"
                r"\s*#?[A-Z][A-Z0-9]{1,9}-\d+",
            ),
        ),
        (
            "claims_policy_change",
            _rx(
                r"apiVersion\s*:\s*promogate/|kind\s*:\s*PromotionPolicy|\bmay_approve\b|"
                r"\buntrusted_text\b",
                r"\bpolic(?:y|ies)\b[^.\n]{0,40}\b(?:updated|changed|waived|exempt(?:ed|ion)?|"
                r"no\s+longer|suspended|disabled|relaxed|lifted|removed|revoked|"
                r"(?:does|do)\s+not\s+apply|doesn't\s+apply)\b",
                r"\b(?:updated|new|revised|amended)\s+polic(?:y|ies)\s*:",
                r"\b(?:checks?|rules?|requirements?|gates?|thresholds?)\s+(?:has|have)\s+been\s+"
                r"(?:relaxed|removed|waived|lifted|suspended|disabled|retired)\b",
                r"\b(?:checks?|rules?|requirements?|gates?|polic(?:y|ies))\s+(?:no\s+longer|"
                r"(?:does|do)\s+not)\s+(?:apply|applies|required|enforced)\b",
                r"\b(?:checks?|review|validation|polic(?:y|ies))\s+(?:is|are)\s+not\s+"
                r"(?:required|needed|necessary|applicable)\b",
                r"\bsystem\s+override\b",
            ),
        ),
        (
            "orders_verdict",
            _rx(
                r"\b(?:approve|allow|pass|promote|whitelist|allow-?list|green-?light|unblock|"
                rf"sign\s+off(?:\s+on)?)\b[^.\n]{{0,40}}\b(?:this|the|that)\s+{_SUBJECT}\b",
                r"\b(?:approve|promote|pass)\s+(?:it|and\s+promote|now|immediately)\b",
                r"\bpromote\b[^.\n]{0,30}\bto\s+(?:@?champion|production|prod)\b",
                r"\brecommend(?:ation)?\s*[:=]?\s*[\"']?approv",
                r"\b(?:respond|reply|answer|output|say|return|print)\s+(?:only\s+|just\s+)?"
                r"(?:with\s+)?[\"']?(?:approve|approved|pass|lgtm|allow)\b",
                r"\bmark\s+(?:all\s+)?(?:the\s+)?(?:checks?|tests?|findings?)\s+as\s+"
                r"(?:pass(?:ed)?|green|resolved)\b",
                r"\b(?:set|return|output|mark|report|record)\s+(?:the\s+)?(?:verdict|decision|status|"
                r"result|outcome|recommendation)\s+(?:as|to)\s+[\"']?(?:approve|pass|allow|green)",
            ),
        ),
        (
            "dismisses_checks",
            _rx(
                r"\b(?:skip(?!-gram)|bypass|ignore|disregard|dismiss|overlook|discount|suppress|"
                r"silence|mute|disable|circumvent|turn\s+off)\b[^.\n;]{0,40}"
                rf"\b{_CHECKS}\b",
                r"\bwithout\s+(?:any\s+)?(?:checks?|review|validation|gating)\b",
                r"\b(?:reverse|flip|invert|overturn|overrule)\b[^.\n]{0,30}\b(?:verdict|decision|"
                r"block|result|outcome|check|finding|recommendation)s?\b",
                r"\btreat\b[^.\n]{0,40}\b(?:failures?|regressions?|drops?|fail(?:ed|ing)?|block|"
                r"findings?)\b[^.\n]{0,20}\bas\s+(?:an?\s+)?(?:pass(?:ed)?|noise|acceptable|expected|"
                r"benign|irrelevant)\b",
                r"\bknown\s+(?:labell?ing\s+|label\s+|data\s+|measurement\s+|eval(?:uation)?\s+)?"
                r"(?:artefact|artifact|false\s+positive|glitch|quirk)s?\b",
                r"\b(?:regressions?|drops?|failures?|findings?|alerts?|checks?|decline)\b[^.\n]{0,40}"
                r"\b(?:is|are)\s+(?:a\s+|an\s+)?(?:known|expected|spurious|false\s+positives?|"
                r"noise|artefacts?|artifacts?|not\s+real|not\s+(?:a\s+)?(?:real|genuine)|"
                r"acceptable|benign|safe\s+to\s+ignore|irrelevant)\b",
                r"\b(?:safe\s+to\s+ignore|can\s+(?:safely\s+)?be\s+ignored|should\s+be\s+ignored|"
                r"not\s+worth\s+(?:flagging|reporting|blocking))\b",
                rf"\b(?:no\s+need\s+to|don't|do\s+not|never)\s+(?:check|block|flag|fail)\b"
                rf"[^.\n]{{0,30}}\b(?:this|the|these|{_CHECKS})\b",
            ),
        ),
        (
            "overrides_instructions",
            _rx(
                r"\b(?:ignore|disregard|forget|override|overwrite)\b[^.\n]{0,30}"
                r"\b(?:previous|prior|above|all|earlier|system|your|these|the|any|following|"
                r"preceding)\b[^.\n]{0,20}\b(?:instructions?|prompts?|rules?|messages?|guidelines?|"
                r"directives?|context)\b",
                r"\bforget\s+(?:everything|all|what)\b",
                r"\bdisregard\s+(?:everything|all|anything)\b",
                r"\bnew\s+(?:instructions?|task|rules?|system\s+prompt|directives?)\s*:",
                r"\bsystem\s+prompt\b",
                r"\b(?:stop\s+everything|never\s?mind)\b",
            ),
        ),
        (
            "role_marker",
            _rx(
                r"(?:^|[\n>\"'=.!?:;]\s*)(?:system|assistant|developer)\s*:",
                r"^\s*(?:human|user|ai|tool|function|observation|thought|action)\s*:",
                r"<\|[a-z_]+\|>|<\|?(?:system|im_start|im_end)\|?>|\[/?INST\]|<<\s*/?SYS\s*>>",
                r"</?(?:system|assistant|user|instructions?|prompt|evidence|tool_result|tool_output|"
                r"tool_call|function_results?|function_call|observation|context|untrusted-data)\b"
                r"[^>]{0,40}>",
                r"^#{1,6}\s*(?:system|instructions?|response|assistant)\b",
                r"\bend\s+of\s+(?:evidence|untrusted\s+data|data|input|context|document|"
                r"instructions)\b",
            ),
        ),
        (
            "fake_tool_output",
            _rx(
                r"\b(?:tool[_ ]?(?:result|output|call|response)|"
                r"function[_ ]?(?:result|call|output))\b",
                r"\"role\"\s*:\s*\"(?:tool|system|assistant|function)\"",
                r"\"(?:tool_call_id|tool_calls|function_call)\"\s*:",
                r"^\s*observation\s*:",
                r"```\s*(?:tool|tool_result|observation|function)",
            ),
        ),
        (
            "asks_concealment",
            _rx(
                r"\b(?:do\s+not|don't|must\s+not|never|should\s+not)\s+(?:report|flag|mention|"
                r"disclose|surface|escalate)\b",
                r"\bkeep\s+(?:this|it)\s+(?:hidden|secret|quiet|between\s+us|confidential)\b",
                r"\b(?:hide|omit|remove|suppress|drop)\s+(?:this|the|any)\s+(?:finding|warning|note|"
                r"message|text|comment)s?\b",
                r"\bwithout\s+(?:reporting|flagging|mentioning|escalating)\b",
            ),
        ),
    )


_URGENCY = (
    r"(?:sla|deadline|urgent(?:ly)?|asap|immediately|right\s+away|time[\s-]critical|p0|"
    r"sev[\s-]?[01]|emergency|escalated|before\s+(?:eod|end\s+of\s+(?:day|week)|friday|monday|"
    r"the\s+board|the\s+launch|the\s+deadline)|no\s+time|tonight|within\s+\d+\s*(?:h|hours?|"
    r"minutes?)|penalt(?:y|ies)|revenue\s+loss|fined)"
)
_AUTHORITY = (
    r"(?:ciso|cto|ceo|cio|cfo|cro|vp|svp|evp|vice\s+president|head\s+of\s+\w+|committee|"
    r"executives?|exec\s+team|leadership|directors?|chief\s+\w+\s+officer|compliance\s+officer|"
    r"regulators?|c-suite|board\s+of\s+directors)"
)
_DEMAND = (
    r"(?:approve|approval|promote|promotion|sign[\s-]?off|unblock|skip|bypass|override|waive|"
    r"expedite|fast[\s-]?track|rush|champion|the\s+gate|the\s+checks?)"
)
_pressure = functools.cache(
    lambda: _rx(
        rf"\b{_URGENCY}\b[^\n]{{0,80}}\b{_DEMAND}\b",
        rf"\b{_DEMAND}\b[^\n]{{0,80}}\b{_URGENCY}\b",
        rf"\b{_AUTHORITY}\b[^\n]{{0,60}}\b{_DEMAND}\b",
        rf"\b{_DEMAND}\b[^\n]{{0,60}}\b{_AUTHORITY}\b",
    )
)
# Patterns are compiled the first time one is needed, not at import. The ones read only by some
# texts (an approval claim, a comment, non-ASCII letters, prose) rarely are. The intents and the
# pressure every screened text is read with take about 15 ms to compile: a process that loads
# this module but screens nothing (a local gate that reuses a decision) never does, and a server
# does it in its warm-up (`compile_patterns`) rather than in its first review.


def compile_patterns() -> None:
    """Compile the patterns every screened text is read with, now rather than on first use."""
    _intents()
    _pressure()


def _lazy(pattern: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """`pattern`, compiled the first time it is asked for."""
    return functools.cache(lambda: re.compile(pattern, flags))


# A data-use approval ("approved by data owners for training use") is not a gate claim.
_data_use = _lazy(
    r"\b(?:for|in)\s+(?:training|research|analysis|data\s+use|model(?:l)?ing|"
    r"use\s+(?:in|on|by))\b|\bfor\s+use\b",
    re.IGNORECASE,
)

_gate_words = _lazy(
    rf"\b(?:{_PROMOTE}|gate|checks?|polic(?:y|ies)|regressions?|reviewer|verdict)\b",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------------------------
# Carriers

_ZERO_WIDTH = frozenset(
    "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
)
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = dict.fromkeys(map(ord, _ZERO_WIDTH | _BIDI))
_TAG_RANGE = range(0xE0000, 0xE0080)
_BLACK_FLAG = "\U0001f3f4"

_hidden_comment = _lazy(
    r"<!--(.*?)(?:-->|$)|^\s*\[//\]\s*:\s*#\s*[(\"'](.*?)[)\"']\s*$",
    re.DOTALL | re.MULTILINE,
)

# A hidden comment naming a verdict is planted; comments in PR templates and READMEs ("Link the
# issue", "TOC") are not.
_comment_verdict = _lazy(
    r"\b(?:approve[ds]?|approval|lgtm|verdict|decision|promote[ds]?|exempt\w*|waive[ds]?|"
    r"sign[\s-]?off|pre-?approved)\b",
    re.IGNORECASE,
)

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_WORD = re.compile(r"\w+", re.UNICODE)

# Cyrillic and Greek letters that look like Latin ones (Unicode confusables, the common subset).
_LOOKALIKES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g", "А": "A", "В": "B", "Е": "E", "К": "K",
        "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X",
        "Ѕ": "S", "І": "I", "Ј": "J", "α": "a", "ο": "o", "ν": "v", "ρ": "p", "τ": "t",
        "υ": "u", "ι": "i", "κ": "k", "ε": "e", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z",
        "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T",
        "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip


_latin_words = _lazy(
    r"^(?:approve[ds]?|approval|pass(?:ed)?|promote[ds]?|ignore|skip|reviewer|system|verdict|"
    r"decision|model|checks?|policy|exempt|waived?|assistant|instructions?|champion|"
    r"allow(?:ed)?|gate|safe|green|ok|release|override)$",
    re.IGNORECASE,
)


_SPACES = re.compile(r"[ \t\r\f\v]+")
_TAG_CHARS = re.compile("[\U000e0000-\U000e007f]")
_NON_LATIN = re.compile("[\u0370-\u052f]")


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else ""


def fold_text(text: str) -> str:
    """The text as the intent detectors read it: NFKC-folded (fullwidth and mathematical letters
    become ASCII), invisible and tag characters removed, look-alike letters folded to Latin, and
    runs of whitespace collapsed to one space."""
    if text.isascii():
        return _SPACES.sub(" ", text)
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    folded = _TAG_CHARS.sub("", folded)
    if _NON_LATIN.search(folded):
        folded = folded.translate(_LOOKALIKES)
    return _SPACES.sub(" ", folded)


def _tag_payload(text: str) -> str:
    """ASCII text spelled in invisible Unicode tag characters, outside flag emoji sequences."""
    out: list[str] = []
    in_flag = False
    for char in text:
        code = ord(char)
        if char == _BLACK_FLAG:
            in_flag = True
        elif code in _TAG_RANGE:
            if not in_flag:
                out.append(chr(code - 0xE0000) if code != 0xE007F else "")
            elif code == 0xE007F:
                in_flag = False
        else:
            in_flag = False
    return "".join(out).strip()


def _zero_width_inside_words(text: str) -> str | None:
    """The first word split by a zero-width or direction-control character, if any."""
    for i, char in enumerate(text):
        if char in _ZERO_WIDTH or char in _BIDI:
            before = text[i - 1] if i > 0 else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            # A zero-width joiner between emoji is ordinary; between letters it hides a word.
            if char in _BIDI or (before.isalnum() and (after.isalnum() or after in _ZERO_WIDTH)):
                start = max(0, i - 20)
                return text[start : i + 20]
    return None


def _homoglyph_words(text: str) -> list[str]:
    """Words that mix Latin with look-alike letters, or spell an English keyword in them."""
    found: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group()
        if word.isascii():
            continue
        scripts = {_script(c) for c in word if c.isalpha()}
        mixed = "LATIN" in scripts and bool(scripts & {"CYRILLIC", "GREEK", "ARMENIAN"})
        disguised = bool(scripts & {"CYRILLIC", "GREEK"}) and bool(
            _latin_words().match(word.translate(_LOOKALIKES))
        )
        if mixed or disguised:
            found.append(word)
    return found


def _base64_payloads(text: str) -> Iterator[tuple[str, str]]:
    """(encoded token, decoded prose) for base64 tokens that decode to readable text."""
    for match in _BASE64.finditer(text):
        token = match.group()
        if token.isalpha() or token.isdigit() or re.fullmatch(r"[0-9a-fA-F]+", token):
            continue  # a word, a number or a hex digest
        padded = token + "=" * (-len(token) % 4)
        try:
            raw = (
                base64.urlsafe_b64decode(padded)
                if "-" in token or "_" in token
                else base64.b64decode(padded, validate=True)
            )
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        printable = sum(c.isprintable() or c in "\n\t" for c in decoded)
        if decoded and printable / len(decoded) > 0.95 and len(decoded.split()) >= 3:
            yield token, decoded


def _json_objects(text: str, limit: int = 20) -> Iterator[object]:
    """JSON objects embedded in the text (at most `limit`)."""
    decoder = json.JSONDecoder()
    pos = 0
    found = 0
    while found < limit:
        start = text.find("{", pos)
        if start < 0:
            return
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            pos = start + 1
            continue
        found += 1
        pos = end
        yield value


_TOOL_KEYS = frozenset(
    {"tool", "tool_name", "tool_call_id", "tool_calls", "function", "function_call", "tool_result",
     "tool_output", "observation", "role"}
)  # fmt: skip
_VERDICT_KEYS = frozenset(
    {"verdict", "decision", "recommendation", "status", "outcome", "gate", "approved", "passed",
     "result", "allowed", "review"}
)  # fmt: skip
_POSITIVE_VALUES = frozenset(
    {"approve", "approved", "pass", "passed", "allow", "allowed", "green", "ok", "promote",
     "success", "true", "granted", "clear", "cleared"}
)  # fmt: skip


def _looks_like_tool_result(value: object, depth: int = 0) -> str | None:
    if depth > 4:
        return None
    if isinstance(value, list):
        for item in value[:20]:
            if (why := _looks_like_tool_result(item, depth + 1)) is not None:
                return why
        return None
    if not isinstance(value, dict):
        return None
    keys = {str(k).lower() for k in value}
    if keys & _TOOL_KEYS:
        return f"keys {sorted(keys & _TOOL_KEYS)}"
    for key in keys & _VERDICT_KEYS:
        raw = next(v for k, v in value.items() if str(k).lower() == key)
        if str(raw).strip().lower() in _POSITIVE_VALUES:
            return f"{key}={raw!r}"
    for item in list(value.values())[:50]:
        if isinstance(item, str) and item.lstrip().startswith("{"):
            for inner in _json_objects(item, limit=3):
                if (why := _looks_like_tool_result(inner, depth + 1)) is not None:
                    return why
        elif (why := _looks_like_tool_result(item, depth + 1)) is not None:
            return why
    return None


def _intent_hits(text: str, carrier: Kind | None, *, prose_only: bool) -> list[Hit]:
    hits: list[Hit] = []
    variants = [text]
    if "_" in text or ("." in text and " " not in text):
        # Keys and metric names join words with underscores or dots.
        variants.append(re.sub(r"[_.]+", " ", text))
    for kind, pattern in _intents():
        if prose_only and kind == "addresses_model":
            # Imperatives and questions are ordinary in READMEs and pull requests; only the
            # explicit forms of address count there.
            pattern = _address_explicit()
        for variant in variants:
            match = _first_real(kind, pattern, variant)
            if match is not None:
                hits.append(Hit(kind, match, carrier))
                break
    for variant in variants:
        found = _pressure().search(variant)
        if found is not None:
            hits.append(Hit("pressure", found.group(), carrier))
            break
    if "{" in text and not any(h.kind == "fake_tool_output" for h in hits):
        for obj in _json_objects(text):
            why = _looks_like_tool_result(obj)
            if why is not None:
                hits.append(Hit("fake_tool_output", f"JSON with {why}", carrier))
                break
    return hits


def _first_real(kind: Kind, pattern: re.Pattern[str], text: str) -> str | None:
    for match in pattern.finditer(text):
        if kind == "claims_approval":
            start = text.rfind(".", 0, match.start()) + 1
            end = text.find(".", match.end())
            sentence = text[start : end if end >= 0 else len(text)]
            if _data_use().search(sentence) and not _gate_words().search(sentence):
                continue
        return match.group()
    return None


@functools.cache
def _address_explicit() -> re.Pattern[str]:
    return _rx(
        r"\b(?:ai|llm|automated|promogate|machine|gpt|bot)[\s_-]*(?:reviewers?|gate(?:keeper)?|"
        r"assistants?|validators?|judges?)\b",
        r"@promogate\b",
        r"\b(?:dear|note\s+to|message\s+to|attention|attn|hey|hi|hello|instructions?\s+(?:for|to))"
        r"\s*:?\s+(?:the\s+|all\s+|any\s+)?(?:ai|llm|gpt|automated|bots?|promogate|language\s+models?)\b",
        r"\bif\s+you\s+are\s+(?:an?\s+|the\s+)?(?:ai|llm|language\s+model|bot|automated)",
        r"\byou\s+are\s+(?:now\s+)?(?:an?\s+|the\s+)?(?:ai|llm|language\s+model|automated)\b",
        r"\b(?:in|to|into|within)\s+your\s+(?:response|answer|reply|output)\b",
        r"\b(?:from\s+now\s+on|henceforth)\b[^.\n]{0,40}\byou\s+(?:are|will|must)\b",
        r"\b(?:developer|god|jailbreak|dan)\s+mode\b",
    )


HITS_CACHE_BYTES = 4 * 1024 * 1024
#: What the detectors found in a text, under the text itself: a function of the text alone, and
#: the champion's texts are screened again for every candidate compared with it.
HITS_CACHE: ByteBoundedCache[tuple[Hit, ...]] = ByteBoundedCache(HITS_CACHE_BYTES)


def _hits_size(hits: tuple[Hit, ...]) -> int:
    return 64 + sum(96 + len(h.matched) for h in hits)


def find_hits(text: str, *, prose_only: bool = False) -> list[Hit]:
    """Everything the detectors find in one untrusted text, carriers first.

    Args:
        text: The raw text, exactly as read from the evidence.
        prose_only: Read imperatives and questions as ordinary (READMEs, pull-request text),
            counting only explicit address of an automated reader.
    """
    key = (prose_only, text)
    found = HITS_CACHE.get(key)
    if found is None:
        found = tuple(_find_hits(text, prose_only=prose_only))
        # The key holds the text, so the text counts against the budget too.
        HITS_CACHE.put(key, found, 2 * len(text) + _hits_size(found))
    return list(found)


def _find_hits(text: str, *, prose_only: bool) -> list[Hit]:
    hits: list[Hit] = []
    payloads: list[tuple[Kind, str]] = []
    tags = _tag_payload(text) if _TAG_CHARS.search(text) else ""
    if tags:
        hits.append(Hit("unicode_tags", tags[:200]))
        payloads.append(("unicode_tags", tags))
    split = _zero_width_inside_words(text)
    if split is not None:
        hits.append(Hit("zero_width", split))
    if not text.isascii():
        words = _homoglyph_words(unicodedata.normalize("NFKC", text))
        if words:
            hits.append(Hit("homoglyph", " ".join(words[:5])))
    if "<!--" in text or "[//]" in text:
        for match in _hidden_comment().finditer(text):
            inner = (match.group(1) or match.group(2) or "").strip()
            if inner and (
                _comment_verdict().search(fold_text(inner))
                or _intent_hits(fold_text(inner), None, prose_only=prose_only)
            ):
                hits.append(Hit("hidden_comment", match.group()[:200]))
                payloads.append(("hidden_comment", inner))
    for token, decoded in _base64_payloads(text):
        hits.append(Hit("base64", token[:120]))
        payloads.append(("base64", decoded))
    hits.extend(_intent_hits(fold_text(text), None, prose_only=prose_only))
    seen = {h.kind for h in hits}
    for carrier, payload in payloads:
        for hit in _intent_hits(fold_text(payload), carrier, prose_only=prose_only):
            if hit.kind not in seen:
                hits.append(hit)
                seen.add(hit.kind)
    return hits
