import { splitSentences } from '../llm/text';

/**
 * Figures a text states ("within 30 days", "$12 per seat", "2.5%"), by unit, so two texts about the same thing
 * can be checked for disagreeing numbers: two articles giving different refund windows, or two agents giving
 * customers different answers. Pure functions, no I/O.
 */

export interface Figure {
  /** Normalised unit: day, business_day, hour, minute, week, month, year, percent, usd, eur, gbp, gb, mb, seat, user. */
  unit: string;
  value: number;
  /** The figure as written. */
  text: string;
}

const UNIT_WORDS: Array<[RegExp, string]> = [
  [/^(?:business|working)\s+days?$/i, 'business_day'],
  [/^(?:calendar\s+)?days?$/i, 'day'],
  [/^(?:hours?|hrs?)$/i, 'hour'],
  [/^(?:minutes?|mins?)$/i, 'minute'],
  [/^weeks?$/i, 'week'],
  [/^months?$/i, 'month'],
  [/^years?$/i, 'year'],
  [/^(?:%|percent|per\s?cent)$/i, 'percent'],
  [/^(?:usd|dollars?)$/i, 'usd'],
  [/^(?:eur|euros?)$/i, 'eur'],
  [/^(?:gbp|pounds?)$/i, 'gbp'],
  [/^gb$/i, 'gb'],
  [/^mb$/i, 'mb'],
  [/^seats?$/i, 'seat'],
  [/^users?$/i, 'user'],
];

const NUMBER_WORDS: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  fourteen: 14,
  fifteen: 15,
  twenty: 20,
  thirty: 30,
  sixty: 60,
  ninety: 90,
};

const NUMBER = String.raw`(\d[\d,]*(?:\.\d+)?|${Object.keys(NUMBER_WORDS).join('|')})`;
const UNIT =
  String.raw`(business\s+days?|working\s+days?|calendar\s+days?|days?|hours?|hrs?|minutes?|mins?|weeks?|months?|years?|%|percent|per\s?cent|usd|dollars?|eur|euros?|gbp|pounds?|gb|mb|seats?|users?)`;
const QUANTITY = new RegExp(String.raw`\b${NUMBER}(?:\s*(?:-|–|to)\s*${NUMBER})?[\s-]*${UNIT}(?![\p{L}])`, 'giu');
const MONEY = /([$€£])\s?(\d[\d,]*(?:\.\d+)?)/g;

function parseNumber(raw: string): number {
  const word = NUMBER_WORDS[raw.toLowerCase()];
  return word ?? Number(raw.replace(/,/g, ''));
}

function unitOf(raw: string): string | undefined {
  const compact = raw.replace(/\s+/g, ' ').trim();
  return UNIT_WORDS.find(([pattern]) => pattern.test(compact))?.[1];
}

/** Every figure with a unit in `text` (a range "5-10 business days" gives both ends). */
export function figuresWithUnits(text: string): Figure[] {
  const found: Figure[] = [];
  for (const match of text.matchAll(QUANTITY)) {
    const unit = unitOf(match[3]!);
    if (!unit) continue;
    for (const raw of [match[1], match[2]]) {
      if (raw === undefined) continue;
      const value = parseNumber(raw);
      if (Number.isFinite(value)) found.push({ unit, value, text: match[0].trim() });
    }
  }
  const currency: Record<string, string> = { $: 'usd', '€': 'eur', '£': 'gbp' };
  for (const match of text.matchAll(MONEY)) {
    const value = parseNumber(match[2]!);
    if (Number.isFinite(value)) found.push({ unit: currency[match[1]!]!, value, text: match[0] });
  }
  return found;
}

/** Units both figure lists use, where the values they give share nothing: the texts disagree on that unit. */
export function disagreeingUnits(a: readonly Figure[], b: readonly Figure[]): string[] {
  const units = [...new Set(a.map((f) => f.unit))].filter((unit) => b.some((f) => f.unit === unit));
  return units.filter((unit) => {
    const left = new Set(a.filter((f) => f.unit === unit).map((f) => f.value));
    return !b.some((f) => f.unit === unit && left.has(f.value));
  });
}

export interface FigureSentence {
  text: string;
  figures: Figure[];
  /** The sentence with its numbers replaced, for comparing what two sentences are about. */
  masked: string;
}

/** The sentences of a document that state at least one figure with a unit. */
export function figureSentences(text: string): FigureSentence[] {
  return splitSentences(text)
    .map((sentence) => ({ text: sentence, figures: figuresWithUnits(sentence) }))
    .filter((s) => s.figures.length > 0)
    .map((s) => ({ ...s, masked: maskNumbers(s.text) }));
}

/** Numbers (digits and the number words above) replaced by "N": "within 30 days" → "within N days". */
export function maskNumbers(text: string): string {
  return text
    .replace(/[$€£]?\d[\d,]*(?:\.\d+)?/g, 'N')
    .replace(new RegExp(String.raw`\b(?:${Object.keys(NUMBER_WORDS).join('|')})\b`, 'gi'), 'N');
}
