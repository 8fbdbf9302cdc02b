import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '@openshell/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from './cli-error.js';
import { readActiveGateway, writeActiveGateway, writeGatewayEntry, writeGatewayToken } from './gateway-registry.js';
import { parseGatewayUrl, resolveGateway } from './resolve-gateway.js';

describe('resolveGateway', () => {
  let root: string;
  let env: Record<string, string>;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cli-resolve-'));
    env = { HOME: root, XDG_CONFIG_HOME: join(root, 'cfg') };
    await writeGatewayEntry(env, { name: 'local', url: 'http://127.0.0.1:8787' });
    await writeGatewayToken(env, 'local', new Secret('osa_local-token'));
    await writeGatewayEntry(env, { name: 'prod', url: 'https://gw.example.test/', caCertFile: '/etc/ca.pem' });
    await writeGatewayToken(env, 'prod', new Secret('osa_prod-token'));
    await writeActiveGateway(env, 'local');
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes the token files and entries 0600', async () => {
    for (const f of ['local.token', 'local.json', 'prod.token']) {
      expect((await stat(join(root, 'cfg', 'openshell', 'gateways', f))).mode & 0o777).toBe(0o600);
    }
    expect(await readActiveGateway(env)).toBe('local');
  });

  it('uses --gateway NAME first', async () => {
    const t = await resolveGateway({ ...env, OPENSHELL_GATEWAY_URL: 'http://127.0.0.1:1' }, 'prod');
    expect(t).toMatchObject({ name: 'prod', url: 'https://gw.example.test/', caCertFile: '/etc/ca.pem', via: 'flag' });
    expect(t.token?.reveal()).toBe('osa_prod-token');
  });

  it('then OPENSHELL_GATEWAY_URL with OPENSHELL_ADMIN_TOKEN', async () => {
    const t = await resolveGateway({ ...env, OPENSHELL_GATEWAY_URL: 'http://127.0.0.1:9999', OPENSHELL_ADMIN_TOKEN: 'osa_env' }, undefined);
    expect(t).toMatchObject({ url: 'http://127.0.0.1:9999', via: 'env' });
    expect(t.name).toBeUndefined();
    expect(t.token?.reveal()).toBe('osa_env');
  });

  it('with OPENSHELL_GATEWAY_URL alone, uses the token file of the registered gateway at that URL', async () => {
    const t = await resolveGateway({ ...env, OPENSHELL_GATEWAY_URL: 'https://gw.example.test' }, undefined);
    expect(t).toMatchObject({ name: 'prod', via: 'env' });
    expect(t.token?.reveal()).toBe('osa_prod-token');
  });

  it('falls back to the local gateway token for an unregistered URL', async () => {
    const t = await resolveGateway({ ...env, OPENSHELL_GATEWAY_URL: 'http://127.0.0.1:7000' }, undefined);
    expect(t.token?.reveal()).toBe('osa_local-token');
  });

  it('else the active gateway', async () => {
    const t = await resolveGateway(env, undefined);
    expect(t).toMatchObject({ name: 'local', url: 'http://127.0.0.1:8787', via: 'active' });
    // the token never prints
    expect(JSON.stringify(t)).not.toContain('osa_local-token');
    expect(String(t.token)).toBe('[REDACTED]');
  });

  it('names the fix for an unknown name, a missing configuration, and bad URLs', async () => {
    await expect(resolveGateway(env, 'nope')).rejects.toThrow(/unknown gateway 'nope'/);
    await expect(resolveGateway(env, '../etc')).rejects.toThrow(/invalid gateway name/);
    const empty = { HOME: root, XDG_CONFIG_HOME: join(root, 'empty') };
    const err = await resolveGateway(empty, undefined).catch((e: unknown) => e);
    expect(CliError.isInstance(err) && err.hint).toContain('openshell gateway start');
    expect(() => parseGatewayUrl('ftp://x', '--url')).toThrow(/http or https/);
    expect(() => parseGatewayUrl('http://u:secret@x', '--url')).toThrow(/must not carry credentials/);
    expect(() => parseGatewayUrl('not a url', '--url')).toThrow(/--url is not a valid URL/);
  });
});
