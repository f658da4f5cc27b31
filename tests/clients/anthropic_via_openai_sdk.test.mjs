// The official openai SDK talking to Claude through keygate: keygate translates the OpenAI chat
// request into Anthropic's Messages API (a loopback mock here) and the answer back. Guards the
// claim that one OpenAI client reaches every provider, streams included.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { loadOpenAI, startKeygate } from './harness.mjs';
import {
  ANTHROPIC_DELTAS,
  ANTHROPIC_OVERLOADED_MESSAGE,
  ANTHROPIC_REPLY,
  ANTHROPIC_STREAM_USAGE,
  ANTHROPIC_THINKING,
  ANTHROPIC_THINKING_SIGNATURE,
  ANTHROPIC_USAGE,
  startMockAnthropic,
} from './mock_anthropic.mjs';

const OpenAI = await loadOpenAI();

const SYSTEM_KEY = 'sk-ant-mock-system-key-for-sdk-tests-0123456789';
const MESSAGES = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say hello.' },
];

let mock;
let keygate;
let client;

before(async () => {
  mock = await startMockAnthropic();
  keygate = await startKeygate({
    // Anthropic's base URL has no /v1: keygate appends /v1/messages (see the contract).
    providers: { anthropic: { base_url: mock.url } },
    env: { ANTHROPIC_API_KEY: SYSTEM_KEY },
  });
  client = new OpenAI({ baseURL: keygate.baseURL, apiKey: keygate.token, maxRetries: 0 });
});

after(async () => {
  await keygate?.stop();
  await mock?.close();
});

test('a chat completion is translated to /v1/messages and back', async () => {
  const completion = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
    messages: MESSAGES,
    max_tokens: 256,
  });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.choices[0].message.role, 'assistant');
  assert.equal(completion.choices[0].message.content, ANTHROPIC_REPLY);
  assert.equal(completion.choices[0].finish_reason, 'stop', 'end_turn maps to stop');
  assert.equal(completion.usage.prompt_tokens, ANTHROPIC_USAGE.input_tokens);
  assert.equal(completion.usage.completion_tokens, ANTHROPIC_USAGE.output_tokens);
  assert.equal(
    completion.usage.total_tokens,
    ANTHROPIC_USAGE.input_tokens + ANTHROPIC_USAGE.output_tokens,
  );
});

test(
  'the Anthropic upstream gets x-api-key, a version header and a Messages-shaped body',
  async () => {
    await client.chat.completions.create({
      model: 'anthropic/claude-sonnet-4-5',
      messages: MESSAGES,
      max_tokens: 256,
    });
    const seen = mock.requests.at(-1);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.path, '/v1/messages');
    // Anthropic authenticates with x-api-key, not Authorization (catalog "auth").
    assert.equal(seen.headers['x-api-key'], SYSTEM_KEY);
    assert.equal(seen.headers.authorization, undefined, 'no Authorization header for Anthropic');
    assert.ok(seen.headers['anthropic-version'], 'anthropic-version is required by the API');
    assert.equal(seen.body.model, 'claude-sonnet-4-5');
    assert.equal(seen.body.max_tokens, 256);
    // Anthropic has no system role: the system message moves to the top-level "system".
    assert.equal(seen.body.system, 'You are terse.');
    assert.equal(seen.body.messages.length, 1);
    assert.equal(seen.body.messages[0].role, 'user');
    assert.ok(!seen.rawBody.includes(keygate.token), 'keygate token leaked upstream');
  },
);

test('streaming turns Anthropic events into ordered OpenAI deltas', async () => {
  const stream = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
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
  assert.deepEqual(deltas, ANTHROPIC_DELTAS);
  assert.deepEqual(finishReasons, ['stop']);
  assert.equal(usageChunks, 0, 'no usage chunk unless stream_options.include_usage');
  const seen = mock.requests.at(-1);
  assert.equal(seen.body.stream, true);
  assert.equal(seen.headers['x-api-key'], SYSTEM_KEY);
  assert.ok(Number.isInteger(seen.body.max_tokens), 'max_tokens is required by Anthropic');
});

