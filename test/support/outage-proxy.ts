/**
 * A plain TCP relay in front of a server that a test can take down and bring back: down closes its
 * listening port and every open connection, so a client pointed at it finds nothing there (connection
 * refused) — the server itself, shared by other test files, keeps running; up listens on the same port
 * again. For outages (test/month.test.ts: MESH unreachable for three simulated days).
 *
 *   const proxy = await startOutageProxy({ target: meshUrl });
 *   // … point the worker at proxy.url …
 *   await proxy.down();   // unreachable
 *   await proxy.up();     // back
 *   await proxy.close();
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface OutageProxy {
  /** The target's URL with the relay's host and port. */
  url: string;
  readonly isDown: boolean;
  /** Connections relayed so far. */
  readonly connections: number;
  /** Stops listening and cuts every open connection: the port is closed. */
  down(): Promise<void>;
  /** Listens on the same port again. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startOutageProxy(options: { target: string; host?: string }): Promise<OutageProxy> {
  const target = new URL(options.target);
  const targetPort = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const host = options.host ?? '127.0.0.1';
  const open = new Set<net.Socket>();
  let connections = 0;
  let isDown = false;

  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(targetPort, target.hostname);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      open.clear();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  await listen(0);
  const { port } = server.address() as AddressInfo;
  const url = new URL(options.target);
  url.hostname = host;
  url.port = String(port);
  return {
    url: url.toString().replace(/\/$/, ''),
    get isDown() {
      return isDown;
    },
    get connections() {
      return connections;
    },
    async down() {
      isDown = true;
      await stop();
    },
    async up() {
      await listen(port);
      isDown = false;
    },
    close: stop,
  };
}
