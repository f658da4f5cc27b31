// A rate limit as the official openai SDK sees it: a real `keygate serve` with
// "rate_limit": {"requests_per_minute": 12} in front of a loopback mock of OpenAI. A burst of a
// minute's worth passes; the next call is a RateLimitError (429) whose retry-after-ms says when to
// come back (a request refills every 5 s); and an SDK left to retry (its default) waits that long
// and gets its answer.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { accessLogCount, loadOpenAI, startKeygate } from './harness.mjs';
import { OPENAI_REPLY, startMockOpenAI } from './mock_openai.mjs';

const OpenAI = await loadOpenAI();
const MESSAGES = [{ role: 'user', content: 'Say hello.' }];

let mock;
let keygate;

before(async () => {
  mock = await startMockOpenAI();
  keygate = await startKeygate({
    providers: { openai: { base_url: `${mock.url}/v1` } },
    env: { OPENAI_API_KEY: 'sk-mock-system-key-for-rate-tests-0123456789' },
    extra: { rate_limit: { requests_per_minute: 12 } },
  });
});

after(async () => {
  await keygate?.stop();
  await mock?.close();
});

const chatCalls = () => mock.requests.filter((r) => r.path.startsWith('/v1/chat/completions'));

test('a minute\'s worth passes, then a RateLimitError with retry-after-ms; the SDK\'s retry waits and succeeds', async () => {
  const strict = new OpenAI({ baseURL: keygate.baseURL, apiKey: keygate.token, maxRetries: 0 });
  let passed = 0;
  let refusal = null;
  while (refusal === null && passed < 30) {
    try {
      const r = await strict.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: MESSAGES });
      assert.equal(r.choices[0].message.content, OPENAI_REPLY);
      passed += 1;
    } catch (err) {
      refusal = err;
    }
  }
  // 12 at once (one more only if the burst took over 5 s).
  assert.ok(passed >= 12 && passed <= 13, `passed ${passed}`);
  assert.ok(refusal instanceof OpenAI.RateLimitError, `got ${refusal?.constructor?.name}: ${refusal}`);
  assert.equal(refusal.status, 429);
  assert.equal(refusal.code, 'rate_limit_exceeded');
  const retryMs = Number(refusal.headers.get('retry-after-ms'));
  assert.ok(retryMs > 0 && retryMs <= 5000, `retry-after-ms ${retryMs}`);
  assert.equal(refusal.headers.get('retry-after'), String(Math.ceil(retryMs / 1000)));
  assert.equal(refusal.headers.get('x-ratelimit-limit-requests'), '12');
  assert.equal(refusal.headers.get('x-ratelimit-remaining-requests'), '0');
  assert.equal(chatCalls().length, passed, 'a refused call must not reach the upstream');

  // The SDK's own retry (on by default) honours retry-after-ms: refused first, it waits, and the
  // call succeeds.
  const patient = new OpenAI({ baseURL: keygate.baseURL, apiKey: keygate.token });
  const r = await patient.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: MESSAGES });
  assert.equal(r.choices[0].message.content, OPENAI_REPLY);
  assert.equal(chatCalls().length, passed + 1);
  assert.equal(
    await accessLogCount(keygate, '/v1/chat/completions', 429, 2),
    2,
    'the strict refusal, then the patient call\'s first try',
  );
});
