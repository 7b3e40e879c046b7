"""The face mesh's triangulation: parsed (never imported) from the pinned
face_mesh_connections.py of the mediapipe wheel, written as JSON pinned by SHA-256."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from device.errors import ModelError
from device.models import landmark_store as lm
from device.models import tessellation


def test_cached_triangulation_matches_its_pin_and_its_source():
    src = lm.default_model_dir() / lm.MESH_SOURCE.name
    assert hashlib.sha256(src.read_bytes()).hexdigest() == lm.MESH_SOURCE.sha256
    data = tessellation.tessellation_json(src.read_text(encoding="utf-8"))
    assert hashlib.sha256(data).hexdigest() == tessellation.SHA256
    assert lm.tessellation_path().read_bytes() == data
    tri = np.array(lm.mesh_triangles())
    assert tri.shape == (852, 3)
    assert set(np.unique(tri)) == set(range(468))  # every mesh point is in a triangle
    edges = tessellation.parse_edges(src.read_text(encoding="utf-8"))
    assert len(edges) == 2556 and len(set(edges)) == 2556


def test_altered_triangulation_is_refused_with_the_fix(tmp_path):
    shutil.copy(lm.tessellation_path(), tmp_path / tessellation.FILE_NAME)
    p = tmp_path / tessellation.FILE_NAME
    p.write_bytes(p.read_bytes().replace(b"[0,", b"[1,", 1))
    with pytest.raises(ModelError, match="SHA-256.*emoface models fetch"):
        lm.mesh_triangles(tmp_path)
    assert lm.missing_data(tmp_path) == ["tessellation"]


def test_source_whose_edges_do_not_close_triangles_is_refused():
    src = (lm.default_model_dir() / lm.MESH_SOURCE.name).read_text(encoding="utf-8")
    edges = tessellation.parse_edges(src)
    a, b = edges[1]
    broken = src.replace(f"({a}, {b})", f"({a}, {(b + 1) % 468})", 1)
    with pytest.raises(ModelError, match="do not close a triangle|not a whole number"):
        tessellation.tessellation_json(broken)
    with pytest.raises(ModelError, match="no FACEMESH_TESSELATION"):
        tessellation.tessellation_json("FACEMESH_LIPS = frozenset([(0, 1)])\n")
