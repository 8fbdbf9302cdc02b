// Shared set-up of the supervisor's end-to-end tests: a fake Anthropic upstream, a gateway, a
// workspace in a temp dir, and runSupervisor with captured logs.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret } from '@openshell/core';
import { canary, createFakeAnthropic, type FakeAnthropic } from '@openshell/testing';
import type { IsolationMode } from '../isolation.js';
import { runSupervisor, type SupervisorOptions, type SupervisorReadyInfo, type SupervisorResult } from '../supervisor.js';
import { anthropicOauthRoute, type FakeGateway, startFakeGateway } from './fake-gateway.js';

export const SDK_CLIENT = fileURLToPath(new URL('./sdk-client.mjs', import.meta.url));
export const ENV_DUMP = fileURLToPath(new URL('./env-dump.mjs', import.meta.url));
export const RUN_BIN = fileURLToPath(new URL('./run-bin.ts', import.meta.url));
export const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
/** The checkout's root (its node_modules hold the SDK the child scripts import). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface Harness {
  readonly dir: string;
  readonly workspace: string;
  readonly api: FakeAnthropic;
  readonly gateway: FakeGateway;
  readonly sandboxToken: string;
  readonly upstreamToken: string;
  readonly logs: string[];
  run(command: readonly string[], extra?: Partial<SupervisorOptions>): Promise<SupervisorResult & { ready: SupervisorReadyInfo | undefined }>;
  close(): Promise<void>;
}

export async function startHarness(options: { isolation: IsolationMode; egress?: Array<{ host: string; port: number }> }): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'osh-sup-'));
  const sandboxToken = canary('oss_canary_');
  const upstreamToken = canary('sk-ant-oat01-canary-');
  const api = await createFakeAnthropic({ accessTokens: [upstreamToken] });
  const gateway = await startFakeGateway({
    token: sandboxToken,
    environment: { GITHUB_TOKEN: 'ghp_injectable_value' },
    bundle: { routes: [anthropicOauthRoute({ baseUrl: `${api.url}/v1`, token: upstreamToken })], egress: options.egress ?? [] },
  });
  const logs: string[] = [];
  const workspace = join(dir, 'ws');
  return {
    dir,
    workspace,
    api,
    gateway,
    sandboxToken,
    upstreamToken,
    logs,
    async run(command, extra = {}) {
      let ready: SupervisorReadyInfo | undefined;
      const result = await runSupervisor({
        gatewayUrl: gateway.url,
        sandbox: 'test',
        token: new Secret(sandboxToken),
        command,
        isolation: options.isolation,
        workspace,
        stdio: 'pipe',
        forwardSignals: false,
        logLevel: 'debug',
        logStream: { write: (s: string) => logs.push(s) },
        waitSeconds: 5,
        // The child scripts and their node_modules live in this checkout, which bwrap would hide
        // when the checkout sits under /tmp or a home directory (as a CI clone may).
        readOnly: [REPO_ROOT],
        ...extra,
        onReady: (info) => {
          ready = info;
          extra.onReady?.(info);
        },
      });
      return { ...result, ready };
    },
    async close() {
      await gateway.close();
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export { anthropicOauthRoute };
