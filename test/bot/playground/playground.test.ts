import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { parseTyped } from '../../../src/bot/playground/translate.js';
import { tagsCommand } from '../../../src/commands/tags.js';
import { type AnyCommand, defineCommand } from '../../../src/contracts/command.js';
import { deferred } from '../../fakes/backends.js';
import { solidPng } from '../../fakes/images.js';
import { drawCommand, TEST_COMMANDS } from '../discord/harness.js';
import { startPlayground } from './harness.js';

test('typed lines: name:value options, quoted values, free words fill the first text option', () => {
  const commands = TEST_COMMANDS;
  assert.deepEqual(parseTyped('/tags labels:red,green', commands), {
    command: 'tags',
    args: { labels: 'red,green' },
  });
  assert.deepEqual(parseTyped('/draw prompt:"a red square" size:64', commands), {
    command: 'draw',
    args: { prompt: 'a red square', size: '64' },
  });
  assert.deepEqual(parseTyped('/draw a red square', commands), {
    command: 'draw',
    args: { prompt: 'a red square' },
  });
  assert.deepEqual(parseTyped('/ask what colour is it?', commands), {
    command: 'ask',
    args: { question: 'what colour is it?' },
  });
  assert.deepEqual(parseTyped('/alttext mode:on please', commands), {
    command: 'alttext',
    args: { mode: 'on', text: 'please' },
  });
  assert.equal(parseTyped('what colour is it?', commands), undefined);
  assert.equal(parseTyped('/ leading space', commands), undefined);
});

test('the page, its script and the command list are served; the command list hides button-only options', async () => {
  const pg = await startPlayground();
  try {
    assert.match(pg.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(pg.url);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(await page.text(), /<form id="composer"/);
    const script = await fetch(`${pg.url}app.js`);
    assert.match(String(script.headers.get('content-type')), /javascript/);
    assert.match(await script.text(), /EventSource\('\/api\/events'\)/);
    const commands = (await (await fetch(`${pg.url}api/commands`)).json()) as {
      name: string;
      options: { name: string }[];
    }[];
    assert.deepEqual(
      commands.map((c) => c.name),
      TEST_COMMANDS.map((c) => c.name),
    );
    const draw = commands.find((c) => c.name === 'draw');
    assert.deepEqual(
      draw?.options.map((o) => o.name),
      ['prompt', 'size'],
    );
  } finally {
    await pg.stop();
  }
});

test('/tags with an upload: iris shows a pending message, then the tags, as a reply to the message', async () => {
  const pg = await startPlayground();
  try {
    const red = await solidPng('#ff0000');
    const sent = await pg.send('/tags labels:red,green', { files: [{ name: 'red.png', bytes: red }] });
    assert.equal(sent.status, 202);
    const mine = await pg.sse.waitFor((m) => m.id === sent.body.id);
    assert.equal(mine.author, 'you');
    assert.equal(mine.images[0]?.name, 'red.png');
    const shown = await fetch(new URL(mine.images[0]?.url ?? '', pg.url));
    assert.equal(shown.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await shown.arrayBuffer()), red);

    const pending = await pg.sse.waitFor((m) => m.replyTo === sent.body.id && m.pending === true);
    const answer = await pg.answerTo(sent.body.id);
    assert.equal(answer.id, pending.id, 'the pending message is filled in, not a second one');
    assert.match(answer.text, /red/);
    assert.ok(answer.text.indexOf('red') < answer.text.indexOf('green'), answer.text);
    assert.equal(answer.error, undefined);
  } finally {
    await pg.stop();
  }
});

