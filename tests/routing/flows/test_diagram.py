"""The flow diagram's layout: for every shipped template, no node sits on another, no edge runs
through a node, no two edges run on top of each other, and flow and error paths differ."""

import itertools

import pytest

from routing.flows.diagram import Box, flow_geometry, flow_svg
from routing.flows.templates import template_list, template_load

SHIPPED = [(name, version) for name, versions in template_list().items() for version in versions]


def _shrunk(box: Box, by: float = 1.0) -> tuple[float, float, float, float]:
    return box.x + by, box.y + by, box.x + box.w - by, box.y + box.h - by


def _segment_hits_box(a, b, box: Box) -> bool:
    """Liang-Barsky: does segment ab pass through the inside of box (its border excluded)?"""
    x0, y0, x1, y1 = _shrunk(box)
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_overlap(p1, p2, q1, q2) -> bool:
    """Do the two segments run along each other for some length (drawn on top of each other)?"""
    if abs(_cross(p1, p2, q1)) > 1e-6 or abs(_cross(p1, p2, q2)) > 1e-6:
        return False
    axis = 0 if abs(p1[0] - p2[0]) > abs(p1[1] - p2[1]) else 1
    lo_p, hi_p = sorted((p1[axis], p2[axis]))
    lo_q, hi_q = sorted((q1[axis], q2[axis]))
    return min(hi_p, hi_q) - max(lo_p, lo_q) > 1e-6


def _segments(points):
    return list(itertools.pairwise(points))


@pytest.mark.parametrize(("name", "version"), SHIPPED)
def test_no_two_nodes_of_a_shipped_template_overlap(name, version):
    geometry = flow_geometry(template_load(name, version))
    assert len(geometry.boxes) == len(template_load(name, version)["nodes"])
    for (a_id, a), (b_id, b) in itertools.combinations(geometry.boxes.items(), 2):
        apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
        assert apart, f"{a_id} overlaps {b_id}"


@pytest.mark.parametrize(("name", "version"), SHIPPED)
def test_no_edge_of_a_shipped_template_runs_through_a_node(name, version):
    geometry = flow_geometry(template_load(name, version))
    for edge in geometry.edges:
        for a, b in _segments(edge.points):
            for node_id, box in geometry.boxes.items():
                assert not _segment_hits_box(a, b, box), (
                    f"{edge.source}.{edge.suffix} -> {edge.target} crosses node {node_id}"
                )


@pytest.mark.parametrize(("name", "version"), SHIPPED)
def test_no_two_edges_of_a_shipped_template_run_on_top_of_each_other(name, version):
    geometry = flow_geometry(template_load(name, version))
    for e1, e2 in itertools.combinations(geometry.edges, 2):
        for s1 in _segments(e1.points):
            for s2 in _segments(e2.points):
                assert not _segments_overlap(*s1, *s2), (
                    f"{e1.source}.{e1.suffix} and {e2.source}.{e2.suffix} meet at {s1} / {s2}"
                )


@pytest.mark.parametrize(("name", "version"), SHIPPED)
def test_every_edge_of_a_shipped_template_is_drawn_from_its_node_to_its_target(name, version):
    definition = template_load(name, version)
    geometry = flow_geometry(definition)
    expected = {
        (node_id, key, target)
        for node_id, node in definition["nodes"].items()
        for key in ("next", "on_error")
        if (target := node.get(key))
    }
    drawn = {(e.source, e.suffix, e.target) for e in geometry.edges}
    assert expected <= drawn
    for edge in geometry.edges:
        source, target = geometry.boxes[edge.source], geometry.boxes[edge.target]
        start, end = edge.points[0], edge.points[-1]
        assert source.x <= start[0] <= source.x + source.w
        assert start[1] in (source.y, source.y + source.h)
        assert target.x <= end[0] <= target.x + target.w
        assert end[1] in (target.y, target.y + target.h)


def test_a_flow_path_and_an_error_path_to_the_same_node_run_in_separate_lanes():
    definition = template_load("whatsapp_inbound", 2)
    edges = [e for e in flow_geometry(definition).edges if e.source == "detect_language"]
    to_greet = [e for e in edges if e.target == "greet"]
    assert {e.suffix for e in to_greet} == {"next", "on_error"}
    assert to_greet[0].points != to_greet[1].points


def test_the_diagram_draws_error_paths_dashed_red_and_flow_paths_solid():
    svg = flow_svg(template_load("whatsapp_inbound", 2))
    assert 'class="edge error-path"' in svg and 'stroke-dasharray="6,4"' in svg
    assert 'marker-end="url(#arrow-error)"' in svg
    flow_paths = [p for p in svg.split("<path ") if p.startswith('class="edge flow-path"')]
    assert flow_paths and all("stroke-dasharray" not in p for p in flow_paths)


def test_the_diagram_scales_down_to_its_box_instead_of_scrolling():
    svg = flow_svg(template_load("chat_inbound"))
    assert 'style="max-width:100%;height:auto"' in svg and 'viewBox="0 0 ' in svg


def test_a_node_leading_to_itself_and_nodes_out_of_reach_are_still_drawn():
    definition = {
        "start": "start",
        "nodes": {
            "start": {"type": "start", "next": "ask"},
            "ask": {"type": "wait_for_reply", "next": "ask", "on_timeout": "ask"},
            "orphan": {"type": "close_conversation", "next": None},
        },
    }
    geometry = flow_geometry(definition)
    assert set(geometry.boxes) == {"start", "ask", "orphan"}
    loops = [e for e in geometry.edges if e.source == e.target == "ask"]
    assert len(loops) == 2 and loops[0].points != loops[1].points
