from django.conf import settings


def helpdesk(request):
    """What every page's base layout shows: the product name and the signed-in agent's role."""
    agent = getattr(getattr(request, "user", None), "agent", None) if request.user.is_authenticated else None
    return {
        "product_name": getattr(settings, "PRODUCT_NAME", "Help desk"),
        "current_agent": agent,
    }
