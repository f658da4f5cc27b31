// POST /v1/responses through the official openai SDK (responses.create, responses.stream) against
// a real `keygate serve` whose providers are loopback mocks of OpenAI, Anthropic and Gemini.
// Guards providers/responses_inbound.hpp end to end: the provider gets a chat request
// (instructions first, max_output_tokens as max_completion_tokens, function calls and outputs as
// tool calls and tool messages); the answer is a Response, or events the SDK's accumulator takes,
// numbered from 0, ending in response.completed (incomplete, failed) with the usage; what a
// stateless gateway cannot do is a 400 that reaches no provider; every answer is a usage row.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { accessLogCount, loadOpenAI, startKeygate } from './harness.mjs';
import {
  ANTHROPIC_DELTAS,
  ANTHROPIC_STREAM_USAGE as A_USAGE,
  ANTHROPIC_THINKING,
  ANTHROPIC_TOOL_JSON_PIECES,
  ANTHROPIC_TOOL_PREAMBLE,
  ANTHROPIC_TOOL_USE,
  ANTHROPIC_USAGE,
  startMockAnthropic,
} from './mock_anthropic.mjs';
import { GEMINI_DELTAS, GEMINI_USAGE, startMockGemini } from './mock_gemini.mjs';
import {
  OPENAI_DELTAS,
  OPENAI_REPLY,
  OPENAI_STREAM_USAGE,
  OPENAI_TOOL_CALL,
  OPENAI_USAGE,
  startMockOpenAI,
} from './mock_openai.mjs';

const OpenAI = await loadOpenAI();

