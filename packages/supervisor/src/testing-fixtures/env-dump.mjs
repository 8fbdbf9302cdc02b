// A sandbox child that reports its environment and what it can see, as one JSON line.
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

const [hostPathsJson = '[]', portsJson = '[]'] = process.argv.slice(2);
const tryRead = (p) => {
  try {
    readFileSync(p);
    return 'readable';
  } catch (e) {
    return e.code;
  }
};
const tryConnect = (port) =>
  new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, 2000);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e) => {
      clearTimeout(t);
      resolve(e.code);
    });
  });
const cmdlines = [];
for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
  try {
    cmdlines.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim());
  } catch {}
}
const reads = Object.fromEntries(JSON.parse(hostPathsJson).map((p) => [p, tryRead(p)]));
const connects = {};
for (const port of JSON.parse(portsJson)) connects[port] = await tryConnect(port);
process.stdout.write(`${JSON.stringify({ env: process.env, cwd: process.cwd(), pid: process.pid, cmdlines, reads, connects })}\n`);
