"""Query forms of the care console; every choice is limited to what the scope may see, so another
tenant's id is refused exactly like a missing one."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from care_console.access import CareScope
from care_console.selectors import VARIABLE_NAME
from channels_app.models import ChannelAsset, ChannelKind, Conversation


class TranscriptSearchForm(forms.Form):
    text = forms.CharField(required=False, max_length=200, label="Words in messages")
    customer = forms.CharField(required=False, max_length=200, label="Customer name or address")
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *ChannelKind.choices])
    asset = forms.ModelChoiceField(required=False, queryset=ChannelAsset.objects.none())
    queue = forms.ModelChoiceField(required=False, queryset=None)
    agent = forms.ModelChoiceField(required=False, queryset=None)
    team = forms.ModelChoiceField(required=False, queryset=None)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(
        required=False, choices=[("", "Open or closed"), *Conversation.Status.choices]
    )
    # Free text: a code renamed or deleted since still finds the conversations closed with it.
    wrap_up_code = forms.CharField(required=False, max_length=80)
    variable = forms.CharField(required=False, max_length=64, label="Variable name")
    value = forms.CharField(required=False, max_length=200, label="Variable value")

    def __init__(self, *args, scope: CareScope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].queryset = ChannelAsset.objects.filter(tenant=scope.tenant)
        self.fields["queue"].queryset = scope.queues()
        self.fields["agent"].queryset = scope.agents()
        self.fields["team"].queryset = scope.teams()

    def clean_variable(self) -> str:
        name = self.cleaned_data["variable"].strip()
        if name and not VARIABLE_NAME.match(name):
            raise forms.ValidationError("A variable name is letters, digits and underscores.")
        return name

    def clean(self):
        data = super().clean()
        if data.get("value") and not data.get("variable"):
            self.add_error("variable", "Name the variable whose value you search for.")
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data


BUCKETS = (("day", "per day"), ("hour", "per hour"))


class ReportForm(forms.Form):
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    bucket = forms.ChoiceField(required=False, choices=BUCKETS)
    variable = forms.ChoiceField(required=False, choices=[], label="Group by variable")
    measure = forms.ChoiceField(required=False, choices=[], label="Sum / average of")

    MAX_DAYS = 366

    def __init__(self, *args, reportable: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        names = [(name, name) for name, _type in reportable]
        numbers = [(name, name) for name, type_ in reportable if type_ == "number"]
        self.fields["variable"].choices = [("", "—"), *names]
        self.fields["measure"].choices = [("", "—"), *numbers]

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        data["date_to"] = data.get("date_to") or today
        data["date_from"] = data.get("date_from") or data["date_to"] - timedelta(days=6)
        data["bucket"] = data.get("bucket") or "day"
        if data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The end date is before the start date.")
        if (data["date_to"] - data["date_from"]).days >= self.MAX_DAYS:
            raise forms.ValidationError(f"Reports span at most {self.MAX_DAYS} days.")
        if data["bucket"] == "hour" and (data["date_to"] - data["date_from"]).days > 31:
            raise forms.ValidationError("Hourly figures span at most 31 days.")
        return data
