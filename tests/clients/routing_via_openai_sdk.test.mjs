// The official openai SDK against a real `keygate serve` whose "anthropic" and "google" providers
// point at loopback mocks of Anthropic's Messages API and Gemini's generateContent API. Guards what
// keygate adds on top of a plain proxy, seen from an unmodified OpenAI client: translation to
// Gemini (chat, streams, the key in a header and never in the URL), tool calls and tool results
// in both directions, agents and their default parameters, operator aliases, and falling back to
// another provider when the first one is down (and saying which one answered).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { loadOpenAI, startKeygate } from './harness.mjs';
import {
  ANTHROPIC_REPLY,
  ANTHROPIC_TOOL_JSON_PIECES,
  ANTHROPIC_TOOL_PREAMBLE,
  ANTHROPIC_TOOL_USE,
  startMockAnthropic,
} from './mock_anthropic.mjs';
import {
  GEMINI_DELTAS,
  GEMINI_FUNCTION_CALL,
  GEMINI_REPLY,
  GEMINI_USAGE,
  startMockGemini,
} from './mock_gemini.mjs';

const OpenAI = await loadOpenAI();

const ANTHROPIC_KEY = 'sk-ant-mock-routing-key-0123456789abcdef';
const GEMINI_KEY = 'AIzaSyMockRoutingKey0123456789abcdefghi';
const MESSAGES = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say hello.' },
];
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string' } },
      required: ['city'],
    },
  },
};
const TOOL_QUESTION = [{ role: 'user', content: 'What is the weather?' }];
const TOOL_RESULT = '{"temp_c": 18, "sky": "clear"}';

let anthropic;
let gemini;
let keygate;
let client;

before(async () => {
  anthropic = await startMockAnthropic();
  gemini = await startMockGemini();
  keygate = await startKeygate({
    // Both base URLs are what the providers' own SDKs call base URL: keygate appends
    // /v1/messages and /v1beta/models/... (see the contract).
    providers: { anthropic: { base_url: anthropic.url }, google: { base_url: gemini.url } },
    models: { fast: 'google/gemini-2.5-flash' },
    env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, GEMINI_API_KEY: GEMINI_KEY },
  });
  client = new OpenAI({ baseURL: keygate.baseURL, apiKey: keygate.token, maxRetries: 0 });
});

after(async () => {
  await keygate?.stop();
  await anthropic?.close();
  await gemini?.close();
});

