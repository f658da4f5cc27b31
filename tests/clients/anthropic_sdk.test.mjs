// The official @anthropic-ai/sdk pointed at keygate's POST /v1/messages. keygate translates the
// Messages request to its OpenAI-shaped pipeline, routes it to any provider (a loopback mock of
// OpenAI, and one of Anthropic for tool use: two translations there and back), and translates
// every answer back: messages, stream events, tool_use blocks, typed errors. Guards the promise
// that a client built for Anthropic needs only a new baseURL and apiKey.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { loadAnthropic, startKeygate } from './harness.mjs';
import {
  ANTHROPIC_CACHED_USAGE,
  ANTHROPIC_DELTAS,
  ANTHROPIC_REPLY,
  ANTHROPIC_SEARCH_TURN,
  ANTHROPIC_SEARCH_USAGE,
  ANTHROPIC_THINKING,
  ANTHROPIC_THINKING_SIGNATURE,
  ANTHROPIC_TOOL_PREAMBLE,
  ANTHROPIC_TOOL_USE,
  mockTokenCount,
  startMockAnthropic,
} from './mock_anthropic.mjs';
import { mockGeminiTokenCount, startMockGemini } from './mock_gemini.mjs';
import {
  OPENAI_DELTAS,
  OPENAI_ERROR_MESSAGE,
  OPENAI_REPLY,
  OPENAI_STREAM_USAGE,
  OPENAI_USAGE,
  startMockOpenAI,
} from './mock_openai.mjs';

const Anthropic = await loadAnthropic();

const OPENAI_KEY = 'sk-mock-system-key-for-sdk-tests-0123456789';
const ANTHROPIC_KEY = 'sk-ant-mock-system-key-for-sdk-tests-0123456789';
const GEMINI_KEY = 'AIzaMockSystemKeyForSdkTests0123456789';
const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'The weather in a city.',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string' } },
    required: ['city'],
  },
};

let openaiMock;
let anthropicMock;
let geminiMock;
let keygate;
let client;

before(async () => {
  openaiMock = await startMockOpenAI();
  anthropicMock = await startMockAnthropic();
  geminiMock = await startMockGemini();
  keygate = await startKeygate({
    providers: {
      openai: { base_url: `${openaiMock.url}/v1` },
      anthropic: { base_url: anthropicMock.url },
      google: { base_url: geminiMock.url },
    },
    env: { OPENAI_API_KEY: OPENAI_KEY, ANTHROPIC_API_KEY: ANTHROPIC_KEY, GEMINI_API_KEY: GEMINI_KEY },
  });
  // The SDK appends /v1/messages itself; it sends the key as x-api-key, which keygate accepts.
  client = new Anthropic({
    baseURL: keygate.baseURL.replace(/\/v1$/, ''),
    apiKey: keygate.token,
    maxRetries: 0,
  });
});

after(async () => {
  await keygate?.stop();
  await openaiMock?.close();
  await anthropicMock?.close();
  await geminiMock?.close();
});

function lastChatRequest() {
  return openaiMock.requests.filter((r) => r.path.startsWith('/v1/chat/completions')).at(-1);
}

function lastMessagesRequest() {
  return anthropicMock.requests.filter((r) => r.path.startsWith('/v1/messages')).at(-1);
}

test('messages.create reaches an OpenAI upstream and returns an Anthropic message', async () => {
  const message = await client.messages.create({
    model: 'openai/gpt-4o-mini',
    max_tokens: 64,
    system: 'You are terse.',
    messages: [{ role: 'user', content: 'Say hello.' }],
    temperature: 0.2,
    stop_sequences: ['END'],
  });
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.deepEqual(message.content, [{ type: 'text', text: OPENAI_REPLY }]);
  assert.equal(message.stop_reason, 'end_turn');
  assert.equal(message.usage.input_tokens, OPENAI_USAGE.prompt_tokens);
  assert.equal(message.usage.output_tokens, OPENAI_USAGE.completion_tokens);

  // What the upstream got: an OpenAI chat request carrying every parameter, with the system
  // prompt as the first message, and the operator's key, not the keygate token.
  const sent = lastChatRequest();
  assert.equal(sent.body.model, 'gpt-4o-mini');
  assert.equal(sent.body.max_tokens, 64);
  assert.equal(sent.body.temperature, 0.2);
  assert.deepEqual(sent.body.stop, ['END']);
  assert.deepEqual(sent.body.messages, [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say hello.' },
  ]);
  assert.equal(sent.headers.authorization, `Bearer ${OPENAI_KEY}`);
});

