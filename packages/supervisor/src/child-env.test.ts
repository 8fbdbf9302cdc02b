import { describe, expect, it } from 'vitest';
import { buildChildEnvironment, NO_PROXY_VALUE } from './child-env.js';

const base = {
  home: '/ws/home',
  tmpdir: '/ws/tmp',
  proxyUrl: 'http://sandbox:n0nce@127.0.0.1:4000',
  caCertFile: '/ws/run/sandbox-ca.pem',
  caBundleFile: '/ws/run/ca-bundle.pem',
};

describe('buildChildEnvironment', () => {
  it('keeps only allow-listed host variables and LC_*', () => {
    const { env } = buildChildEnvironment({
      ...base,
      hostEnv: {
        PATH: '/usr/bin',
        LANG: 'C.UTF-8',
        LC_ALL: 'C',
        TERM: 'xterm',
        TZ: 'UTC',
        HOME: '/root',
        OPENSHELL_ADMIN_TOKEN: 'admin-secret',
        ANTHROPIC_API_KEY: 'sk-host',
        CLAUDE_CODE_OAUTH_TOKEN: 'host-oauth',
        AWS_SECRET_ACCESS_KEY: 'aws',
        NODE_OPTIONS: '--require /evil.js',
        SSH_AUTH_SOCK: '/tmp/agent',
      },
      injectable: {},
      routes: [],
    });
    expect(env.PATH).toBe('/usr/bin');
    expect(env.LC_ALL).toBe('C');
    expect(env.TZ).toBe('UTC');
    expect(env.HOME).toBe('/ws/home');
    for (const k of ['OPENSHELL_ADMIN_TOKEN', 'ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'NODE_OPTIONS', 'SSH_AUTH_SOCK']) {
      expect(env[k], k).toBeUndefined();
    }
  });

  it('sets proxy variables in both cases, NO_PROXY for loopback, and every CA variable', () => {
    const { env } = buildChildEnvironment({ ...base, hostEnv: {}, injectable: {}, routes: [] });
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) expect(env[k], k).toBe(base.proxyUrl);
    expect(env.NO_PROXY).toBe(NO_PROXY_VALUE);
    expect(env.no_proxy).toBe(NO_PROXY_VALUE);
    expect(env.NO_PROXY).not.toContain('inference.local');
    expect(env.NODE_EXTRA_CA_CERTS).toBe(base.caCertFile);
    for (const k of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO']) expect(env[k], k).toBe(base.caBundleFile);
    expect(env.TMPDIR).toBe('/ws/tmp');
    expect(env.NODE_OPTIONS).toBeUndefined();
  });

  it('layers the injectable environment, then clientEnv; neither can override reserved variables', () => {
    const { env, ignored } = buildChildEnvironment({
      ...base,
      hostEnv: {},
      injectable: { GITHUB_TOKEN: 'ghp_x', ANTHROPIC_BASE_URL: 'https://elsewhere', HTTPS_PROXY: 'http://evil', home: '/x' },
      routes: [
        {
          name: 'inference.local',
          clientEnv: {
            ANTHROPIC_BASE_URL: 'https://inference.local',
            CLAUDE_CODE_OAUTH_TOKEN: 'openshell-placeholder',
            NODE_OPTIONS: '--require x',
          },
        },
      ],
    });
    expect(env.GITHUB_TOKEN).toBe('ghp_x');
    expect(env.ANTHROPIC_BASE_URL).toBe('https://inference.local');
    expect(env.CLAUDE_CODE_OAUTH_TOKEN).toBe('openshell-placeholder');
    expect(env.HTTPS_PROXY).toBe(base.proxyUrl);
    expect(env.home).toBeUndefined();
    expect(env.NODE_OPTIONS).toBeUndefined();
    expect(ignored).toEqual(['environment:HTTPS_PROXY', 'environment:home', 'route inference.local:NODE_OPTIONS']);
  });

  it('adds the fetch preload as a file URL in NODE_OPTIONS', () => {
    const { env } = buildChildEnvironment({ ...base, hostEnv: {}, injectable: {}, routes: [], nodePreload: '/opt/open shell/preload.mjs' });
    expect(env.NODE_OPTIONS).toBe('--import=file:///opt/open%20shell/preload.mjs');
  });
});
