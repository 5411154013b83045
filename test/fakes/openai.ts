/**
 * A fake OpenAI-compatible chat-completions server (node:http) for the Groq backend: the real groq-sdk
 * talks to it over HTTP. It checks the bearer key, parses each request into its messages, images and
 * text, and answers from a script (status, headers, body) or, when the script is empty, with `respond`.
 * Served at /openai/v1/chat/completions (groq-sdk's path) and /v1/chat/completions.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatMessage {
  role: string;
  content: string | { type: string; text?: string; image_url?: { url: string } }[];
}

export interface ChatRequest {
  body: { model: string; messages: ChatMessage[]; response_format?: { type: string } } & Record<
    string,
    unknown
  >;
  /** Decoded images from data URLs, in order. */
  images: { mime: string; bytes: Buffer }[];
  /** The conversation as [role, text] pairs (image parts left out). */
  turns: [string, string][];
  at: number;
}

export interface FakeResponse {
  status?: number;
  headers?: Record<string, string>;
  /** JSON body; a string is sent as is. */
  body?: unknown;
  /** Never answer (for timeouts). */
  hang?: boolean;
  /** Answer only once this settles (a job the test holds running). */
  after?: Promise<unknown>;
}

export function completion(content: string | null): FakeResponse {
  return {
    body: {
      id: 'chatcmpl-fake',
      object: 'chat.completion',
      created: 0,
      model: 'fake',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    },
  };
}

function parse(body: ChatRequest['body']): Omit<ChatRequest, 'body' | 'at'> {
  const images: ChatRequest['images'] = [];
  const turns: [string, string][] = [];
  for (const m of body.messages ?? []) {
    if (typeof m.content === 'string') {
      turns.push([m.role, m.content]);
      continue;
    }
    const texts: string[] = [];
    for (const part of m.content) {
      if (part.type === 'text' && part.text !== undefined) texts.push(part.text);
      if (part.type === 'image_url') {
        const match = /^data:(image\/[a-z]+);base64,(.*)$/s.exec(part.image_url?.url ?? '');
        if (!match)
          throw new Error(`image_url is not a base64 data URL: ${part.image_url?.url?.slice(0, 40)}`);
        images.push({ mime: match[1] as string, bytes: Buffer.from(match[2] as string, 'base64') });
      }
    }
    turns.push([m.role, texts.join(' ')]);
  }
  return { images, turns };
}

export async function startFakeOpenAI(options: {
  apiKey: string;
  respond?: (req: ChatRequest) => FakeResponse;
}) {
  const requests: ChatRequest[] = [];
  const script: FakeResponse[] = [];
  const hanging: ServerResponse[] = [];
  const send = (res: ServerResponse, r: FakeResponse) => {
    if (r.hang) {
      hanging.push(res);
      return;
    }
    if (r.after) {
      const { after, ...rest } = r;
      hanging.push(res);
      void after.finally(() => send(res, rest));
      return;
    }
    const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body ?? {});
    res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers }).end(text);
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || !/^(\/openai)?\/v1\/chat\/completions$/.test(req.url ?? '')) {
      return send(res, { status: 404, body: { error: { message: `no route ${req.method} ${req.url}` } } });
    }
    if (req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return send(res, {
        status: 401,
        body: { error: { message: 'Invalid API Key', type: 'invalid_request_error' } },
      });
    }
    let request: ChatRequest;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      request = { body, ...parse(body), at: Date.now() };
    } catch (e) {
      return send(res, { status: 400, body: { error: { message: (e as Error).message } } });
    }
    requests.push(request);
    const next = script.shift() ?? options.respond?.(request) ?? completion('ok');
    send(res, next);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Responses for the next requests, in order. */
    script(...responses: FakeResponse[]) {
      script.push(...responses);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
