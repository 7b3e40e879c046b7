"""Pictures of the standard faces: the canonical mean-neutral mesh, seen from the front,
triangulated with MediaPipe's FACEMESH_TESSELATION, each triangle shaded by the mean
displacement magnitude of its corners; one panel per class (rows) and condition (columns)
with a shared colour scale, so panels compare. Two figures: the class means themselves,
and their departure from the cohort mean (what the route's cosine similarity compares).
matplotlib with the Agg backend (no display); PNG files for the report and docs/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.session.mesh_field import EMOTIONS

FIGURES = {
    "standard_faces.png": ("mean displacement from neutral", False),
    "standard_faces_vs_cohort.png": ("departure from the cohort's mean field", True),
}


def triangle_values(values: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Per-triangle mean of per-point values."""
    return values[triangles].mean(axis=1)


def render_standard_faces(faces, triangles, out_dir: Path, dpi: int = 80) -> list[Path]:
    """Write the two figures into out_dir; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tri = np.asarray(triangles, int)
    base = faces.neutral
    mesh = Triangulation(base[:, 0], base[:, 1], tri)
    written = []
    for name, (title, centred) in FIGURES.items():
        fields = faces.standard - (faces.centre[None] if centred else 0.0)
        mags = np.linalg.norm(fields, axis=-1)  # (K, 4, 468)
        top = float(np.percentile(mags, 99.5)) or 1.0
        k = len(faces.class_names)
        fig, axes = plt.subplots(
            k, len(EMOTIONS), figsize=(2.6 * len(EMOTIONS), 2.9 * k), squeeze=False
        )
        for r, cname in enumerate(faces.class_names):
            for c, cond in enumerate(EMOTIONS):
                ax = axes[r][c]
                shade = ax.tripcolor(
                    mesh,
                    facecolors=triangle_values(mags[r, c], tri),
                    cmap="inferno",
                    vmin=0.0,
                    vmax=top,
                    edgecolors="none",
                )
                ax.triplot(mesh, color="#ffffff", lw=0.08, alpha=0.35)
                ax.set_aspect("equal")
                ax.axis("off")
                if r == 0:
                    ax.set_title(cond, fontsize=10)
                if c == 0:
                    ax.text(
                        -0.08,
                        0.5,
                        cname,
                        transform=ax.transAxes,
                        rotation=90,
                        va="center",
                        ha="right",
                        fontsize=11,
                    )
        fig.colorbar(shade, ax=axes, shrink=0.6, label="displacement (face widths)")
        fig.suptitle(f"Standard digital faces: {title}", fontsize=12)
        path = out_dir / name
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        written.append(path)
    return written
