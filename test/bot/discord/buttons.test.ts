import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineCommand } from '../../../src/contracts/command.js';
import { UserError } from '../../../src/errors.js';
import { alice, bob, finalEdit, startDiscord } from './harness.js';

test('a button press after the adapter restarts is routed to its command; only the requester or an admin may press', async () => {
  const h = await startDiscord();
  try {
    const drawn = h.fake.interaction({
      kind: 'command',
      name: 'draw',
      user: alice,
      options: { prompt: 'a fox' },
    });
    await finalEdit(h.fake, drawn.token, (j) => /^Drew: a fox/.test(j.content ?? ''));
    const message = [...h.fake.messages.values()].find(
      (m) => (m.interaction_metadata as { id: string } | undefined)?.id === drawn.id,
    );
    assert.ok(message, 'the reply message is kept by the fake');
    assert.equal((message.components as { components: unknown[] }[])[0]?.components.length, 2);

    await h.restart();
    assert.equal(h.fake.gateway.identifies.length, 2, 'a new gateway session');

    const press = h.fake.interaction({ kind: 'button', customId: 'draw:again:red', user: alice, message });
    const callback = await h.fake.waitFor(
      (r) => r.path === `/interactions/${press.id}/${press.token}/callback`,
    );
    assert.equal(callback.json.type, 5);
    const edit = await finalEdit(h.fake, press.token, (j) => /^Drew again/.test(j.content ?? ''));
    assert.equal(edit.json.content, `Drew again (draw:again:red) for ${alice.id}`);
    assert.equal(edit.files[0]?.description, 'A red square: a red square');

    const stranger = h.fake.interaction({ kind: 'button', customId: 'draw:again:red', user: bob, message });
    const note = await h.fake.waitFor(
      (r) => r.path === `/interactions/${stranger.id}/${stranger.token}/callback`,
    );
    assert.equal(note.json.type, 4);
    assert.equal(note.json.data.flags, 64, 'only the presser sees the note');
    assert.match(note.json.data.content, new RegExp(`Only <@${alice.id}> \\(or a server admin\\)`));

    const look = h.fake.interaction({ kind: 'button', customId: 'draw:settings:red', user: bob, message });
    await finalEdit(h.fake, look.token, (j) => /^Drew again \(draw:settings:red\)/.test(j.content ?? ''));

    const admin = h.fake.interaction({
      kind: 'button',
      customId: 'draw:again:red',
      user: bob,
      admin: true,
      message,
    });
    await finalEdit(h.fake, admin.token, (j) => j.content === `Drew again (draw:again:red) for ${bob.id}`);

    const unknown = h.fake.interaction({ kind: 'button', customId: 'nosuch:again:x', user: alice, message });
    const refused = await h.fake.waitFor(
      (r) => r.path === `/interactions/${unknown.id}/${unknown.token}/callback`,
    );
    assert.match(refused.json.data.content, /Unknown command \/nosuch/);
  } finally {
    await h.stop();
  }
});

test('a command that decodes its own button ids gets the decoded options; an unreadable id is a short note', async () => {
  const pick = defineCommand<{ n: number }>({
    name: 'pick',
    description: 'Pick a number (test command with buttons that carry it).',
    options: [{ name: 'n', type: 'integer', description: 'The number.', required: true, min: 1, max: 9 }],
    fromButton(id) {
      const n = /^pick:choose:(\d)$/.exec(id)?.[1];
      if (!n) throw new UserError('bad_option', 'This button is from an older iris; run /pick again.');
      return { n };
    },
    async parse({ args }) {
      return { n: Number(args.n) };
    },
    async run({ n }) {
      return { text: `picked ${n}`, buttons: [{ id: `pick:choose:${(n % 9) + 1}`, label: 'Next' }] };
    },
  });
  const h = await startDiscord({ commands: [pick] });
  try {
    const first = h.fake.interaction({ kind: 'command', name: 'pick', user: alice, options: { n: 4 } });
    await finalEdit(h.fake, first.token, (j) => j.content === 'picked 4');
    const message = [...h.fake.messages.values()].find(
      (m) => (m.interaction_metadata as { id: string } | undefined)?.id === first.id,
    );
    assert.ok(message);
    const press = h.fake.interaction({ kind: 'button', customId: 'pick:choose:5', user: alice, message });
    await finalEdit(h.fake, press.token, (j) => j.content === 'picked 5');
    const stale = h.fake.interaction({ kind: 'button', customId: 'pick:choose:x', user: alice, message });
    const note = await h.fake.waitFor((r) => r.path === `/interactions/${stale.id}/${stale.token}/callback`);
    assert.equal(note.json.data.content, 'This button is from an older iris; run /pick again.');
    assert.equal(note.json.data.flags, 64);
  } finally {
    await h.stop();
  }
});
