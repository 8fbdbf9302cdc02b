// OpenShell in-namespace relay. bubblewrap runs this as the first process of the sandbox's new
// network namespace, where only a private loopback exists. It is the child's one way out:
//   127.0.0.1:80    transparent http://inference.local   -> supervisor's http.sock
//   127.0.0.1:443   transparent https://inference.local  -> CONNECT inference.local:443 on proxy.sock
//   127.0.0.1:PORT  proxy for HTTP(S)_PROXY clients      -> proxy.sock
// Every connection to a Unix socket starts with "OPENSHELL-RELAY <nonce>\n" so that nothing but
// this namespace can use the sockets. The nonce and socket paths arrive as one JSON line on fd 3,
// never in argv or the environment; later lines on fd 3 are signal names to forward to the child,
// and EOF on fd 3 means the supervisor is gone. Node builtins only: it must run from anywhere.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { constants } from 'node:os';

const CONTROL_FD = 3;
const fail = (message) => {
  process.stderr.write(`openshell-relay: ${message}\n`);
  process.exit(125);
};

// Terminal signals reach the whole process group; the relay itself must not die of them (the
// child gets them from the terminal, or from the supervisor through fd 3).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(sig, () => {});

const command = process.argv.slice(2);
if (command[0] === '--') command.shift();
if (command.length === 0) fail('no command given');

// A socket, not fs.createReadStream: a blocking read of a pipe in the thread pool would stop the
// process from ever exiting.
const control = new net.Socket({ fd: CONTROL_FD, readable: true, writable: false });
control.setEncoding('utf8');
let pending = '';
let config;
let child;
/** Signals that arrived before the child was started, delivered right after spawn. */
const early = [];
const lines = [];
const ready = new Promise((resolve) => {
  control.on('data', (chunk) => {
    pending += chunk;
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      lines.push(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
    while (lines.length > 0) {
      const line = lines.shift();
      if (config === undefined) {
        config = JSON.parse(line);
        resolve();
      } else if (/^SIG[A-Z0-9]+$/.test(line)) {
        if (child === undefined) early.push(line);
        else if (child.exitCode === null) {
          try {
            child.kill(line);
          } catch {}
        }
      }
    }
  });
  control.on('end', () => {
    if (config === undefined) fail('no configuration on fd 3');
    // Supervisor gone: take the child down with us.
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  });
  control.on('error', (err) => fail(`cannot read fd 3: ${err.message}`));
});
await ready;

const preamble = `OPENSHELL-RELAY ${config.nonce}\n`;

function openUpstream(path, first, onReady, onFail) {
  const upstream = net.connect(path);
  upstream.once('connect', () => {
    upstream.write(preamble + first);
    onReady(upstream);
  });
  upstream.once('error', onFail);
  return upstream;
}

function splice(client, upstream) {
  client.pipe(upstream);
  upstream.pipe(client);
  const done = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', done);
  upstream.on('error', done);
  client.on('close', done);
  upstream.on('close', done);
}

function listen(port, onConnection) {
  return new Promise((resolve, reject) => {
    const server = net.createServer(onConnection);
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const onHttp = (client) => {
  client.pause();
  openUpstream(config.httpSocket, '', (up) => {
    splice(client, up);
    client.resume();
  }, () => client.destroy());
};

const onHttps = (client) => {
  client.pause();
  client.on('error', () => client.destroy());
  const connect = 'CONNECT inference.local:443 HTTP/1.1\r\nHost: inference.local:443\r\n\r\n';
  openUpstream(config.proxySocket, connect, (up) => {
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 8192) up.destroy();
        return;
      }
      up.off('data', onData);
      if (!/^HTTP\/1\.[01] 200/.test(head.subarray(0, end).toString('latin1'))) {
        client.destroy();
        up.destroy();
        return;
      }
      const rest = head.subarray(end + 4);
      if (rest.length > 0) client.write(rest);
      splice(client, up);
      client.resume();
    };
    up.on('data', onData);
  }, () => client.destroy());
};

// Ports 80 and 443 need CAP_NET_BIND_SERVICE in the namespace, which bwrap gives only when run as
// root. Without them the transparent path is off, and the supervisor gives Node children a fetch
// preload instead; clients that honour proxy variables are unaffected.
for (const [port, handler] of [
  [80, onHttp],
  [443, onHttps],
]) {
  await listen(port, handler).catch((err) => {
    if (config.requireTransparent) fail(`cannot listen on 127.0.0.1:${port} (${err.code ?? err.message})`);
  });
}

await listen(config.proxyPort, (client) => {
  client.pause();
  openUpstream(config.proxySocket, '', (up) => {
    splice(client, up);
    client.resume();
  }, () => client.destroy());
}).catch((err) => fail(`cannot listen on 127.0.0.1:${config.proxyPort} (${err.code ?? err.message})`));

// 'ignore' on fd 3 replaces the inherited control pipe with /dev/null in the child.
child = spawn(command[0], command.slice(1), { stdio: ['inherit', 'inherit', 'inherit', 'ignore'] });
child.on('error', (err) => fail(`cannot start ${command[0]}: ${err.message}`));
for (const sig of early.splice(0)) {
  try {
    child.kill(sig);
  } catch {}
}
child.on('exit', (code, signal) => {
  control.destroy();
  if (signal !== null) {
    process.exit(128 + (constants.signals[signal] ?? 1));
  }
  process.exit(code ?? 1);
});
