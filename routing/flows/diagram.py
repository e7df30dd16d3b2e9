"""A flow as an SVG diagram, rendered on the server.

Nodes are placed by a layered (Sugiyama) graph layout from grandalf, top to bottom from the start
node; an edge spanning several layers bends through the layout's dummy points, so it goes around
the nodes in between. Several edges between the same two nodes (a flow path and an error path to
the same node, or a loop back) run side by side in their own lanes instead of on top of each
other. Flow paths are solid dark arrows, error paths dashed red ones with their own arrowhead.

`flow_geometry` returns the computed boxes and polylines (the tests check them for overlaps);
`flow_svg` draws them.
"""

from dataclasses import dataclass, field
from html import escape

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout

from routing.flows.definitions import node_targets

NODE_W, NODE_H = 170, 54
X_SPACE, Y_SPACE = 40, 56
PAD = 20
LANE = 14  # pixels between parallel edges of one node pair
COMPONENT_GAP = 40
DUMMY_W = 3 * LANE
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
FLOW_COLOR, ERROR_COLOR = "#374151", "#dc2626"

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H

    @property
    def center(self) -> Point:
        return self.x + self.w / 2, self.y + self.h / 2


@dataclass
class EdgeShape:
    source: str
    target: str
    suffix: str  # the JSON path suffix of the edge in its node: next, on_error, branches[0].next
    error: bool
    label: str
    points: list[Point] = field(default_factory=list)

    label_t: float = 0.3  # where along the first segment the label sits

    @property
    def label_at(self) -> Point:
        (x1, y1), (x2, y2) = self.points[0], self.points[1]
        return x1 + (x2 - x1) * self.label_t, y1 + (y2 - y1) * self.label_t


@dataclass
class Geometry:
    width: float
    height: float
    boxes: dict[str, Box]
    edges: list[EdgeShape]


class _VertexView:
    def __init__(self) -> None:
        self.w, self.h = NODE_W, NODE_H
        self.xy: Point = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.points: list[Point] = []

    def setpath(self, points: list) -> None:
        self.points = [tuple(p) for p in points]


def _edge_label(node: dict, suffix: str) -> str:
    if suffix == "next":
        return "default" if node.get("branches") else ""
    if suffix == "on_error":
        return "error"
    if suffix.startswith("branches["):
        return str(node["branches"][int(suffix[9 : suffix.index("]")])].get("name", ""))
    return suffix


def _place(nodes: dict, pairs: set[tuple[str, str]], start: str | None):
    """Vertex id -> center, and (a, b) -> the layout's bend points between a and b."""
    vertices = {node_id: Vertex(node_id) for node_id in nodes}
    for vertex in vertices.values():
        vertex.view = _VertexView()
    edges = {pair: Edge(vertices[pair[0]], vertices[pair[1]]) for pair in sorted(pairs)}
    graph = Graph(list(vertices.values()), list(edges.values()))
    centers: dict[str, Point] = {}
    bends: dict[tuple[str, str], list[Point]] = {}
    top = float(PAD)
    for component in graph.C:
        layout = SugiyamaLayout(component)
        layout.xspace, layout.yspace = X_SPACE, Y_SPACE
        # The layout's bend points are as wide as a node by default; a lane is enough.
        layout.dw, layout.dh = DUMMY_W, NODE_H
        roots = [vertices[start]] if start in vertices and vertices[start] in component.sV else None
        layout.init_all(roots=roots, optimize=True)
        layout.draw(8)
        for edge in component.sE:
            edge.view = _EdgeView()
        layout.draw_edges()
        xs = [v.view.xy[0] for v in component.sV]
        ys = [v.view.xy[1] for v in component.sV]
        bend_xs = [x for e in component.sE for x, _ in e.view.points[1:-1]]
        dx = PAD + max(NODE_W / 2 - min(xs), DUMMY_W / 2 - min(bend_xs, default=0))
        dy = top + NODE_H / 2 - min(ys)
        for vertex in component.sV:
            x, y = vertex.view.xy
            centers[vertex.data] = (x + dx, y + dy)
        for pair, edge in edges.items():
            if edge in component.sE:
                # The layout's points run from the edge's first vertex to its second (even for an
                # edge it turned around to break a cycle); the ends are the vertex centers.
                bends[pair] = [(x + dx, y + dy) for x, y in edge.view.points[1:-1]]
        top = max(ys) + dy + NODE_H / 2 + COMPONENT_GAP
    return centers, bends