const OPENAI_KEY = 'sk-mock-system-key-for-responses-0123456789';
const ANTHROPIC_KEY = 'sk-ant-mock-responses-key-0123456789abcdef';
const GEMINI_KEY = 'AIzaSyMockResponsesKey0123456789abcdefgh';
const WEATHER = {
  type: 'function',
  name: 'get_weather',
  description: 'The current weather in a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

let openai;
let anthropic;
let gemini;
let keygate;
let client;
// What each answered call should add to the usage report: "provider/model" -> [requests,
// prompt tokens, completion tokens], from the mocks' usage: [prompt, completion] per answer.
const OPENAI_TOKENS = [OPENAI_USAGE.prompt_tokens, OPENAI_USAGE.completion_tokens];
const OPENAI_STREAM_TOKENS = [
  OPENAI_STREAM_USAGE.prompt_tokens,
  OPENAI_STREAM_USAGE.completion_tokens,
];
const CLAUDE_TOKENS = [ANTHROPIC_USAGE.input_tokens, ANTHROPIC_USAGE.output_tokens];
const CLAUDE_STREAM_TOKENS = [A_USAGE.input_tokens, A_USAGE.output_tokens];
const ledger = {};
const spent = (key, [prompt, completion]) => {
  const [requests, p, c] = ledger[key] ?? [0, 0, 0];
  ledger[key] = [requests + 1, p + prompt, c + completion];
};

before(async () => {
  [openai, anthropic, gemini] = await Promise.all([startMockOpenAI(), startMockAnthropic(),
    startMockGemini()]);
  keygate = await startKeygate({
    providers: {
      openai: { base_url: `${openai.url}/v1` },
      anthropic: { base_url: anthropic.url },
      google: { base_url: gemini.url },
    },
    env: { OPENAI_API_KEY: OPENAI_KEY, ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      GEMINI_API_KEY: GEMINI_KEY },
  });
  client = new OpenAI({ baseURL: keygate.baseURL, apiKey: keygate.token, maxRetries: 0 });
});

after(async () => {
  await keygate?.stop();
  await Promise.all([openai?.close(), anthropic?.close(), gemini?.close()]);
});

const lastChat = () => openai.requests.filter((r) => r.path === '/v1/chat/completions').at(-1);
const upstreamCalls = () =>
  openai.requests.length + anthropic.requests.length + gemini.requests.length;
// A chat message's text, whether the content is a string or text parts.
const textOf = (content) =>
  typeof content === 'string' ? content : content.map((p) => p.text ?? '').join('');
const usageOf = (u) => [u.input_tokens, u.output_tokens, u.total_tokens];

// Streams a request through the SDK's accumulator (it throws on an event out of place) and
// checks what OpenAI's streams promise: numbered from 0 up, created and in_progress first, one
// terminal event last, one item at a time, its deltas adding up to its done events, and the
// terminal Response holding every finished item (a failed one may leave its item open).
// Returns the events, their types with runs of one delta type collapsed, the deltas, the SDK's
// final Response and the terminal event's.
async function streamed(params) {
  const stream = client.responses.stream(params);
  const events = [];
  for await (const event of stream) {
    events.push(event);
  }
  const final = await stream.finalResponse();
  assert.equal(events[0].sequence_number, 0);
  events.slice(1).forEach((e, i) => {
    assert.ok(e.sequence_number > events[i].sequence_number, `sequence_number #${i + 1}`);
  });
  const types = events.map((e) => e.type);
  const terminal = types.filter((t) => /^response\.(completed|incomplete|failed)$/.test(t));
  assert.equal(terminal.length, 1, `one terminal event: ${types}`);
  assert.equal(types.at(-1), terminal[0]);
  const id = events[0].response.id;
  assert.match(id, /^resp_/);
  assert.equal(events[0].response.status, 'in_progress');
  const items = [];
  let open = null;
  for (const e of events.slice(2, -1).filter((e) => e.type !== 'error')) {
    if (e.type === 'response.output_item.added') {
      assert.equal(open, null, `item ${e.output_index} added while item ${open?.index} is open`);
      assert.equal(e.output_index, items.length);
      open = { index: e.output_index, id: e.item.id, pieces: '' };
      continue;
    }
    assert.equal(e.output_index, open?.index, `${e.type} outside its item`);
    assert.equal(e.item_id ?? e.item?.id, open.id, `${e.type}: item id`);
    if (e.type.endsWith('.delta')) {
      open.pieces += e.delta;
    } else if (/output_text\.done|summary_text\.done|arguments\.done/.test(e.type)) {
      assert.equal(e.text ?? e.arguments, open.pieces, `${e.type} vs its deltas`);
      open.pieces = '';
    } else if (e.type === 'response.output_item.done') {
      items.push(e.item);
      open = null;
    }
  }
  const last = events.at(-1).response;
  assert.equal(last.id, id);
  if (terminal[0] !== 'response.failed') {
    assert.equal(open, null, 'an item left open');
    assert.deepEqual(last.output, items, 'the terminal Response holds the finished items');
  }
  assert.equal(final.id, id);
  const collapsed = types.filter((t, i) => !(t.endsWith('.delta') && types[i - 1] === t));
  const deltas = events.filter((e) => e.type.endsWith('.delta')).map((e) => e.delta);
  return { events, types: collapsed, deltas, final, last };
}

const START = ['response.created', 'response.in_progress'];
const TEXT_ITEM_EVENTS = ['output_item.added', 'content_part.added', 'output_text.delta',
  'output_text.done', 'content_part.done', 'output_item.done'].map((t) => `response.${t}`);

test('create: a Response from OpenAI, asked as a chat with the instructions first', async () => {
  const before = upstreamCalls();
  const res = await client.responses.create({
    model: 'openai/gpt-4o-mini',
    instructions: 'You are terse.',
    input: 'Say hello.',
    max_output_tokens: 77,
    temperature: 0.25,
    metadata: { ticket: 'T-42' },
  });
  spent('openai/gpt-4o-mini', OPENAI_TOKENS);
  assert.equal(res.object, 'response');
  assert.match(res.id, /^resp_/);
  assert.equal(res.status, 'completed');
  assert.equal(res.output_text, OPENAI_REPLY);
  assert.deepEqual(res.output.map((o) => o.type), ['message']);
  const [message] = res.output;
  assert.equal(message.role, 'assistant');
  assert.deepEqual(message.content.map((c) => [c.type, c.text]), [['output_text', OPENAI_REPLY]]);
  assert.deepEqual(usageOf(res.usage), Object.values(OPENAI_USAGE));
  assert.equal(res.store, false, 'keygate keeps no responses');
  assert.equal(res.instructions, 'You are terse.');
  assert.equal(res.max_output_tokens, 77);
  assert.deepEqual(res.metadata, { ticket: 'T-42' });

  assert.equal(upstreamCalls(), before + 1, 'one upstream call');
  const seen = lastChat();
  assert.equal(seen.headers.authorization, `Bearer ${OPENAI_KEY}`);
  assert.equal(seen.body.model, 'gpt-4o-mini');
  assert.deepEqual(seen.body.messages, [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say hello.' },
  ]);
  assert.equal(seen.body.max_completion_tokens, 77);
  assert.equal(seen.body.temperature, 0.25);
  for (const key of ['input', 'instructions', 'max_output_tokens', 'max_tokens', 'metadata']) {
    assert.ok(!(key in seen.body), `"${key}" must not reach a chat provider`);
  }
  assert.notEqual(seen.body.stream, true);
  assert.ok(!seen.rawBody.includes(keygate.token), 'keygate token leaked upstream');
});

test('stream from Anthropic: every event in order, the text and usage of the mock', async () => {
  const { types, deltas, final, last } = await streamed({
    model: 'anthropic/claude-sonnet-4-5',
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'Say hello.' }] }],
    max_output_tokens: 256,
  });
  spent('anthropic/claude-sonnet-4-5', CLAUDE_STREAM_TOKENS);
  assert.deepEqual(types, [...START, ...TEXT_ITEM_EVENTS, 'response.completed']);
  assert.deepEqual(deltas, ANTHROPIC_DELTAS);
  assert.equal(final.output_text, ANTHROPIC_DELTAS.join(''));
  assert.equal(final.status, 'completed');
  const { input_tokens: input, output_tokens: output } = A_USAGE;
  assert.deepEqual(usageOf(last.usage), [input, output, input + output]);
  const seen = anthropic.requests.at(-1);
  assert.equal(seen.path, '/v1/messages');
  assert.equal(seen.headers['x-api-key'], ANTHROPIC_KEY);
  assert.deepEqual([seen.body.model, seen.body.stream, seen.body.max_tokens],
    ['claude-sonnet-4-5', true, 256]);
  assert.equal(textOf(seen.body.messages[0].content), 'Say hello.');
});

