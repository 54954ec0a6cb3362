"""``pp_tap_decode_url``, the pure part: the original target of Proofpoint URL Defense rewritten links.

URL Defense v1, v2 and v3 links are decoded locally (:mod:`.urldefense`): no quota,
no network, and no click on the link. Only a link on a URL Defense host that the local decoder cannot
decode (another version, or a form it refuses) goes to TAP's URL decoder, all of them in one call. A URL
that is not a URL Defense link at all is refused without any call: there is nothing to decode.

The decoded URL becomes an artifact, so it is checked like any artifact value (http/https/ftp, no
control or bidi characters); with an incident ID the result says which decoded URLs the incident
already has, so the post-processing script adds no duplicate. The one TAP call and the SOAR read are made by
:func:`fn_pp_tap_functions.services.investigation.decode_urls`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.investigation import indicators as ind
from fn_pp_tap_functions.investigation import urldefense
from fn_pp_tap_functions.tap.urldecode import DecodedUrl
from fn_pp_tap_functions.text import line

URL_DEFENSE_HOSTS = ("urldefense.com", "urldefense.proofpoint.com", "urldefense.us")
"""Hosts of URL Defense links; a link on one of them that the local decoder cannot read goes to TAP."""


def on_url_defense_host(url: str) -> bool:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return host in URL_DEFENSE_HOSTS or host.endswith(tuple("." + h for h in URL_DEFENSE_HOSTS))


def _entry(original: str, decoded: str | None, how: str, version: str | None, error: str | None,
           **extra: Any) -> dict[str, Any]:
    checked = ind.normalise(ind.URL, decoded) if decoded else None
    if decoded and checked is None:
        error, decoded = "the link decodes to something that is not a plain http(s) URL", None
    entry = {"original": original, "decoded": checked, "success": checked is not None, "method": how,
             "version": version, "error": None if checked else error, "already_present": False,
             "message_guid": None, "recipient_email": None, "cluster_name": None}
    entry.update(extra)
    if checked:
        via = f"URL Defense {version} link, decoded locally" if how == "local" else "decoded by TAP's URL decoder"
        entry["description"] = line(f"Decoded from a Proofpoint rewritten link ({via}): {original}", 1000)
    return entry


Entries = dict[str, dict[str, Any]]
"""One result entry per URL asked for, by URL."""


def decode_locally(urls: Sequence[str]) -> tuple[Entries, list[str]]:
    """``(entries, urls for TAP)``: what the local decoder could read, and the URL Defense links it could not."""
    results: Entries = {}
    for_tap: list[str] = []
    for url in urls:
        local = urldefense.decode(url)
        if local.ok:
            results[url] = _entry(url, local.decoded, "local", local.version, None)
        elif on_url_defense_host(url):
            for_tap.append(url)
            results[url] = _entry(url, None, "tap", local.version, f"not decodable locally ({local.error})")
        else:
            results[url] = _entry(url, None, "none", None, "not a Proofpoint URL Defense link: there is nothing "
                                  "to decode (and no TAP call was made)")
    return results, for_tap


def add_tap_answers(results: Entries, answers: Iterable[DecodedUrl]) -> None:
    """Fill in what TAP's URL decoder said about the links the local decoder could not read."""
    for item in answers:
        if item.encoded_url not in results:
            continue
        local_error = results[item.encoded_url]["error"]
        if item.success and item.decoded_url:
            results[item.encoded_url] = _entry(item.encoded_url, item.decoded_url, "tap", None, None,
                                               message_guid=item.message_guid, recipient_email=item.recipient_email,
                                               cluster_name=item.cluster_name)
        else:
            said = line(item.error, 200) or "no reason given"
            results[item.encoded_url]["error"] = f"{local_error}; TAP's URL decoder could not decode it " \
                                                 f"either ({said})"


def mark_present(entries: Iterable[dict[str, Any]], artifacts: Iterable[Mapping[str, object]]) -> None:
    """``already_present``: the incident already has the decoded URL as an artifact."""
    existing = ind.existing_keys(artifacts)
    for entry in entries:
        entry["already_present"] = bool(entry["decoded"]) and (ind.URL, entry["decoded"]) in existing


def summary(entries: list[dict[str, Any]], *, tap_calls: int, profile: str | None) -> dict[str, Any]:
    """The function's result; InputError (naming each URL's reason) when none could be decoded."""
    decoded = [e for e in entries if e["success"]]
    if not decoded:
        reasons = "; ".join(f"{line(e['original'], 120)}: {e['error']}" for e in entries)
        raise InputError(f"No URL could be decoded. {reasons}")
    return {"urls": entries, "decoded_count": len(decoded), "failed_count": len(entries) - len(decoded),
            "tap_calls": tap_calls, "profile": profile}