test('messages.stream relays text deltas in order and ends with usage', async () => {
  const stream = client.messages.stream({
    model: 'openai/gpt-4o-mini',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'Stream, please.' }],
  });
  const deltas = [];
  const eventTypes = [];
  stream.on('streamEvent', (event) => eventTypes.push(event.type));
  stream.on('text', (text) => deltas.push(text));
  const message = await stream.finalMessage();
  assert.deepEqual(deltas, OPENAI_DELTAS);
  assert.deepEqual(message.content, [{ type: 'text', text: OPENAI_DELTAS.join('') }]);
  assert.equal(message.stop_reason, 'end_turn');
  assert.equal(message.usage.output_tokens, OPENAI_STREAM_USAGE.completion_tokens);
  assert.equal(eventTypes[0], 'message_start');
  assert.equal(eventTypes.at(-1), 'message_stop');
  // keygate asked the upstream for usage, for the message_delta and its own accounting.
  assert.deepEqual(lastChatRequest().body.stream_options, { include_usage: true });
});

test('a tool call comes back as a tool_use block, and its result goes upstream', async () => {
  const first = await client.messages.create({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 256,
    tools: [WEATHER_TOOL],
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  assert.equal(first.stop_reason, 'tool_use');
  assert.deepEqual(first.content[0], { type: 'text', text: ANTHROPIC_TOOL_PREAMBLE });
  const toolUse = first.content.find((b) => b.type === 'tool_use');
  assert.equal(toolUse.id, ANTHROPIC_TOOL_USE.id);
  assert.equal(toolUse.name, ANTHROPIC_TOOL_USE.name);
  assert.deepEqual(toolUse.input, ANTHROPIC_TOOL_USE.input);
  assert.equal(lastMessagesRequest().body.tools[0].name, WEATHER_TOOL.name);
  assert.deepEqual(lastMessagesRequest().body.tools[0].input_schema, WEATHER_TOOL.input_schema);

  const second = await client.messages.create({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 256,
    tools: [WEATHER_TOOL],
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: first.content },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: '18 degrees, sunny' }],
      },
    ],
  });
  assert.deepEqual(second.content, [{ type: 'text', text: ANTHROPIC_REPLY }]);
  assert.equal(second.stop_reason, 'end_turn');
  // Through both translations the upstream sees the same conversation: the assistant's
  // tool_use with its id and input, then the tool_result that answers it.
  const turns = lastMessagesRequest().body.messages;
  const assistantTurn = turns.find((t) => t.role === 'assistant');
  const sentToolUse = assistantTurn.content.find((b) => b.type === 'tool_use');
  assert.equal(sentToolUse.id, ANTHROPIC_TOOL_USE.id);
  assert.deepEqual(sentToolUse.input, ANTHROPIC_TOOL_USE.input);
  const result = turns.at(-1).content.find((b) => b.type === 'tool_result');
  assert.equal(result.tool_use_id, ANTHROPIC_TOOL_USE.id);
  assert.equal(JSON.stringify(result.content).includes('18 degrees, sunny'), true);
});

test('a streamed tool call arrives as input_json_delta pieces the SDK assembles', async () => {
  const stream = client.messages.stream({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 256,
    tools: [WEATHER_TOOL],
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  const message = await stream.finalMessage();
  assert.equal(message.stop_reason, 'tool_use');
  assert.deepEqual(message.content[0], { type: 'text', text: ANTHROPIC_TOOL_PREAMBLE });
  assert.equal(message.content[1].type, 'tool_use');
  assert.equal(message.content[1].id, ANTHROPIC_TOOL_USE.id);
  assert.deepEqual(message.content[1].input, ANTHROPIC_TOOL_USE.input);
});

test('an upstream failure is a typed SDK error in Anthropic form', async () => {
  await assert.rejects(
    client.messages.create({
      model: 'openai/error_500',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'Fail.' }],
    }),
    (err) => {
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.equal(err.status, 500);
      assert.equal(err.error.type, 'error');
      assert.equal(err.error.error.type, 'api_error');
      assert.match(err.error.error.message, new RegExp(OPENAI_ERROR_MESSAGE.replace(/[().]/g, '\\$&')));
      return true;
    },
  );
});

