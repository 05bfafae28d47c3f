"""``search/``: the top bar's search — tickets and customers the agent may see; an exact ticket number jumps
straight to the ticket."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.urls import path

from tickets.selectors.search import search as run_search
from tickets.views.base import agent_required
from tickets.views.my_work import ticket_url


@agent_required
def search(request):
    results = run_search(request.user, request.GET.get("q", ""))
    if results.jump_to is not None and (url := ticket_url(results.jump_to)):
        return redirect(url)
    return render(request, "tickets/search/page.html", {"results": results, "search_query": results.query})


urlpatterns = [path("search/", search, name="search")]
