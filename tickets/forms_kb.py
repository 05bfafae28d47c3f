"""The knowledge base's form: an article's fields as an agent edits them (the service writes them)."""

from __future__ import annotations

from django import forms

from tickets.models import Category, Tag
from tickets.services.kb import BODY_MAX, TITLE_MAX


class ArticleForm(forms.Form):
    title = forms.CharField(label="Title", max_length=TITLE_MAX)
    body = forms.CharField(
        label="Text",
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="Plain text, as it goes into a reply. {customer_name}, {ticket_number} and {agent_name} "
        "are filled in when it is inserted.",
    )
    category = forms.ModelChoiceField(
        label="Category", queryset=Category.objects.order_by("name"), required=False
    )
    tags = forms.ModelMultipleChoiceField(
        label="Tags",
        queryset=Tag.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    published = forms.BooleanField(label="Published (suggested to every agent)", required=False)

    def __init__(self, *args, may_publish: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_publish:
            del self.fields["published"]


def article_initial(article) -> dict:
    return {
        "title": article.title,
        "body": article.body,
        "category": article.category_id,
        "tags": [t.pk for t in article.tags.all()],
        "published": article.published,
    }
