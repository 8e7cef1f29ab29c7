/**
 * Text that Postgres can store: no NUL characters (text columns reject them) and no lone UTF-16 surrogates
 * (jsonb rejects them; they appear when something cuts an emoji in half). Lone surrogates become U+FFFD.
 */
export function storableText(text: string): string {
  return text
    .replaceAll('\u0000', '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** JSON for a jsonb column, with every string made storable. */
export function storableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? storableText(v) : v));
}
