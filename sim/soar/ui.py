"""A read-only HTML view of the emulated org (``/ui/``): incidents, one incident with its fields, the tabs of
the incident layout whose conditions hold, notes, artifacts, data tables, attachments and workflow runs.
Server-rendered, no JavaScript.

Text is always escaped. HTML notes and rich-text fields are shown as SOAR shows them, after an
allow-list sanitizer (scripts, styles, frames, event handlers and ``javascript:`` URLs removed).
"""

from __future__ import annotations

import datetime
import html
import json
import re
from html.parser import HTMLParser
from typing import Any

from sim.soar.core import Soar
from sim.soar.errors import SoarError
from sim.soar.http import Request, Response

_ALLOWED_TAGS = {"a", "b", "i", "u", "em", "strong", "p", "br", "div", "span", "ul", "ol", "li", "pre", "code",
                 "h1", "h2", "h3", "h4", "blockquote", "table", "thead", "tbody", "tr", "td", "th", "hr"}
_DROP_CONTENT = {"script", "style", "iframe", "object", "embed", "template", "noscript"}
_ALLOWED_ATTRS = {"href", "title", "class", "colspan", "rowspan"}


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _DROP_CONTENT:
            self.skip += 1
            return
        if self.skip or tag not in _ALLOWED_TAGS:
            return
        kept = []
        for name, value in attrs:
            if name not in _ALLOWED_ATTRS or value is None:
                continue
            if name == "href" and not re.match(r"^(https?:|mailto:|#|/)", value.strip(), re.I):
                continue
            kept.append(f' {name}="{html.escape(value, quote=True)}"')
        if tag == "a":
            kept.append(' rel="noopener noreferrer"')
        self.out.append(f"<{tag}{''.join(kept)}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_CONTENT:
            self.skip = max(0, self.skip - 1)
            return
        if not self.skip and tag in _ALLOWED_TAGS and tag != "br":
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(html.escape(data))


def sanitize_html(text: str | None) -> str:
    if not text:
        return ""
    parser = _Sanitizer()
    parser.feed(text)
    parser.close()
    return "".join(parser.out)


def esc(value: Any) -> str:
    if value is None:
        return '<span class="none">—</span>'
    if isinstance(value, (list, dict)):
        return html.escape(json.dumps(value, ensure_ascii=False))
    return html.escape(str(value))


def fmt_date(ms: Any) -> str:
    if not isinstance(ms, (int, float)):
        return esc(ms)
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
header{background:#0f2b46;color:#fff;padding:10px 24px;font-size:18px}header a{color:#fff;text-decoration:none}
header small{color:#9fb3c8;margin-left:12px;font-size:13px}
main{padding:18px 24px;max-width:1200px}h1{font-size:22px;margin:6px 0 14px}h2{font-size:16px;margin:22px 0 8px;
color:#0f2b46;border-bottom:1px solid #d5dde5;padding-bottom:4px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}th,td{border:1px solid #d5dde5;
padding:5px 8px;text-align:left;vertical-align:top}th{background:#e8edf2;font-weight:600}
.kv th{width:220px}.none{color:#98a4b0}.badge{display:inline-block;padding:1px 8px;border-radius:10px;
font-size:12px;font-weight:600}.A,.running{background:#dff3e4;color:#17663a}.C{background:#e4e7eb;color:#444}
.completed{background:#dde9fb;color:#1c4f9c}.terminated{background:#fbe0e0;color:#9c1c1c}
.note{background:#fff;border:1px solid #d5dde5;padding:8px 10px;margin:6px 0}.note .meta{color:#6b7785;
font-size:12px;margin-bottom:4px}.text{white-space:pre-wrap}
"""


def page(title: str, body: str, org: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><header><a href='/ui/'>IBM SOAR emulator</a>"
            f"<small>{html.escape(org)}</small></header><main>{body}</main></body></html>")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return '<p class="none">None.</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _incident_list(soar: Soar) -> str:
    rows = []
    for inc in reversed(soar.list_incidents(names=True)):
        status = "Active" if inc["plan_status"] == "A" else "Closed"
        rows.append([f"<a href='/ui/incidents/{inc['id']}'>{inc['id']}</a>",
                     f"<a href='/ui/incidents/{inc['id']}'>{esc(inc['name'])}</a>",
                     f"<span class='badge {esc(inc['plan_status'])}'>{status}</span>",
                     esc(inc.get("severity_code")), esc(inc.get("owner_id")),
                     esc(inc.get("resolution_id")), fmt_date(inc.get("create_date"))])
    return "<h1>Incidents</h1>" + _table(["ID", "Name", "Status", "Severity", "Owner", "Resolution", "Created"], rows)


def _rich(value: Any) -> str:
    if isinstance(value, str) and "<" in value:
        return sanitize_html(value)
    return f"<span class='text'>{esc(value)}</span>"


def _incident_page(soar: Soar, inc_id: str) -> str:
    inc = soar.get_incident(inc_id, names=True)
    doc = soar.incidents.doc(inc["id"])
    parts = [f"<h1>#{inc['id']} {esc(inc['name'])} <span class='badge {esc(inc['plan_status'])}'>"
             f"{'Active' if inc['plan_status'] == 'A' else 'Closed'}</span></h1>"]
    desc_fmt = doc.get("_description_format")
    if inc.get("description") is None:
        description = esc(None)
    elif desc_fmt == "html":
        description = sanitize_html(inc["description"])
    else:
        description = f"<span class='text'>{esc(inc['description'])}</span>"
    for tab in soar.layouts.tabs_for(inc):
        rows = [[esc(label), fmt_date(value) if kind in ("datepicker", "datetimepicker") and value is not None
                 else _rich(value)] for label, value, kind in tab.fields]
        tables = f"<p>Data tables on this tab (rows below): {esc(', '.join(tab.tables))}</p>" if tab.tables else ""
        parts.append(f"<h2>Tab: {esc(tab.label)}</h2>" + _table(["Field", "Value"], rows) + tables)
    summary = [("Description", description), ("Owner", esc(inc.get("owner_id"))),
               ("Members", esc(", ".join(m or "?" for m in inc.get("members") or []) or None)),
               ("Severity", esc(inc.get("severity_code"))), ("Phase", esc(inc.get("phase_id"))),
               ("Incident types", esc(", ".join(inc.get("incident_type_ids") or []) or None)),
               ("Discovered", fmt_date(inc.get("discovered_date"))), ("Created", fmt_date(inc.get("create_date"))),
               ("Closed", fmt_date(inc.get("end_date")) if inc.get("end_date") else esc(None)),
               ("Resolution", esc(inc.get("resolution_id"))),
               ("Resolution summary", _rich(inc.get("resolution_summary"))), ("Version", esc(inc.get("vers")))]
    parts.append("<h2>Fields</h2><table class='kv'>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>"
                                                               for k, v in summary) + "</table>")
    props = inc.get("properties") or {}
    parts.append("<h2>Custom fields</h2>" + _table(["Field", "Value"], [[esc(k), _rich(v)] for k, v in
                                                                         sorted(props.items())]))
    notes = soar.list_notes(inc["id"])
    note_html = []
    for n in notes:
        body = sanitize_html(n["text"]) if soar.notes.is_html(n["id"]) else \
            f"<div class='text'>{esc(n['text'])}</div>"
        note_html.append(f"<div class='note'><div class='meta'>{esc(n['user_fname'])} · "
                         f"{fmt_date(n['create_date'])}</div>{body}</div>")
    parts.append("<h2>Notes</h2>" + ("".join(note_html) or '<p class="none">None.</p>'))
    arts = soar.list_artifacts(inc["id"], names=True)
    parts.append("<h2>Artifacts</h2>" + _table(["ID", "Type", "Value", "Description", "Created"], [
        [esc(a["id"]), esc(a["type"]), esc(a["value"]), esc(a.get("description")), fmt_date(a.get("created"))]
        for a in arts]))
    for table in soar.registry.tables():
        data = soar.table_data(inc["id"], table["type_name"], names=True)
        cols = sorted(table["fields"].values(), key=lambda c: c.get("order", 0))
        rows = [[esc(r["id"])] + [esc(r["cells"].get(c["name"], {}).get("value")) for c in cols]
                for r in data["rows"]]
        parts.append(f"<h2>Data table: {esc(table.get('display_name') or table['type_name'])}</h2>" +
                     _table(["Row"] + [c.get("text") or c["name"] for c in cols], rows))
    atts = soar.list_attachments(inc["id"])
    parts.append("<h2>Attachments</h2>" + _table(["ID", "Name", "Type", "Size", "Created"], [
        [esc(a["id"]), esc(a["name"]), esc(a["content_type"]), esc(a["size"]), fmt_date(a["created"])]
        for a in atts]))
    parts.append("<h2>Workflow runs</h2>" + _instances_table(soar.list_instances(inc_id=inc["id"])))
    return "".join(parts)


def _instances_table(instances: list[dict]) -> str:
    rows = []
    for i in instances:
        calls = "<br>".join(f"{esc(c['function'])}: {esc(c['status'])}"
                            + (f" — {esc(c['error'])}" if c.get("error") else "") for c in i.get("function_calls", []))
        msgs = "<br>".join(esc(m["text"]) for m in i.get("status_messages", [])[-5:])
        rows.append([esc(i["workflow_instance_id"]), esc(i["workflow"].get("name")),
                     esc((i.get("rule") or {}).get("name")),
                     f"<span class='badge {esc(i['status'])}'>{esc(i['status'])}</span>",
                     esc(i.get("terminate_reason")), calls or esc(None), msgs or esc(None),
                     fmt_date(i.get("start_date"))])
    return _table(["ID", "Workflow", "Rule", "Status", "Reason", "Functions", "Status messages", "Started"], rows)


def render_ui(soar: Soar, req: Request) -> Response:
    if req.method != "GET":
        return Response(405, "read-only view", content_type="text/plain")
    path = req.path.rstrip("/")
    org = f"{soar.org.org_name} (org {soar.org.org_id})"
    try:
        if path in ("/ui", ""):
            body, title = _incident_list(soar), "Incidents"
        elif m := re.fullmatch(r"/ui/incidents/([0-9]+)", path):
            body, title = _incident_page(soar, m.group(1)), f"Incident {m.group(1)}"
        elif path == "/ui/workflows":
            body, title = "<h1>Workflow runs</h1>" + _instances_table(soar.list_instances()), "Workflow runs"
        else:
            return Response(404, page("Not found", "<h1>Not found</h1>", org), content_type="text/html")
    except SoarError as err:
        return Response(err.status, page("Error", f"<h1>{esc(err.message)}</h1>", org), content_type="text/html")
    return Response(200, page(title, body, org), content_type="text/html")