test('a request keygate cannot carry is a 400 naming the field', async () => {
  await assert.rejects(
    client.messages.create({
      model: 'openai/gpt-4o-mini',
      max_tokens: 16,
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'document',
              source: { type: 'url', url: 'https://example.com/a.pdf' },
            },
          ],
        },
      ],
    }),
    (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.equal(err.error.error.type, 'invalid_request_error');
      assert.match(err.error.error.message, /messages\[0\]\.content\[0\]/);
      return true;
    },
  );
});

test('a wrong key is an AuthenticationError in Anthropic form', async () => {
  const stranger = new Anthropic({
    baseURL: keygate.baseURL.replace(/\/v1$/, ''),
    apiKey: 'kg_not_a_real_token',
    maxRetries: 0,
  });
  await assert.rejects(
    stranger.messages.create({
      model: 'openai/gpt-4o-mini',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'Hi.' }],
    }),
    (err) => {
      assert.ok(err instanceof Anthropic.AuthenticationError, String(err));
      assert.equal(err.status, 401);
      // Refused before the handler runs, and still in Anthropic's error shape.
      assert.equal(err.error.type, 'error');
      assert.equal(err.error.error.type, 'authentication_error');
      return true;
    },
  );
});

// Extended thinking: Claude's signed thinking block reaches the client whole, and goes back to
// Claude with the tool result. The mock answers 400, as Claude does, when a thinking request
// sends back a tool-use turn without its signed block first.
async function thinkingRoundTrip(send, reply) {
  const thinking = { type: 'enabled', budget_tokens: 2048 };
  const ask = { role: 'user', content: 'Weather in Paris?' };
  const first = await send({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 4096,
    thinking,
    tools: [WEATHER_TOOL],
    messages: [ask],
  });
  assert.deepEqual(lastMessagesRequest().body.thinking, thinking);
  assert.deepEqual(first.content[0], {
    type: 'thinking',
    thinking: ANTHROPIC_THINKING,
    signature: ANTHROPIC_THINKING_SIGNATURE,
  });
  const toolUse = first.content.find((b) => b.type === 'tool_use');
  assert.equal(toolUse.id, ANTHROPIC_TOOL_USE.id);

  const second = await send({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 4096,
    thinking,
    tools: [WEATHER_TOOL],
    messages: [
      ask,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: '18' }] },
    ],
  });
  assert.equal(second.content.at(-1).text, reply);
  const assistantTurn = lastMessagesRequest().body.messages.find((t) => t.role === 'assistant');
  assert.deepEqual(assistantTurn.content[0], first.content[0]);
}

test('extended thinking: the signed thinking block goes out and comes back', async () => {
  await thinkingRoundTrip((params) => client.messages.create(params), ANTHROPIC_REPLY);
});

test('extended thinking, streamed: thinking and signature deltas assemble the block', async () => {
  await thinkingRoundTrip(
    (params) => client.messages.stream(params).finalMessage(),
    ANTHROPIC_DELTAS.join(''),
  );
});

test('a tool-use turn that lost its thinking is refused by Claude, not by keygate', async () => {
  // The check above is only as good as the mock's refusal: prove the mock refuses.
  await assert.rejects(
    client.messages.create({
      model: 'anthropic/claude-sonnet-4-5',
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', ...ANTHROPIC_TOOL_USE }],
        },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: ANTHROPIC_TOOL_USE.id, content: '18' }],
        },
      ],
    }),
    (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.match(err.error.error.message, /Expected `thinking`/);
      return true;
    },
  );
});

test('top_k reaches Claude; OpenAI gets neither it nor thinking, but a reasoning_effort', async () => {
  await client.messages.create({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 64,
    top_k: 7,
    messages: [{ role: 'user', content: 'Hi.' }],
  });
  assert.equal(lastMessagesRequest().body.top_k, 7);
  const thinking = { type: 'enabled', budget_tokens: 2048 };
  await client.messages.create({
    model: 'openai/gpt-5-mini',
    max_tokens: 64,
    top_k: 7,
    thinking,
    messages: [{ role: 'user', content: 'Hi.' }],
  });
  const sent = lastChatRequest().body;
  assert.equal('top_k' in sent, false);
  assert.equal('thinking' in sent, false);
  assert.equal(sent.reasoning_effort, 'low', 'a 2,048-token budget is a low effort');
  // A model that cannot reason on request (OpenAI refuses reasoning_effort there): left out, so
  // Claude Code, which sends thinking, still works with it.
  await client.messages.create({
    model: 'openai/gpt-4o-mini',
    max_tokens: 64,
    thinking,
    messages: [{ role: 'user', content: 'Hi.' }],
  });
  const plain = lastChatRequest().body;
  assert.equal('thinking' in plain, false);
  assert.equal('reasoning_effort' in plain, false);
});

