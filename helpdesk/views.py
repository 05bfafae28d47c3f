from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from helpdesk import health


@never_cache
@require_GET
def healthz(request):
    """Readiness for monitors and load balancers: 200 when every check passes, 503 when one fails, with each
    check's result as JSON (``helpdesk.health``). ``?check=database`` (repeatable) runs only the named checks —
    what a load balancer should ask, so a stopped worker cluster does not take the web processes out of
    rotation."""
    names = request.GET.getlist("check")
    unknown = [n for n in names if n not in health.CHECKS]
    if unknown:
        return JsonResponse({"status": "error", "error": f"unknown check {unknown[0]!r}"}, status=400)
    healthy, checks = health.run(names)
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )
