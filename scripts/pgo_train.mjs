// The training run of keygate's profile-guided build (scripts/setup.sh; README, "Building by
// hand"). It runs a keygate built with -fprofile-generate against the loopback mocks of OpenAI,
// Anthropic and Gemini that the client tests use, sends it a mix of the traffic a gateway
// serves, and stops it; on exit keygate writes the profile GCC then optimises the real build with.
//
// The mix decides what the compiler treats as hot, so it is weighted the way production traffic
// is: mostly OpenAI-family chat completions on a user's own key, plain and streamed, over HTTPS
// (as every real provider is reached) and plain HTTP (as the benchmark's mock is), then Claude and
// Gemini through translation, Anthropic's Messages API (Claude Code), OpenAI's Responses API, and
// a few refusals and
// key-management calls. Functions the mix never runs are compiled as if there were no profile
// (-fprofile-partial-training); branches it never takes inside functions it runs are treated as
// cold, which is why both transports are in it.
//
// Every answer's status and a piece of its body are checked: a run that trains on errors (a mock
// not reached, a key not found) would optimise the wrong paths, so it fails the build instead.
//
// Usage: node scripts/pgo_train.mjs KEYGATE_BINARY [REQUESTS]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startKeygate } from '../tests/clients/harness.mjs';
import { ANTHROPIC_REPLY, startMockAnthropic } from '../tests/clients/mock_anthropic.mjs';
import { GEMINI_REPLY, startMockGemini } from '../tests/clients/mock_gemini.mjs';
import { OPENAI_REPLY, startMockOpenAI } from '../tests/clients/mock_openai.mjs';

const [binary, requestsArg] = process.argv.slice(2);
if (!binary) {
  console.error('usage: node scripts/pgo_train.mjs KEYGATE_BINARY [REQUESTS]');
  process.exit(2);
}
const TOTAL = Number(requestsArg ?? 12_000);
const CONNECTIONS = 16;  // as bench/run.py's main runs: several requests in flight at once
const REQUEST_TIMEOUT_MS = 30_000;  // a hung request fails the training rather than the build hanging

const USER_OPENAI_KEY = 'sk-pgo-training-user-key-0123456789abcdef';
const SYSTEM_KEYS = {
  OPENAI_API_KEY: 'sk-pgo-training-system-key-0123456789abcdef',
  ANTHROPIC_API_KEY: 'sk-ant-pgo-training-system-key-0123456789abcdef',
  GEMINI_API_KEY: 'AIzaPgoTrainingSystemKey0123456789abcdef',
};

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });

function call(port, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: {
          ...(text === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
      },
      (res) => {
        const parts = [];
        res.on('data', (p) => parts.push(p));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString() }));
        res.on('error', reject);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(text);
  });
}

const hello = [{ role: 'user', content: 'Say hello in one short sentence.' }];
const conversation = [
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'What is the capital of France?' },
  { role: 'assistant', content: 'Paris.' },
  { role: 'user', content: 'And of Italy?' },
];
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

// [weight, name, (port, userToken) => request promise, expected status, text the answer holds]
const bearer = (token) => ({ authorization: `Bearer ${token}` });
const claudeHeaders = (token) => ({ 'x-api-key': token, 'anthropic-version': '2023-06-01' });
const KINDS = [
  [22, 'openai json', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    { model: 'openai/gpt-4o-mini', messages: hello }), 200, OPENAI_REPLY],
  [18, 'openai json over https', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    { model: 'openai-tls/gpt-4o-mini', messages: hello }), 200, OPENAI_REPLY],
  [13, 'openai stream', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    { model: 'openai/gpt-4o-mini', messages: conversation, stream: true,
      stream_options: { include_usage: true }, temperature: 0.2 }), 200, 'data: [DONE]'],
  [12, 'openai stream over https', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    { model: 'openai-tls/gpt-4o-mini', messages: conversation, stream: true,
      stream_options: { include_usage: true } }), 200, 'data: [DONE]'],
  [4, 'openai tools', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    { model: 'gpt-4o-mini', messages: hello, tools: [weatherTool], max_tokens: 64 }), 200,
    '"tool_calls"'],
  [5, 'claude via chat', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    { model: 'anthropic/claude-sonnet-4-5', messages: conversation, max_tokens: 128 }), 200,
    ANTHROPIC_REPLY],
  [4, 'claude via chat, streamed', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    { model: 'claude-sonnet-4-5', messages: conversation, stream: true }), 200, 'data: [DONE]'],
  [8, 'messages to claude, streamed', (p, t) => call(p, 'POST', '/v1/messages', claudeHeaders(t),
    { model: 'claude-sonnet-4-5', max_tokens: 256, stream: true, system: 'You are terse.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello.' }] }] }), 200,
    'event: message_stop'],
  [3, 'messages to openai', (p, t) => call(p, 'POST', '/v1/messages', claudeHeaders(t),
    { model: 'openai/gpt-4o-mini', max_tokens: 64,
      messages: [{ role: 'user', content: 'Say hello.' }] }), 200, OPENAI_REPLY],
  [3, 'responses to openai, streamed', (p, t) => call(p, 'POST', '/v1/responses', bearer(t),
    { model: 'openai/gpt-4o-mini', instructions: 'You are terse.', input: 'Say hello.',
      stream: true }), 200, 'event: response.completed'],
  [6, 'gemini streamed', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    { model: 'google/gemini-2.5-flash', messages: conversation, stream: true }), 200, 'data: [DONE]'],
  [2, 'gemini json', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    { model: 'gemini-2.5-flash', messages: hello }), 200, GEMINI_REPLY],
  [1, 'bad token', (p) => call(p, 'POST', '/v1/chat/completions',
    bearer('kg_not-a-real-token-0000000000000000000000000000'),
    { model: 'openai/gpt-4o-mini', messages: hello }), 401, '"error"'],
  [1, 'malformed body', (p, t) => call(p, 'POST', '/v1/chat/completions', bearer(t),
    '{"model": "openai/gpt-4o-mini", "messages": ['), 400, '"error"'],
  [1, 'list keys', (p, t) => call(p, 'GET', '/v1/keys', bearer(t)), 200, '"data"'],
];

