"""A flow as an SVG diagram, rendered on the server: nodes in columns by distance from start,
flow paths as solid arrows, error paths as dashed red ones."""

from collections import deque
from html import escape

from routing.flows.definitions import node_targets

NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 170, 54, 70, 26, 20
COLORS = {
    "start": "#d1fae5",
    "evaluate": "#fef3c7",
    "set_variables": "#e0e7ff",
    "send_message": "#dbeafe",
    "wait_for_reply": "#fce7f3",
    "http_request": "#ede9fe",
    "business_hours": "#ecfccb",
    "queue_task": "#fee2e2",
    "close_conversation": "#e5e7eb",
}


def _layout(definition: dict) -> dict[str, tuple[int, int]]:
    nodes = definition.get("nodes", {})
    if isinstance(definition.get("layout"), dict):
        given = {k: tuple(v) for k, v in definition["layout"].items() if k in nodes}
        if len(given) == len(nodes):
            return given
    depth: dict[str, int] = {}
    start = definition.get("start")
    queue = deque([start] if start in nodes else [])
    if start in nodes:
        depth[start] = 0
    while queue:
        node_id = queue.popleft()
        for _, target in node_targets(nodes[node_id]):
            if target in nodes and target not in depth:
                depth[target] = depth[node_id] + 1
                queue.append(target)
    last = max(depth.values(), default=-1)
    for node_id in nodes:
        if node_id not in depth:
            last += 1
            depth[node_id] = last
    rows: dict[int, int] = {}
    positions = {}
    for node_id in nodes:
        column = depth[node_id]
        positions[node_id] = (column, rows.get(column, 0))
        rows[column] = rows.get(column, 0) + 1
    return positions


def _box(col: int, row: int) -> tuple[int, int]:
    return PAD + col * (NODE_W + COL_GAP), PAD + row * (NODE_H + ROW_GAP)


def flow_svg(definition: dict, highlight: list[str] | None = None) -> str:
    """The SVG markup for definition; highlight lists node ids a run entered."""
    nodes = definition.get("nodes", {})
    positions = _layout(definition)
    entered = set(highlight or [])
    width = PAD * 2 + (max((c for c, _ in positions.values()), default=0) + 1) * (NODE_W + COL_GAP)
    height = PAD * 2 + (max((r for _, r in positions.values()), default=0) + 1) * (NODE_H + ROW_GAP)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img" '
            f'aria-label="Flow diagram">'
        ),
        (
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#374151"/></marker>'
            '<marker id="arrow-error" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#dc2626"/></marker></defs>'
        ),
    ]
    for node_id, node in nodes.items():
        x1, y1 = _box(*positions[node_id])
        for suffix, target in node_targets(node):
            if target not in positions:
                continue
            x2, y2 = _box(*positions[target])
            error = suffix == "on_error"
            sx, sy = x1 + NODE_W, y1 + NODE_H // 2 + (10 if error else 0)
            ex, ey = (
                (x2, y2 + NODE_H // 2)
                if x2 > x1
                else (x2 + NODE_W // 2, y2 + (0 if y2 > y1 else NODE_H))
            )
            mid = (sx + ex) / 2
            label = {"next": "", "on_error": "error"}.get(suffix, suffix.split(".")[0])
            if suffix.startswith("branches"):
                label = node["branches"][int(suffix[9 : suffix.index("]")])]["name"]
            css = "edge error-path" if error else "edge flow-path"
            stroke = 'stroke="#dc2626" stroke-dasharray="5,4"' if error else 'stroke="#374151"'
            marker = "arrow-error" if error else "arrow"
            parts.append(
                f'<path class="{css}" data-from="{escape(node_id)}" data-to="{escape(target)}" '
                f'd="M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}" fill="none" {stroke} '
                f'marker-end="url(#{marker})"/>'
            )
            if label:
                parts.append(
                    f'<text x="{mid}" y="{(sy + ey) / 2 - 4}" fill="{"#dc2626" if error else "#374151"}" '
                    f'text-anchor="middle" font-size="10">{escape(label)}</text>'
                )
    for node_id, node in nodes.items():
        x, y = _box(*positions[node_id])
        fill = COLORS.get(node.get("type", ""), "#f3f4f6")
        border = 'stroke="#059669" stroke-width="3"' if node_id in entered else 'stroke="#6b7280"'
        title = node.get("label") or node_id
        parts.append(
            f'<g class="node" data-node="{escape(node_id)}" data-type="{escape(node.get("type", ""))}">'
            f"<title>{escape(node_id)} ({escape(node.get('type', ''))})</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8" fill="{fill}" {border}/>'
            f'<text x="{x + 10}" y="{y + 21}" font-weight="bold">{escape(title[:24])}</text>'
            f'<text x="{x + 10}" y="{y + 39}" fill="#4b5563">{escape(node.get("type", ""))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
