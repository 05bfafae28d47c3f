from django.core.management.base import BaseCommand, CommandError

from channels_intake.imap import poll_all, poll_mailbox
from channels_intake.models import Mailbox


class Command(BaseCommand):
    help = (
        "Poll the IMAP mailboxes now (every active one by default): unseen mail becomes inbound events "
        "and tickets, then is marked seen, moved or deleted as each mailbox says. Exits non-zero if any failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "names",
            nargs="*",
            help="mailbox names (default: every active one; named ones are polled even if inactive)",
        )
        parser.add_argument(
            "--batch-size", type=int, default=None, help="at most this many messages per mailbox"
        )

    def handle(self, *args, names, batch_size, **opts):
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if names:
            mailboxes = list(Mailbox.objects.filter(name__in=names).order_by("name"))
            if missing := sorted(set(names) - {m.name for m in mailboxes}):
                raise CommandError(f"no mailboxes named {', '.join(missing)}")
            results = [poll_mailbox(m, batch_size=batch_size) for m in mailboxes]
        else:
            results = poll_all(batch_size=batch_size)
            if not results:
                self.stdout.write("no active mailboxes")
        for r in results:
            outcome = f"error: {r.error}" if r.error else f"skipped: {r.skipped}" if r.skipped else "ok"
            self.stdout.write(f"{r.mailbox}: {r.fetched} message(s) taken in; {outcome}")
        if failed := [r.mailbox for r in results if r.error]:
            raise CommandError(f"{len(failed)} mailbox(es) failed: {', '.join(failed)}")
