"""Turn an fp16 ONNX model into its fp32 twin: ONNX Runtime's CPU kernels for fp16 convolutions are
about twice as slow as fp32 ones, and the UVDoc file we fetch ships in fp16 only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["fp16_to_fp32"]


def fp16_to_fp32(source: Path, target: Path) -> None:
    """Write `target`: `source` with every fp16 tensor, constant and I/O type widened to fp32."""
    import onnx
    from onnx import TensorProto, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph

    def widen(tensor: TensorProto) -> None:
        if tensor.data_type == TensorProto.FLOAT16:
            array = numpy_helper.to_array(tensor).astype(np.float32)
            tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))

    for initializer in graph.initializer:
        widen(initializer)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR:
                widen(attribute.t)
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i == TensorProto.FLOAT16:
                attribute.i = TensorProto.FLOAT
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT16:
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
