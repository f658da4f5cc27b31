// The official openai SDK against a real `keygate serve` process whose "openai" provider points at
// a loopback mock of OpenAI. Guards the promise keygate makes to users: change baseURL and apiKey,
// and everything else about the SDK keeps working (JSON, SSE streams, usage, typed errors).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { loadOpenAI, startKeygate } from './harness.mjs';
import {
  OPENAI_DELTAS,
  OPENAI_ERROR_MESSAGE,
  OPENAI_REPLY,
  OPENAI_STREAM_USAGE,
  OPENAI_USAGE,
  startMockOpenAI,
} from './mock_openai.mjs';

const OpenAI = await loadOpenAI();

// The operator's key, given to keygate the way the contract documents (OPENAI_API_KEY).
const SYSTEM_KEY = 'sk-mock-system-key-for-sdk-tests-0123456789';
const MESSAGES = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say hello.' },
];

let mock;
let keygate;
let client;

before(async () => {
  mock = await startMockOpenAI();
  keygate = await startKeygate({
    providers: { openai: { base_url: `${mock.url}/v1` } },
    env: { OPENAI_API_KEY: SYSTEM_KEY },
  });
  // No retries: a test of a 500 must see that 500, at once.
  client = new OpenAI({ baseURL: keygate.baseURL, apiKey: keygate.token, maxRetries: 0 });
});

after(async () => {
  await keygate?.stop();
  await mock?.close();
});

function chatRequests() {
  return mock.requests.filter((r) => r.path.startsWith('/v1/chat/completions'));
}

test('non-streaming create returns the upstream content and usage', async () => {
  const before = chatRequests().length;
  const completion = await client.chat.completions.create({
    model: 'openai/gpt-4o-mini',
    messages: MESSAGES,
  });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.choices.length, 1);
  assert.equal(completion.choices[0].message.role, 'assistant');
  assert.equal(completion.choices[0].message.content, OPENAI_REPLY);
  assert.equal(completion.choices[0].finish_reason, 'stop');
  assert.deepEqual(completion.usage, OPENAI_USAGE);
  assert.equal(chatRequests().length, before + 1, 'exactly one upstream call per request');
});

test(
  'the upstream sees the system key and the bare model name, never the keygate token',
  async () => {
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: MESSAGES });
    const seen = chatRequests().at(-1);
    // Guards the key resolution (env OPENAI_API_KEY) and the auth header the catalog prescribes.
    assert.equal(seen.headers.authorization, `Bearer ${SYSTEM_KEY}`);
    // Guards the router: "openai/gpt-4o-mini" is keygate's name; OpenAI only knows "gpt-4o-mini".
    assert.equal(seen.body.model, 'gpt-4o-mini');
    assert.deepEqual(seen.body.messages, MESSAGES);
    // The caller's keygate token is a credential for keygate only: it must not travel upstream.
    for (const [name, value] of Object.entries(seen.headers)) {
      assert.ok(!String(value).includes(keygate.token), `keygate token leaked upstream in ${name}`);
    }
    assert.ok(!seen.rawBody.includes(keygate.token), 'keygate token leaked into the upstream body');
  },
);

test(
  'streaming yields every delta in order, then finishes, with no unrequested usage',
  async () => {
    const stream = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: MESSAGES,
      stream: true,
    });
    const deltas = [];
    const finishReasons = [];
    let usageChunks = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) {
        ++usageChunks;
      }
      for (const choice of chunk.choices) {
        if (choice.delta?.content) {
          deltas.push(choice.delta.content);
        }
        if (choice.finish_reason) {
          finishReasons.push(choice.finish_reason);
        }
      }
    }
    assert.deepEqual(deltas, OPENAI_DELTAS);
    assert.deepEqual(finishReasons, ['stop']);
    // keygate asks the upstream for usage to meter the request; a client that did not ask for
    // stream_options.include_usage must not get the extra chunk (OpenAI would not send it).
    assert.equal(usageChunks, 0);
    const seen = chatRequests().at(-1);
    assert.equal(seen.body.stream, true);
    assert.equal(seen.body.stream_options?.include_usage, true, 'keygate meters streams');
  },
);

