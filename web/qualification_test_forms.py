"""The requester's form for a qualification test (the worker's answers are read straight from the POST: their
fields are the test's own questions)."""

from django import forms

from marketplace.qualification_tests import MAX_RETRY_DELAY_SECONDS, MAX_TEST_CSV_CHARS

MAX_RETRY_DELAY_HOURS = MAX_RETRY_DELAY_SECONDS // 3600

EXAMPLE_CSV = (
    "question,options,answer\n"
    "Which of these is a mammal?,Shark|Dolphin|Trout,Dolphin\n"
    '"Is ""I loved it"" positive or negative?",Positive|Negative,Positive\n'
    "What is the capital of France?,,Paris\n"
)


class QualificationTestForm(forms.Form):
    csv_text = forms.CharField(
        label="Questions (CSV)",
        required=False,
        max_length=MAX_TEST_CSV_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "class": "code", "spellcheck": "false"}),
        help_text="A header row question,options,answer, then one question per row: options separated by |, or none "
        "for a typed answer (compared without case and extra spaces). From 1 to 50 questions. Leave empty to remove "
        "the test.",
    )
    retry_delay_hours = forms.IntegerField(
        label="Wait before a retake (hours)",
        min_value=0,
        max_value=MAX_RETRY_DELAY_HOURS,
        initial=24,
        help_text=f"From a worker's last attempt; 0 lets them retake at once, at most {MAX_RETRY_DELAY_HOURS} (30 "
        "days).",
    )

    def retry_delay_seconds(self) -> int:
        return self.cleaned_data["retry_delay_hours"] * 3600
