from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User

from .models import BODY_MAX, TITLE_MAX
from .services import MAX_TAGS, parse_tags


class PostForm(forms.Form):
    body = forms.CharField(
        label="Message",
        max_length=BODY_MAX,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={
            "required": "Write something first: the message is empty.",
            "max_length": "Keep it under %(limit_value)s characters (this one has %(show_value)s).",
        },
    )

    def clean_body(self) -> str:
        # Not stripped on the way in (indentation matters in code), but blank is empty.
        body: str = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("The message cannot be empty.")
        return body


class ThreadForm(PostForm):
    title = forms.CharField(
        max_length=TITLE_MAX,
        error_messages={
            "required": "Give the thread a title.",
            "max_length": "Keep the title under %(limit_value)s characters "
            "(it has %(show_value)s).",
        },
    )
    tags = forms.CharField(
        required=False,
        max_length=200,
        help_text=f"Up to {MAX_TAGS}, separated by commas.",
    )

    field_order = ["title", "body", "tags"]

    def clean_tags(self) -> list[str]:
        return parse_tags(self.cleaned_data["tags"])


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)

    def clean_username(self) -> str | None:
        username: str | None = super().clean_username()  # None: taken, already refused
        # "/u/../" is not a profile a browser can open: it resolves it to "/".
        if username is not None and username.strip(".") == "":
            raise forms.ValidationError("A username needs a letter or a digit, not only dots.")
        return username
