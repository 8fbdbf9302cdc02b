// Starts one real supervisor (see supervisor-proc.mjs) and describes how to reach its proxy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forkIpc } from './proc.mjs';

export async function startSupervisor({ gatewayUrl, token, dir, sandbox = 'bench-0', execArgv, logLevel, env }) {
  const proc = forkIpc('supervisor-proc.mjs', { logFile: join(dir, `supervisor-${sandbox}.log`), ...(execArgv ? { execArgv } : {}), ...(env ? { env } : {}) });
  const { proxyUrl, caCertFile } = await proc.call({ op: 'start', gatewayUrl, sandbox, token, workspace: join(dir, `ws-${sandbox}`), ...(logLevel ? { logLevel } : {}) });
  const u = new URL(proxyUrl);
  const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  return {
    pid: proc.pid,
    port: Number(u.port),
    url: `http://${u.hostname}:${u.port}`,
    proxyAuthorization: `Basic ${basic}`,
    caPem: readFileSync(caCertFile, 'utf8'),
    close: async () => {
      await proc.call({ op: 'close' }, 20_000).catch(() => undefined);
      await proc.kill();
    },
  };
}
