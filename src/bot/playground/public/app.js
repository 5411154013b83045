// The playground page: plain JS, no build step. Messages arrive over SSE (/api/events) and are
// upserted by id, so progress updates replace the pending message in place.
const $ = (id) => document.getElementById(id);
const list = $('messages');
const form = $('composer');
const text = $('text');
const files = $('files');
let replyTo = null;
let commands = [];
// The server takes writes only with the token it served this page with (a cross-site page has none).
const token = document.querySelector('meta[name="iris-token"]')?.content ?? '';

function el(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

function progressNode(p) {
  if (p.kind === 'queued')
    return el('div', {
      className: 'progress',
      textContent: p.position > 0 ? `Queued: ${p.position} ahead of you…` : 'Starting…',
    });
  const box = el('div', { className: 'progress' });
  if (p.total)
    box.append(el('progress', { max: p.total, value: p.step ?? 0 }), ` step ${p.step ?? 0}/${p.total} `);
  box.append(p.message ?? (p.total ? '' : 'Working…'));
  if (p.previewUrl)
    box.append(
      el('div', { className: 'images' }, [
        el('img', { src: p.previewUrl, alt: 'Preview of the image being made' }),
      ]),
    );
  return box;
}

function render(m) {
  const node = el('article', { id: `m-${m.id}`, className: `message ${m.author}` });
  node.dataset.id = m.id;
  node.dataset.author = m.author;
  node.dataset.pending = m.pending ? 'true' : 'false';
  if (m.error) node.classList.add('error');
  if (m.ephemeral) node.classList.add('ephemeral');
  node.append(
    el('div', {
      className: 'author',
      textContent: m.author === 'iris' ? `iris${m.ephemeral ? ' (only you can see this)' : ''}` : 'you',
    }),
  );
  if (m.replyTo) {
    const quoted = document.getElementById(`m-${m.replyTo}`)?.querySelector('.text');
    node.append(
      el('div', { className: 'quote', textContent: `↪ ${quoted?.textContent?.slice(0, 80) || 'an image'}` }),
    );
  }
  if (m.pending && !m.progress)
    node.append(el('div', { className: 'progress', textContent: 'iris is thinking…' }));
  if (m.progress) node.append(progressNode(m.progress));
  if (m.text) node.append(el('div', { className: 'text', textContent: m.text }));
  if (m.files.length)
    node.append(el('div', { className: 'text', textContent: `Attached: ${m.files.join(', ')}` }));
  if (m.images.length) {
    node.append(
      el(
        'div',
        { className: 'images' },
        m.images.map((i) => el('img', { src: i.url, alt: i.alt, title: i.alt })),
      ),
    );
  }
  if (m.buttons.length) {
    node.append(
      el(
        'div',
        { className: 'buttons' },
        m.buttons.map((b) => {
          const button = el('button', {
            type: 'button',
            textContent: b.label,
            className: b.style ?? 'secondary',
          });
          button.dataset.buttonId = b.id;
          button.addEventListener('click', () => press(b.id, m.id));
          return button;
        }),
      ),
    );
  }
  if (m.images.length || m.files.length) {
    const reply = el('button', { type: 'button', textContent: 'Reply', className: 'reply' });
    reply.addEventListener('click', () => startReply(m.id));
    node.append(el('div', { className: 'actions' }, [reply]));
  }
  return node;
}

function upsert(m) {
  const old = document.getElementById(`m-${m.id}`);
  const node = render(m);
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  if (old) old.replaceWith(node);
  else list.append(node);
  if (atBottom || !old) list.scrollTop = list.scrollHeight;
}

function startReply(id) {
  replyTo = id;
  $('replying').hidden = false;
  text.placeholder = 'Ask a question about this image, or a /command for it';
  text.focus();
}

$('cancel-reply').addEventListener('click', () => {
  replyTo = null;
  $('replying').hidden = true;
});

files.addEventListener('change', () => {
  const names = [...files.files].map((f) => f.name);
  $('attached').hidden = names.length === 0;
  $('attached').textContent = names.length ? `Attached: ${names.join(', ')}` : '';
});

async function press(id, messageId) {
  const res = await fetch('/api/buttons', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-iris-token': token },
    body: JSON.stringify({ id, messageId }),
  });
  if (!res.ok) $('status').textContent = (await res.json()).error;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = new FormData();
  body.set('text', text.value);
  for (const f of files.files) body.append('files', f);
  if (replyTo) body.set('replyTo', replyTo);
  $('status').textContent = '';
  const res = await fetch('/api/messages', { method: 'POST', body, headers: { 'x-iris-token': token } });
  if (!res.ok) {
    $('status').textContent = (await res.json().catch(() => ({ error: `HTTP ${res.status}` }))).error;
    return;
  }
  text.value = '';
  files.value = '';
  files.dispatchEvent(new Event('change'));
  replyTo = null;
  $('replying').hidden = true;
});

text.addEventListener('input', () => {
  const name = /^\/(\S+)/.exec(text.value)?.[1];
  const command = commands.find((c) => c.name === name);
  $('hint').textContent = command
    ? `/${command.name} — ${command.description} ${command.options.map((o) => (o.type === 'image' ? `[${o.name}: attach]` : `${o.name}:${o.choices ? o.choices.join('|') : '…'}${o.required ? '' : '?'}`)).join(' ')}`
    : '';
});

async function loadCommands() {
  commands = await (await fetch('/api/commands')).json();
  $('command-names').replaceChildren(
    ...commands.map((c) => el('option', { value: `/${c.name} `, label: c.description })),
  );
}

// What the server says people should know first (demo models, missing models): a title, lines, one command.
function showBanner(banner) {
  const box = $('banner');
  box.hidden = !banner;
  if (!banner) return;
  box.replaceChildren(
    el('strong', { textContent: banner.title }),
    ...banner.lines.map((line) => el('p', { textContent: line })),
    el('code', { textContent: banner.command }),
  );
}

const events = new EventSource('/api/events');
events.addEventListener('ready', (e) => {
  showBanner(JSON.parse(e.data).banner);
  list.replaceChildren();
  document.body.dataset.connected = 'true';
});
events.addEventListener('message', (e) => upsert(JSON.parse(e.data)));
events.addEventListener('error', () => {
  document.body.dataset.connected = 'false';
});
loadCommands();