test('stream from Gemini: the SDK\'s final Response holds the mock\'s text', async () => {
  const { types, deltas, final, last } = await streamed({
    model: 'google/gemini-2.5-flash',
    instructions: 'Answer in German.',
    input: 'Say hello.',
  });
  const { promptTokenCount: input, candidatesTokenCount: output, totalTokenCount } = GEMINI_USAGE;
  spent('google/gemini-2.5-flash', [input, output]);
  assert.deepEqual(types, [...START, ...TEXT_ITEM_EVENTS, 'response.completed']);
  assert.deepEqual(deltas, GEMINI_DELTAS);
  assert.equal(final.output_text, GEMINI_DELTAS.join(''));
  assert.deepEqual(usageOf(last.usage), [input, output, totalTokenCount]);
  const seen = gemini.requests.at(-1);
  assert.match(seen.path, /^\/v1beta\/models\/gemini-2\.5-flash:streamGenerateContent\?alt=sse$/);
  assert.equal(textOf(seen.body.systemInstruction.parts), 'Answer in German.');
});

test('function calling: a function_call item, sent back with its output', async () => {
  const question = { role: 'user', content: 'Weather in Paris?' };
  const first = await client.responses.create({
    model: 'openai/gpt-4o-mini',
    input: [question],
    tools: [WEATHER],
    tool_choice: 'auto',
  });
  spent('openai/gpt-4o-mini', OPENAI_TOKENS);
  assert.equal(first.status, 'completed');
  assert.deepEqual(first.output.map((o) => o.type), ['function_call']);
  const [call] = first.output;
  assert.deepEqual([call.call_id, call.name, call.arguments],
    [OPENAI_TOOL_CALL.id, 'get_weather', OPENAI_TOOL_CALL.arguments]);
  assert.equal(first.output_text, '');
  const offered = lastChat().body;
  assert.deepEqual(offered.tools.map((t) => [t.type, t.function.name, t.function.description]),
    [['function', WEATHER.name, WEATHER.description]]);
  assert.deepEqual(offered.tools[0].function.parameters, WEATHER.parameters);
  assert.equal(offered.tool_choice, 'auto');

  const output = '{"temp_c": 18, "sky": "clear"}';
  const second = await client.responses.create({
    model: 'openai/gpt-4o-mini',
    input: [question, call, { type: 'function_call_output', call_id: call.call_id, output }],
    tools: [WEATHER],
  });
  spent('openai/gpt-4o-mini', OPENAI_TOKENS);
  assert.equal(second.output_text, OPENAI_REPLY);
  const [user, assistant, tool, ...rest] = lastChat().body.messages;
  assert.deepEqual(rest, []);
  assert.equal(textOf(user.content), 'Weather in Paris?');
  assert.equal(assistant.role, 'assistant');
  const fn = { name: 'get_weather', arguments: OPENAI_TOOL_CALL.arguments };
  assert.deepEqual(assistant.tool_calls, [{ id: call.call_id, type: 'function', function: fn }]);
  assert.deepEqual([tool.role, tool.tool_call_id, textOf(tool.content)],
    ['tool', OPENAI_TOOL_CALL.id, output]);
});