test('images in replies carry their alt text; progress is live; a button press runs its command', async () => {
  const pg = await startPlayground();
  try {
    const sent = await pg.send('/draw a fox');
    const answer = await pg.answerTo(sent.body.id);
    assert.equal(answer.text, 'Drew: a fox');
    const steps = pg.sse.messages.filter((m) => m.id === answer.id && m.progress?.kind === 'running');
    assert.deepEqual(
      steps.map((m) => `${m.progress?.step}/${m.progress?.total}`),
      ['1/2', '2/2'],
    );
    const [image] = answer.images;
    assert.equal(image?.alt, 'A red square: a fox');
    const png = Buffer.from(await (await fetch(new URL(image?.url ?? '', pg.url))).arrayBuffer());
    const { channels } = await sharp(png).stats();
    assert.ok((channels[0]?.mean ?? 0) > 200 && (channels[1]?.mean ?? 255) < 50, 'the image is red');
    assert.deepEqual(
      answer.buttons.map((b) => b.id),
      ['draw:again:red', 'draw:settings:red'],
    );

    const pressed = await pg.press('draw:again:red', answer.id);
    assert.equal(pressed.status, 202);
    const again = await pg.sse.waitFor((m) => m.id === pressed.body.id && !m.pending);
    assert.equal(again.text, 'Drew again (draw:again:red) for local');
    assert.equal(again.replyTo, answer.id);

    const unknown = await pg.press('nosuch:again:x', answer.id);
    const refused = await pg.sse.waitFor((m) => m.id === unknown.body.id && !m.pending);
    assert.match(refused.text, /Unknown command \/nosuch/);
    assert.equal(refused.error?.code, 'unknown_command');
  } finally {
    await pg.stop();
  }
});

test('a job waiting for the GPU shows its queue position, then runs', async () => {
  const release = deferred();
  const started = deferred();
  const hold = defineCommand<undefined>({
    name: 'hold',
    description: 'Holds the GPU until released (test).',
    options: [],
    queue: 'gpu',
    async parse() {
      return undefined;
    },
    async run() {
      started.resolve();
      await release.promise;
      return { text: 'released' };
    },
  });
  const pg = await startPlayground({ commands: [...TEST_COMMANDS, hold] });
  try {
    const held = await pg.send('/hold');
    await started.promise;
    const sent = await pg.send('/draw a cat');
    const queued = await pg.sse.waitFor((m) => m.replyTo === sent.body.id && m.progress?.kind === 'queued');
    assert.equal(queued.progress?.position, 1);
    assert.equal(queued.pending, true);
    release.resolve();
    assert.equal((await pg.answerTo(held.body.id)).text, 'released');
    assert.equal((await pg.answerTo(sent.body.id)).text, 'Drew: a cat');
  } finally {
    release.resolve();
    await pg.stop();
  }
});

test('an upload alone gets alt text; /alttext off stops it; a question replying to an image asks about it', async () => {
  const pg = await startPlayground();
  try {
    const upload = await pg.send('', { files: [{ name: 'wide.png', bytes: await solidPng('#00ff00', 48) }] });
    const alt = await pg.answerTo(upload.body.id);
    assert.equal(alt.text, 'Alt text: AI-generated: A 48x48 picture');

    const question = await pg.send('what is it?', { replyTo: upload.body.id });
    assert.equal((await pg.answerTo(question.body.id)).text, '48x48; earlier: none');
    const followUp = await pg.send('and the colour?');
    assert.equal((await pg.answerTo(followUp.body.id)).text, '48x48; earlier: what is it?');

    const off = await pg.send('/alttext mode:off');
    assert.match((await pg.answerTo(off.body.id)).text, /no longer add alt text/);
    const quiet = await pg.send('', { files: [{ name: 'q.png', bytes: await solidPng('#0000ff') }] });
    const marker = await pg.send('/help');
    await pg.answerTo(marker.body.id);
    assert.equal(
      pg.sse.messages.some((m) => m.replyTo === quiet.body.id),
      false,
      'no alt text after /alttext off',
    );
  } finally {
    await pg.stop();
  }
});

test('without /caption or /ask the playground says so instead of staying silent', async () => {
  const only: AnyCommand[] = [tagsCommand, drawCommand];
  const pg = await startPlayground({ commands: only });
  try {
    const upload = await pg.send('', { files: [{ name: 'a.png', bytes: await solidPng('#ff0000') }] });
    assert.match((await pg.answerTo(upload.body.id)).text, /needs the \/caption command/);
    const question = await pg.send('what is it?', { replyTo: upload.body.id });
    assert.match((await pg.answerTo(question.body.id)).text, /need the \/ask command/);
  } finally {
    await pg.stop();
  }
});

