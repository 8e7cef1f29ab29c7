/**
 * Rule-based signals that must not depend on a model's judgement: critical-urgency cues and explicit
 * requests for a human. Pure functions without I/O, so activities (and the workflow bundle, if needed)
 * can apply them to any ticket whichever LLM provider is configured.
 */

export const CRITICAL_SIGNALS = [
  'outage',
  'security_breach',
  'data_loss',
  'legal_threat',
  'chargeback',
] as const;
export type CriticalSignal = (typeof CRITICAL_SIGNALS)[number];

const SURFACE = String.raw`(?:site|website|web ?site|app|application|service|services|platform|server|servers|api|dashboard|system|systems|portal|checkout|store|shop|everything|production|prod|login|log-in)`;

const CRITICAL_PATTERNS: Record<CriticalSignal, RegExp[]> = {
  outage: [
    new RegExp(
      String.raw`\b${SURFACE}\s+(?:is|are|was|were|has been|have been|went|goes|seems|seem|appears|keeps going)\s+(?:to be\s+)?(?:completely\s+|totally\s+|entirely\s+|fully\s+|still\s+)?down\b`,
      'i',
    ),
    /\bdown for (?:everyone|everybody|all\b|all of|the whole|our whole|the entire|our entire|every)/i,
    /(?<!planned |scheduled |maintenance )\b(?:outage|outages)\b/i,
    /\b(?:nobody|no ?one|none of (?:us|our (?:users|customers|team|staff)))(?:\s+(?:on|in|at|from)\s+(?:our|my|the)\s+\w+)?\s+(?:can|is able to|could)\s+(?:log ?in|sign ?in|access|use|reach|load|check ?out)/i,
    /\ball (?:of )?(?:our |my )?(?:users|customers|staff|employees|team members)\s+(?:can'?t|cannot|are unable to|are locked out|are getting errors)/i,
    /\b(?:5\d\d|server) errors? (?:for|on) (?:every|all)\b/i,
    /\b(?:site|service|platform|app) (?:is )?(?:unreachable|inaccessible|offline)\b/i,
  ],
  security_breach: [
    /\b(?:hacked|hacker|hackers|hacking)\b/i,
    /\b(?:security |data )?breach(?:ed)?\b/i,
    /\bunauthori[sz]ed (?:access|login|log-in|sign-?in|user|activity|person|party|logins|transfers?)\b/i,
    /\b(?:account|accounts|credentials|password|api key|token|server)s? (?:was|were|has been|have been|got|is|are|may have been|might have been) (?:compromised|hijacked|taken over|stolen|leaked)\b/i,
    /\bcompromised (?:account|accounts|credentials|password|api key)\b/i,
    /\bsomeone (?:else )?(?:has )?(?:logged|got|gotten|broke|broken|hacked) into (?:my|our)\b/i,
    /\b(?:data|database|customer data|personal data|credentials) (?:leak|leaked|exposed|dump)\b/i,
    /\b(?:security vulnerability|vulnerability|exploit|account takeover)\b/i,
  ],
  data_loss: [
    /\bdata loss\b/i,
    /\b(?:lost|losing|lose)\s+(?:(?:all|most|some|half|years|months)\s+)?(?:of\s+)?(?:(?:my|our|the)\s+)?(?:[a-z]+\s+)?(?:data|files|records|documents|projects|work|history|photos|notes|invoices|database|backups?)\b/i,
    /\b(?:data|files|records|documents|projects|everything|database|history|notes|entries|contacts|backups?)\s+(?:was|were|has been|have been|got|is|are|just|all|seems to be|seem to be|had been)\s+(?:all\s+|completely\s+|permanently\s+)?(?:deleted|wiped|erased|gone|vanished|disappeared|corrupted|missing)\b/i,
    /\b(?:data|files|records|documents|projects|everything|notes|entries|contacts)\s+(?:vanished|disappeared)\b/i,
    /\b(?:wiped|erased) (?:out )?(?:all |my |our )/i,
  ],
  legal_threat: [
    /\b(?:lawyer|lawyers|attorney|attorneys|solicitor|lawsuit|law suit|litigation)\b/i,
    /\b(?:sue|suing)\s+(?:you|your|u\b|the company|this company|them|acme)|\b(?:going to|will|gonna|'ll) sue\b|\bsued\b/i,
    /\blegal (?:action|proceedings|steps|claim|team will|counsel)\b/i,
    /\b(?:small claims|take you to court|see you in court|court)\b/i,
    /\breport(?:ing)? (?:you|this|your company) to (?:the )?(?:ftc|bbb|authorities|regulator|regulators|police|consumer protection|attorney general|data protection authority)/i,
  ],
  chargeback: [
    /\bcharge ?-?backs?\b/i,
    /\bdisput(?:e|ed|ing) (?:the |this |that |these |those |a |my )?(?:charge|charges|payment|payments|transaction|transactions)\b/i,
    /\b(?:file|filed|filing|open|opened|opening|raise|raised) a (?:payment |card |bank )?dispute\b/i,
    /\b(?:my|the) (?:bank|card issuer|credit card company) (?:to )?(?:reverse|dispute|cancel|block) (?:the|this|these|that)\b/i,
    /\b(?:reverse|reversing) the (?:charge|payment|transaction)s? (?:with|through) my (?:bank|card)/i,
  ],
};

/**
 * Words that cancel a cue in the same clause: negations ("there was no data loss", "I'm not going to
 * sue") and hypotheticals ("will I lose my data if I downgrade?", "to prevent a breach").
 */
const NEGATION =
  /\b(?:no|not|never|without|isn'?t|wasn'?t|aren'?t|weren'?t|don'?t|doesn'?t|didn'?t|won'?t|nothing|neither|nor|if|whether|in case|avoid|prevent|will i|would i|could i|might i|do i|does it|worried|afraid)\b/i;
/** Words that keep a cue alive despite a negation ("not working, we lost all our data"). */
const CLAUSE_BREAK = /[.;!?\n]|,|\b(?:but|however|although|though|yet)\b/gi;

function clauseBefore(text: string, index: number): string {
  const before = text.slice(Math.max(0, index - 80), index);
  let cut = 0;
  for (const match of before.matchAll(CLAUSE_BREAK)) cut = (match.index ?? 0) + match[0].length;
  return before.slice(cut);
}

function firstUnnegatedMatch(text: string, pattern: RegExp, window = 4): boolean {
  const global = new RegExp(
    pattern.source,
    pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g',
  );
  for (const match of text.matchAll(global)) {
    const clause = clauseBefore(text, match.index ?? 0);
    const nearby = clause.trim().split(/\s+/).slice(-window).join(' ');
    if (!NEGATION.test(nearby)) return true;
  }
  return false;
}

/**
 * Critical-urgency cues in a ticket: outage for many users, security breach or unauthorized access,
 * data loss, legal threat, chargeback or payment dispute. Returns the signals found (empty if none), in
 * the order of `CRITICAL_SIGNALS`. A cue negated in its own clause ("no data was lost") does not count.
 */
export function detectCriticalSignals(text: string): CriticalSignal[] {
  const normalised = normaliseQuotes(text);
  return CRITICAL_SIGNALS.filter((signal) =>
    CRITICAL_PATTERNS[signal].some((pattern) => firstUnnegatedMatch(normalised, pattern)),
  );
}

const HUMAN_NOUN = String.raw`(?:an? |some |one of your |your |a real |an actual |a live )?(?:real |actual |live |human |proper |competent |support |customer service |customer support )?(?:human(?: being)?s?|person|people|agent|representative|rep|someone|somebody|anyone|anybody|staff(?: member)?|employee|operator|manager|supervisor|team member|member of (?:your |the )?(?:staff|team))`;

const HUMAN_REQUEST_PATTERNS: RegExp[] = [
  new RegExp(
    String.raw`\b(?:talk|speak|chat|communicate|get in touch|be in touch|deal)\s+(?:directly\s+)?(?:to|with)\s+${HUMAN_NOUN}\b`,
    'i',
  ),
  new RegExp(
    String.raw`\b(?:connect|transfer|put|pass|forward|route|hand)\s+(?:me|this|my (?:ticket|case|request))\s+(?:through\s+|over\s+|on\s+)?(?:to|with)\s+${HUMAN_NOUN}\b`,
    'i',
  ),
  /\b(?:real|actual|live|human)\s+(?:human|person|people|agent|being|representative|support)\b/i,
  /\b(?:agent|human|representative|operator|person)\s*,?\s*(?:please|pls|plz|now)\b/i,
  /\b(?:want|need|request|demand|require|get|give me|requesting|like)\s+(?:to have\s+)?(?:an? |some )?(?:human|person|agent|representative|operator|manager|supervisor)\b/i,
  /\b(?:escalate|escalating|escalation)\b(?! (?:policy|matrix|path))/i,
  /\b(?:human|person|people|someone|somebody|agent|representative)\b[^.?!\n]{0,20}\bnot (?:a |an |another |some |your )?(?:bot|robot|machine|ai|chatbot|automated (?:reply|response|answer)|canned (?:reply|response))\b/i,
  /\b(?:no|stop|enough) (?:more )?(?:bots?|chatbots?|robots?|automated (?:replies|responses|answers)|canned (?:replies|responses))\b/i,
  /\bstop (?:the |this |sending )?(?:bot|robot|automated|canned)\b/i,
  /\b(?:can|could|will|would) (?:someone|somebody|a person|an agent|a human|you) (?:please )?(?:call|phone|ring) (?:me|us)\b/i,
  /\bcall me back\b/i,
  // A few other languages (the provider detects en, de, fr, es, it, nl, pt).
  /\b(?:mit einem|einen|eine) (?:menschen|mitarbeiter|mitarbeiterin|echten person|person)\b.*\b(?:sprechen|reden)\b/i,
  /\b(?:parler|discuter) (?:à|a|avec) (?:un|une|quelqu'un|quelqu’un) ?(?:humain|conseiller|conseillère|personne|agent|vrai)?/i,
  /\bhablar con (?:un|una|alguien|una persona|un humano|un agente)\b/i,
  /\bparlare con (?:un|una|qualcuno|un operatore|una persona)\b/i,
  /\b(?:spreken|praten) met (?:een|iemand)\b|\bmet (?:een medewerker|een mens|iemand) (?:spreken|praten)\b/i,
  /\bfalar com (?:um|uma|algu[eé]m|um atendente|uma pessoa)\b/i,
];

/** Negations that mean "no human needed": "I don't need a human", "no need to talk to anyone". */
const HUMAN_NEGATION =
  /\b(?:don'?t|do not|doesn'?t|does not|no need|not necessary|not needed|never|without|rather not|wouldn'?t|would not|no)\b/i;

/**
 * Does the customer explicitly ask for a person ("talk to a human", "real person", "agent please",
 * "speak to someone")? Cheap negation handling: a match whose own clause contains a negation right
 * before it ("I don't need to talk to a human") does not count, while "can't" does not negate ("why
 * can't I talk to a person?" is a request).
 */
export function detectHumanRequest(text: string): boolean {
  const normalised = normaliseQuotes(text);
  return HUMAN_REQUEST_PATTERNS.some((pattern) => {
    const global = new RegExp(pattern.source, pattern.flags + 'g');
    for (const match of normalised.matchAll(global)) {
      const clause = clauseBefore(normalised, match.index ?? 0);
      const nearby = clause.trim().split(/\s+/).slice(-6).join(' ');
      if (!HUMAN_NEGATION.test(nearby)) return true;
    }
    return false;
  });
}

function normaliseQuotes(text: string): string {
  return text.replace(/[\u2018\u2019\u02bc]/g, "'").replace(/[\u201c\u201d]/g, '"');
}

/**
 * What a customer's follow-up means for the conversation, by rules (like the human request, not left to a
 * model): asking for a person, saying the answer did not help, saying thanks/solved, or anything else (a new
 * question for the AI). A message that both thanks and complains ("thanks, but that didn't help") is unhappy.
 */
export type FollowUpSignal = 'human' | 'unhappy' | 'thanks' | 'question';

const UNHAPPY_PATTERNS: RegExp[] = [
  /\b(?:that|this|it|your (?:answer|reply|suggestion))\s+(?:did ?n[o']?t|does ?n[o']?t|didnt|doesnt|did not|does not|won'?t|will not)\s+(?:help|work|solve|fix|answer)/i,
  /\b(?:not|wasn'?t|isn'?t|was not|is not)\s+(?:helpful|useful|what i (?:asked|meant|needed))\b/i,
  /\b(?:still|again)\s+(?:not working|broken|failing|doesn'?t work|does not work|can'?t|cannot|the same (?:problem|issue|error))\b/i,
  /\b(?:useless|unhelpful|wrong answer|that'?s wrong|that is wrong|not (?:my|the) (?:question|problem|issue))\b/i,
  /\b(?:problem|issue|error)\s+(?:is\s+)?(?:still there|persists|not (?:solved|fixed|resolved))\b/i,
];
const THANKS_PATTERNS: RegExp[] = [
  /\b(?:thanks?|thank you|thx|cheers)\b[^?]*$/i,
  /\b(?:that|this|it)\s+(?:solved|fixed|worked|helped|did it|answers? (?:it|my question))\b/i,
  /\b(?:solved|fixed|resolved|works now|working now|all good|sorted)\b[^?]*$/i,
];

export function detectFollowUpSignal(text: string): FollowUpSignal {
  const normalised = normaliseQuotes(text);
  if (detectHumanRequest(normalised)) return 'human';
  if (UNHAPPY_PATTERNS.some((p) => p.test(normalised))) return 'unhappy';
  // Thanks followed by a further question is a question.
  if (THANKS_PATTERNS.some((p) => p.test(normalised)) && !normalised.includes('?')) return 'thanks';
  return 'question';
}
