/**
 * The real /imagine through Bolt and the fake Slack: the picture goes up with files.uploadV2 with alt text
 * on the file and Reroll/Vary buttons under it; a press on Vary runs a variation. The painter is a fake
 * backend (a solid PNG whose colour follows the seed); the command, its parsing, its buttons and the
 * Slack adapter are the real ones.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { imagineCommand } from '../../../src/commands/imagine.js';
import type { TaskIO } from '../../../src/contracts/backend.js';
import { fakeBackends, neutralSafety } from '../../fakes/backends.js';
import { solidPng } from '../../fakes/images.js';
import { blockActionPayload } from '../../fakes/slack/sign.js';
import { type Harness, startHarness } from './harness.js';

const painted: TaskIO['imagine']['in'][] = [];
let h: Harness;
before(async () => {
  h = await startHarness({
    commands: [imagineCommand],
    registry: fakeBackends({
      safety: neutralSafety,
      imagine: async (input) => {
        painted.push(input);
        const images = await Promise.all(
          Array.from({ length: input.count }, async (_, i) => ({
            png: await solidPng(input.seed % 2 ? '#ff0000' : '#0000ff', 16),
            width: input.width,
            height: input.height,
            seed: input.seed + i,
          })),
        );
        return { images, scheduler: 'euler', steps: input.steps };
      },
    }),
  });
});
after(() => h.stop());

interface Block {
  type: string;
  text?: { text: string };
  elements?: { action_id: string; value: string; text: { text: string } }[];
}

test('/imagine posts the picture with alt text, its seed and Reroll/Vary buttons; Vary makes a variation of it', async () => {
  // Someone's upload in the channel is not taken as a start image: /imagine only varies when asked to.
  const upload = h.fake.addFile({ name: 'cat.png', bytes: await solidPng('#00ff00'), mimetype: 'image/png' });
  h.fake.addMessage({ channel: 'CIMG', user: 'UCAROL', text: '', files: [upload] });

  await h.command({ command: '/imagine', text: 'a red square --seed 7', channel_id: 'CIMG' });
  const posted = await h.fake.waitForMessage(
    (m) => m.channel === 'CIMG' && m.user === 'UBOT' && Boolean(m.files?.length),
    15_000,
  );
  assert.equal(painted.length, 1);
  assert.equal(painted[0]?.prompt, 'a red square');
  assert.equal(painted[0]?.seed, 7);
  assert.equal(painted[0]?.init, undefined, 'not a variation of the channel’s upload');
  const [file] = posted.files ?? [];
  assert.match(file?.alt_txt ?? '', /^AI-generated: .*a red square/i);
  assert.equal(file?.bytes.subarray(1, 4).toString('latin1'), 'PNG');
  const blocks = posted.blocks as Block[];
  assert.match(blocks[0]?.text?.text ?? '', /seed 7/);
  const buttons = blocks.find((b) => b.type === 'actions')?.elements ?? [];
  const labels = buttons.map((b) => b.text.text);
  assert.ok(labels.includes('Reroll'), labels.join(', '));
  const vary = buttons.find((b) => /^Vary/.test(b.text.text));
  assert.ok(vary, labels.join(', '));

  await h.interactive(
    blockActionPayload({
      user: 'UBOB',
      channel: 'CIMG',
      messageTs: posted.ts,
      actionId: vary.action_id,
      value: vary.value,
    }),
  );
  await h.fake.waitForMessage(
    (m) => m.channel === 'CIMG' && m.user === 'UBOT' && Boolean(m.files?.length) && m !== posted,
    15_000,
  );
  const variation = painted.find((p) => p.init);
  assert.ok(variation, 'a press on Vary ran img2img');
  assert.equal(variation.prompt, 'a red square');
  assert.ok(variation.init && variation.init.strength > 0 && variation.init.strength <= 1);
});
