"""The knowledge base: articles agents write, most often from a ticket's resolution (issue 7).

An article's body is plain text: it is printed escaped (line breaks kept) and inserted into replies as
text, so nothing anyone writes in an article can run in an agent's browser.
"""

from django.conf import settings
from django.db import models

# The one full-text expression of an article on PostgreSQL: the GIN index of migration 0012 and the search
# in ``tickets.selectors.kb`` both use exactly this text, so the planner matches the index. The title
# weighs more than the body.
SEARCH_VECTOR_SQL = (
    "(setweight(to_tsvector('english'::regconfig, \"tickets_article\".\"title\"), 'A') || "
    "setweight(to_tsvector('english'::regconfig, \"tickets_article\".\"body\"), 'B'))"
)


class Article(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Plain text, as it would go into a reply to a customer.")
    category = models.ForeignKey(
        "tickets.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    tags = models.ManyToManyField("tickets.Tag", blank=True, related_name="articles")
    source_ticket = models.ForeignKey(
        "tickets.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
        help_text="The ticket whose resolution the article was written from.",
    )
    author = models.ForeignKey(
        "tickets.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    published = models.BooleanField(
        default=False, help_text="Only published articles are suggested to every agent."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["published", "category", "-updated_at"], name="article_published_cat"),
        ]

    def __str__(self):
        return self.title
