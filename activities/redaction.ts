import { redactPii } from '../src/pii';

/** Text with emails, phone, card and IBAN-like numbers replaced by tokens (see src/pii.ts). */
export function redactPiiText(text: string): string {
  return redactPii(text).text;
}