// PUT /v1/agents/NAME as the SDK's user would, with plain fetch and the same token.
async function putAgent(name, body) {
  const res = await fetch(`${keygate.baseURL}/agents/${name}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${keygate.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `PUT /v1/agents/${name}: ${text}`);
  return JSON.parse(text);
}

// Gathers a streamed answer: text, finish reasons, and tool calls rebuilt from their deltas
// (id, type and name come once, arguments arrive in pieces), keyed by the OpenAI tool index.
async function collect(stream) {
  const out = { deltas: [], finishReasons: [], toolCalls: [], argumentPieces: 0 };
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    for (const choice of chunk.choices) {
      if (choice.delta?.content) {
        out.deltas.push(choice.delta.content);
      }
      for (const call of choice.delta?.tool_calls ?? []) {
        const slot = (out.toolCalls[call.index] ??= { id: '', type: '', name: '', arguments: '' });
        slot.id += call.id ?? '';
        slot.type += call.type ?? '';
        slot.name += call.function?.name ?? '';
        if (call.function?.arguments) {
          slot.arguments += call.function.arguments;
          ++out.argumentPieces;
        }
      }
      if (choice.finish_reason) {
        out.finishReasons.push(choice.finish_reason);
      }
    }
  }
  return out;
}

function assertGeminiAuth(seen) {
  // Gemini authenticates with x-goog-api-key; a key=... query parameter would end up in every
  // access log between keygate and Google.
  assert.equal(seen.headers['x-goog-api-key'], GEMINI_KEY);
  assert.ok(!seen.path.includes('key='), `key in the URL: ${seen.path}`);
  assert.ok(!seen.path.includes(GEMINI_KEY), `key in the URL: ${seen.path}`);
  assert.equal(seen.headers.authorization, undefined, 'no Authorization header for Gemini');
  assert.ok(!seen.rawBody.includes(keygate.token), 'keygate token leaked upstream');
}

// --- 1. Gemini ---------------------------------------------------------------------------------

test('Gemini: chat goes to :generateContent with the key in x-goog-api-key', async () => {
  const before = gemini.requests.length;
  const beforeAnthropic = anthropic.requests.length;
  const completion = await client.chat.completions.create({
    model: 'google/gemini-2.5-flash',
    messages: MESSAGES,
    max_tokens: 128,
  });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.choices[0].message.role, 'assistant');
  assert.equal(completion.choices[0].message.content, GEMINI_REPLY);
  assert.equal(completion.choices[0].finish_reason, 'stop', 'STOP maps to stop');
  assert.equal(completion.usage.prompt_tokens, GEMINI_USAGE.promptTokenCount);
  assert.equal(completion.usage.completion_tokens, GEMINI_USAGE.candidatesTokenCount);
  assert.equal(completion.usage.total_tokens, GEMINI_USAGE.totalTokenCount);

  assert.equal(gemini.requests.length, before + 1, 'exactly one upstream call');
  const seen = gemini.requests.at(-1);
  assert.equal(seen.method, 'POST');
  assert.equal(seen.path, '/v1beta/models/gemini-2.5-flash:generateContent');
  assertGeminiAuth(seen);
  // Gemini has no system role and calls the assistant "model": systemInstruction + contents.
  assert.deepEqual(seen.body.systemInstruction, { parts: [{ text: 'You are terse.' }] });
  assert.deepEqual(seen.body.contents, [{ role: 'user', parts: [{ text: 'Say hello.' }] }]);
  assert.equal(seen.body.generationConfig?.maxOutputTokens, 128);
  assert.equal(anthropic.requests.length, beforeAnthropic, 'only the named provider is called');
});

test('Gemini: streaming uses :streamGenerateContent?alt=sse and yields every delta', async () => {
  const stream = await client.chat.completions.create({
    model: 'google/gemini-2.5-flash',
    messages: MESSAGES,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  const deltas = chunks.flatMap((c) => c.choices.map((ch) => ch.delta?.content ?? ''));
  assert.deepEqual(deltas.filter((d) => d !== ''), GEMINI_DELTAS);
  const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason).filter(Boolean));
  assert.deepEqual(finishes, ['stop']);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, [], 'the usage chunk has empty choices');
  assert.equal(last.usage.prompt_tokens, GEMINI_USAGE.promptTokenCount);
  assert.equal(last.usage.completion_tokens, GEMINI_USAGE.candidatesTokenCount);

  const seen = gemini.requests.at(-1);
  // Without alt=sse Google answers one JSON array, not an event stream.
  assert.equal(seen.path, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  assertGeminiAuth(seen);
});

// --- 2. Tool calls and tool results -------------------------------------------------------------

test('Anthropic: tool_use is message.tool_calls, the tool message a tool_result', async () => {
  const first = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
    messages: TOOL_QUESTION,
    tools: [WEATHER_TOOL],
  });
  const message = first.choices[0].message;
  assert.equal(first.choices[0].finish_reason, 'tool_calls', 'stop_reason tool_use');
  assert.equal(message.content, ANTHROPIC_TOOL_PREAMBLE);
  assert.equal(message.tool_calls.length, 1);
  const call = message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.id, ANTHROPIC_TOOL_USE.id, 'the tool_use id is the tool call id');
  assert.equal(call.function.name, ANTHROPIC_TOOL_USE.name);
  assert.deepEqual(JSON.parse(call.function.arguments), ANTHROPIC_TOOL_USE.input);
  // OpenAI's function schema becomes Anthropic's input_schema.
  const offered = anthropic.requests.at(-1).body.tools;
  assert.equal(offered.length, 1);
  assert.equal(offered[0].name, 'get_weather');
  assert.deepEqual(offered[0].input_schema, WEATHER_TOOL.function.parameters);

  // The round trip as SDK users write it: the assistant message as received, then the result.
  const second = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
    messages: [
      ...TOOL_QUESTION,
      message,
      { role: 'tool', tool_call_id: call.id, content: TOOL_RESULT },
    ],
    tools: [WEATHER_TOOL],
  });
  assert.equal(second.choices[0].message.content, ANTHROPIC_REPLY);
  assert.equal(second.choices[0].finish_reason, 'stop');
  const seen = anthropic.requests.at(-1).body;
  assert.equal(seen.messages.length, 3);
  assert.equal(seen.messages[1].role, 'assistant');
  assert.deepEqual(
    seen.messages[1].content.find((b) => b.type === 'tool_use'),
    { type: 'tool_use', ...ANTHROPIC_TOOL_USE },
    'the assistant tool_calls go back as a tool_use block with the parsed input',
  );
  assert.equal(seen.messages[2].role, 'user', 'tool results travel in a user turn');
  assert.deepEqual(seen.messages[2].content, [
    { type: 'tool_result', tool_use_id: ANTHROPIC_TOOL_USE.id, content: TOOL_RESULT },
  ]);
});

test('Anthropic: streamed tool_use is tool_call deltas, arguments in pieces', async () => {
  const stream = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
    messages: TOOL_QUESTION,
    tools: [WEATHER_TOOL],
    stream: true,
  });
  const got = await collect(stream);
  assert.deepEqual(got.deltas, [ANTHROPIC_TOOL_PREAMBLE]);
  // The tool_use is content block 1 upstream but the first tool call (index 0) for the SDK.
  assert.equal(got.toolCalls.length, 1, `tool calls: ${JSON.stringify(got.toolCalls)}`);
  const call = got.toolCalls[0];
  assert.equal(call.id, ANTHROPIC_TOOL_USE.id);
  assert.equal(call.type, 'function');
  assert.equal(call.name, ANTHROPIC_TOOL_USE.name);
  assert.equal(call.arguments, ANTHROPIC_TOOL_JSON_PIECES.join(''));
  assert.deepEqual(JSON.parse(call.arguments), ANTHROPIC_TOOL_USE.input);
  // Every non-empty input_json_delta is passed on as it comes, not buffered into one.
  assert.equal(got.argumentPieces, ANTHROPIC_TOOL_JSON_PIECES.filter((p) => p !== '').length);
  assert.deepEqual(got.finishReasons, ['tool_calls']);
  assert.equal(anthropic.requests.at(-1).body.stream, true);
});

test('Gemini: functionCall is message.tool_calls, a tool message a functionResponse', async () => {
  const first = await client.chat.completions.create({
    model: 'google/gemini-2.5-flash',
    messages: TOOL_QUESTION,
    tools: [WEATHER_TOOL],
  });
  const message = first.choices[0].message;
  assert.equal(first.choices[0].finish_reason, 'tool_calls', 'Gemini says STOP after a call');
  assert.equal(message.tool_calls.length, 1);
  const call = message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.ok(call.id, 'Gemini has no call ids: keygate must make one up');
  assert.equal(call.function.name, GEMINI_FUNCTION_CALL.name);
  assert.deepEqual(JSON.parse(call.function.arguments), GEMINI_FUNCTION_CALL.args);
  const offered = gemini.requests.at(-1).body.tools;
  assert.equal(offered[0].functionDeclarations[0].name, 'get_weather');
  const declaration = offered[0].functionDeclarations[0];
  assert.deepEqual(declaration.parameters, WEATHER_TOOL.function.parameters);

  const second = await client.chat.completions.create({
    model: 'google/gemini-2.5-flash',
    messages: [
      ...TOOL_QUESTION,
      message,
      { role: 'tool', tool_call_id: call.id, content: TOOL_RESULT },
    ],
    tools: [WEATHER_TOOL],
  });
  assert.equal(second.choices[0].message.content, GEMINI_REPLY);
  const seen = gemini.requests.at(-1);
  assertGeminiAuth(seen);
  assert.deepEqual(seen.body.contents, [
    { role: 'user', parts: [{ text: 'What is the weather?' }] },
    { role: 'model', parts: [{ functionCall: GEMINI_FUNCTION_CALL }] },
    // A functionResponse names the function (found by the call id) and holds an object.
    {
      role: 'user',
      parts: [{ functionResponse: { name: 'get_weather', response: JSON.parse(TOOL_RESULT) } }],
    },
  ]);
});

test('Gemini streamed functionCall arrives as one complete tool_call delta', async () => {
  const stream = await client.chat.completions.create({
    model: 'google/gemini-2.5-flash',
    messages: TOOL_QUESTION,
    tools: [WEATHER_TOOL],
    stream: true,
  });
  const got = await collect(stream);
  assert.equal(got.toolCalls.length, 1, `tool calls: ${JSON.stringify(got.toolCalls)}`);
  const call = got.toolCalls[0];
  assert.ok(call.id);
  assert.equal(call.type, 'function');
  assert.equal(call.name, GEMINI_FUNCTION_CALL.name);
  assert.deepEqual(JSON.parse(call.arguments), GEMINI_FUNCTION_CALL.args);
  assert.deepEqual(got.finishReasons, ['tool_calls']);
  assert.match(gemini.requests.at(-1).path, /:streamGenerateContent\?alt=sse$/);
});

// --- 3. Agents ----------------------------------------------------------------------------------

test('agent:NAME sends the agent\'s model with its default temperature', async () => {
  const saved = await putAgent('careful-claude', {
    model: 'anthropic/claude-sonnet-4-5',
    params: { temperature: 0.3 },
  });
  assert.equal(saved.model, 'anthropic/claude-sonnet-4-5');
  const completion = await client.chat.completions.create({
    model: 'agent:careful-claude',
    messages: MESSAGES,
  });
  assert.equal(completion.choices[0].message.content, ANTHROPIC_REPLY);
  const seen = anthropic.requests.at(-1);
  assert.equal(seen.body.model, 'claude-sonnet-4-5');
  assert.equal(seen.body.temperature, 0.3, 'the agent\'s params fill what the client left unset');

  // The agent's params are defaults: what the client sets itself wins.
  await client.chat.completions.create({
    model: 'agent:careful-claude',
    messages: MESSAGES,
    temperature: 0.9,
  });
  assert.equal(anthropic.requests.at(-1).body.temperature, 0.9);
});

test('an agent the caller does not have is a 400 agent_not_found, no upstream call', async () => {
  const before = anthropic.requests.length + gemini.requests.length;
  await assert.rejects(
    client.chat.completions.create({ model: 'agent:no-such-agent', messages: MESSAGES }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}`);
      assert.equal(err.code, 'agent_not_found');
      return true;
    },
  );
  assert.equal(anthropic.requests.length + gemini.requests.length, before);
});

