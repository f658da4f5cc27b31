// Runs the real keygate binary for the client tests: `keygate init` in a temp data dir, then
// `keygate serve` on 127.0.0.1:0 with a config that points providers at loopback mocks.
// The tests then talk to it with the official openai and @anthropic-ai/sdk SDKs, as users do.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

// The SDKs are loaded here rather than imported at the top of a test file, so a missing install
// fails with a message that says what to do (a bare ERR_MODULE_NOT_FOUND does not).
async function loadSdk(pkg) {
  const installed = new URL(`./node_modules/${pkg}/package.json`, import.meta.url);
  if (!existsSync(installed)) {
    throw new Error(
      `The official ${pkg} SDK is not installed in tests/clients/node_modules: ` +
        'run scripts/test.sh, or `npm install` in tests/clients.',
    );
  }
  const module = await import(pkg);
  return module.default;
}

export const loadOpenAI = () => loadSdk('openai');
export const loadAnthropic = () => loadSdk('@anthropic-ai/sdk');

export function keygateBinary() {
  const bin = process.env.KEYGATE_BIN;
  if (!bin) {
    throw new Error('KEYGATE_BIN is not set: it must name the keygate executable (ctest sets it).');
  }
  if (!existsSync(bin)) {
    throw new Error(`KEYGATE_BIN=${bin} does not exist: build the keygate target first.`);
  }
  return bin;
}

// A minimal environment: no provider key or keygate setting leaks in from the developer's
// shell, so the test sees only the keys it sets.
function cleanEnv(extra) {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const name of ['HOME', 'LANG', 'TMPDIR', 'ASAN_OPTIONS', 'UBSAN_OPTIONS']) {
    if (process.env[name]) {
      env[name] = process.env[name];
    }
  }
  return { ...env, ...extra };
}

// Starts keygate. `providers` is the config's "providers" object, `models` its optional aliases;
// `env` holds the system keys (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY).
// Returns {port, token, baseURL, log(), stop()}.
// `extra`: more members of the configuration file (e.g. system_key_budget).
export async function startKeygate({ providers, models, env = {}, extra = {} }) {
  const bin = keygateBinary();
  const dir = await mkdtemp(join(tmpdir(), 'keygate-clients-'));
  const data = join(dir, 'data');
  const configPath = join(dir, 'keygate.json');

  const init = await execFileAsync(bin, ['init', '--data', data], { env: cleanEnv({}) });
  const lines = init.stdout.split('\n').filter((l) => l.length > 0);
  // The contract: init prints the admin token alone, on the only line of stdout.
  if (lines.length !== 1 || !lines[0].startsWith('kg_')) {
    throw new Error(`keygate init: expected one kg_ token line on stdout, got ${init.stdout}`);
  }
  const token = lines[0];

  const config = { listen: '127.0.0.1:0', providers, ...(models ? { models } : {}), ...extra };
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const child = spawn(bin, ['serve', '--data', data, '--config', configPath], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s) => (stdout += s));
  child.stderr.setEncoding('utf8');
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`keygate serve did not log "listening" within 10 s:\n${stderr}`)),
      10_000,
    );
    child.stderr.on('data', (s) => {
      stderr += s;
      for (const line of stderr.split('\n')) {
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;  // a partial line, or a line that is not JSON
        }
        if (entry.msg === 'listening' && Number.isInteger(entry.port)) {
          clearTimeout(timer);
          resolve(entry.port);
          return;
        }
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`keygate serve exited early (code ${code}, signal ${signal}):\n${stderr}`));
    });
  });

  let stopped = null;
  return {
    port,
    token,
    baseURL: `http://127.0.0.1:${port}/v1`,
    log: () => stderr,
    stdout: () => stdout,
    // SIGTERM, as a service manager stops it; resolves to {code, signal}.
    async stop() {
      if (stopped === null) {
        child.kill('SIGTERM');
        let timer;
        const timeout = new Promise((resolve) => {
          timer = setTimeout(() => resolve({ code: null, signal: 'timeout' }), 10_000);
        });
        stopped = await Promise.race([exited, timeout]);
        clearTimeout(timer);  // a pending timer would hold the test process open for 10 s
        if (stopped.signal === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      }
      return stopped;
    },
  };
}

// How many of keygate's access-log lines so far are for `path` with `status`. The line follows
// the answer by a moment: it polls (bounded) until at least `atLeast` are there.
export async function accessLogCount(keygate, path, status, atLeast = 1) {
  const count = () =>
    keygate
      .log()
      .split('\n')
      .filter((l) => l.includes(`"path":"${path}"`) && l.includes(`"status":${status}`)).length;
  for (let i = 0; i < 100 && count() < atLeast; ++i) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return count();
}
