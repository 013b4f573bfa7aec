"""The requester's "Quality control" form of a job: every JobQuality setting, explained (tasks.quality.SETTING_HELP).
It checks types only; tasks.quality.job_quality_set checks the values and how they go together."""

from django import forms

from tasks.models import AggregationMethod, TextAggregation
from tasks.quality import MAX_CONTROL_RATE, MAX_FLAG_SECONDS, MAX_WINDOW, SETTING_HELP


def _number(label: str, name: str, *, low: int, high: int, required: bool = True) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        help_text=SETTING_HELP[name],
        min_value=low,
        max_value=high,
        required=required,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


def _flag(label: str, name: str) -> forms.BooleanField:
    return forms.BooleanField(label=label, help_text=SETTING_HELP[name], required=False)


class JobQualityForm(forms.Form):
    control_rate_percent = _number("Controls per 100 tasks", "control_rate_percent", low=0, high=MAX_CONTROL_RATE)
    accuracy_window = _number("Accuracy over the last … controls", "accuracy_window", low=1, high=MAX_WINDOW)
    stop_below_percent = _number("Stop workers below (%)", "stop_below_percent", low=1, high=100, required=False)
    stop_after_controls = _number("Not before this many controls", "stop_after_controls", low=1, high=MAX_WINDOW)
    hold_pending_when_stopped = _flag("Hold a stopped worker's waiting work for me", "hold_pending_when_stopped")
    training_pass_percent = _number("Training: pass at (%)", "training_pass_percent", low=1, high=100, required=False)
    aggregation_method = forms.ChoiceField(
        label="Combining choices",
        help_text=SETTING_HELP["aggregation_method"],
        choices=AggregationMethod.choices,
        widget=forms.RadioSelect,
    )
    text_aggregation = forms.ChoiceField(
        label="Combining free text",
        help_text=SETTING_HELP["text_aggregation"],
        choices=TextAggregation.choices,
        widget=forms.RadioSelect,
    )
    overlap_start = _number("Workers per task to start with", "overlap_start", low=1, high=100, required=False)
    agreement_percent = _number("Answers agree at (%)", "agreement_percent", low=1, high=100)
    approve_accuracy_percent = _number(
        "Approve at once at accuracy (%)", "approve_accuracy_percent", low=1, high=100, required=False
    )
    approve_after_controls = _number("Only after this many controls", "approve_after_controls", low=1, high=MAX_WINDOW)
    approve_on_agreement = _flag("Approve answers that agree with the result", "approve_on_agreement")
    reject_wrong_controls = _flag("Reject wrong answers to controls", "reject_wrong_controls")
    flag_faster_than_seconds = _number(
        "Review by hand answers sent in under (seconds)",
        "flag_faster_than_seconds",
        low=1,
        high=MAX_FLAG_SECONDS,
        required=False,
    )
    flag_outliers_below_median = _flag("Review by hand answers far faster than usual", "flag_outliers_below_median")

    GROUPS = (
        ("controls", "Controls", ("control_rate_percent",)),
        (
            "accuracy",
            "Accuracy and stopping",
            ("accuracy_window", "stop_below_percent", "stop_after_controls", "hold_pending_when_stopped"),
        ),
        ("training", "Training", ("training_pass_percent",)),
        (
            "overlap",
            "Several workers per task",
            ("aggregation_method", "text_aggregation", "overlap_start", "agreement_percent"),
        ),
        (
            "rules",
            "Review by rules",
            (
                "approve_accuracy_percent",
                "approve_after_controls",
                "approve_on_agreement",
                "reject_wrong_controls",
                "flag_faster_than_seconds",
                "flag_outliers_below_median",
            ),
        ),
    )

    def __init__(self, *args, overlap_editable: bool = True, max_overlap: int = 1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        overlap_start = self.fields["overlap_start"]
        overlap_start.widget.attrs["max"] = max_overlap  # the service says so too, in words
        overlap_start.disabled = not overlap_editable

    def groups(self) -> list[tuple[str, str, list]]:
        """(id, heading, bound fields) of each section of the page, in order."""
        return [(key, title, [self[name] for name in names]) for key, title, names in self.GROUPS]
