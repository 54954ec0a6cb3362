"""URL decoder API results (``POST /v2/url/decode``), normalised.

``messageGuid``, ``clusterName``, ``recipientEmail`` and ``error`` appear only in some answers (the first
three only for authenticated calls); they are ``None`` when absent. Decoding URL Defense links locally
(without spending quota) is another module's job; this one only reads TAP's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.tap import coerce


@dataclass(frozen=True, slots=True)
class DecodedUrl:
    encoded_url: str | None
    decoded_url: str | None
    success: bool | None
    message_guid: str | None = None
    cluster_name: str | None = None
    recipient_email: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "encoded_url": self.encoded_url,
            "decoded_url": self.decoded_url,
            "success": self.success,
            "message_guid": self.message_guid,
            "cluster_name": self.cluster_name,
            "recipient_email": self.recipient_email,
            "error": self.error,
        }


def parse_decoded_urls(payload: Mapping[str, object] | None) -> tuple[DecodedUrl, ...]:
    """The ``urls`` of a decode answer, in TAP's order."""
    if payload is None:
        return ()
    if not isinstance(payload, Mapping):
        raise TapResponseError("Proofpoint TAP returned a URL-decode answer that is not a JSON object.")
    out = []
    for entry in coerce.mappings(coerce.lower_keys(payload).get("urls")):
        low = coerce.lower_keys(entry)
        out.append(
            DecodedUrl(
                encoded_url=coerce.text(low.get("encodedurl")),
                decoded_url=coerce.text(low.get("decodedurl")),
                success=coerce.boolean(low.get("success")),
                message_guid=coerce.text(low.get("messageguid")),
                cluster_name=coerce.text(low.get("clustername")),
                recipient_email=coerce.text(low.get("recipientemail")),
                error=coerce.text(low.get("error")),
            )
        )
    return tuple(out)
