# Experiment (bench/README.md, issue 13): does a cross-encoder (train_reranker.py) let the gate answer more
# questions correctly within the wrong-answer target? Three gates, each fitted on the FIT candidates only (the most
# correct answers with wrong answers <= 3 % of answered) and then applied unchanged to each REPORT file:
#   bi     - the product's gate: best document's score >= s and margin over the runner-up >= m (embedding model);
#   ce     - the same rule over the reranker's logits instead;
#   combo  - the product's gate (s, m) AND the reranker's top document is the same one AND its logit >= l.
# The reranker scores at most the top 5 retrieved documents (their best passage, as ingestion embeds it).
# Usage: python eval_reranker.py <reranker dir> <fit candidates.json> <report candidates.json> [...]
import itertools, json, sys
import torch
from transformers import AutoTokenizer, AutoModelForSequenceClassification
torch.set_num_threads(2)
model_dir, fit_path, *report_paths = sys.argv[1:]
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()

def load(path):
    rows = []
    for dom in json.load(open(path))['domains']:
        for q in dom['queries']:
            cands = q['candidates'][:5]
            with torch.no_grad():
                enc = tok([q['query']] * len(cands), [c['text'] for c in cands], truncation=True, max_length=256,
                          padding=True, return_tensors='pt')
                logits = model(**enc).logits.reshape(-1).tolist()
            rows.append((dom['domain'], q['topic'], q['covered'], [(c['topic'], c['score'], l) for c, l in zip(cands, logits)]))
    return rows

def top_and_margin(cands, key):
    ranked = sorted(cands, key=key, reverse=True)
    return ranked[0], key(ranked[0]) - (key(ranked[1]) if len(ranked) > 1 else 0.0)

def gate(name, params, cands):
    if name == 'bi':
        (best, margin), (s, m) = top_and_margin(cands, lambda c: c[1]), params
        return best if best[1] >= s and margin >= m else None
    if name == 'ce':
        (best, margin), (l, m) = top_and_margin(cands, lambda c: c[2]), params
        return best if best[2] >= l and margin >= m else None
    (best, margin), (s, m, l) = top_and_margin(cands, lambda c: c[1]), params
    ce_best = max(cands, key=lambda c: c[2])
    return best if best[1] >= s and margin >= m and ce_best[0] == best[0] and ce_best[2] >= l else None

def count(name, params, rows):
    answered = correct = wrong = covered = uncovered = handed_off = 0
    for _, topic, is_covered, cands in rows:
        covered += is_covered; uncovered += not is_covered
        chosen = gate(name, params, cands)
        if chosen is None:
            handed_off += not is_covered
        else:
            answered += 1
            if is_covered and chosen[0] == topic: correct += 1
            else: wrong += 1
    return dict(answered=answered, correct=correct, wrong=wrong, covered=covered, uncovered=uncovered, handed_off=handed_off)

GRIDS = {
    'bi': itertools.product([i / 100 for i in range(30, 90)], [i / 100 for i in range(0, 50)]),
    'ce': itertools.product([i / 4 for i in range(-40, 40)], [i / 4 for i in range(0, 60)]),
    'combo': itertools.product([i / 100 for i in range(40, 80, 2)], [i / 100 for i in range(0, 40, 2)], [i / 2 for i in range(-10, 14)]),
}
fit_rows = load(fit_path)
reports = [(p, load(p)) for p in report_paths]
for name, grid in GRIDS.items():
    best = None
    for params in grid:
        c = count(name, params, fit_rows)
        if c['answered'] and c['wrong'] / c['answered'] <= 0.03 and (best is None or c['correct'] > best[1]['correct']):
            best = (params, c)
    print(f'{name}: fitted {best[0]} on {fit_path}: {best[1]}')
    for path, rows in reports:
        for domain in sorted({r[0] for r in rows}):
            c = count(name, best[0], [r for r in rows if r[0] == domain])
            print(f'  {path} {domain}: correct {c["correct"]}/{c["covered"]}, wrong {c["wrong"]}/{c["answered"]}, '
                  f'handed off {c["handed_off"]}/{c["uncovered"]}')
