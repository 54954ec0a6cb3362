"""Normalisation of TAP SIEM events into one typed, frozen shape.

The four SIEM arrays carry two event families with different spellings (see tap-api.md's checklist):
message events have ``threatsInfoMap[]`` with ``threatID``/``threatUrl``/``campaignID`` and ``recipient`` as
a list; click events carry one threat inline as ``threatID``/``threatURL``/``campaignId`` with
``recipient`` as text and classifications sometimes upper case. :class:`TapEvent` is the one shape the rest
of the app works with.

Every field Proofpoint documents for the four arrays is kept, typed (the list, with its sources, is in
``tests/documented_fields.py`` and a test checks each survives): the envelope (``sender``, ``recipient``),
the headers as TAP reads them (``headerFrom``, ``headerReplyTo``, ``headerTo``, ``headerCC`` verbatim, with
friendly names; ``fromAddress[]``, ``replyToAddress[]``, ``toAddresses[]``, ``ccAddresses[]`` as bare
addresses, a single string read as a list of one), ``subject``, ``xmailer``, the scores, ``cluster``
(``clusterId`` in the documentation's example), ``policyRoutes[]``, ``modulesRun[]``, ``quarantineFolder``
and ``quarantineRule`` (blocked messages), ``completelyRewritten`` (``true``/``false``/``"na"``, also as
text: ``"na"`` - no URL threat to rewrite - becomes ``None``), ``messageParts[]`` and ``threatsInfoMap[]``.
Which of them an analyst sees where is decided in :mod:`fn_pp_tap_functions.fields`.

Decisions:

* The raw event is not kept unless asked (``keep_raw=True``): 50,000 normalised events must fit well under
  500 MB, and the raw dicts roughly double the footprint. Classes use ``slots``; short categorical strings
  are interned.
* Attacker-controlled strings (subject, addresses, file names, headers, URLs, user agent) are stored
  verbatim, control characters included; escaping belongs to whatever renders them.
* :attr:`TapEvent.key` is stable: ``<eventType>:<id>`` when TAP gives an event ``id``; otherwise
  ``<eventType>:sha256:<hex>`` over the event's identity (type, GUID, QID, Message-ID, time, sender, sender
  IP, recipients, subject, click IP, URL, user agent, threat ids). Mutable verdicts (status,
  classification, scores) are left out so a re-read after TAP changes a verdict gives the same key. GUID
  alone is never a key: one message to N recipients yields N events with one GUID.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.tap import coerce
from fn_pp_tap_functions.tap.coerce import Ref, ref_names
from fn_pp_tap_functions.tap.timestamps import iso_or_none, parse_tap_time
from fn_pp_tap_functions.tap.vocab import (
    EventType,
    ThreatType,
    normalise_classification,
    normalise_status,
    normalise_threat_type,
    parse_event_type,
)

LOG = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class MessagePart:
    """One MIME part of a message event (``messageParts[]``)."""

    filename: str | None
    md5: str | None
    sha256: str | None
    content_type: str | None
    o_content_type: str | None
    sandbox_status: str | None
    disposition: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "filename": self.filename,
            "md5": self.md5,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "o_content_type": self.o_content_type,
            "sandbox_status": self.sandbox_status,
            "disposition": self.disposition,
        }


@dataclass(frozen=True, slots=True)
class ThreatInfo:
    """One threat attached to an event (a ``threatsInfoMap`` entry, or a click's inline threat).

    ``status`` is ``active``/``cleared``/``falsePositive``; ``classification`` lower case; ``threat`` the URL,
    attachment SHA-256 or impostor address (for a click: the clicked URL); ``threat_url`` the TAP dashboard
    link; ``threat_type`` ``url``/``attachment``/``messageText`` (clicks are ``url``).
    """

    threat_id: str | None
    status: str | None
    classification: str | None
    threat: str | None
    threat_url: str | None
    threat_time: datetime | None
    threat_type: str | None
    campaign_id: str | None
    detection_type: str | None = None
    actors: tuple[Ref, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "threat_id": self.threat_id,
            "status": self.status,
            "classification": self.classification,
            "threat": self.threat,
            "threat_url": self.threat_url,
            "threat_time": iso_or_none(self.threat_time),
            "threat_type": self.threat_type,
            "campaign_id": self.campaign_id,
            "detection_type": self.detection_type,
            "actors": ref_names(self.actors),
        }


@dataclass(frozen=True, slots=True)
class TapEvent:
    """A SIEM event of any of the four kinds, normalised.

    ``time`` is ``messageTime`` for messages and ``clickTime`` for clicks (UTC). Message-only fields are
    ``None``/``()`` on clicks and vice versa. Header fields are verbatim (attacker-chosen: render them with
    :mod:`fn_pp_tap_functions.text`); ``header_*`` are whole header values with friendly names, the
    ``*_addresses`` tuples the bare addresses TAP extracted from them. ``is_skeleton`` marks a retro-condemned
    delivered message that TAP sends with QID null, sender empty and size 0. ``raw`` is only set with
    ``keep_raw=True``.
    """

    key: str
    event_type: str
    event_id: str | None
    guid: str | None
    qid: str | None
    message_id: str | None
    time: datetime | None
    sender: str | None
    sender_ip: str | None
    header_from: str | None
    header_reply_to: str | None
    header_to: str | None
    header_cc: str | None
    recipients: tuple[str, ...]
    to_addresses: tuple[str, ...]
    cc_addresses: tuple[str, ...]
    from_addresses: tuple[str, ...]
    reply_to_addresses: tuple[str, ...]
    subject: str | None
    click_ip: str | None
    url: str | None
    user_agent: str | None
    spam_score: int | None
    phish_score: int | None
    malware_score: int | None
    impostor_score: float | None
    message_size: int | None
    cluster: str | None
    xmailer: str | None
    quarantine_folder: str | None
    quarantine_rule: str | None
    policy_routes: tuple[str, ...]
    modules_run: tuple[str, ...]
    completely_rewritten: bool | None
    message_parts: tuple[MessagePart, ...]
    threats: tuple[ThreatInfo, ...]
    is_skeleton: bool
    raw: Mapping[str, object] | None = field(default=None, repr=False, compare=False, hash=False)

    @property
    def is_click(self) -> bool:
        return self.event_type in (EventType.CLICKS_PERMITTED, EventType.CLICKS_BLOCKED)

    @property
    def threat_ids(self) -> tuple[str, ...]:
        return tuple(t.threat_id for t in self.threats if t.threat_id)

    @property
    def statuses(self) -> frozenset[str]:
        return frozenset(t.status for t in self.threats if t.status)

    @property
    def classifications(self) -> frozenset[str]:
        return frozenset(t.classification for t in self.threats if t.classification)

    @property
    def campaign_ids(self) -> tuple[str, ...]:
        seen: list[str] = []
        for threat in self.threats:
            if threat.campaign_id and threat.campaign_id not in seen:
                seen.append(threat.campaign_id)
        return tuple(seen)

    @property
    def created_time(self) -> datetime | None:
        """When TAP considers the event created: the later of the event time and its threats' times.

        TAP selects SIEM events by this time, so a message delivered days ago and condemned now appears in
        the current window with its old ``time``.
        """
        times = [t.threat_time for t in self.threats if t.threat_time is not None]
        if self.time is not None:
            times.append(self.time)
        return max(times) if times else None

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form (ISO-8601 strings, lists) for function results; ``raw`` is left out."""
        return {
            "key": self.key,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "guid": self.guid,
            "qid": self.qid,
            "message_id": self.message_id,
            "time": iso_or_none(self.time),
            "sender": self.sender,
            "sender_ip": self.sender_ip,
            "header_from": self.header_from,
            "header_reply_to": self.header_reply_to,
            "header_to": self.header_to,
            "header_cc": self.header_cc,
            "recipients": list(self.recipients),
            "to_addresses": list(self.to_addresses),
            "cc_addresses": list(self.cc_addresses),
            "from_addresses": list(self.from_addresses),
            "reply_to_addresses": list(self.reply_to_addresses),
            "subject": self.subject,
            "click_ip": self.click_ip,
            "url": self.url,
            "user_agent": self.user_agent,
            "spam_score": self.spam_score,
            "phish_score": self.phish_score,
            "malware_score": self.malware_score,
            "impostor_score": self.impostor_score,
            "message_size": self.message_size,
            "cluster": self.cluster,
            "xmailer": self.xmailer,
            "quarantine_folder": self.quarantine_folder,
            "quarantine_rule": self.quarantine_rule,
            "policy_routes": list(self.policy_routes),
            "modules_run": list(self.modules_run),
            "completely_rewritten": self.completely_rewritten,
            "message_parts": [p.to_dict() for p in self.message_parts],
            "threats": [t.to_dict() for t in self.threats],
            "is_skeleton": self.is_skeleton,
        }


def _threat_from_map(entry: Mapping[str, object]) -> ThreatInfo:
    item = coerce.lower_keys(entry)
    return ThreatInfo(
        threat_id=coerce.text(item.get("threatid")),
        status=normalise_status(item.get("threatstatus")),
        classification=normalise_classification(item.get("classification")),
        threat=coerce.text(item.get("threat")),
        threat_url=coerce.text(item.get("threaturl")),
        threat_time=parse_tap_time(item.get("threattime")),
        threat_type=normalise_threat_type(item.get("threattype")),
        campaign_id=coerce.text(item.get("campaignid")),
        detection_type=coerce.label(item.get("detectiontype")),
        actors=coerce.refs(item.get("actors")),
    )


def _threat_from_click(item: Mapping[str, object]) -> ThreatInfo | None:
    threat_id = coerce.text(item.get("threatid"))
    threat_url = coerce.text(item.get("threaturl"))
    status = normalise_status(item.get("threatstatus"))
    classification = normalise_classification(item.get("classification"))
    if not any((threat_id, threat_url, status, classification)):
        return None
    return ThreatInfo(
        threat_id=threat_id,
        status=status,
        classification=classification,
        threat=coerce.text(coerce.pick(item, "threat", "url")),
        threat_url=threat_url,
        threat_time=parse_tap_time(item.get("threattime")),
        threat_type=normalise_threat_type(item.get("threattype")) or ThreatType.URL.value,
        campaign_id=coerce.text(item.get("campaignid")),
        detection_type=coerce.label(item.get("detectiontype")),
        actors=coerce.refs(item.get("actors")),
    )


def _message_part(entry: Mapping[str, object]) -> MessagePart:
    item = coerce.lower_keys(entry)
    return MessagePart(
        filename=coerce.text(item.get("filename")),
        md5=coerce.text(item.get("md5")),
        sha256=coerce.text(item.get("sha256")),
        content_type=coerce.label(item.get("contenttype")),
        o_content_type=coerce.label(item.get("ocontenttype")),
        sandbox_status=coerce.label(item.get("sandboxstatus")),
        disposition=coerce.label(item.get("disposition")),
    )


def _is_skeleton(item: Mapping[str, object]) -> bool:
    """Retro-condemned skeleton: QID null, sender empty, size 0 (checked on the raw values)."""
    size = coerce.integer(item.get("messagesize"))
    return coerce.text(item.get("qid")) is None and coerce.text(item.get("sender")) is None and not size


def _identity_hash(event_type: str, values: dict[str, object]) -> str:
    blob = json.dumps([event_type, values], sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    # surrogatepass: a lone surrogate from JSON ("\\ud800") must not break hashing
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def normalise_event(obj: Mapping[str, object], event_type: EventType | str, *, keep_raw: bool = False) -> TapEvent:
    """Normalise one event object from SIEM array ``event_type`` (``messagesDelivered`` etc.)."""
    kind = parse_event_type(str(event_type))
    if kind is None:
        raise ValueError(f"unknown SIEM event type {event_type!r}")
    item = coerce.lower_keys(obj)
    is_click = kind.is_click

    if is_click:
        threat = _threat_from_click(item)
        threats: tuple[ThreatInfo, ...] = (threat,) if threat else ()
        time = parse_tap_time(coerce.pick(item, "clicktime", "messagetime"))
    else:
        threats = tuple(_threat_from_map(e) for e in coerce.mappings(item.get("threatsinfomap"))) or ()
        time = parse_tap_time(coerce.pick(item, "messagetime", "clicktime"))

    parts = tuple(_message_part(p) for p in coerce.mappings(item.get("messageparts"))) or ()
    event_id = coerce.text(item.get("id"))
    recipients = coerce.texts(item.get("recipient"))
    values = {
        "guid": coerce.text(item.get("guid")),
        "qid": coerce.text(item.get("qid")),
        "message_id": coerce.text(item.get("messageid")),
        "sender": coerce.text(item.get("sender")),
        "sender_ip": coerce.text(item.get("senderip")),
        "subject": coerce.text(item.get("subject")),
        "click_ip": coerce.text(item.get("clickip")),
        "url": coerce.text(item.get("url")),
        "user_agent": coerce.text(item.get("useragent")),
    }
    if event_id is not None:
        key = f"{kind.value}:{event_id}"
    else:
        identity: dict[str, object] = dict(values)
        identity["time"] = iso_or_none(time)
        identity["recipients"] = list(recipients)
        identity["threat_ids"] = sorted(t.threat_id for t in threats if t.threat_id)
        key = f"{kind.value}:sha256:{_identity_hash(kind.value, identity)}"

    return TapEvent(
        key=key,
        event_type=kind.value,
        event_id=event_id,
        time=time,
        header_from=coerce.text(item.get("headerfrom")),
        header_reply_to=coerce.text(item.get("headerreplyto")),
        header_to=coerce.text(item.get("headerto")),
        header_cc=coerce.text(item.get("headercc")),
        recipients=recipients,
        to_addresses=coerce.texts(item.get("toaddresses")),
        cc_addresses=coerce.texts(item.get("ccaddresses")),
        from_addresses=coerce.texts(item.get("fromaddress")),
        reply_to_addresses=coerce.texts(item.get("replytoaddress")),
        spam_score=coerce.integer(item.get("spamscore")),
        phish_score=coerce.integer(item.get("phishscore")),
        malware_score=coerce.integer(item.get("malwarescore")),
        impostor_score=coerce.real(item.get("impostorscore")),
        message_size=coerce.integer(item.get("messagesize")),
        cluster=coerce.label(coerce.pick(item, "cluster", "clusterid")),
        xmailer=coerce.text(item.get("xmailer")),
        quarantine_folder=coerce.text(item.get("quarantinefolder")),
        quarantine_rule=coerce.text(item.get("quarantinerule")),
        policy_routes=coerce.labels(item.get("policyroutes")),
        modules_run=coerce.labels(item.get("modulesrun")),
        completely_rewritten=coerce.boolean(item.get("completelyrewritten")),
        message_parts=parts,
        threats=threats,
        is_skeleton=(not is_click) and _is_skeleton(item),
        raw=obj if keep_raw else None,
        **values,
    )


class SiemShapeError(ValueError):
    """A SIEM answer of the wrong shape; the message says where and what was found."""


def json_kind(value: object) -> str:
    """How a JSON value is named in messages ("an object", "a list", "null", ...)."""
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def siem_item(obj: object, kind: str, index: int, *, keep_raw: bool = False) -> TapEvent:
    """Item ``index`` of SIEM array ``kind``, normalised; :class:`SiemShapeError` when it is not an event."""
    if not isinstance(obj, Mapping):
        raise SiemShapeError(f"{kind}[{index}] is {json_kind(obj)}, not an event object")
    try:
        return normalise_event(obj, kind, keep_raw=keep_raw)
    except Exception as err:  # a value of a type no event field can hold
        raise SiemShapeError(f"{kind}[{index}] cannot be read ({type(err).__name__})") from None


def normalise_siem_response(
    payload: Mapping[str, object] | None, *, keep_raw: bool = False, endpoint: str = "SIEM"
) -> tuple[list[TapEvent], datetime | None]:
    """All events of a SIEM response (already parsed), and its ``queryEndTime`` (``None`` if absent or
    unparseable). The client reads answers with :func:`~.siem_body.parse_siem_body` instead, which applies
    the same rules while decoding (and needs far less memory).

    Tolerates missing arrays, ``null`` arrays, array names in other cases or with separators
    (``messagesdelivered``, ``clicks_permitted``) and unknown keys (logged at debug): TAP sends them in empty
    answers. Refuses the wrong SHAPE with :class:`TapResponseError` naming ``endpoint`` and what was found: a
    payload that is not an object, an event array that is not a list, an item that is not an object or that
    cannot be read. Skipping them would lose events silently while the cursor moves past them. Events come
    back grouped by array in TAP's order; no de-duplication happens here.
    """
    if payload is None:
        return [], None
    if not isinstance(payload, Mapping):
        raise TapResponseError(
            f"Proofpoint TAP returned a SIEM response that is not a JSON object ({type(payload).__name__}).",
            endpoint=endpoint,
        )
    events: list[TapEvent] = []
    query_end: datetime | None = None

    def wrong(what: str) -> TapResponseError:
        return TapResponseError(f"Proofpoint TAP answered {endpoint} with an answer of the wrong shape: {what}. "
                                "Nothing of this window was used; the next run reads it again.", endpoint=endpoint)

    for name, value in payload.items():
        if not isinstance(name, str):
            continue
        if name.lower() == "queryendtime":
            query_end = parse_tap_time(value)
            continue
        kind = parse_event_type(name)
        if kind is None:
            LOG.debug("Ignoring unknown key %r in SIEM response", name[:80])
            continue
        if value is None:
            continue
        if not isinstance(value, list):
            raise wrong(f"the {kind.value} array is {json_kind(value)}, not a list")
        try:
            events.extend(siem_item(obj, kind.value, index, keep_raw=keep_raw) for index, obj in enumerate(value))
        except SiemShapeError as err:
            raise wrong(str(err)) from None
    return events, query_end
