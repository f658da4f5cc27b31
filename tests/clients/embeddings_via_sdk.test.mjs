// POST /v1/embeddings as the official openai SDK uses it, against a real `keygate serve` whose
// "openai", "google" and "anthropic" providers point at loopback mocks. Guards what keygate
// promises about embeddings: OpenAI's request goes on to OpenAI with the provider's model id and
// its answer comes back as it was; Gemini gets a batchEmbedContents request (one entry per input)
// and its answer comes back in OpenAI's shape, as base64 float32s when the client asks for them
// (which the SDK does unless told otherwise) or as Google's numbers, with keygate's token
// estimate as usage; and a model that cannot embed is a 400 that reaches no provider.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { loadOpenAI, startKeygate } from './harness.mjs';
import { startMockAnthropic } from './mock_anthropic.mjs';
import {
  GEMINI_EMBEDDING_DIMENSIONS,
  geminiMockEmbedding,
  startMockGemini,
} from './mock_gemini.mjs';
import {
  OPENAI_EMBEDDING_DIMENSIONS,
  openaiMockEmbedding,
  openaiMockEmbeddingTokens,
  startMockOpenAI,
} from './mock_openai.mjs';

const OpenAI = await loadOpenAI();

const OPENAI_KEY = 'sk-mock-system-key-for-embeddings-0123456789';
const GEMINI_KEY = 'AIzaSyMockEmbeddingsKey0123456789abcdefg';
const ANTHROPIC_KEY = 'sk-ant-mock-embeddings-key-0123456789abcdef';

let openai;
let gemini;
let anthropic;
let keygate;
let client;

before(async () => {
  openai = await startMockOpenAI();
  gemini = await startMockGemini();
  anthropic = await startMockAnthropic();
  keygate = await startKeygate({
    providers: {
      openai: { base_url: `${openai.url}/v1` },
      google: { base_url: gemini.url },
      anthropic: { base_url: anthropic.url },
    },
    // Every provider has a key: a refusal below is keygate's judgement of the model, not a
    // missing key.
    env: {
      OPENAI_API_KEY: OPENAI_KEY,
      GEMINI_API_KEY: GEMINI_KEY,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    },
  });
  // No retries: every call here is one upstream request, or none.
  client = new OpenAI({ baseURL: keygate.baseURL, apiKey: keygate.token, maxRetries: 0 });
});

after(async () => {
  await keygate?.stop();
  await openai?.close();
  await gemini?.close();
  await anthropic?.close();
});

const openaiEmbeddingCalls = () => openai.requests.filter((r) => r.path === '/v1/embeddings');
const geminiEmbeddingCalls = () =>
  gemini.requests.filter((r) => r.path.endsWith(':batchEmbedContents'));

// keygate's usage for Gemini, which reports none: per input, one token per 4 bytes of UTF-8,
// at least one.
const estimate = (texts) =>
  texts.reduce((sum, t) => sum + Math.max(1, Math.ceil(Buffer.byteLength(t, 'utf8') / 4)), 0);

function assertEmbeddingList(answer, vectors) {
  assert.equal(answer.object, 'list');
  assert.equal(answer.data.length, vectors.length);
  answer.data.forEach((entry, i) => {
    assert.equal(entry.object, 'embedding');
    assert.equal(entry.index, i);
    assert.deepEqual(entry.embedding, vectors[i], `data[${i}].embedding`);
  });
}

function assertGeminiCall(seen, texts, dimensions) {
  assert.equal(seen.method, 'POST');
  assert.equal(seen.path, '/v1beta/models/gemini-embedding-001:batchEmbedContents');
  assert.equal(seen.headers['x-goog-api-key'], GEMINI_KEY);
  assert.ok(!seen.path.includes(GEMINI_KEY), `key in the URL: ${seen.path}`);
  assert.equal(seen.headers.authorization, undefined, 'no Authorization header for Gemini');
  assert.ok(!seen.rawBody.includes(keygate.token), 'keygate token leaked upstream');
  const expected = texts.map((text) => ({
    model: 'models/gemini-embedding-001',
    content: { parts: [{ text }] },
    ...(dimensions === undefined ? {} : { outputDimensionality: dimensions }),
  }));
  assert.deepEqual(seen.body, { requests: expected });
}

