from __future__ import annotations

import hashlib
import re
import unicodedata

from django.core.files.base import ContentFile

from tickets.models import Attachment, Message

_UNSAFE = re.compile(r"[^\w.\- ()+,@]+")


def safe_filename(name: str) -> str:
    """A display name with no path, control characters or leading dots; never used on disk."""
    name = unicodedata.normalize("NFKC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    return (name or "attachment")[:200]


def store_attachment(
    *, message: Message, filename: str, content: bytes, content_type: str = ""
) -> Attachment:
    digest = hashlib.sha256(content).hexdigest()
    attachment = Attachment(
        message=message,
        filename=safe_filename(filename),
        content_type=(content_type or "application/octet-stream")[:120],
        size=len(content),
        sha256=digest,
    )
    attachment.file.save(digest[:16], ContentFile(content), save=False)
    attachment.save()
    return attachment
