"""Inference runtimes (LiteRT, ONNX Runtime) behind one small interface."""
