"""Drop the operators of a .tflite model that no wanted output depends on.

A LiteRT interpreter runs every operator in the file, needed or not. MediaPipe's iris
model, for one, computes the 71 eye-contour points in a branch of its own beside the iris
branch; a caller that reads only `output_iris` pays for both. `keep_outputs` rewrites the
flatbuffer in memory so that only the ancestors of the named outputs remain. The kept
operators, their weights and their order are untouched, so the kept outputs are the same
numbers as from the whole model (tests/device/vision/test_landmark_speed.py checks this).

Needs the flatbuffer schema that ai-edge-litert ships (`schema_py_generated`); where it is
missing (tflite-runtime), `prune_available()` is False and callers load the whole model.
"""

from __future__ import annotations

from collections.abc import Sequence

from device.errors import ModelError

try:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
except ImportError:  # pragma: no cover - tflite-runtime systems
    schema = None

FILE_IDENTIFIER = b"TFL3"


def prune_available() -> bool:
    return schema is not None


def keep_outputs(model: bytes, outputs: Sequence[str], where: str = "model") -> bytes:
    """The model with only `outputs` (tensor names) and the operators they need.

    ModelError (naming `where`) when a name is not an output of the main graph."""
    if schema is None:
        raise ModelError(f"{where}: cannot prune (ai-edge-litert's flatbuffer schema is missing)")
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    g = m.subgraphs[0]
    by_name = {_name(g.tensors[i]): i for i in g.outputs}
    missing = [n for n in outputs if n not in by_name]
    if missing:
        raise ModelError(f"{where}: no output named {missing} (outputs: {sorted(by_name)})")
    keep_tensors = [by_name[n] for n in outputs]
    producer = {t: k for k, op in enumerate(g.operators) for t in op.outputs}
    needed: set[int] = set()
    stack = list(keep_tensors)
    while stack:
        k = producer.get(stack.pop())
        if k is not None and k not in needed:
            needed.add(k)
            stack.extend(i for i in g.operators[k].inputs if i >= 0)
    g.operators = [op for k, op in enumerate(g.operators) if k in needed]
    g.outputs = keep_tensors
    for sig in m.signatureDefs or []:
        sig.outputs = [t for t in sig.outputs or [] if t.tensorIndex in keep_tensors]
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(m.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def _name(tensor) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name)