test('OpenAI: the SDK\'s default base64 goes upstream, the mock\'s float32s return', async () => {
  const before = openaiEmbeddingCalls().length;
  const geminiBefore = gemini.requests.length;
  const input = ['a', 'bb'];
  const answer = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input });

  assertEmbeddingList(answer, [openaiMockEmbedding(0), openaiMockEmbedding(1)]);
  assert.equal(answer.data[0].embedding.length, OPENAI_EMBEDDING_DIMENSIONS);
  assert.notDeepEqual(answer.data[0].embedding, answer.data[1].embedding);
  // OpenAI's answer is passed on as it came: its model and its own token count.
  assert.equal(answer.model, 'text-embedding-3-small');
  const tokens = openaiMockEmbeddingTokens(input);
  assert.notEqual(tokens, estimate(input), 'the mock\'s count must differ from the estimate');
  assert.deepEqual(answer.usage, { prompt_tokens: tokens, total_tokens: tokens });

  assert.equal(openaiEmbeddingCalls().length, before + 1, 'exactly one upstream call');
  const seen = openaiEmbeddingCalls().at(-1);
  assert.equal(seen.method, 'POST');
  assert.equal(seen.headers.authorization, `Bearer ${OPENAI_KEY}`);
  assert.ok(!seen.rawBody.includes(keygate.token), 'keygate token leaked upstream');
  // The provider's id, without keygate's prefix; the SDK's encoding_format kept.
  assert.deepEqual(seen.body, {
    model: 'text-embedding-3-small',
    input,
    encoding_format: 'base64',
  });
  assert.equal(gemini.requests.length, geminiBefore, 'only the named provider is called');
});

test('OpenAI: a bare model name, float and dimensions reach the mock as sent', async () => {
  const answer = await client.embeddings.create({
    model: 'text-embedding-3-small',
    input: 'one text',
    encoding_format: 'float',
    dimensions: 3,
  });
  assertEmbeddingList(answer, [openaiMockEmbedding(0, 3)]);
  assert.equal(answer.usage.prompt_tokens, openaiMockEmbeddingTokens(['one text']));
  const seen = openaiEmbeddingCalls().at(-1);
  assert.deepEqual(seen.body, {
    model: 'text-embedding-3-small',
    input: 'one text',
    encoding_format: 'float',
    dimensions: 3,
  });
});

test('Gemini: one batchEmbedContents entry per input; keygate\'s base64 decodes', async () => {
  const before = geminiEmbeddingCalls().length;
  const openaiBefore = openai.requests.length;
  // 'héllo wörld' is 11 characters but 13 bytes: the estimate counts bytes.
  const input = ['first text', 'héllo wörld', 'x'];
  const answer = await client.embeddings.create({
    model: 'gemini-embedding-001',
    input,
    dimensions: 4,
  });

  // keygate narrows Google's numbers to float32 for base64, as OpenAI's encoding is.
  const vectors = input.map((_, i) => geminiMockEmbedding(i, 4).map(Math.fround));
  assertEmbeddingList(answer, vectors);
  assert.equal(answer.data[0].embedding.length, 4);
  assert.equal(answer.model, 'gemini-embedding-001');
  const tokens = estimate(input);
  assert.equal(tokens, 3 + 4 + 1);
  assert.deepEqual(answer.usage, { prompt_tokens: tokens, total_tokens: tokens });

  assert.equal(geminiEmbeddingCalls().length, before + 1, 'one batch for all inputs');
  assertGeminiCall(geminiEmbeddingCalls().at(-1), input, 4);
  assert.equal(openai.requests.length, openaiBefore, 'only the named provider is called');
});

test('Gemini: encoding_format float gives Google\'s numbers as the mock wrote them', async () => {
  const input = 'héllo wörld';
  const answer = await client.embeddings.create({
    model: 'google/gemini-embedding-001',
    input,
    encoding_format: 'float',
  });
  const expected = geminiMockEmbedding(0);
  // The test has teeth only if none of the mock's numbers is a float32 already.
  assert.ok(expected.every((v) => v !== Math.fround(v)), 'the mock wrote float32s');
  assertEmbeddingList(answer, [expected]);
  assert.equal(answer.data[0].embedding.length, GEMINI_EMBEDDING_DIMENSIONS);
  assert.equal(answer.model, 'gemini-embedding-001');
  assert.deepEqual(answer.usage, { prompt_tokens: 4, total_tokens: 4 });
  // No dimensions asked: no outputDimensionality sent.
  assertGeminiCall(geminiEmbeddingCalls().at(-1), [input], undefined);
});

test('a model that cannot embed is a BadRequestError (400) and reaches no provider', async () => {
  const before = [openai, gemini, anthropic].map((m) => m.requests.length);
  const refusals = [
    ['anthropic/claude-sonnet-4-5', 'embeddings_unsupported'],
    ['openai/gpt-4o-mini', 'wrong_model_kind'],
    ['google/gemini-2.5-flash', 'wrong_model_kind'],
  ];
  for (const [model, code] of refusals) {
    await assert.rejects(client.embeddings.create({ model, input: ['a', 'bb'] }), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `${model}: got ${err?.constructor?.name}`);
      assert.equal(err.status, 400, model);
      assert.equal(err.code, code, `${model}: ${err.message}`);
      assert.equal(err.param, 'model', model);
      assert.equal(err.type, 'invalid_request_error', model);
      return true;
    });
  }
  assert.deepEqual(
    [openai, gemini, anthropic].map((m) => m.requests.length),
    before,
    'a refused request must not reach any provider',
  );
});
