import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';

/** Gateway opcodes (API v10). */
export const OP = { dispatch: 0, heartbeat: 1, identify: 2, resume: 6, hello: 10, heartbeatAck: 11 } as const;

export interface Identify {
  token: string;
  intents: number;
}

interface Session {
  socket: WebSocket;
  seq: number;
  identify?: Identify;
}

/**
 * The WebSocket half of the fake: HELLO → IDENTIFY → READY + GUILD_CREATE, heartbeats answered with
 * ACKs, then dispatches. One session per connected client (a restarted adapter is a new session).
 */
export class FakeGateway {
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #sessions = new Set<Session>();
  readonly identifies: Identify[] = [];
  heartbeats = 0;
  readonly #heartbeatMs: number;
  readonly #onIdentify: (identify: Identify) => { ready: unknown; guilds: unknown[] };

  readonly #refusedIntents: number;

  constructor(options: {
    heartbeatMs: number;
    /** Intent bits the application may not use (privileged ones not enabled in the portal): close 4014. */
    refusedIntents?: number;
    onIdentify: (identify: Identify) => { ready: unknown; guilds: unknown[] };
  }) {
    this.#heartbeatMs = options.heartbeatMs;
    this.#onIdentify = options.onIdentify;
    this.#refusedIntents = options.refusedIntents ?? 0;
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
  }

  #send(session: Session, payload: { op: number; d: unknown; t?: string }): void {
    const seq = payload.op === OP.dispatch ? ++session.seq : null;
    session.socket.send(JSON.stringify({ s: seq, t: payload.t ?? null, ...payload }));
  }

  #accept(socket: WebSocket): void {
    const session: Session = { socket, seq: 0 };
    this.#sessions.add(session);
    socket.on('close', () => this.#sessions.delete(session));
    socket.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { op: number; d: unknown };
      if (msg.op === OP.heartbeat) {
        this.heartbeats++;
        this.#send(session, { op: OP.heartbeatAck, d: null });
      } else if (msg.op === OP.identify) {
        const identify = msg.d as Identify;
        if (identify.intents & this.#refusedIntents) {
          socket.close(4014, 'Disallowed intent(s).');
          return;
        }
        session.identify = identify;
        this.identifies.push(identify);
        const { ready, guilds } = this.#onIdentify(identify);
        this.#send(session, { op: OP.dispatch, t: 'READY', d: ready });
        for (const guild of guilds) this.#send(session, { op: OP.dispatch, t: 'GUILD_CREATE', d: guild });
      } else if (msg.op === OP.resume) {
        // Sessions are not kept across connections: ask for a fresh IDENTIFY.
        socket.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
      }
    });
    this.#send(session, { op: OP.hello, d: { heartbeat_interval: this.#heartbeatMs } });
  }

  /** Sends an event to every identified session; `shape` may tailor it to the session's intents. */
  dispatch(t: string, shape: (identify: Identify) => unknown): number {
    let sent = 0;
    for (const session of this.#sessions) {
      if (!session.identify) continue;
      this.#send(session, { op: OP.dispatch, t, d: shape(session.identify) });
      sent++;
    }
    return sent;
  }

  get readySessions(): number {
    return [...this.#sessions].filter((s) => s.identify).length;
  }

  async close(): Promise<void> {
    for (const s of this.#sessions) s.socket.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}
