"""Meta's webhook signing, as Meta does it (WhatsApp, Messenger, Instagram): for the tests that post to us."""

import hashlib
import hmac
import json


def meta_signature(body: bytes, secret: str) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` and the HMAC-SHA256 of the exact body bytes with the app secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_signed(client, url: str, body, secret: str, signature=None):
    """JSON signed over the exact bytes. ``signature=False`` sends no header; a string sends that one."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    headers = {}
    if signature is not False:
        headers["HTTP_X_HUB_SIGNATURE_256"] = meta_signature(body, secret) if signature is None else signature
    return client.post(url, body, content_type="application/json", **headers)