// --- 4. Aliases ---------------------------------------------------------------------------------

test('the alias "fast" from the config reaches Gemini\'s gemini-2.5-flash', async () => {
  const beforeAnthropic = anthropic.requests.length;
  const { data, response } = await client.chat.completions
    .create({ model: 'fast', messages: MESSAGES })
    .withResponse();
  assert.equal(data.choices[0].message.content, GEMINI_REPLY);
  assert.equal(response.headers.get('x-keygate-provider'), 'google');
  assert.equal(response.headers.get('x-keygate-model'), 'gemini-2.5-flash');
  assert.equal(gemini.requests.at(-1).path, '/v1beta/models/gemini-2.5-flash:generateContent');
  assertGeminiAuth(gemini.requests.at(-1));
  assert.equal(anthropic.requests.length, beforeAnthropic);
});

// --- 5. Fallback --------------------------------------------------------------------------------
// Last on purpose: the 503s count against Anthropic's circuit breaker (5 in a row open it).

test('an agent falls back to Gemini on an Anthropic 503, and says so in a header', async () => {
  await putAgent('resilient', {
    model: 'anthropic/unavailable_503',
    fallbacks: ['google/gemini-2.5-flash'],
  });
  const beforeAnthropic = anthropic.requests.length;
  const beforeGemini = gemini.requests.length;
  const { data, response } = await client.chat.completions
    .create({ model: 'agent:resilient', messages: MESSAGES })
    .withResponse();
  assert.equal(response.status, 200);
  // The SDK gets the fallback's answer, not Anthropic's 503.
  assert.equal(data.choices[0].message.content, GEMINI_REPLY);
  assert.equal(response.headers.get('x-keygate-provider'), 'google');
  assert.equal(response.headers.get('x-keygate-model'), 'gemini-2.5-flash');
  // Anthropic was tried first (and possibly retried once) before Gemini was asked.
  const tried = anthropic.requests.slice(beforeAnthropic);
  assert.ok(tried.length >= 1, 'the primary must be tried first');
  assert.ok(tried.every((r) => r.body?.model === 'unavailable_503'));
  assert.equal(gemini.requests.length, beforeGemini + 1);
  assertGeminiAuth(gemini.requests.at(-1));
});

test('a stream falls back before the first byte: the SDK sees only Gemini', async () => {
  const { data: stream, response } = await client.chat.completions
    .create({ model: 'agent:resilient', messages: MESSAGES, stream: true })
    .withResponse();
  assert.equal(response.headers.get('x-keygate-provider'), 'google');
  const got = await collect(stream);
  assert.deepEqual(got.deltas, GEMINI_DELTAS);
  assert.deepEqual(got.finishReasons, ['stop']);
  assert.match(gemini.requests.at(-1).path, /:streamGenerateContent\?alt=sse$/);
});

test('SIGTERM stops keygate with exit code 0, and the log holds no secret', async () => {
  const { code, signal } = await keygate.stop();
  assert.equal(signal, null);
  assert.equal(code, 0);
  const log = keygate.log();
  assert.ok(!log.includes(keygate.token), 'the keygate token appears in the log');
  assert.ok(!log.includes(ANTHROPIC_KEY), 'the Anthropic key appears in the log');
  assert.ok(!log.includes(GEMINI_KEY), 'the Gemini key appears in the log');
});
