"""MediaPipe's face-mesh triangulation (FACEMESH_TESSELATION) as pinned data.

Why: the standard digital face is drawn and compared on the landmark model's own 468-point
mesh, and a mesh needs faces. MediaPipe ships its edges only as Python source
(`mediapipe/python/solutions/face_mesh_connections.py`, Apache-2.0, in the same
mediapipe==0.10.21 wheel the landmark models come from). That file is parsed here as text
with `ast` (mediapipe is never imported): its edge list is written as consecutive triples
(a, b), (b, c), (c, a), one triangle each, so the source order gives the 852 triangles.
`emoface models fetch` writes the result as a small JSON into the model cache, pinned by
SHA-256 like the models; the device only reads and verifies it.
"""

from __future__ import annotations

import ast
import json

from device.errors import ModelError

MESH_POINTS = 468
VARIABLE = "FACEMESH_TESSELATION"
FILE_NAME = "face_mesh_tessellation.json"
SHA256 = "264ff6911292b7d175b415c05f172a48d83f89a37d68e0b274f74f13ab2f4382"
LICENSE = "Apache-2.0 (The MediaPipe Authors), from mediapipe==0.10.21"


def parse_edges(source: str) -> list[tuple[int, int]]:
    """The FACEMESH_TESSELATION edges of face_mesh_connections.py, in source order."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ModelError(f"face_mesh_connections.py does not parse: {exc}") from exc
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == VARIABLE
        ):
            call = node.value
            if not (
                isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.List)
            ):
                raise ModelError(f"{VARIABLE} is not frozenset([...]) in the source")
            try:
                edges = [tuple(ast.literal_eval(e)) for e in call.args[0].elts]
            except ValueError as exc:
                raise ModelError(f"{VARIABLE}: an edge is not a literal pair ({exc})") from exc
            if not edges or any(
                len(e) != 2 or not all(isinstance(i, int) and 0 <= i < MESH_POINTS for i in e)
                for e in edges
            ):
                raise ModelError(f"{VARIABLE}: edges must be pairs of point indices 0..467")
            return [(int(a), int(b)) for a, b in edges]
    raise ModelError(f"face_mesh_connections.py has no {VARIABLE}")


def triangles_from_edges(edges: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Consecutive closed edge triples (a, b), (b, c), (c, a) -> triangles (a, b, c)."""
    if len(edges) % 3:
        raise ModelError(f"{VARIABLE}: {len(edges)} edges is not a whole number of triangles")
    out = []
    for i in range(0, len(edges), 3):
        (a, b), (c, d), (e, f) = edges[i : i + 3]
        if not (b == c and d == e and f == a):
            raise ModelError(f"{VARIABLE}: edges {i}..{i + 2} do not close a triangle")
        out.append((a, b, d))
    return out


def tessellation_json(source: str) -> bytes:
    """The cached JSON (canonical bytes: the pin is over them)."""
    edges = parse_edges(source)
    doc = {
        "license": LICENSE,
        "source": "mediapipe/python/solutions/face_mesh_connections.py",
        "variable": VARIABLE,
        "points": MESH_POINTS,
        "edges": [list(e) for e in edges],
        "triangles": [list(t) for t in triangles_from_edges(edges)],
    }
    return (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def load_triangles(data: bytes) -> list[tuple[int, int, int]]:
    """Triangles from the cached JSON bytes (already verified against SHA256)."""
    doc = json.loads(data.decode("utf-8"))
    return [tuple(t) for t in doc["triangles"]]
