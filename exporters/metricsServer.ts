// The HTTP endpoint the metrics are served on: --listen parsing (loopback
// unless told otherwise) and a server whose bind failures are one line.
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { UsageError } from '../src/exitCodes.js';

export const DEFAULT_LISTEN = '127.0.0.1:9465';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * HOST:PORT, [IPV6]:PORT, or PORT alone (127.0.0.1). HOST is an IP address or
 * "localhost"; PORT 1..65535 (0: any free port, for tests).
 */
export function parseListen(v: string): ListenAddress {
  const s = v.trim();
  let host = '127.0.0.1';
  let portStr: string;
  let m: RegExpExecArray | null;
  if ((m = /^\[([^\]]+)\]:(\d+)$/.exec(s))) {
    host = m[1];
    portStr = m[2];
    if (isIP(host) !== 6) throw new UsageError(`--listen ${v}: [${host}] is not an IPv6 address`);
  } else if ((m = /^([^:]*):(\d+)$/.exec(s))) {
    host = m[1] || '127.0.0.1';
    portStr = m[2];
    if (host !== 'localhost' && isIP(host) !== 4) throw new UsageError(`--listen ${v}: "${host}" is not an IPv4 address (write IPv6 as [::1]:PORT)`);
  } else if (/^\d+$/.test(s)) {
    portStr = s;
  } else {
    throw new UsageError(`--listen ${v}: expected HOST:PORT, [IPV6]:PORT or PORT (e.g. ${DEFAULT_LISTEN})`);
  }
  const port = Number(portStr);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--listen ${v}: port must be 1..65535`);
  return { host, port };
}

/** HOST:PORT as a URL writes it ([V6]:PORT). */
export function formatListenAddress(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Starts an HTTP server for `handler`; bind failures become one-line UsageErrors. */
export function listenMetrics(listen: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; address: ListenAddress }> {
  const a = parseListen(listen);
  return new Promise((resolve, reject) => {
    const server = createServer(handler);
    const onError = (e: NodeJS.ErrnoException) => {
      server.close();
      const what = formatListenAddress(a);
      if (e.code === 'EADDRINUSE') reject(new UsageError(`--listen ${what}: the port is in use (another uffdscope serve, or a Prometheus exporter?): pick another port`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new UsageError(`--listen ${what}: no such address on this host`));
      else if (e.code === 'EACCES') reject(new UsageError(`--listen ${what}: permission denied (ports below 1024 need privileges)`));
      else reject(new UsageError(`--listen ${what}: ${e.code ?? e.message}`));
    };
    server.once('error', onError);
    server.listen(a.port, a.host, () => {
      server.off('error', onError);
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : a.port;
      resolve({ server, address: { host: a.host, port } });
    });
  });
}
