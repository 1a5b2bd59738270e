"""An ONNX TensorProto (dims, data type, name, raw little-endian data) written from a numpy array without the onnx
package: the `.pb` test-data files `tessel run --inputs` and `tessel check` read. Used by export-families.py and
ort-shapes.py (the GPU script copies it beside them); its varint encoder also by train-fashion-mnist.py."""
import numpy as np

def varint(v):
    """A protobuf varint; a negative value as its 64-bit two's complement, as protobuf writes an int64."""
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, wire, payload):
    return varint((num << 3) | wire) + payload


# fields: dims 1, data_type 2, name 8, raw_data 9
ONNX_TYPES = {np.dtype("float32"): 1, np.dtype("int64"): 7, np.dtype("int32"): 6, np.dtype("bool"): 9, np.dtype("float16"): 10}


def tensor_proto(arr, name):
    arr = np.asarray(arr)   # (not ascontiguousarray: it makes a scalar 1-D; tobytes() writes C order anyway)
    if arr.dtype not in ONNX_TYPES:
        raise ValueError(f"tensor {name}: dtype {arr.dtype} has no ONNX code here")
    b = b"".join(_field(1, 0, varint(int(d))) for d in arr.shape)
    b += _field(2, 0, varint(ONNX_TYPES[arr.dtype]))
    nb = name.encode()
    b += _field(8, 2, varint(len(nb)) + nb)
    raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    b += _field(9, 2, varint(len(raw)) + raw)
    return b
