"""A stand-in for OpenCV Zoo's YuNet, for `cv2.FaceDetectorYN`: an ONNX graph with YuNet's
interface and hand-set weights, so where it finds a "face" is known.

The interface (as OpenCV's objdetect/src/face_detect.cpp reads it): input `input`, a BGR
0-255 image [1, 3, H, W] padded to multiples of 32; outputs `cls_S`, `obj_S` (scores 0-1),
`bbox_S` (centre offset in cells, log of size in cells) and `kps_S` (five landmarks) for
strides S = 8, 16, 32, each [1, N, 1 | 1 | 4 | 10] with N = (H/S) * (W/S), row-major cells.

The weights: a stride-32 cell whose pixels are all pure blue scores sigmoid(5) = 0.9933 and
gets a 64 x 64 box centred on the cell (the cell doubled around its centre); nothing else
scores. Blue, because BGR channel 0 is blue: a detector fed RGB would find nothing.

Written as raw protobuf because `torch.onnx.export` needs the `onnx` package, which Strobe
does not depend on. Field numbers are onnx.proto's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

STRIDES = (8, 16, 32)
HEADS = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}  # output channels
FACE_STRIDE = 32
FACE_LOGIT = 5.0  # at a cell that is all blue
FACE_SCORE = 1.0 / (1.0 + math.exp(-FACE_LOGIT))  # sqrt(cls * obj) with both equal
NO_FACE_LOGIT = -20.0
BOX_CELLS = 2.0  # box side, in cells
OPSET = 13
IR_VERSION = 7
FLOAT, INT64 = 1, 7  # TensorProto.DataType
ATTR_INTS = 7  # AttributeProto.AttributeType


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode())


def _tensor(name: str, array: np.ndarray) -> bytes:
    kind = INT64 if array.dtype == np.int64 else FLOAT
    data = array.astype("<i8" if kind == INT64 else "<f4").tobytes()
    dims = b"".join(_int(1, d) for d in array.shape)
    return dims + _int(2, kind) + _str(8, name) + _bytes(9, data)


def _node(op: str, inputs: list[str], output: str, **ints: list[int]) -> bytes:
    attrs = b"".join(
        _bytes(5, _str(1, key) + _int(20, ATTR_INTS) + b"".join(_int(8, v) for v in values))
        for key, values in ints.items()
    )
    return b"".join(_str(1, i) for i in inputs) + _str(2, output) + _str(4, op) + attrs


def _value_info(name: str, dims: list[int | str]) -> bytes:
    shape = b"".join(_bytes(1, _str(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, FLOAT) + _bytes(2, shape)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def _head(head: str, stride: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Conv weights [channels, 3, stride, stride] and bias for one output."""
    weight = np.zeros((channels, 3, stride, stride), np.float32)
    bias = np.zeros(channels, np.float32)
    if head in ("cls", "obj"):
        bias[:] = NO_FACE_LOGIT
        if stride == FACE_STRIDE:
            # logit = 50 * (mean blue / 255) - 45: 5 at all blue, -45 at none.
            gain = FACE_LOGIT / 0.1
            weight[0, 0] = gain / (255.0 * stride * stride)
            bias[:] = FACE_LOGIT - gain
    elif head == "bbox":
        bias[:] = (0.5, 0.5, math.log(BOX_CELLS), math.log(BOX_CELLS))
    return weight, bias


def write_model(path: Path) -> Path:
    """Each output: a stride x stride conv with that stride (one value per cell), a sigmoid
    for scores, then [1, C, h, w] -> [1, h * w, C]."""
    nodes, initializers, outputs = [], [], []
    for head, channels in HEADS.items():
        initializers.append(_tensor(f"{head}_shape", np.array([1, -1, channels], np.int64)))
    for stride in STRIDES:
        for head, channels in HEADS.items():
            name = f"{head}_{stride}"
            weight, bias = _head(head, stride, channels)
            initializers += [_tensor(f"{name}_w", weight), _tensor(f"{name}_b", bias)]
            conv = [
                _node(
                    "Conv",
                    ["input", f"{name}_w", f"{name}_b"],
                    f"{name}_conv",
                    kernel_shape=[stride, stride],
                    strides=[stride, stride],
                )
            ]
            last = f"{name}_conv"
            if head in ("cls", "obj"):
                conv.append(_node("Sigmoid", [last], f"{name}_sigmoid"))
                last = f"{name}_sigmoid"
            conv.append(_node("Transpose", [last], f"{name}_hwc", perm=[0, 2, 3, 1]))
            conv.append(_node("Reshape", [f"{name}_hwc", f"{head}_shape"], name))
            nodes += conv
            outputs.append(_value_info(name, [1, f"cells_{stride}", channels]))
    graph = (
        b"".join(_bytes(1, n) for n in nodes)
        + _str(2, "yunet-stand-in")
        + b"".join(_bytes(5, t) for t in initializers)
        + _bytes(11, _value_info("input", [1, 3, "height", "width"]))
        + b"".join(_bytes(12, o) for o in outputs)
    )
    opset = _str(1, "") + _int(2, OPSET)
    model = _int(1, IR_VERSION) + _str(2, "strobe-tests") + _bytes(7, graph) + _bytes(8, opset)
    path.write_bytes(model)
    return path
