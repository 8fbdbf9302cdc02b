// nginx doing the boundary's job as closely as stock nginx can: strip client auth, set the bearer,
// and append the OAuth beta when missing (a `map` on $http_anthropic_beta; no real list merge).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './net.mjs';

export function nginxAvailable() {
  return spawnSync('nginx', ['-v']).status === 0;
}

/** `tls: {cert, key}` (PEM) adds a TLS listener (`tlsPort`) doing the same job. */
export async function startNginx({ upstreamPort, token, workers = 1, tls }) {
  const dir = mkdtempSync(join(tmpdir(), 'openshell-bench-nginx-'));
  mkdirSync(join(dir, 'logs'));
  const port = await freePort();
  const tlsPort = tls ? await freePort() : undefined;
  if (tls) {
    writeFileSync(join(dir, 'cert.pem'), tls.cert);
    writeFileSync(join(dir, 'key.pem'), tls.key, { mode: 0o600 });
  }
  const location = `
    location / {
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_set_header Connection "";
      proxy_set_header Host "api.anthropic.com";
      proxy_set_header Authorization "Bearer ${token}";
      proxy_set_header X-Api-Key "";
      proxy_set_header Proxy-Authorization "";
      proxy_set_header Anthropic-Beta $merged_beta;
    }`;
  const conf = `
worker_processes ${workers};
error_log ${dir}/logs/error.log error;
pid ${dir}/nginx.pid;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000;
  upstream model { server 127.0.0.1:${upstreamPort}; keepalive 256; }
  map $http_anthropic_beta $merged_beta {
    "~*oauth-2025-04-20" $http_anthropic_beta;
    "" "oauth-2025-04-20";
    default "$http_anthropic_beta,oauth-2025-04-20";
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_timeout 60s;
${location}
  }
${tls ? `  server {
    listen 127.0.0.1:${tlsPort} ssl;
    keepalive_timeout 60s;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    ssl_session_cache shared:SSL:1m;
${location}
  }` : ''}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(port);
  if (tlsPort) await waitForPort(tlsPort);
  return {
    port,
    tlsPort,
    pid: proc.pid,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      proc.kill('SIGQUIT');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