test('include_usage adds the usage chunk from message_start and message_delta counts', async () => {
  const stream = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
    messages: MESSAGES,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  const text = chunks.flatMap((c) => c.choices.map((ch) => ch.delta?.content ?? '')).join('');
  assert.equal(text, ANTHROPIC_DELTAS.join(''));
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, ANTHROPIC_STREAM_USAGE.input_tokens);
  assert.equal(last.usage.completion_tokens, ANTHROPIC_STREAM_USAGE.output_tokens);
  assert.equal(
    last.usage.total_tokens,
    ANTHROPIC_STREAM_USAGE.input_tokens + ANTHROPIC_STREAM_USAGE.output_tokens,
  );
});

test('an Anthropic error reaches the SDK as an APIError with Anthropic\'s message', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'anthropic/overloaded', messages: MESSAGES }),
    (err) => {
      assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err}`);
      assert.ok(err.status >= 500, `an overloaded upstream is a server-side error: ${err.status}`);
      assert.ok(err.message.includes(ANTHROPIC_OVERLOADED_MESSAGE), err.message);
      return true;
    },
  );
});

test('reasoning_effort turns Claude\'s thinking on; its signed blocks come back and go back', async () => {
  const tools = [
    {
      type: 'function',
      function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
    },
  ];
  const ask = { role: 'user', content: 'Weather in Paris?' };
  const first = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 4096,
    reasoning_effort: 'medium',
    tools,
    messages: [ask],
  });
  const sent = mock.requests.at(-1).body;
  assert.deepEqual(sent.thinking, { type: 'enabled', budget_tokens: 2048 }, 'half of max_tokens');
  const message = first.choices[0].message;
  assert.equal(message.reasoning_content, ANTHROPIC_THINKING);
  assert.deepEqual(message.thinking_blocks, [
    { type: 'thinking', thinking: ANTHROPIC_THINKING, signature: ANTHROPIC_THINKING_SIGNATURE },
  ]);
  const call = message.tool_calls[0];
  // The assistant message goes back as the SDK returned it, thinking_blocks included.
  const second = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 4096,
    reasoning_effort: 'medium',
    tools,
    messages: [ask, message, { role: 'tool', tool_call_id: call.id, content: '18' }],
  });
  assert.equal(second.choices[0].message.content, ANTHROPIC_REPLY);
  const assistantTurn = mock.requests.at(-1).body.messages.find((t) => t.role === 'assistant');
  assert.equal(assistantTurn.content[0].signature, ANTHROPIC_THINKING_SIGNATURE);
});

test('a streamed thinking block comes as reasoning_content and a signed entry, and goes back', async () => {
  const tools = [
    {
      type: 'function',
      function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
    },
  ];
  const ask = { role: 'user', content: 'Weather in Paris?' };
  const thinking = { type: 'enabled', budget_tokens: 1024 };
  const stream = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 4096,
    stream: true,
    thinking,
    tools,
    messages: [ask],
  });
  let reasoning = '';
  let content = '';
  const thinkingBlocks = [];
  const calls = [];
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta ?? {};
    reasoning += delta.reasoning_content ?? '';
    content += delta.content ?? '';
    thinkingBlocks.push(...(delta.thinking_blocks ?? []));
    for (const call of delta.tool_calls ?? []) {
      calls[call.index] ??= { id: call.id, type: 'function', function: { name: '', arguments: '' } };
      calls[call.index].function.name += call.function?.name ?? '';
      calls[call.index].function.arguments += call.function?.arguments ?? '';
    }
  }
  assert.equal(reasoning, ANTHROPIC_THINKING);
  assert.deepEqual(thinkingBlocks, [
    { type: 'thinking', thinking: ANTHROPIC_THINKING, signature: ANTHROPIC_THINKING_SIGNATURE },
  ]);
  // The message assembled from the stream, sent back: the mock refuses it, as Claude would, if
  // the block's text or signature differ from what went out.
  const second = await client.chat.completions.create({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 4096,
    thinking,
    tools,
    messages: [
      ask,
      { role: 'assistant', content, tool_calls: calls, thinking_blocks: thinkingBlocks },
      { role: 'tool', tool_call_id: calls[0].id, content: '18' },
    ],
  });
  assert.equal(second.choices[0].message.content, ANTHROPIC_REPLY);
});

test('SIGTERM stops keygate with exit code 0, and the log holds no secret', async () => {
  const { code, signal } = await keygate.stop();
  assert.equal(signal, null);
  assert.equal(code, 0);
  const log = keygate.log();
  assert.ok(!log.includes(keygate.token), 'the keygate token appears in the log');
  assert.ok(!log.includes(SYSTEM_KEY), 'the provider key appears in the log');
});
