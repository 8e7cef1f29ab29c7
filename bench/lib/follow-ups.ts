import { detectFollowUpSignal } from '../../src/llm/signals';
import type { DomainOutcome } from './domains';
import type { Rng } from './prng';

/**
 * Simulated follow-ups for the domains suite (issue 17): after each autonomous answer the customer either comes
 * back unhappy, says thanks, or stays silent until the follow-up window closes. Each reply goes through the
 * workflow's own rule (`detectFollowUpSignal`), so a complaint the rule does not recognise counts as the product
 * would count it: the AI answers again and the ticket closes as resolved by the AI.
 *
 * The shares are assumptions, not measurements (no real follow-up data here): they are stated in the results.
 */
export const FOLLOW_UP_ASSUMPTIONS = {
  /** Customers given a wrong answer who come back saying it did not help. */
  wrongComesBackUnhappy: 0.8,
  /** Customers given a right answer who still come back unhappy (policy they dislike, misread answer). */
  rightComesBackUnhappy: 0.05,
  /** Customers given a right answer who say thanks (the rest are silent until the window ends). */
  rightSaysThanks: 0.3,
} as const;

/** Written for this simulation: how customers say an answer did not help, and how they say thanks. */
const UNHAPPY_REPLIES = [
  "That didn't help, it's not what I asked.",
  'This does not answer my question.',
  'Wrong answer, my problem is something else.',
  "That's not what I needed at all.",
  'Not helpful. I asked about something different.',
  "It doesn't solve anything, the problem is still there.",
  'That did not work.',
  "Your answer doesn't help me.",
  'this isnt what i meant',
  'Nope, still the same problem.',
];
const THANKS_REPLIES = [
  'Thanks, that solved it!',
  'Great, thank you.',
  'Perfect, all sorted now.',
  'thx, that helped',
];

export interface FollowUpReport {
  tickets: number;
  /** AI replies / tickets: every reply counted as a resolution. */
  naiveResolutionRate: number;
  /** Conversations closed by the AI with no unhappy follow-up / tickets. */
  honestResolutionRate: number;
  aiAnswers: number;
  cameBackUnhappy: number;
  /** Unhappy replies the rule took for a new question (so they still count as resolved by the AI). */
  complaintsMissedByRule: number;
  confirmed: number;
  /** Wrong answers that the honest rate still counts as resolutions (the customer did not come back, or was missed). */
  wrongStillCounted: number;
}

export function simulateFollowUps(outcomes: readonly DomainOutcome[], rng: Rng): FollowUpReport {
  let aiAnswers = 0;
  let unhappy = 0;
  let missed = 0;
  let confirmed = 0;
  let wrongStillCounted = 0;
  for (const outcome of outcomes) {
    if (outcome.verdict === 'escalated') continue;
    aiAnswers += 1;
    const wrong = outcome.verdict === 'wrong';
    const complains =
      rng.next() <
      (wrong ? FOLLOW_UP_ASSUMPTIONS.wrongComesBackUnhappy : FOLLOW_UP_ASSUMPTIONS.rightComesBackUnhappy);
    if (complains) {
      const signal = detectFollowUpSignal(rng.pick(UNHAPPY_REPLIES));
      if (signal === 'unhappy' || signal === 'human') {
        unhappy += 1;
        continue;
      }
      missed += 1;
    } else if (!wrong && rng.next() < FOLLOW_UP_ASSUMPTIONS.rightSaysThanks) {
      if (detectFollowUpSignal(rng.pick(THANKS_REPLIES)) === 'thanks') confirmed += 1;
    }
    if (wrong) wrongStillCounted += 1;
  }
  const tickets = outcomes.length;
  return {
    tickets,
    naiveResolutionRate: tickets > 0 ? aiAnswers / tickets : 0,
    honestResolutionRate: tickets > 0 ? (aiAnswers - unhappy) / tickets : 0,
    aiAnswers,
    cameBackUnhappy: unhappy,
    complaintsMissedByRule: missed,
    confirmed,
    wrongStillCounted,
  };
}
