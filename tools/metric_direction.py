"""Which way a metric improves when a policy does not say: errors and losses are lower-is-better.

A rule on `rmse` or `val_loss` means "must not rise". Read as higher-is-better, a rising error
is an improvement, so every `max_drop` on it passes whatever the candidate logged: a gate that
fails open for every regressor and every loss. MLflow's evaluators know the direction of the
metrics they log (`greater_is_better` on each of their metrics); this knows it by name for the
metrics teams log themselves, the same names with a split's prefix (`val_`, `eval/`) or logged
under another framework's spelling (`logloss`, `neg_` excepted: scikit-learn's scorers negate
errors so that higher is better). A name this does not know is higher-is-better, as before; a
policy's own `lower_is_better` always wins.
"""

from __future__ import annotations

__all__ = ["LOWER_IS_BETTER_METRICS", "lower_is_better"]

#: Metrics whose smaller values are better, by their plain name.
LOWER_IS_BETTER_METRICS: frozenset[str] = frozenset(
    {
        # regression
        "mse",
        "rmse",
        "mae",
        "mape",
        "smape",
        "msle",
        "rmsle",
        "medae",
        "mean_squared_error",
        "root_mean_squared_error",
        "mean_absolute_error",
        "median_absolute_error",
        "mean_absolute_percentage_error",
        "mean_squared_log_error",
        "root_mean_squared_log_error",
        "max_error",
        # classification: losses, error rates, calibration
        "loss",
        "logloss",
        "log_loss",
        "cross_entropy",
        "brier",
        "brier_score",
        "brier_score_loss",
        "hamming_loss",
        "zero_one_loss",
        "error",
        "error_rate",
        "misclassification_rate",
        "false_positive_rate",
        "false_negative_rate",
        "fpr",
        "fnr",
        "ece",
        "expected_calibration_error",
        # language models
        "perplexity",
        "wer",
        "cer",
        "word_error_rate",
        "character_error_rate",
    }
)

# The split or stage a team names a metric after; stripped before the name is looked up.
_SPLIT_PREFIXES = (
    "eval_",
    "test_",
    "val_",
    "valid_",
    "validation_",
    "holdout_",
    "train_",
    "training_",
)
# Suffixes that name an error or a loss whatever comes before them (`mean_pinball_loss`).
_LOWER_SUFFIXES = ("_loss", "_error", "_error_rate")


def lower_is_better(name: str, stated: bool | None = None) -> bool:
    """Whether a smaller value of metric `name` is better: as `stated`, else by its name.

    `rmse`, `val_loss`, `eval/mean_absolute_error` and `mean_pinball_loss` are; `r2_score`,
    `roc_auc` and `neg_root_mean_squared_error` (scikit-learn's negated scorer) are not, nor is
    any name this does not recognise.

    Args:
        name: The metric's name as a policy or a run gives it.
        stated: What the policy says (its `lower_is_better`), None where it says nothing.
    """
    if stated is not None:
        return stated
    plain = name.rsplit("/", 1)[-1].lower()
    for prefix in _SPLIT_PREFIXES:
        if plain.startswith(prefix) and len(plain) > len(prefix):
            plain = plain[len(prefix) :]
            break
    if plain.startswith("neg_"):
        return False
    return plain in LOWER_IS_BETTER_METRICS or plain.endswith(_LOWER_SUFFIXES)
