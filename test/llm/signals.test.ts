import { detectCriticalSignals, detectFollowUpSignal, detectHumanRequest } from '../../src/llm/signals';
import { analyseSentiment, detectLanguage, splitSentences, summarise, toOneLine } from '../../src/llm/text';

describe('detectCriticalSignals', () => {
  it.each([
    ['Your site is down for everyone in our company since 9am', ['outage']],
    ['The whole platform is completely down, customers cannot check out', ['outage']],
    ['Nobody on our team can log in, we get a 502 page', ['outage']],
    ['I think my account was hacked, the email was changed', ['security_breach']],
    ['There was unauthorized access to our workspace last night', ['security_breach']],
    ['Someone logged into my account from Brazil', ['security_breach']],
    ['All our project files are gone after the sync', ['data_loss']],
    ['We lost all of our customer records yesterday', ['data_loss']],
    ['If this is not fixed, our lawyer will contact you', ['legal_threat']],
    ['We are preparing a lawsuit over this', ['legal_threat']],
    ['I have filed a chargeback with my bank', ['chargeback']],
    ['I will dispute the charge with my card issuer', ['chargeback']],
    ['The API is down and I think we were hacked', ['outage', 'security_breach']],
  ])('%s → %j', (text, expected) => {
    expect(detectCriticalSignals(text)).toEqual(expected);
  });

  it.each([
    'How do I download my invoice?',
    'Is the site down? It seems slow for me',
    'Will I lose my data if I downgrade to the free plan?',
    'Good news: there was no data loss after the migration',
    'Hi, this is Sue from accounting, please resend the invoice',
    'Is there a planned outage for maintenance this weekend?',
    'I want all my data deleted when I close my account',
    'I could not scroll down the page in Safari',
    'I am not going to sue anyone, I just want my refund',
  ])('no critical signal in: %s', (text) => {
    expect(detectCriticalSignals(text)).toEqual([]);
  });
});

describe('detectHumanRequest', () => {
  it.each([
    'Can I talk to a human please?',
    'I want to speak to a real person',
    'agent please',
    'Please connect me with an agent',
    'Let me speak to someone who can actually help',
    "Why can't I talk to a person?",
    'I need a human, not a bot',
    'Please escalate this to your supervisor',
    'Could someone call me back today?',
    'Ich möchte bitte mit einem Mitarbeiter sprechen',
    'Je voudrais parler à un conseiller',
    'Quiero hablar con una persona',
  ])('is a request: %s', (text) => {
    expect(detectHumanRequest(text)).toBe(true);
  });

  it.each([
    "I don't need a human, the article was enough",
    'No need to talk to a person, thanks',
    'Please do not escalate, it is solved',
    'Someone charged my card twice',
    'The person who set up our account left',
    'It keeps asking me if I am not a robot',
    'How do I add a new person to my team?',
  ])('is not a request: %s', (text) => {
    expect(detectHumanRequest(text)).toBe(false);
  });
});

describe('text helpers', () => {
  it.each([
    ['de', 'Hallo, ich kann mich seit gestern nicht mehr einloggen. Bitte helfen Sie mir.'],
    ['fr', "Bonjour, je n'arrive pas à télécharger ma facture. Pouvez-vous me l'envoyer ? Merci"],
    ['es', 'Hola, me cobraron dos veces este mes. ¿Pueden devolverme el dinero? Gracias'],
    ['it', 'Buongiorno, non riesco ad accedere al mio account. Potete aiutarmi per favore?'],
    ['nl', 'Hallo, ik kan mijn factuur niet vinden in het dashboard. Kunnen jullie die sturen?'],
    ['pt', 'Olá, não consigo acessar minha conta desde ontem. Vocês podem me ajudar?'],
    ['en', 'Hi, I cannot access my account since yesterday. Can you help me?'],
    ['en', 'Refund?'],
  ])('detectLanguage → %s', (language, text) => {
    expect(detectLanguage(text)).toBe(language);
  });

  it('scores sentiment with negation and ignores acronyms as shouting', () => {
    expect(analyseSentiment('This is unacceptable, worst support ever. I am furious.').sentiment).toBe(
      'negative',
    );
    expect(analyseSentiment('Great product, the new reports are excellent. Love it!').sentiment).toBe(
      'positive',
    );
    expect(analyseSentiment('Where do I find the SAML ACS URL for SSO?').sentiment).toBe('neutral');
    expect(analyseSentiment('The import was not bad at all').score).toBeGreaterThan(
      analyseSentiment('The import was bad').score,
    );
  });

  it('splits sentences without breaking abbreviations, decimals or list items', () => {
    expect(
      splitSentences(
        '# Refunds\n\nWe refund within 14 days, e.g. for annual plans. Version 2.5 is out!\n- Open Settings\n- Click Billing',
      ),
    ).toEqual([
      'Refunds',
      'We refund within 14 days, e.g. for annual plans.',
      'Version 2.5 is out!',
      'Open Settings',
      'Click Billing',
    ]);
  });

  it('summarises on one line of at most 120 characters', () => {
    expect(summarise('Help', 'Hi team,\nmy export keeps failing with error 500. Can you check?')).toBe(
      'Help: my export keeps failing with error 500.',
    );
    expect(summarise('Re: Invoice copy for our accountant', 'body')).toBe('Invoice copy for our accountant');
    const long = summarise('', 'word '.repeat(100));
    expect(long.length).toBeLessThanOrEqual(120);
    expect(long).not.toContain('\n');
    expect(toOneLine('a\n b\tc', 120)).toBe('a b c');
  });
});

describe('detectFollowUpSignal', () => {
  test.each([
    ["That didn't help at all.", 'unhappy'],
    ['This does not work, still the same error.', 'unhappy'],
    ['Thanks, but that did not solve it', 'unhappy'],
    ['Your answer is not what I asked', 'unhappy'],
    ['Great, that solved it, thank you!', 'thanks'],
    ['Thanks!', 'thanks'],
    ['All good now, works now.', 'thanks'],
    ['Thanks. And how long does the refund take?', 'question'],
    ['How do I change my invoice address?', 'question'],
    ['Please let me talk to a human agent.', 'human'],
    ["That didn't help, I want to speak to a real person", 'human'],
  ] as const)('%s → %s', (text, expected) => {
    expect(detectFollowUpSignal(text)).toBe(expected);
  });
});
