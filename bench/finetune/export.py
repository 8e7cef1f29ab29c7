# Export a sentence-transformers MiniLM (token vectors; the embedder mean-pools them) to float ONNX that
# onnxruntime-node 1.14 reads (opset 14, IR 7); quantize_weights.py then makes the int8 file the embedder loads.
# Usage: python export.py <model dir> <out dir>
import torch, os, sys, onnx
from sentence_transformers import SentenceTransformer
model_dir, out_dir = sys.argv[1:3]
# Eager attention and a padded batch to trace, so the exported graph keeps the attention mask.
model = SentenceTransformer(model_dir, device='cpu', model_kwargs={'attn_implementation': 'eager'})
hf = model[0].auto_model.eval()
class Wrap(torch.nn.Module):
    def __init__(self, m): super().__init__(); self.m = m
    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
enc = model.tokenizer(['hello world', 'a longer sentence, so that the first one is padded'], padding=True, return_tensors='pt')
os.makedirs(out_dir, exist_ok=True)
torch.onnx.export(Wrap(hf), (enc['input_ids'], enc['attention_mask'], enc['token_type_ids']), os.path.join(out_dir, 'model.onnx'),
    input_names=['input_ids', 'attention_mask', 'token_type_ids'], output_names=['last_hidden_state'],
    dynamic_axes={n: {0: 'batch', 1: 'seq'} for n in ['input_ids', 'attention_mask', 'token_type_ids', 'last_hidden_state']},
    opset_version=14, dynamo=False)
print('done: now python quantize_weights.py', os.path.join(out_dir, 'model.onnx'), os.path.join(out_dir, 'model_quantized.onnx'))
