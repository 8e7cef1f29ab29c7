import type { Sentiment } from '../domain/ticket';

/** Small text utilities for the local provider (and summary clean-up for any provider). No I/O. */

/** Collapse whitespace to one line and cut at a word boundary, marking the cut with an ellipsis. */
export function toOneLine(text: string, maxChars = 120): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= maxChars) return line;
  const cut = line.slice(0, maxChars - 1);
  const lastSpace = cut.lastIndexOf(' ');
  const base = lastSpace > maxChars * 0.6 ? cut.slice(0, lastSpace) : cut;
  return `${base.replace(/[\s,;:.-]+$/, '')}…`;
}

/** Markdown to plain prose: headings, emphasis, code fences, links and images reduced to their text. */
export function stripMarkdown(text: string): string {
  return text
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/^\s{0,3}#{1,6}\s+/gm, '')
    .replace(/^\s*>\s?/gm, '')
    .replace(/(\*\*|__)(.*?)\1/g, '$2')
    .replace(/(^|\W)[*_](\S(?:.*?\S)?)[*_](?=\W|$)/g, '$1$2')
    .replace(/`([^`]+)`/g, '$1')
    .replace(/^\s*\|?(?:\s*:?-{3,}:?\s*\|)+\s*$/gm, '')
    .replace(/\|/g, ' ');
}

const ABBREVIATIONS =
  /\b(?:e\.g|i\.e|etc|vs|mr|mrs|ms|dr|inc|ltd|no|approx|min|max|fig|z\.b|bzw|ca|p\.ex)\.$/i;

/**
 * Sentences of a text: split after . ! ? (not after common abbreviations or inside numbers), and at
 * line breaks that end a list item or heading. Markdown is stripped first.
 */
export function splitSentences(text: string): string[] {
  const plain = stripMarkdown(text);
  const sentences: string[] = [];
  for (const rawLine of plain.split(/\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)|\n/)) {
    const line = rawLine
      .replace(/^\s*(?:[-*•]|\d+[.)])\s+/, '')
      .replace(/\s+/g, ' ')
      .trim();
    if (!line) continue;
    let start = 0;
    const boundary = /[.!?]+["')\]]?(?=\s+["'([]?[\p{Lu}\p{N}])/gu;
    for (const match of line.matchAll(boundary)) {
      const end = (match.index ?? 0) + match[0].length;
      const candidate = line.slice(start, end).trim();
      if (ABBREVIATIONS.test(candidate)) continue;
      if (candidate) sentences.push(candidate);
      start = end;
    }
    const rest = line.slice(start).trim();
    if (rest) sentences.push(rest);
  }
  return sentences;
}

export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu) ?? [];
}

/**
 * Function words that are frequent in one language and rare in the others; words shared between close
 * languages (es/pt "de", "que") are left out so they do not blur the vote.
 */
const STOP_WORDS: Record<string, readonly string[]> = {
  en: [
    'the',
    'and',
    'is',
    'are',
    'was',
    'you',
    'my',
    'i',
    'to',
    'of',
    'it',
    'this',
    'that',
    'for',
    'with',
    'have',
    'not',
    'can',
    'be',
    'please',
    'what',
    'how',
    'when',
    'we',
    'our',
    'your',
    'would',
    'should',
    'there',
  ],
  de: [
    'und',
    'der',
    'die',
    'das',
    'ist',
    'nicht',
    'ich',
    'mit',
    'sie',
    'ein',
    'eine',
    'auf',
    'für',
    'zu',
    'den',
    'dem',
    'wir',
    'mein',
    'meine',
    'bitte',
    'kann',
    'habe',
    'auch',
    'sich',
    'noch',
    'wie',
    'wurde',
    'ihr',
    'ihre',
    'keine',
  ],
  fr: [
    'le',
    'les',
    'et',
    'est',
    'je',
    'pas',
    'vous',
    'une',
    'des',
    'du',
    'pour',
    'avec',
    'mon',
    'ma',
    'mes',
    'ne',
    'sur',
    'au',
    'aux',
    'ce',
    'cette',
    'qui',
    'nous',
    'votre',
    'merci',
    "j'ai",
    'bonjour',
    'mais',
    'il',
    'elle',
  ],
  es: [
    'el',
    'los',
    'las',
    'y',
    'es',
    'no',
    'yo',
    'mi',
    'mis',
    'por',
    'para',
    'con',
    'una',
    'del',
    'está',
    'pero',
    'cuenta',
    'gracias',
    'hola',
    'tengo',
    'puedo',
    'sus',
    'hay',
    'muy',
    'ya',
    'cuando',
    'nosotros',
    'también',
    'esto',
    'usted',
  ],
  it: [
    'il',
    'lo',
    'gli',
    'e',
    'è',
    'non',
    'che',
    'di',
    'per',
    'con',
    'una',
    'mio',
    'mia',
    'sono',
    'ho',
    'della',
    'del',
    'nel',
    'questo',
    'questa',
    'grazie',
    'buongiorno',
    'ciao',
    'anche',
    'come',
    'ma',
    'più',
    'posso',
    'perché',
    'vostro',
  ],
  nl: [
    'de',
    'het',
    'een',
    'en',
    'is',
    'niet',
    'ik',
    'mijn',
    'van',
    'met',
    'voor',
    'op',
    'dat',
    'die',
    'zijn',
    'wij',
    'we',
    'jullie',
    'kan',
    'heb',
    'graag',
    'bedankt',
    'hallo',
    'ook',
    'maar',
    'wordt',
    'nog',
    'geen',
    'naar',
    'alstublieft',
  ],
  pt: [
    'o',
    'os',
    'as',
    'e',
    'é',
    'não',
    'eu',
    'meu',
    'minha',
    'para',
    'com',
    'uma',
    'do',
    'da',
    'dos',
    'das',
    'em',
    'no',
    'na',
    'obrigado',
    'obrigada',
    'olá',
    'você',
    'está',
    'tenho',
    'posso',
    'mas',
    'também',
    'conta',
    'isso',
  ],
};

const STOP_WORD_SETS = Object.fromEntries(
  Object.entries(STOP_WORDS).map(([lang, list]) => [lang, new Set(list)]),
);

/**
 * ISO 639-1 code by a stop-word vote over en, de, fr, es, it, nl, pt. A language must collect at least
 * two hits and beat the runner-up clearly; otherwise (short or mixed text) the answer is "en".
 */
export function detectLanguage(text: string): string {
  const tokens = words(text).slice(0, 400);
  const scores: Array<[string, number]> = Object.entries(STOP_WORD_SETS).map(([lang, set]) => [
    lang,
    tokens.reduce((count, token) => count + (set.has(token) ? 1 : 0), 0),
  ]);
  scores.sort((a, b) => b[1] - a[1]);
  const [best, runnerUp] = scores;
  if (!best || best[1] < 2) return 'en';
  if (runnerUp && best[1] < runnerUp[1] * 1.25 + 1) return 'en';
  return best[0];
}

const POSITIVE = new Set(
  'appreciate appreciated great love loved lovely excellent awesome amazing helpful happy glad perfect wonderful fantastic nice good pleased smooth easy brilliant kudos impressed enjoy enjoying recommend delighted superb super'.split(
    ' ',
  ),
);
/** Politeness formulas ("thanks", "merci"): a weak push towards positive, since nearly everyone writes them. */
const POLITE = new Set(
  'thanks thank thx cheers merci danke gracias grazie obrigado obrigada bedankt'.split(' '),
);
/** Words of emotion or judgement: full weight. */
const NEGATIVE = new Set(
  'angry furious frustrated frustrating annoyed annoying terrible horrible awful worst worse bad poor disappointed disappointing disappointment unacceptable ridiculous useless unhappy upset hate hated scam fraud ripoff outrageous disgusting incompetent pathetic joke waste wasted nightmare complaint complain complaining ignored rude shameful shocking misled tricked dismissive confusing disorganised disorganized mess sloppy unreliable downhill ruined fed sick tired nobody lies lied liar cheated unprofessional patience trust'.split(
    ' ',
  ),
);
/** Words that report a problem without emotion ("error", "refund"): a weak push towards negative. */
const PROBLEM = new Set(
  'error errors fail failed failing failure broken wrong crash crashes crashed crashing stuck missing lost bug buggy overcharged unauthorized hacked down slow never cancel'.split(
    ' ',
  ),
);
const NEGATORS = new Set([
  'not',
  'no',
  'never',
  "don't",
  "doesn't",
  "didn't",
  "isn't",
  "wasn't",
  "aren't",
  'hardly',
  'nicht',
  'pas',
  'non',
  'longer',
]);
const INTENSIFIERS = new Set([
  'very',
  'really',
  'extremely',
  'so',
  'super',
  'totally',
  'completely',
  'absolutely',
  'incredibly',
  'honestly',
  'frankly',
]);

export interface SentimentScore {
  sentiment: Sentiment;
  /** Positive minus negative evidence, roughly in [-3, 3]. */
  score: number;
}

/**
 * Lexicon sentiment: +1 per positive and -1 per negative word (-0.3 per neutral problem word such as
 * "error"), weakened and flipped by a negator within the two preceding words, ×1.8 after an intensifier;
 * shouting (repeated "!!", a text mostly in capitals) adds negative weight. Normalised by the square root
 * of the length so long tickets are not automatically extreme; |score| ≥ 0.4 leaves "neutral".
 */
export function analyseSentiment(text: string): SentimentScore {
  const tokens = words(text);
  let raw = 0;
  tokens.forEach((token, i) => {
    const polarity = POSITIVE.has(token)
      ? 1
      : NEGATIVE.has(token)
        ? -1
        : POLITE.has(token)
          ? 0.3
          : PROBLEM.has(token)
            ? -0.3
            : 0;
    if (polarity === 0) return;
    const previous = tokens.slice(Math.max(0, i - 2), i);
    const negated = previous.some((word) => NEGATORS.has(word));
    const intensified = previous.some((word) => INTENSIFIERS.has(word));
    raw += polarity * (negated ? -0.7 : 1) * (intensified ? 1.8 : 1);
  });
  // Capitals count only when most words are capitalised: acronyms (SAML, HTTP) are not shouting.
  const capitalWords = text.match(/\b[A-Z]{2,}\b/g)?.length ?? 0;
  const shouting =
    (text.match(/!{2,}/g)?.length ?? 0) + (capitalWords >= 3 && capitalWords > tokens.length * 0.4 ? 2 : 0);
  raw -= Math.min(shouting, 3) * 0.7;
  const score = raw / Math.sqrt(Math.max(tokens.length, 1) / 8 + 1);
  const sentiment: Sentiment = score <= -0.4 ? 'negative' : score >= 0.4 ? 'positive' : 'neutral';
  return { sentiment, score: Math.max(-3, Math.min(3, score)) };
}

/** One line for queues and logs: an informative subject, else subject + first sentence, ≤ 120 chars. */
export function summarise(subject: string, body: string, maxChars = 120): string {
  const cleanSubject = subject
    .replace(/\s+/g, ' ')
    .replace(/^(?:re|fw|fwd|aw|wg):\s*/i, '')
    .trim();
  const firstSentence = splitSentences(body).find((sentence) => words(sentence).length >= 3) ?? body;
  if (words(cleanSubject).length >= 3) return toOneLine(cleanSubject, maxChars);
  if (cleanSubject) return toOneLine(`${cleanSubject}: ${firstSentence}`, maxChars);
  return toOneLine(firstSentence || '(empty ticket)', maxChars);
}