test('a screenshot in a tool result reaches OpenAI as an image after the tool message', async () => {
  // OpenAI takes text only in a tool message: keygate moves the image to a user message right
  // after the tool results, where the model still sees it.
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  const message = await client.messages.create({
    model: 'openai/gpt-4o-mini',
    max_tokens: 64,
    messages: [
      { role: 'user', content: 'Take a screenshot.' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_shot', name: 'shot', input: {} }] },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'toolu_shot',
            content: [
              { type: 'text', text: 'Taken.' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
            ],
          },
        ],
      },
    ],
  });
  assert.equal(message.content[0].type, 'text');
  const sent = lastChatRequest().body.messages;
  assert.deepEqual(sent[2], {
    role: 'tool',
    tool_call_id: 'toolu_shot',
    content: [{ type: 'text', text: 'Taken.' }],
  });
  assert.deepEqual(sent[3], {
    role: 'user',
    content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }],
  });
});

test('messages.countTokens is counted by Claude, for the conversation keygate would send', async () => {
  const params = {
    model: 'anthropic/claude-sonnet-4-5',
    system: 'Be brief.',
    tools: [WEATHER_TOOL],
    thinking: { type: 'enabled', budget_tokens: 2048 },
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  };
  const counted = await client.messages.countTokens(params);
  const sent = anthropicMock.requests.at(-1);
  assert.equal(sent.path.split('?')[0], '/v1/messages/count_tokens');
  assert.equal(sent.headers['x-api-key'], ANTHROPIC_KEY);
  assert.equal(sent.body.model, 'claude-sonnet-4-5');
  assert.deepEqual(sent.body.thinking, params.thinking);
  assert.equal(sent.body.tools[0].name, WEATHER_TOOL.name);
  assert.deepEqual(counted, { input_tokens: mockTokenCount(sent.body) });
});

test('countTokens for a model whose provider cannot count is a 400 saying so', async () => {
  await assert.rejects(
    client.messages.countTokens({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi.' }],
    }),
    (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.equal(err.error.error.type, 'invalid_request_error');
      assert.match(err.error.error.message, /token-counting/);
      return true;
    },
  );
  await assert.rejects(
    client.messages.countTokens({ model: 'anthropic/claude-sonnet-4-5', messages: 'Hi.' }),
    (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.match(err.error.error.message, /messages/);
      return true;
    },
  );
});