test('Claude thinks and calls a tool, streamed: a reasoning summary, text, a call', async () => {
  const question = { role: 'user', content: 'Weather in Paris?' };
  const params = { model: 'anthropic/claude-sonnet-4-5', tools: [WEATHER],
    max_output_tokens: 4000, reasoning: { effort: 'low', summary: 'auto' } };
  const { types, events, final } = await streamed({ ...params, input: [question] });
  spent('anthropic/claude-sonnet-4-5', CLAUDE_STREAM_TOKENS);
  const summary = ['part.added', 'text.delta', 'text.done', 'part.done']
    .map((t) => `response.reasoning_summary_${t}`);
  const item = (...inner) => ['response.output_item.added', ...inner, 'response.output_item.done'];
  assert.deepEqual(types, [...START, ...item(...summary), ...TEXT_ITEM_EVENTS,
    ...item('response.function_call_arguments.delta', 'response.function_call_arguments.done'),
    'response.completed']);
  assert.equal(anthropic.requests.at(-1).body.thinking?.type, 'enabled', 'effort: think');
  const pieces = events.filter((e) => e.type === 'response.function_call_arguments.delta');
  assert.ok(pieces.length >= 2, 'the arguments arrive in pieces, as Claude streams them');
  const [reasoning, message, call] = final.output;
  assert.deepEqual(final.output.map((o) => o.type), ['reasoning', 'message', 'function_call']);
  assert.deepEqual(reasoning.summary, [{ type: 'summary_text', text: ANTHROPIC_THINKING }]);
  assert.equal(message.content[0].text, ANTHROPIC_TOOL_PREAMBLE);
  assert.deepEqual([call.call_id, call.name], [ANTHROPIC_TOOL_USE.id, ANTHROPIC_TOOL_USE.name]);
  assert.equal(call.arguments, ANTHROPIC_TOOL_JSON_PIECES.join(''));

  // Sent back whole, as agents do, the turn must reach Claude with its signed thinking first
  // (the mock, like Claude, refuses a tool-use turn without it).
  const result = { type: 'function_call_output', call_id: call.call_id, output: '18 C' };
  const next = await client.responses.create({ ...params,
    input: [question, ...final.output, result] });
  spent('anthropic/claude-sonnet-4-5', CLAUDE_TOKENS);
  assert.equal(next.status, 'completed');
  const sent = anthropic.requests.at(-1).body.messages;
  assert.deepEqual(sent.map((m) => m.role), ['user', 'assistant', 'user']);
  assert.deepEqual(sent[1].content.map((b) => b.type), ['thinking', 'text', 'tool_use']);
  const [toolResult] = sent[2].content;
  assert.deepEqual([toolResult.type, toolResult.tool_use_id], ['tool_result', call.call_id]);
});

