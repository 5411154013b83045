import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChatFacts, helpPointer, isQuestion, planChat, planChatMessage } from '../../src/core/chat.js';
import { MemorySettingsStore } from '../../src/core/settings.js';

test('questions: a question mark, or a question or request word first; greetings and thanks are not', () => {
  for (const q of [
    'what colour is it?',
    'What is this',
    "what's on the sign",
    'is it red',
    'and its size',
    'describe it',
    'how many cats',
    'really?',
    'red or blue ?  ',
  ])
    assert.equal(isQuestion(q), true, q);
  for (const q of ['hello there', 'thanks!', 'nice one', 'whatever.', 'island view', ''])
    assert.equal(isQuestion(q), false, q);
});

const facts = (f: Partial<ChatFacts>): ChatFacts => ({
  text: '',
  ownImages: 0,
  repliedImages: 0,
  mentioned: false,
  direct: false,
  followsIris: false,
  ...f,
});

test('one plan for every platform: what a chat message asks of iris', () => {
  const cases: [Partial<ChatFacts>, ReturnType<typeof planChat>][] = [
    // a question with its own image, to iris
    [
      { text: 'what is it?', ownImages: 1, mentioned: true },
      { kind: 'ask', about: 'own' },
    ],
    [
      { text: 'what is it?', ownImages: 1, direct: true },
      { kind: 'ask', about: 'own' },
    ],
    // own image, not to iris: the upload gets alt text, the words are for people
    [{ text: 'look at this', ownImages: 1 }, { kind: 'alttext' }],
    // a reply to an image asks about it, to iris or not
    [
      { text: 'what is it?', repliedImages: 1 },
      { kind: 'ask', about: 'replied' },
    ],
    [
      { text: 'and the shape', repliedImages: 1, followsIris: true },
      { kind: 'ask', about: 'replied' },
    ],
    // no image at hand: a question continues the conversation's image, other words get the pointer
    [
      { text: 'what did I ask before?', direct: true },
      { kind: 'ask', about: 'conversation' },
    ],
    [
      { text: 'and its size', followsIris: true },
      { kind: 'ask', about: 'conversation' },
    ],
    [{ text: 'hello there', direct: true }, { kind: 'help' }],
    [{ text: 'hello there', mentioned: true }, { kind: 'help' }],
    [{ text: 'thanks', followsIris: true }, { kind: 'help' }],
    // not to iris, no image: nothing
    [{ text: 'what time is lunch?' }, { kind: 'none' }],
    // a mention with images and no words describes them; a bare mention gets the pointer
    [
      { mentioned: true, ownImages: 2 },
      { kind: 'caption', about: 'own' },
    ],
    [
      { mentioned: true, repliedImages: 1 },
      { kind: 'caption', about: 'replied' },
    ],
    [{ mentioned: true }, { kind: 'help' }],
    // images alone: automatic alt text (the playground's uploads, which are not a mention)
    [{ ownImages: 1, direct: true }, { kind: 'alttext' }],
    [{}, { kind: 'none' }],
  ];
  for (const [f, plan] of cases) assert.deepEqual(planChat(facts(f)), plan, JSON.stringify(f));
});

test('the pointer names the platform’s own commands', () => {
  assert.equal(
    helpPointer({ ask: '/iris ask', help: '/iris help' }),
    'I answer questions about images: reply to an image with your question, or use `/iris ask`. `/iris help` lists everything I can do.',
  );
});

test('images with nothing asked: alt text only for undescribed images outside threads', () => {
  assert.deepEqual(planChat(facts({ ownImages: 2, describedImages: 1 })), { kind: 'alttext' });
  assert.deepEqual(planChat(facts({ ownImages: 2, describedImages: 2 })), { kind: 'none' });
  assert.deepEqual(planChat(facts({ ownImages: 1, inThread: true })), { kind: 'none' });
});

test('the planner applies /alttext: channel config, an admin choice, the uploader opting out', async () => {
  const settings = new MemorySettingsStore();
  const upload = facts({ ownImages: 1 });
  const sender = { platform: 'discord', userId: 'u1', conversation: 'discord:c1:t9' };
  const plan = (configured: boolean, store: MemorySettingsStore | undefined = settings) =>
    planChatMessage(upload, { sender, altText: { configured, settings: store } });
  assert.deepEqual(await plan(true), { kind: 'alttext' });
  assert.deepEqual(await plan(false), { kind: 'none' }, 'channel not configured');
  assert.deepEqual(await plan(false, undefined), { kind: 'none' }, 'no settings: config decides');
  assert.deepEqual(await plan(true, undefined), { kind: 'alttext' });
  await settings.set('alttext:channel:discord:c1', 'on');
  assert.deepEqual(await plan(false), { kind: 'alttext' }, "an admin's choice beats config, covers threads");
  await settings.set('alttext:user:discord:u1', 'off');
  assert.deepEqual(await plan(true), { kind: 'none' }, 'the uploader opted out');
  // Questions are not alt text: the opt-out does not touch them.
  assert.deepEqual(
    await planChatMessage(facts({ text: 'what is it?', ownImages: 1, mentioned: true }), {
      sender,
      altText: { configured: true, settings },
    }),
    { kind: 'ask', about: 'own' },
  );
});
