import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * Slack's Socket Mode, server side: the URL apps.connections.open hands out upgrades to a websocket that
 * greets with `hello`, then delivers envelopes `{envelope_id, type, payload, accepts_response_payload}`
 * and expects an ack `{envelope_id, payload?}` back for each.
 */
export class FakeSocketMode {
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #clients = new Set<WebSocket>();
  readonly #pending = new Map<string, (payload: unknown) => void>();
  readonly #connected: { promise: Promise<void>; resolve: () => void };
  /** Acks received, in order. */
  readonly acks: { envelope_id: string; payload?: unknown }[] = [];

  constructor(server: Server) {
    let resolve!: () => void;
    this.#connected = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/socket-mode')) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws));
    });
  }

  /** Resolves once a client has connected and been greeted. */
  get connected(): Promise<void> {
    return this.#connected.promise;
  }

  #onConnection(ws: WebSocket): void {
    this.#clients.add(ws);
    ws.on('close', () => this.#clients.delete(ws));
    ws.on('message', (data) => {
      const ack = JSON.parse(String(data)) as { envelope_id: string; payload?: unknown };
      this.acks.push(ack);
      this.#pending.get(ack.envelope_id)?.(ack.payload);
      this.#pending.delete(ack.envelope_id);
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake', approximate_connection_time: 18060 },
        connection_info: { app_id: 'A0FAKE' },
      }),
    );
    this.#connected.resolve();
  }

  /** Sends one envelope and resolves with the ack's payload; rejects when no ack comes in time. */
  deliver(
    type: 'slash_commands' | 'events_api' | 'interactive',
    payload: Record<string, unknown>,
    timeoutMs = 3000,
  ): Promise<unknown> {
    const ws = [...this.#clients][0];
    if (!ws) return Promise.reject(new Error('fake Socket Mode: no client connected'));
    const envelopeId = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(envelopeId);
        reject(new Error(`fake Socket Mode: envelope ${type} not acked within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(envelopeId, (ackPayload) => {
        clearTimeout(timer);
        resolve(ackPayload);
      });
      ws.send(
        JSON.stringify({
          envelope_id: envelopeId,
          type,
          payload,
          accepts_response_payload: type !== 'events_api',
          ...(type === 'events_api' ? { retry_attempt: 0, retry_reason: '' } : {}),
        }),
      );
    });
  }

  async close(): Promise<void> {
    for (const ws of this.#clients) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}