test('messages.countTokens on a Gemini model is counted by Gemini\'s countTokens', async () => {
  const counted = await client.messages.countTokens({
    model: 'google/gemini-2.5-flash',
    system: 'Be brief.',
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  const sent = geminiMock.requests.at(-1);
  assert.equal(sent.path, '/v1beta/models/gemini-2.5-flash:countTokens');
  assert.equal(sent.headers['x-goog-api-key'], GEMINI_KEY);
  const request = sent.body.generateContentRequest;
  assert.equal(request.systemInstruction.parts[0].text, 'Be brief.');
  assert.deepEqual(counted, { input_tokens: mockGeminiTokenCount(request) });
});

test('prompt caching: cache_control marks reach Claude, and its cache usage comes back', async () => {
  // Without the marks every turn of an agent is a cache miss: several times the cost.
  const ephemeral = { type: 'ephemeral' };
  const message = await client.messages.create({
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 64,
    system: [
      { type: 'text', text: 'You are a coding agent.' },
      { type: 'text', text: 'Long project rules.', cache_control: ephemeral },
    ],
    tools: [{ ...WEATHER_TOOL, cache_control: ephemeral }],
    messages: [
      { role: 'user', content: 'Earlier question.' },
      { role: 'assistant', content: 'Earlier answer.' },
      { role: 'user', content: [{ type: 'text', text: 'Now this.', cache_control: ephemeral }] },
    ],
  });
  const sent = lastMessagesRequest().body;
  assert.deepEqual(sent.system, [
    { type: 'text', text: 'You are a coding agent.' },
    { type: 'text', text: 'Long project rules.', cache_control: ephemeral },
  ]);
  assert.deepEqual(sent.tools[0].cache_control, ephemeral);
  assert.deepEqual(sent.messages.at(-1).content, [
    { type: 'text', text: 'Now this.', cache_control: ephemeral },
  ]);
  assert.equal(sent.messages[0].content, 'Earlier question.', 'unmarked turns stay as they were');
  assert.deepEqual(message.usage, ANTHROPIC_CACHED_USAGE);
});

test('a PDF document reaches Claude as a document and OpenAI as a file part', async () => {
  const pdf = 'JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlIC9DYXRhbG9nPj4KZW5kb2JqCg==';
  const document = {
    type: 'document',
    title: 'report.pdf',
    source: { type: 'base64', media_type: 'application/pdf', data: pdf },
  };
  const messages = [{ role: 'user', content: [document, { type: 'text', text: 'Summarise.' }] }];
  await client.messages.create({ model: 'anthropic/claude-sonnet-4-5', max_tokens: 64, messages });
  assert.deepEqual(lastMessagesRequest().body.messages[0].content[0], document);
  await client.messages.create({ model: 'openai/gpt-4o-mini', max_tokens: 64, messages });
  assert.deepEqual(lastChatRequest().body.messages[0].content[0], {
    type: 'file',
    file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${pdf}` },
  });
});

test('beta features the client asks for reach Claude, and stay away from OpenAI', async () => {
  const params = {
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 64,
    betas: ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'],
    messages: [{ role: 'user', content: 'Hi.' }],
  };
  await client.beta.messages.create(params);
  const sent = lastMessagesRequest();
  assert.equal(sent.headers['anthropic-beta'], 'interleaved-thinking-2025-05-14,context-1m-2025-08-07');
  assert.equal('anthropic_beta' in sent.body, false);
  await client.beta.messages.create({ ...params, model: 'openai/gpt-4o-mini' });
  assert.equal('anthropic_beta' in lastChatRequest().body, false);
});

test('Claude-only settings (effort) reach Claude as they are, and not OpenAI', async () => {
  const params = {
    model: 'anthropic/claude-opus-4-5',
    max_tokens: 64,
    output_config: { effort: 'low' },
    messages: [{ role: 'user', content: 'Hi.' }],
  };
  await client.messages.create(params);
  assert.deepEqual(lastMessagesRequest().body.output_config, { effort: 'low' });
  await client.messages.create({ ...params, model: 'openai/gpt-4o-mini' });
  const sent = lastChatRequest().body;
  assert.equal('output_config' in sent || 'anthropic' in sent, false);
});


// Claude Code's WebSearch: a tool Claude's servers run. Its blocks (the search's call, its
// encrypted result, cited text) have no place in OpenAI's shape; keygate hands a client of
// Claude's API Claude's own answer, and the turn goes back to Claude as it came.
const WEB_SEARCH = { type: 'web_search_20250305', name: 'web_search', max_uses: 3 };

test('web search: Claude\'s server tool, its result and citations reach the SDK as Claude sent them', async () => {
  const params = {
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 256,
    tools: [WEATHER_TOOL, WEB_SEARCH],
    messages: [{ role: 'user', content: 'What is keygate?' }],
  };
  const message = await client.messages.create(params);
  assert.deepEqual(message.content, ANTHROPIC_SEARCH_TURN);
  assert.deepEqual(message.usage.server_tool_use, ANTHROPIC_SEARCH_USAGE.server_tool_use);
  assert.deepEqual(lastMessagesRequest().body.tools[1], WEB_SEARCH);

  // Streamed: the SDK assembles the same blocks from Claude's events (citations_delta included).
  const streamed = await client.messages.stream(params).finalMessage();
  assert.deepEqual(streamed.content, ANTHROPIC_SEARCH_TURN);
  assert.equal(streamed.usage.output_tokens, ANTHROPIC_SEARCH_USAGE.output_tokens);

  // The next turn sends the search back; the mock, like Claude, refuses it changed.
  const next = await client.messages.create({
    ...params,
    messages: [
      ...params.messages,
      { role: 'assistant', content: streamed.content },
      { role: 'user', content: 'Who makes it?' },
    ],
  });
  assert.equal(next.type, 'message');
  assert.deepEqual(lastMessagesRequest().body.messages[1].content, ANTHROPIC_SEARCH_TURN);
});

test('web search on a model that cannot run it is a 400 naming the tool', async () => {
  await assert.rejects(
    client.messages.create({
      model: 'openai/gpt-4o-mini',
      max_tokens: 64,
      tools: [WEB_SEARCH],
      messages: [{ role: 'user', content: 'What is keygate?' }],
    }),
    (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.match(err.message, /tools\[0\].*web_search_20250305/);
      return true;
    },
  );
});
