"""Transcript exports: CSV (one row per message), JSON (the whole transcript) and PDF (fpdf2)."""

import csv
import io
import json
from pathlib import Path
from typing import Any

from fpdf import FPDF

from care_console.selectors import transcript
from channels_app.media import UNKNOWN_FILE

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
CSV_COLUMNS = [
    "conversation_id",
    "customer",
    "address",
    "channel",
    "status",
    "wrap_up_code",
    "message_id",
    "at",
    "direction",
    "author",
    "content_type",
    "text",
    "attachments",
]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Customers write what they like: a cell that a spreadsheet would run as a formula is
    prefixed with an apostrophe so it opens as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _author(message) -> str:
    if message.author_agent_id:
        return str(message.author_agent)
    return message.author_kind


def transcript_data(conversation) -> dict[str, Any]:
    t = transcript(conversation=conversation)
    c = t["conversation"]
    return {
        "id": c.pk,
        "uuid": str(c.uuid),
        "customer": str(c.customer),
        "address": c.identity.address,
        "channel": c.kind,
        "asset": c.asset.name,
        "status": c.status,
        "owner": str(c.owner) if c.owner else None,
        "wrap_up_code": c.wrap_up_code,
        "opened_at": c.opened_at.isoformat(),
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
        "variables": dict(t["variables"]),
        "messages": [
            {
                "id": m.pk,
                "at": m.created_at.isoformat(),
                "direction": m.direction,
                "author": _author(m),
                "content_type": m.content_type,
                "text": m.text,
                "content": m.content,
                "status": m.status,
                "attachments": [
                    # An infected file shows as an unknown file: no name, type or size.
                    {
                        "filename": UNKNOWN_FILE if a.shown_as_unknown else a.filename,
                        "content_type": "" if a.shown_as_unknown else a.content_type,
                        "size": 0 if a.shown_as_unknown else a.size,
                        "scan_status": a.scan_status,
                        "refused_reason": a.refused_reason,
                    }
                    for a in m.attachments.all()
                ],
            }
            for m in t["messages"]
        ],
        "timeline": [
            {
                "at": e.at.isoformat(),
                "kind": e.kind,
                "agent": str(e.agent) if e.agent else None,
                "queue": e.queue.name if e.queue else e.task.queue.name,
                "data": e.data,
            }
            for e in t["timeline"]
        ],
        "flow_runs": [
            {
                "flow": run.flow.name,
                "trigger": run.trigger,
                "status": run.status,
                "started_at": run.started_at.isoformat(),
                "steps": [
                    {"seq": s.seq, "node": s.node_id, "type": s.node_type, "path": s.path}
                    for s in run.step_list
                ],
            }
            for run in t["flow_runs"]
        ],
    }


def to_json(conversations) -> bytes:
    return json.dumps(
        [transcript_data(c) for c in conversations], ensure_ascii=False, indent=2
    ).encode()


def to_csv(conversations) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for c in conversations:
        data = transcript_data(c)
        for m in data["messages"]:
            writer.writerow(
                _cell(v)
                for v in [
                    data["id"],
                    data["customer"],
                    data["address"],
                    data["channel"],
                    data["status"],
                    data["wrap_up_code"],
                    m["id"],
                    m["at"],
                    m["direction"],
                    m["author"],
                    m["content_type"],
                    m["text"],
                    "; ".join(
                        f"{a['filename'] or 'file'} ({a['refused_reason'] or a['scan_status']})"
                        for a in m["attachments"]
                    ),
                ]
            )
    return out.getvalue().encode()


def table_csv(columns: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_cell(c) for c in columns])
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue().encode()


class _Pdf(FPDF):
    def setup(self) -> str:
        regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            self.add_font("dejavu", "", str(regular))
            self.add_font("dejavu", "B", str(bold))
            return "dejavu"
        return "helvetica"


def _safe(text: str, family: str) -> str:
    # The core PDF fonts only know Latin-1; without DejaVu, other characters become "?".
    return text if family == "dejavu" else text.encode("latin-1", "replace").decode("latin-1")


def to_pdf(conversations) -> bytes:
    pdf = _Pdf(format="A4")
    family = pdf.setup()
    pdf.set_auto_page_break(auto=True, margin=15)
    width = pdf.epw if hasattr(pdf, "epw") else 180

    def line(text: str, size: int = 10, style: str = "") -> None:
        pdf.set_font(family, style, size)
        pdf.multi_cell(width, size * 0.5, _safe(text, family), new_x="LMARGIN", new_y="NEXT")

    for c in conversations:
        data = transcript_data(c)
        pdf.add_page()
        line(f"Conversation {data['id']} with {data['customer']}", 14, "B")
        line(
            f"{data['channel']} · {data['address']} · {data['asset']} · {data['status']}"
            + (f" · wrap-up: {data['wrap_up_code']}" if data["wrap_up_code"] else "")
        )
        line(
            f"Opened {data['opened_at']}"
            + (f", closed {data['closed_at']}" if data["closed_at"] else "")
        )
        pdf.ln(2)
        line("Messages", 12, "B")
        for m in data["messages"]:
            line(f"{m['at'][:19].replace('T', ' ')}  {m['author']} ({m['direction']})", 9, "B")
            body = m["text"] or f"[{m['content_type']}]"
            for a in m["attachments"]:
                refused = a["refused_reason"]
                state = f"refused: {refused}" if refused else f"scan {a['scan_status']}"
                body += f"\n[attachment {a['filename'] or 'file'} · {state}]"
            line(body)
        if data["variables"]:
            pdf.ln(2)
            line("Variables", 12, "B")
            for name, value in data["variables"].items():
                line(f"{name} = {json.dumps(value, ensure_ascii=False)}")
        pdf.ln(2)
        line("Routing timeline", 12, "B")
        for e in data["timeline"]:
            who = f" · {e['agent']}" if e["agent"] else ""
            line(f"{e['at'][:19].replace('T', ' ')}  {e['kind']} · {e['queue']}{who}", 9)
        for run in data["flow_runs"]:
            pdf.ln(2)
            line(f"Flow {run['flow']} ({run['trigger']}, {run['status']})", 12, "B")
            for s in run["steps"]:
                line(f"{s['seq']}. {s['node']} ({s['type']}) → {s['path']}", 9)
    if not pdf.pages:
        pdf.add_page()
        line("No conversations.")
    return bytes(pdf.output())
