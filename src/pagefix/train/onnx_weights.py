"""Move weights between the classifier's ONNX graph and `PPLCNet`, both ways.

Reading walks the graph in node order and pairs every weight-carrying node (Conv, the bias Add
after a Conv or MatMul, BatchNormalization, MatMul) with the next PyTorch layer of the same kind.
Writing puts trained tensors back into a copy of the same graph under the same initializer
names, so the exported model has exactly the shipped graph, inputs, outputs and softmax; only the
numbers change. Shapes are checked on the way in and out: a graph of another network fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from ..errors import ModelStoreError

_Net = TypeVar("_Net", bound=nn.Module)

__all__ = ["load_onnx_weights", "write_onnx_weights"]


@dataclass
class _Slot:
    kind: str  # "conv", "bn" or "linear"
    names: list[str]  # initializer names: conv [weight], bn [scale, bias, mean, var], linear [weight]
    bias: str | None = None
    node: str = ""


def _graph_slots(model: onnx.ModelProto) -> list[_Slot]:
    initializers = {init.name for init in model.graph.initializer}
    slots: list[_Slot] = []
    for node in model.graph.node:
        if node.op_type == "Conv":
            slot = _Slot("conv", [node.input[1]], node=node.name)
            if len(node.input) > 2 and node.input[2]:
                slot.bias = node.input[2]
            slots.append(slot)
        elif node.op_type == "BatchNormalization":
            slots.append(_Slot("bn", list(node.input[1:5]), node=node.name))
        elif node.op_type == "MatMul" and node.input[1] in initializers:
            slots.append(_Slot("linear", [node.input[1]], node=node.name))
        elif node.op_type == "Add":
            constant = [name for name in node.input if name in initializers]
            if constant and slots and slots[-1].kind in ("conv", "linear") and slots[-1].bias is None:
                slots[-1].bias = constant[0]
    return slots


_Layer = nn.Conv2d | nn.BatchNorm2d | nn.Linear


def _torch_layers(net: nn.Module) -> list[_Layer]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]


_KIND = {nn.Conv2d: "conv", nn.BatchNorm2d: "bn", nn.Linear: "linear"}


def _pairs(model: onnx.ModelProto, net: nn.Module) -> list[tuple[_Slot, _Layer]]:
    slots, layers = _graph_slots(model), _torch_layers(net)
    if len(slots) != len(layers):
        raise ModelStoreError(
            f"the ONNX graph has {len(slots)} weight layers, the PyTorch network {len(layers)}: "
            "not a PP-LCNet_x1_0 classifier"
        )
    for slot, layer in zip(slots, layers):
        if _KIND[type(layer)] != slot.kind:
            raise ModelStoreError(f"graph node {slot.node} is a {slot.kind}, the network has a {type(layer).__name__} there")
    return list(zip(slots, layers))


def _running_stats(layer: nn.BatchNorm2d, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    if layer.running_mean is None or layer.running_var is None:  # built with track_running_stats=False
        raise ModelStoreError(f"{where}: the network's batch norm keeps no running statistics")
    return layer.running_mean, layer.running_var


def _copy_in(param: torch.Tensor, value: np.ndarray, where: str) -> None:
    tensor = torch.from_numpy(np.array(value, dtype=np.float32))  # a writable copy
    if tensor.numel() != param.numel():
        raise ModelStoreError(f"{where}: graph tensor {tuple(value.shape)} does not fit {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(tensor.reshape(param.shape))


def load_onnx_weights(net: _Net, path: str | Path) -> _Net:
    """Fill `net` (a `PPLCNet`) with the weights of the ONNX classifier at `path`."""
    model = onnx.load(str(path))
    arrays = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for slot, layer in _pairs(model, net):
        if isinstance(layer, nn.Conv2d):
            _copy_in(layer.weight, arrays[slot.names[0]], slot.node)
            if layer.bias is not None:
                if slot.bias is None:
                    raise ModelStoreError(f"graph conv {slot.node} has no bias, the network expects one")
                _copy_in(layer.bias, arrays[slot.bias], slot.node)
        elif isinstance(layer, nn.BatchNorm2d):
            scale, shift, mean, var = (arrays[name] for name in slot.names)
            running_mean, running_var = _running_stats(layer, slot.node)
            _copy_in(layer.weight, scale, slot.node)
            _copy_in(layer.bias, shift, slot.node)
            _copy_in(running_mean, mean, slot.node)
            _copy_in(running_var, var, slot.node)
        else:  # Linear: the graph multiplies x @ W with W [in, out]; torch stores [out, in]
            if slot.bias is None:
                raise ModelStoreError(f"graph MatMul {slot.node} has no bias Add after it")
            _copy_in(layer.weight, arrays[slot.names[0]].T, slot.node)
            _copy_in(layer.bias, arrays[slot.bias], slot.node)
    return net


def write_onnx_weights(net: nn.Module, template: str | Path, target: str | Path) -> None:
    """Write `net`'s weights into a copy of the graph at `template`, saved as `target`."""
    model = onnx.load(str(template))
    current = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    updates: dict[str, np.ndarray] = {}

    def put(name: str, tensor: torch.Tensor) -> None:
        value = tensor.detach().cpu().numpy().astype(current[name].dtype)
        if value.size != current[name].size:
            raise ModelStoreError(f"cannot write {tuple(value.shape)} into graph tensor {name} {current[name].shape}")
        updates[name] = value.reshape(current[name].shape)

    for slot, layer in _pairs(model, net):
        if isinstance(layer, nn.Conv2d):
            put(slot.names[0], layer.weight)
            if layer.bias is not None and slot.bias is not None:
                put(slot.bias, layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            for name, tensor in zip(slot.names, (layer.weight, layer.bias, *_running_stats(layer, slot.node))):
                put(name, tensor)
        else:
            put(slot.names[0], layer.weight.T)
            if slot.bias is not None:
                put(slot.bias, layer.bias)
    for init in model.graph.initializer:
        if init.name in updates:
            init.CopyFrom(numpy_helper.from_array(updates[init.name], init.name))
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
