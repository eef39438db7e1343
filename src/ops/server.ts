import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import type { HealthReport } from './health.js';

export interface OpsServerOptions {
  host: string;
  /** 0 picks a free port (see `address()`). */
  port: number;
  /** Sync for one process; the sharding manager's asks its shards. */
  health: () => HealthReport | Promise<HealthReport>;
  metrics: { text(): Promise<string>; readonly contentType: string };
  log: Pick<Logger, 'warn'>;
}

export interface OpsServer {
  address(): { host: string; port: number };
  close(): Promise<void>;
}

/**
 * `/healthz` and `/metrics` on a small node:http server (two read-only
 * routes do not need a framework). It has no authentication: it listens on
 * 127.0.0.1 unless the operator chooses an address, and answers nothing
 * but health and counters.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    void handle(req, res, options);
  });
  // A scraper that hangs must not hold a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => options.log.warn({ err }, 'ops server error'));
  return {
    address() {
      const a = server.address() as AddressInfo;
      return { host: a.address, port: a.port };
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, options: OpsServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/healthz' && path !== '/metrics') return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (path === '/healthz') {
    let report: HealthReport;
    try {
      report = await options.health();
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      report = { status: 'fail', failed: ['health'], checks: { health: { ok: false, detail } } };
    }
    return send(res, report.status === 'ok' ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`, req);
  }
  try {
    const text = await options.metrics.text();
    send(res, 200, options.metrics.contentType, text, req);
  } catch (err) {
    options.log.warn({ err }, 'metrics collection failed');
    send(res, 500, 'text/plain; charset=utf-8', 'metrics unavailable\n', req);
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string, req?: http.IncomingMessage): void {
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(req?.method === 'HEAD' ? undefined : body);
}