// A fixed, interleaved order (no randomness: the same source trains the same profile).
const schedule = [];
for (const kind of KINDS) {
  for (let i = 0; i < kind[0]; ++i) {
    schedule.push(kind);
  }
}
const order = Array.from({ length: TOTAL }, (_, i) => schedule[(i * 37) % schedule.length]);

// A self-signed certificate for `localhost`, which keygate trusts through SSL_CERT_FILE (OpenSSL's
// default verify paths) and verifies as it does a provider's.
const certDir = mkdtempSync(join(tmpdir(), 'keygate-pgo-'));
const certFile = join(certDir, 'cert.pem');
const keyFile = join(certDir, 'key.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
  '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
  '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });

const openai = await startMockOpenAI();
const openaiTls = await startMockOpenAI({
  tls: { key: readFileSync(keyFile), cert: readFileSync(certFile) },
});
const anthropic = await startMockAnthropic();
const gemini = await startMockGemini();
process.env.KEYGATE_BIN = binary;
const keygate = await startKeygate({
  providers: {
    openai: { base_url: `${openai.url}/v1` },
    'openai-tls': { kind: 'openai', base_url: `${openaiTls.url}/v1` },
    anthropic: { base_url: anthropic.url },
    google: { base_url: gemini.url },
  },
  env: { ...SYSTEM_KEYS, SSL_CERT_FILE: certFile },
});

let failed = null;
const counts = new Map();
try {
  // A user with a personal OpenAI key: the BYOK path (key lookup, unsealing) is the common one.
  const user = await call(keygate.port, 'POST', '/v1/admin/users', bearer(keygate.token),
    { name: 'pgo-training', admin: false });
  if (user.status !== 201) {
    throw new Error(`creating the training user: ${user.status} ${user.text}`);
  }
  const token = JSON.parse(user.text).token;
  for (const provider of ['openai', 'openai-tls']) {
    const key = await call(keygate.port, 'POST', '/v1/keys', bearer(token),
      { provider, api_key: USER_OPENAI_KEY, name: `training key (${provider})` });
    if (key.status !== 201) {
      throw new Error(`adding the training key for ${provider}: ${key.status} ${key.text}`);
    }
  }

  const started = Date.now();
  let next = 0;
  async function worker() {
    while (failed === null && next < order.length) {
      const [, name, send, status, holds] = order[next++];
      const answer = await send(keygate.port, token);
      if (answer.status !== status || !answer.text.includes(holds)) {
        failed = new Error(`${name}: expected ${status} holding ${JSON.stringify(holds)}, got ` +
                           `${answer.status}: ${answer.text.slice(0, 300)}`);
        return;
      }
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  if (failed === null) {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`pgo training: ${TOTAL} requests in ${seconds} s through ${CONNECTIONS} connections`);
    for (const [name, n] of counts) {
      console.log(`  ${String(n).padStart(6)}  ${name}`);
    }
  }
} catch (err) {
  failed = err;
} finally {
  agent.destroy();
  const stopped = await keygate.stop();
  await Promise.all([openai.close(), openaiTls.close(), anthropic.close(), gemini.close()]);
  rmSync(certDir, { recursive: true, force: true });
  // The profile is written when keygate exits on its own; a kill writes nothing.
  if (failed === null && stopped.code !== 0) {
    failed = new Error(`keygate did not exit cleanly (${JSON.stringify(stopped)}): no profile written`);
  }
  if (failed !== null) {
    console.error(`pgo training failed: ${failed.message}\n${keygate.log().slice(-2000)}\n` +
                  'KEYGATE_PGO=0 scripts/setup.sh builds without profile-guided optimisation.');
    process.exitCode = 1;
  }
}
