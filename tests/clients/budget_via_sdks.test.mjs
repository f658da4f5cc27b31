// A budget on the operator's keys as the official SDKs see it: a real `keygate serve` with
// "system_key_budget" set and the operator's OpenAI key in OPENAI_API_KEY, a loopback mock of
// OpenAI. Once the budget is spent, the openai SDK gets a RateLimitError (429) whose code says
// why at once (keygate tells it not to retry), and the @anthropic-ai/sdk gets the same refusal in
// Anthropic's error shape. No refused call reaches the upstream.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { accessLogCount, loadAnthropic, loadOpenAI, startKeygate } from './harness.mjs';
import { OPENAI_REPLY, startMockOpenAI } from './mock_openai.mjs';

const OpenAI = await loadOpenAI();
const Anthropic = await loadAnthropic();

const SYSTEM_KEY = 'sk-mock-system-key-for-budget-tests-0123456789';
const MESSAGES = [{ role: 'user', content: 'Say hello.' }];

let mock;
let keygate;

before(async () => {
  mock = await startMockOpenAI();
  keygate = await startKeygate({
    providers: { openai: { base_url: `${mock.url}/v1` } },
    env: { OPENAI_API_KEY: SYSTEM_KEY },
    // A millionth of a dollar a day: the mock's one answer (13 + 7 tokens of gpt-4o-mini,
    // $0.00000615) spends it.
    extra: { system_key_budget: { usd: 0.000001, period: 'day' } },
  });
});

after(async () => {
  await keygate?.stop();
  await mock?.close();
});

const chatCalls = () => mock.requests.filter((r) => r.path.startsWith('/v1/chat/completions'));

test('the openai SDK: one answer within the budget, then a RateLimitError saying why', async () => {
  // The SDK's default retries (2) stay on: keygate's `x-should-retry: false` stops them.
  const client = new OpenAI({ baseURL: keygate.baseURL, apiKey: keygate.token });
  const first = await client.chat.completions.create({
    model: 'openai/gpt-4o-mini',
    messages: MESSAGES,
  });
  assert.equal(first.choices[0].message.content, OPENAI_REPLY);
  assert.equal(chatCalls().length, 1);

  await assert.rejects(
    client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: MESSAGES }),
    (err) => {
      assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'system_key_budget_exceeded');
      assert.equal(err.type, 'insufficient_quota');
      assert.match(err.message, /limit for this day/);
      assert.ok(!err.message.includes(SYSTEM_KEY));
      return true;
    },
  );
  assert.equal(chatCalls().length, 1, 'a refused call must not reach the upstream');
  assert.equal(
    await accessLogCount(keygate, '/v1/chat/completions', 429),
    1,
    'the SDK must not retry a spent budget',
  );

  // GET /v1/budget tells the caller where they stand.
  const res = await fetch(`${keygate.baseURL}/budget`, {
    headers: { authorization: `Bearer ${keygate.token}` },
  });
  assert.equal(res.status, 200);
  const standing = await res.json();
  assert.equal(standing.period, 'day');
  assert.equal(standing.limit_usd, 0.000001);
  assert.ok(standing.spent_usd > 0.000006 && standing.spent_usd < 0.0000062, standing.spent_usd);
  assert.equal(standing.remaining_usd, 0);
});

test('the @anthropic-ai/sdk gets the refusal in Anthropic\'s error shape, and does not retry', async () => {
  // Its default retries stay on: keygate's x-should-retry: false stops them here too.
  const client = new Anthropic({
    baseURL: keygate.baseURL.replace(/\/v1$/, ''),
    apiKey: keygate.token,
  });
  const before = chatCalls().length;
  await assert.rejects(
    client.messages.create({ model: 'openai/gpt-4o-mini', max_tokens: 64, messages: MESSAGES }),
    (err) => {
      assert.ok(err instanceof Anthropic.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 429);
      assert.equal(err.error?.type, 'error');
      assert.match(err.error?.error?.message ?? '', /operator's keys has reached its limit/);
      return true;
    },
  );
  assert.equal(chatCalls().length, before);
  assert.equal(
    await accessLogCount(keygate, '/v1/messages', 429),
    1,
    'the SDK must not retry a spent budget',
  );
});
