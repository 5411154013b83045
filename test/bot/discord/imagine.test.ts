/**
 * The real /imagine through discord.js and the fake Discord: deferred, then the picture as an attachment
 * whose description is the alt text, the seed in the text, Reroll/Vary buttons; pressing Vary runs a
 * variation. The painter is a fake backend; the command, its button ids and the adapter are the real ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imagineCommand } from '../../../src/commands/imagine.js';
import type { TaskIO } from '../../../src/contracts/backend.js';
import { fakeBackends, neutralSafety } from '../../fakes/backends.js';
import { solidPng } from '../../fakes/images.js';
import { alice, finalEdit, startDiscord } from './harness.js';

test('/imagine answers with the picture (alt text on the attachment), its seed and Reroll/Vary; Vary makes a variation', async () => {
  const painted: TaskIO['imagine']['in'][] = [];
  const h = await startDiscord({
    commands: [imagineCommand],
    registry: fakeBackends({
      safety: neutralSafety,
      imagine: async (input) => {
        painted.push(input);
        const png = await solidPng('#ff0000', 16);
        return {
          images: [{ png, width: input.width, height: input.height, seed: input.seed }],
          scheduler: 'euler',
          steps: input.steps,
        };
      },
    }),
  });
  try {
    const asked = h.fake.interaction({
      kind: 'command',
      name: 'imagine',
      user: alice,
      options: { prompt: 'a red square', seed: 7 },
    });
    const edit = await finalEdit(h.fake, asked.token, (j) => /seed 7/.test(j.content ?? ''));
    assert.equal(painted[0]?.prompt, 'a red square');
    assert.equal(painted[0]?.seed, 7);
    assert.equal(painted[0]?.init, undefined);
    assert.match(edit.files[0]?.description ?? '', /^AI-generated: .*a red square/i);
    assert.ok(edit.files[0]?.description && edit.files[0].description.length <= 1024);

    const message = [...h.fake.messages.values()].find(
      (m) => (m.interaction_metadata as { id: string } | undefined)?.id === asked.id,
    );
    assert.ok(message, 'the reply message is kept by the fake');
    const buttons = (message.components as { components: { custom_id: string; label: string }[] }[]).flatMap(
      (row) => row.components,
    );
    assert.ok(
      buttons.some((b) => b.label === 'Reroll'),
      buttons.map((b) => b.label).join(', '),
    );
    const vary = buttons.find((b) => /^Vary/.test(b.label));
    assert.ok(vary && vary.custom_id.length <= 100, 'a Vary button with an id Discord accepts');

    const press = h.fake.interaction({ kind: 'button', customId: vary.custom_id, user: alice, message });
    await finalEdit(h.fake, press.token, (j) => /a red square/.test(j.content ?? ''));
    const variation = painted.find((p) => p.init);
    assert.ok(variation, 'the press ran img2img');
    assert.equal(variation.prompt, 'a red square');
  } finally {
    await h.stop();
  }
});
