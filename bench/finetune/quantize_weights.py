# Weight-only int8 for the float ONNX that export.py writes: every large 2-D weight is stored as int8 with one scale
# per output (per row for embedding tables), and turned back into float by Cast + Mul, which onnxruntime folds
# into constants when the session is created. Activations stay float, so a text embeds the same alone or in a
# padded batch; dynamic quantisation (quantize_dynamic) quantises activations per batch and does not (dot 0.994).
# Usage: python quantize_weights.py <model.onnx> <model_quantized.onnx>
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

source, target = sys.argv[1:3]
model = onnx.load(source)
graph = model.graph
consumers = {}
for node in graph.node:
    for name in node.input:
        consumers.setdefault(name, set()).add(node.op_type)
decode = []
for init in list(graph.initializer):
    weights = numpy_helper.to_array(init)
    if weights.dtype != np.float32 or weights.ndim != 2 or weights.size < 4096:
        continue
    # Embedding tables are read by row (Gather); MatMul weights [in, out] by output column.
    axis = 1 if consumers.get(init.name) == {'Gather'} else 0
    scale = np.abs(weights).max(axis=axis, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    quantized = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
    graph.initializer.remove(init)
    graph.initializer.extend([
        numpy_helper.from_array(quantized, f'{init.name}.int8'),
        numpy_helper.from_array(scale.astype(np.float32), f'{init.name}.scale'),
    ])
    decode += [
        helper.make_node('Cast', [f'{init.name}.int8'], [f'{init.name}.float'], to=TensorProto.FLOAT),
        helper.make_node('Mul', [f'{init.name}.float', f'{init.name}.scale'], [init.name]),
    ]
nodes = decode + list(graph.node)
del graph.node[:]
graph.node.extend(nodes)
model.ir_version = min(model.ir_version, 8)
onnx.checker.check_model(model)
onnx.save(model, target)
print('quantized', len(decode) // 2, 'weights; ir', model.ir_version)
