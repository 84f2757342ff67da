"""Reply addresses of notices: ``antwort+<token>@<reply domain>``.

The token names the tender (its reference) and the recipient the notice went to, and is
signed with HMAC-SHA256 under ``TENDERBOT_REPLY_SECRET``, so it can be neither guessed nor
altered. It is opaque: base32 in lower case (mail servers may fold the case of a local
part), about 28 characters. The recipient is named by a keyed 4-byte tag of the address,
not the address itself, so the token stays short and does not spell out who got it.

Pure: the notifications (outgoing Reply-To) and mail-in (incoming replies) both use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

LOCAL_PART = "antwort"
TAG_BYTES = 4
# 80 bits: far beyond what anyone could try out against an SMTP server.
MAC_BYTES = 10
_REFERENCE = re.compile(r"AS-(\d{4})-(\d{4,})")
_TOKEN = re.compile(r"[a-z2-7]{16,60}")


class InvalidToken(ValueError):
    """Not a token we issued, or one changed after issuing."""


@dataclass(frozen=True)
class ReplyClaim:
    """What a genuine token says: which tender, and a tag naming the recipient."""

    reference: str
    recipient_tag: bytes


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varint(data: bytes, start: int) -> tuple[int, int]:
    number = shift = 0
    for position in range(start, min(len(data), start + 5)):
        byte = data[position]
        number |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return number, position + 1
        shift += 7
    raise InvalidToken("truncated number")


def _encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def normalise_address(address: str) -> str:
    return address.strip().lower()


class ReplyTokens:
    """Issues and reads tokens under one secret; the secret never leaves this object."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the reply secret needs at least 16 characters")
        key = secret.encode("utf-8")
        # Two keys from one secret, so a recipient tag can never pass for a signature.
        self._tag_key = hmac.new(key, b"tenderbot reply recipient", hashlib.sha256).digest()
        self._mac_key = hmac.new(key, b"tenderbot reply token v1", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "ReplyTokens(secret=***)"

    def recipient_tag(self, address: str) -> bytes:
        digest = hmac.new(self._tag_key, normalise_address(address).encode("utf-8"), hashlib.sha256)
        return digest.digest()[:TAG_BYTES]

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._mac_key, payload, hashlib.sha256).digest()[:MAC_BYTES]

    def issue(self, reference: str, recipient: str) -> str:
        """The token for a notice about ``reference`` sent to ``recipient``."""
        match = _REFERENCE.fullmatch(reference)
        if match is None:
            raise ValueError(f"not a tender reference: {reference!r}")
        payload = (
            _varint(int(match.group(1)))
            + _varint(int(match.group(2)))
            + self.recipient_tag(recipient)
        )
        return _encode(payload + self._mac(payload))

    def read(self, token: str) -> ReplyClaim:
        """The claim of a genuine token; InvalidToken for anything else."""
        token = token.strip().lower()
        if not _TOKEN.fullmatch(token):
            raise InvalidToken("not a token")
        try:
            raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
        except ValueError as error:
            raise InvalidToken("not base32") from error
        if _encode(raw) != token:
            # The last character carries unused bits that decoding ignores: two spellings
            # of one token would be an alteration that goes unnoticed.
            raise InvalidToken("not the canonical spelling")
        if len(raw) <= TAG_BYTES + MAC_BYTES:
            raise InvalidToken("too short")
        payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidToken("signature does not match")
        year, position = _read_varint(payload, 0)
        number, position = _read_varint(payload, position)
        tag = payload[position:]
        if len(tag) != TAG_BYTES:
            raise InvalidToken("malformed payload")
        return ReplyClaim(reference=f"AS-{year}-{number:04d}", recipient_tag=tag)

    def names(self, claim: ReplyClaim, address: str) -> bool:
        """Whether ``address`` is the recipient the token was issued to."""
        return hmac.compare_digest(claim.recipient_tag, self.recipient_tag(address))


def reply_address(token: str, domain: str) -> str:
    return f"{LOCAL_PART}+{token}@{domain}"


def token_in(address: str, domain: str) -> str | None:
    """The token of a reply address at ``domain``; None for any other address."""
    local, at, address_domain = address.strip().strip("<>").rpartition("@")
    if not at or address_domain.lower() != domain.lower():
        return None
    prefix, plus, token = local.partition("+")
    if not plus or prefix.lower() != LOCAL_PART or not token:
        return None
    return token.lower()