test('streaming with stream_options.include_usage ends with the usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model: 'openai/gpt-4o-mini',
    messages: MESSAGES,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  const text = chunks.flatMap((c) => c.choices.map((ch) => ch.delta?.content ?? '')).join('');
  assert.equal(text, OPENAI_DELTAS.join(''));
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, [], 'the usage chunk has empty choices, as OpenAI documents');
  assert.deepEqual(last.usage, OPENAI_STREAM_USAGE);
  assert.equal(chunks.filter((c) => c.usage).length, 1, 'exactly one usage chunk');
});

test('a wrong keygate token is an AuthenticationError (401) and reaches no upstream', async () => {
  const before = mock.requests.length;
  const stranger = new OpenAI({
    baseURL: keygate.baseURL,
    apiKey: 'kg_not-a-real-token-000000000000000000',
    maxRetries: 0,
  });
  await assert.rejects(
    stranger.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: MESSAGES }),
    (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}`);
      assert.equal(err.status, 401);
      return true;
    },
  );
  assert.equal(mock.requests.length, before, 'an unauthenticated call must not cost a request');
});

test('an unknown model is a BadRequestError (400) carrying keygate\'s message', async () => {
  const before = mock.requests.length;
  await assert.rejects(
    client.chat.completions.create({ model: 'nope/x', messages: MESSAGES }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}`);
      assert.equal(err.status, 400);
      // The SDK reads keygate's OpenAI-shaped error body into message, code and param.
      assert.match(err.message, /Unknown model 'nope\/x'/);
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.param, 'model');
      assert.equal(err.type, 'invalid_request_error');
      return true;
    },
  );
  assert.equal(mock.requests.length, before);
});

test(
  'an upstream 500 surfaces as an APIError with status 500 and the upstream message',
  async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'openai/error_500', messages: MESSAGES }),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}`);
        assert.ok(err instanceof OpenAI.InternalServerError, `got ${err?.constructor?.name}`);
        assert.equal(err.status, 500);
        assert.ok(err.message.includes(OPENAI_ERROR_MESSAGE), err.message);
        return true;
      },
    );
    assert.equal(chatRequests().at(-1).body.model, 'error_500');
  },
);

test(
  'an upstream 500 before the first stream event is an APIError 500, not a broken stream',
  async () => {
    await assert.rejects(
      (async () => {
        const stream = await client.chat.completions.create({
          model: 'openai/error_500',
          messages: MESSAGES,
          stream: true,
        });
        for await (const chunk of stream) {
          void chunk;
        }
      })(),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 500);
        assert.ok(err.message.includes(OPENAI_ERROR_MESSAGE), err.message);
        return true;
      },
    );
  },
);

test('models.list() lists the openai models the system key unlocks, and only those', async () => {
  const ids = [];
  for await (const model of client.models.list()) {
    assert.equal(model.object, 'model');
    ids.push(model.id);
    // Only OPENAI_API_KEY is set: a provider without a key must not be offered.
    assert.equal(model.owned_by, 'openai', `${model.id} listed without a key for its provider`);
  }
  assert.ok(ids.includes('openai/gpt-4o-mini'), `models: ${ids.join(', ')}`);
});

test('SIGTERM stops keygate with exit code 0, and the log holds no secret', async () => {
  const { code, signal } = await keygate.stop();
  assert.equal(signal, null, 'keygate must exit by itself, not die of the signal');
  assert.equal(code, 0);
  const log = keygate.log();
  assert.match(log, /"msg":"stopped"/);
  assert.ok(!log.includes(keygate.token), 'the keygate token appears in the log');
  assert.ok(!log.includes(SYSTEM_KEY), 'the provider key appears in the log');
});