def _side(box: Box, toward: Point) -> str:
    cx, cy = box.center
    if abs(toward[1] - cy) < 1:
        return "right" if toward[0] > cx else "left"
    return "bottom" if toward[1] > cy else "top"


def _spread(box: Box, side: str, index: int, count: int) -> Point:
    """The index-th of count ports spread evenly along one side of box."""
    if side in ("top", "bottom"):
        return box.x + box.w * (index + 1) / (count + 1), box.y + (box.h if side == "bottom" else 0)
    return box.x + (box.w if side == "right" else 0), box.y + box.h * (index + 1) / (count + 1)


def flow_geometry(definition: dict) -> Geometry:
    nodes = definition.get("nodes") or {}
    if not isinstance(nodes, dict):
        nodes = {}
    nodes = {node_id: node for node_id, node in nodes.items() if isinstance(node, dict)}
    raw: list[EdgeShape] = []
    for node_id, node in nodes.items():
        for suffix, target in node_targets(node):
            if isinstance(target, str) and target in nodes:
                raw.append(
                    EdgeShape(
                        source=node_id,
                        target=target,
                        suffix=suffix,
                        error=suffix == "on_error",
                        label=_edge_label(node, suffix),
                    )
                )
    pairs = {(e.source, e.target) for e in raw if e.source != e.target}
    # One layout edge per unordered pair; the lanes below separate the real edges.
    layout_pairs = {pair for pair in pairs if (pair[1], pair[0]) not in pairs or pair < pair[::-1]}
    centers, bends = _place(nodes, layout_pairs, definition.get("start"))
    boxes = {
        node_id: Box(x=cx - NODE_W / 2, y=cy - NODE_H / 2) for node_id, (cx, cy) in centers.items()
    }
    groups: dict[frozenset, list[EdgeShape]] = {}
    ports: dict[tuple[str, str], list] = {}
    for edge in raw:
        groups.setdefault(frozenset((edge.source, edge.target)), []).append(edge)
    for group in groups.values():
        for lane, edge in enumerate(group):
            source, target = boxes[edge.source], boxes[edge.target]
            if edge.source == edge.target:
                # A node leading to itself: a loop out of the right side and back in.
                r = source.x + source.w
                top, bottom = source.y + 12 + lane * 8, source.y + source.h - 12 - lane * 8
                edge.points = [
                    (r, top),
                    (r + 24 + lane * LANE, top),
                    (r + 24 + lane * LANE, bottom),
                    (r, bottom),
                ]
                continue
            offset = (lane - (len(group) - 1) / 2) * LANE
            key = (edge.source, edge.target)
            if key in bends:
                inner = bends[key]
            else:
                inner = list(reversed(bends.get((edge.target, edge.source), [])))
            # Each bend point becomes a vertical run through its whole layer, so the slanted
            # parts of an edge stay in the free space between layers.
            down = source.y < target.y
            half = NODE_H / 2 if down else -NODE_H / 2
            inner = [(x + offset, y + run) for x, y in inner for run in (-half, half)]
            edge.points = inner
            toward = inner[0] if inner else (target.center[0] + offset, target.center[1])
            back = inner[-1] if inner else (source.center[0] + offset, source.center[1])
            # Ends on one side of a node are ordered like the points they lead to, so edges
            # meeting at a node fan out instead of crossing just before it.
            for node_id, box, other, end in (
                (edge.source, source, toward, 0),
                (edge.target, target, back, -1),
            ):
                side = _side(box, other)
                ports.setdefault((node_id, side), []).append(
                    ((other[0], other[1], offset), edge, end)
                )
    for (node_id, side), ends in ports.items():
        axis = 0 if side in ("top", "bottom") else 1
        ends.sort(key=lambda item: (item[0][axis], item[0][2]))
        for index, (_, edge, end) in enumerate(ends):
            point = _spread(boxes[node_id], side, index, len(ends))
            if end == 0:
                edge.points = [point, *edge.points]
            else:
                edge.points = [*edge.points, point]
    # Labels of a node with many edges go near the targets, where the fan is widest.
    fan_out: dict[str, int] = {}
    for edge in raw:
        fan_out[edge.source] = fan_out.get(edge.source, 0) + 1
    for edge in raw:
        edge.label_t = 0.75 if fan_out[edge.source] >= 4 else 0.3
    right = max((b.x + b.w for b in boxes.values()), default=0)
    right = max([right, *(x for e in raw for x, _ in e.points)])
    bottom = max((b.y + b.h for b in boxes.values()), default=0)
    return Geometry(width=right + PAD, height=bottom + PAD, boxes=boxes, edges=raw)