test('an answer cut by its token limit is incomplete, streamed or not', async () => {
  const plainAnswer = await client.responses.create({ model: 'openai/length_cut', input: 'Hi.' });
  spent('openai/length_cut', OPENAI_TOKENS);
  assert.equal(plainAnswer.status, 'incomplete');
  assert.deepEqual(plainAnswer.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(plainAnswer.output_text, OPENAI_REPLY);

  const { types, final } = await streamed({ model: 'openai/length_cut', input: 'Hi.' });
  spent('openai/length_cut', OPENAI_STREAM_TOKENS);
  assert.deepEqual(types, [...START, ...TEXT_ITEM_EVENTS, 'response.incomplete']);
  assert.equal(final.status, 'incomplete');
  assert.equal(final.output_text, OPENAI_DELTAS.join(''));
  assert.equal(lastChat().body.stream_options?.include_usage, true, 'keygate asks for usage');
});

test('a stream the provider breaks off ends in response.failed', async () => {
  const { types, final } = await streamed({ model: 'openai/cut_stream', input: 'Hi.' });
  assert.equal(types.at(-1), 'response.failed');
  assert.deepEqual(types.slice(0, 5), [...START, ...TEXT_ITEM_EVENTS.slice(0, 3)]);
  assert.equal(final.status, 'failed');
  assert.ok(final.error?.message, `a failed Response says why: ${JSON.stringify(final.error)}`);
});

test('what keygate cannot do is a BadRequestError (400) that reaches no provider', async () => {
  const before = upstreamCalls();
  const base = { model: 'openai/gpt-4o-mini', input: 'Hi.' };
  // Each: the request, the field the error names (param), and what its message says.
  const refusals = [
    [{ ...base, previous_response_id: 'resp_earlier' }, 'previous_response_id', /no responses/],
    [{ ...base, tools: [{ type: 'web_search' }] }, 'tools[0]', /'web_search'.*hosted/],
    [{ ...base, tools: [WEATHER, { type: 'web_search' }], stream: true }, 'tools[1]', /web_search/],
    [{ ...base, input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0]', /no responses/],
    [{ ...base, background: true }, 'background', /not supported/],
    [{ ...base, model: 'nope/x' }, 'model', /Unknown model 'nope\/x'/],
  ];
  for (const [params, param, said] of refusals) {
    await assert.rejects(client.responses.create(params), (err) => {
      const what = JSON.stringify(params);
      assert.ok(err instanceof OpenAI.BadRequestError, `${what}: got ${err}`);
      assert.equal(err.status, 400, what);
      assert.equal(err.type, 'invalid_request_error', what);
      assert.equal(err.param, param, what);
      assert.match(err.message, said, what);
      return true;
    });
  }
  assert.equal(upstreamCalls(), before, 'a refused request must not reach any provider');
  const n = refusals.length;
  assert.equal(await accessLogCount(keygate, '/v1/responses', 400, n), n, 'each refused once');
});

test('every answered call is a usage row with the provider\'s token counts', async () => {
  assert.ok(Object.keys(ledger).length >= 4, 'the tests above ran');
  // The usage writer commits a moment after the answer: poll (bounded) for every row.
  const wanted = Object.values(ledger).reduce((n, [requests]) => n + requests, 0) + 1;
  let report = [];
  for (let i = 0; i < 100 && report.reduce((n, r) => n + r.requests, 0) < wanted; ++i) {
    await new Promise((resolve) => setTimeout(resolve, i === 0 ? 0 : 50));
    const res = await fetch(`${keygate.baseURL}/usage?group_by=provider,model`, {
      headers: { authorization: `Bearer ${keygate.token}` },
    });
    assert.equal(res.status, 200);
    report = (await res.json()).data;
  }
  const answered = report.filter((r) => r.model !== 'cut_stream');
  const recorded = Object.fromEntries(answered.map((r) =>
    [`${r.provider}/${r.model}`, [r.requests, r.prompt_tokens, r.completion_tokens]]));
  assert.deepEqual(recorded, ledger);
  assert.ok(answered.every((r) => r.errors === 0), JSON.stringify(answered));
  const cut = report.find((r) => r.model === 'cut_stream');
  assert.deepEqual([cut?.provider, cut?.requests, cut?.errors], ['openai', 1, 1], 'broken stream');
});
