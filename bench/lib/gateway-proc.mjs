// The real gateway (createGateway on a temp SQLite dir) in its own process, driven over IPC.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGateway } from '@openshell/server';

let gw;

process.on('message', async (msg) => {
  try {
    if (msg.op === 'start') {
      gw = await createGateway({
        dataDir: join(msg.dir, 'data'),
        configDir: join(msg.dir, 'config'),
        kek: randomBytes(32),
        listen: { host: '127.0.0.1', port: 0 },
        refresh: msg.refresh === true,
        ...(msg.profilesDir ? { profilesDir: msg.profilesDir } : {}),
        logLevel: 'warn',
        logStream: process.stderr,
      });
      await gw.start();
      const adminToken = (await readFile(join(msg.dir, 'config', 'gateways', 'local.token'), 'utf8')).trim();
      process.send({ ok: true, url: gw.url, adminToken });
    } else if (msg.op === 'close') {
      await gw?.close();
      process.send({ ok: true });
      process.disconnect();
      setTimeout(() => process.exit(0), 50);
    }
  } catch (err) {
    process.send({ ok: false, error: err instanceof Error ? err.stack : String(err) });
  }
});