def _short(title: str, limit: int = 22) -> str:
    # What fits in a node box at the diagram's font size; the full text is in the JSON.
    return title if len(title) <= limit else title[: limit - 1] + "\u2026"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def flow_svg(definition: dict, highlight: list[str] | None = None) -> str:
    """The SVG markup for definition; highlight lists node ids a run entered."""
    nodes = definition.get("nodes") or {}
    geometry = flow_geometry(definition)
    entered = set(highlight or [])
    width, height = _fmt(geometry.width), _fmt(geometry.height)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
            'font-size="12" role="img" aria-label="Flow diagram" '
            'style="max-width:100%;height:auto">'
        ),
        (
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{FLOW_COLOR}"/></marker>'
            '<marker id="arrow-error" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{ERROR_COLOR}"/></marker></defs>'
        ),
    ]
    for edge in geometry.edges:
        color = ERROR_COLOR if edge.error else FLOW_COLOR
        css = "edge error-path" if edge.error else "edge flow-path"
        dash = ' stroke-dasharray="6,4"' if edge.error else ""
        marker = "arrow-error" if edge.error else "arrow"
        d = "M" + " L".join(f"{_fmt(x)},{_fmt(y)}" for x, y in edge.points)
        parts.append(
            f'<path class="{css}" data-from="{escape(edge.source)}" data-to="{escape(edge.target)}" '
            f'data-path="{escape(edge.suffix)}" d="{d}" fill="none" stroke="{color}" '
            f'stroke-width="1.5"{dash} marker-end="url(#{marker})"><title>{escape(edge.source)}.'
            f"{escape(edge.suffix)} \u2192 {escape(edge.target)}</title></path>"
        )
        if edge.label:
            x, y = edge.label_at
            parts.append(
                f'<text class="edge-label" x="{_fmt(x + 4)}" y="{_fmt(y)}" fill="{color}" '
                f'font-size="10" paint-order="stroke" stroke="#fff" stroke-width="3">'
                f"{escape(edge.label)}</text>"
            )
    for node_id, box in geometry.boxes.items():
        node = nodes[node_id]
        node_type = str(node.get("type", ""))
        fill = COLORS.get(node_type, "#f3f4f6")
        border = 'stroke="#059669" stroke-width="3"' if node_id in entered else 'stroke="#6b7280"'
        title = str(node.get("label") or node_id)
        x, y = _fmt(box.x), _fmt(box.y)
        parts.append(
            f'<g class="node" data-node="{escape(node_id)}" data-type="{escape(node_type)}">'
            f"<title>{escape(node_id)} ({escape(node_type)})</title>"
            f'<rect x="{x}" y="{y}" width="{box.w}" height="{box.h}" rx="8" fill="{fill}" '
            f"{border}/>"
            f'<text x="{_fmt(box.x + 10)}" y="{_fmt(box.y + 21)}" font-weight="bold">'
            f"{escape(_short(title))}</text>"
            f'<text x="{_fmt(box.x + 10)}" y="{_fmt(box.y + 39)}" fill="#4b5563">'
            f"{escape(node_type)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