test('bad input gets a clear answer and the channel goes on', async () => {
  const pg = await startPlayground({ overrides: { 'media.maxBytes': 100_000 } });
  try {
    const unknown = await pg.send('/nosuch thing');
    assert.match((await pg.answerTo(unknown.body.id)).text, /Unknown command \/nosuch\. Commands: /);

    const notImage = await pg.send('/tags', {
      files: [{ name: 'notes.txt', bytes: Buffer.from('hello'), type: 'text/plain' }],
    });
    const refusal = await pg.answerTo(notImage.body.id);
    assert.equal(refusal.error?.code, 'bad_image');
    assert.match(refusal.text, /notes\.txt/);

    const big = await sharp({
      create: {
        width: 256,
        height: 256,
        channels: 3,
        background: '#808080',
        noise: { type: 'gaussian', mean: 128, sigma: 60 },
      },
    })
      .png()
      .toBuffer();
    assert.ok(big.length > 100_000 && big.length < 400_000, `${big.length}`);
    const tooBig = await pg.send('/tags', { files: [{ name: 'big.png', bytes: big }] });
    const tooBigAnswer = await pg.answerTo(tooBig.body.id);
    assert.match(tooBigAnswer.text, /big\.png/);
    assert.match(tooBigAnswer.text, /is 0\.2 MB; the limit is 0\.1 MB/);

    const huge = await pg.send('/tags', {
      files: [{ name: 'huge.png', bytes: Buffer.alloc(4 * 100_000 + 70 * 1024) }],
    });
    assert.equal(huge.status, 413);
    assert.match(String(huge.body.error), /too large/);

    const five = await pg.send('/tags', {
      files: Array.from({ length: 5 }, (_, i) => ({ name: `${i}.png`, bytes: Buffer.from([i]) })),
    });
    assert.equal(five.status, 400);
    assert.match(String(five.body.error), /at most 4 images/);

    assert.equal((await pg.send('   ')).status, 400);
    const gone = await pg.send('what?', { replyTo: 'nosuchmessage' });
    assert.equal(gone.status, 400);

    const missing = await pg.send('/draw size:5');
    assert.match((await pg.answerTo(missing.body.id)).text, /`size` must be a whole number from 8 to 1024/);

    const help = await pg.send('/help');
    assert.match((await pg.answerTo(help.body.id)).text, /\/tags/);
  } finally {
    await pg.stop();
  }
});

test('/ask without an image continues the conversation like a plain question; other words get a pointer to /help', async () => {
  const pg = await startPlayground();
  try {
    const cat = await solidPng('#ff0000', 40);
    const first = await pg.send('/ask what colour is the cat?', { files: [{ name: 'cat.png', bytes: cat }] });
    assert.equal((await pg.answerTo(first.body.id)).text, '40x40; earlier: none');
    const again = await pg.send('/ask what did I ask before?');
    assert.equal(
      (await pg.answerTo(again.body.id)).text,
      '40x40; earlier: what colour is the cat?',
      'the command form continues the conversation about the same image',
    );
    const plain = await pg.send('and its size?');
    assert.equal(
      (await pg.answerTo(plain.body.id)).text,
      '40x40; earlier: what colour is the cat? | what did I ask before?',
      'so does a plain question',
    );

    const hello = await pg.send('hello there');
    const pointer = await pg.answerTo(hello.body.id);
    assert.equal(
      pointer.text,
      'I answer questions about images: reply to an image with your question, or use `/ask`. `/help` lists everything I can do.',
      'not an answer about the earlier image',
    );
    assert.equal(pointer.ephemeral, true);
    assert.equal(pointer.error, undefined);
  } finally {
    await pg.stop();
  }
});

test('/alttext on where an admin turned the channel off says how to turn it on for the channel', async () => {
  const pg = await startPlayground();
  try {
    const on = await pg.send('/alttext mode:on');
    assert.equal(
      (await pg.answerTo(on.body.id)).text,
      'iris will add alt text to your uploads in channels where it is on.',
      'the playground is on by default: nothing to add',
    );
    const channelOff = await pg.send('/alttext mode:off scope:channel');
    assert.match((await pg.answerTo(channelOff.body.id)).text, /off in this channel/);
    const again = await pg.send('/alttext mode:on');
    assert.equal(
      (await pg.answerTo(again.body.id)).text,
      'iris will add alt text to your uploads in channels where it is on. It is off in this channel: `/alttext mode:on scope:channel` turns it on for every upload here.',
    );
  } finally {
    await pg.stop();
  }
});
