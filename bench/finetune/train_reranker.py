# Experiment (bench/README.md, issue 13): a cross-encoder reranker trained on the TRAINING domains only. It reads
# a question and one candidate document together and scores "this document answers this question".
# Hyperparameters fixed before any result: one epoch, lr 2e-5, batches of 16 pairs, at most 256 tokens, binary
# cross-entropy. Pairs per `train` query (candidates.json from reranker-data.ts, the default model's top documents):
#   - every retrieved candidate: 1 if it is the article of the query's own topic, else 0 (hard negatives);
#   - a covered topic whose article was not retrieved: its article as an extra positive;
#   - an uncovered topic: a resolution of the same topic (another train query as title, the human answer as body,
#     as activities/learning.ts indexes it) as a positive, and one of another uncovered topic as a negative.
# Usage: python train_reranker.py <candidates.json> <base model dir> <out dir>
import json, random, sys, os
import torch
from transformers import AutoTokenizer, AutoModelForSequenceClassification
random.seed(7); torch.manual_seed(7)
torch.set_num_threads(2)
data_path, base_dir, out = sys.argv[1:4]
data = json.load(open(data_path))
tok = AutoTokenizer.from_pretrained(base_dir)
model = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=1)

def resolution_text(question, answer):
    return f"{question}\n{answer}"

pairs = []
for d in data['domains']:
    article = {}
    for q in d['queries']:
        for c in q['candidates']: article.setdefault(c['topic'], c['text'])
    by_topic = {}
    for q in d['queries']: by_topic.setdefault(q['topic'], []).append(q['query'])
    for q in d['queries']:
        seen = set()
        for c in q['candidates']:
            pairs.append((q['query'], c['text'], 1.0 if c['topic'] == q['topic'] else 0.0)); seen.add(c['topic'])
        if q['covered'] and q['topic'] not in seen and q['topic'] in article:
            pairs.append((q['query'], article[q['topic']], 1.0))
        if not q['covered']:
            other = random.choice([x for x in by_topic[q['topic']] if x != q['query']])
            pairs.append((q['query'], resolution_text(other, d['humanAnswers'][q['topic']]), 1.0))
            rival = random.choice([t for t in d['uncovered'] if t != q['topic']])
            pairs.append((q['query'], resolution_text(random.choice(by_topic[rival]), d['humanAnswers'][rival]), 0.0))
random.shuffle(pairs)
print('pairs', len(pairs), 'positives', sum(p[2] for p in pairs), flush=True)

opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
batches = [pairs[i:i + 16] for i in range(0, len(pairs), 16)]
steps = len(batches)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * max(0.0, (steps - s) / steps))
model.train()
for step, batch in enumerate(batches):
    enc = tok([q for q, _, _ in batch], [t for _, t, _ in batch], truncation=True, max_length=256, padding=True, return_tensors='pt')
    logits = model(**enc).logits.squeeze(-1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([y for _, _, y in batch]))
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    if step % 50 == 0: print('step', step, '/', steps, 'loss', round(loss.item(), 4), flush=True)
model.eval()
os.makedirs(out, exist_ok=True)
model.save_pretrained(out); tok.save_pretrained(out)
