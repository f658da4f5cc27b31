// A mock of Anthropic's Messages API in its documented wire format:
// POST /v1/messages as JSON (https://docs.anthropic.com/en/api/messages) or as SSE events
// message_start, content_block_start, ping, content_block_delta, content_block_stop,
// message_delta, message_stop (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
// The model name picks the behaviour:
//   overloaded      -> HTTP 529 with Anthropic's overloaded_error body
//   unavailable_503 -> HTTP 503 with an api_error body (a provider that is down: a fallback's cue)
//   anything        -> a normal answer (ANTHROPIC_REPLY, ANTHROPIC_DELTAS, ANTHROPIC_USAGE)
// except that a request offering tools whose last turn holds no tool_result gets a text block and
// a tool_use block (ANTHROPIC_TOOL_USE; streamed as input_json_delta pieces), as Claude does
// (https://docs.anthropic.com/en/docs/build-with-claude/tool-use).
// With extended thinking on (`thinking.type` enabled or adaptive) every answer opens with a signed
// thinking block (streamed as thinking_delta pieces and a signature_delta), and, as Claude does,
// a request whose last assistant turn holds a tool_use without that signed block first is a 400
// (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#preserving-thinking-blocks).

import { startMockServer, sendJson, sendSse } from './mock_server.mjs';

export const ANTHROPIC_REPLY = 'Hello from the mock Anthropic upstream.';
export const ANTHROPIC_DELTAS = ['Bon', 'jour', ' from', ' Claude', ' mock', '.'];
export const ANTHROPIC_USAGE = { input_tokens: 21, output_tokens: 9 };
export const ANTHROPIC_STREAM_USAGE = { input_tokens: 25, output_tokens: 15 };
// The usage of a request with cache_control marks (non-streamed answers).
export const ANTHROPIC_CACHED_USAGE = {
  input_tokens: 12,
  cache_creation_input_tokens: 900,
  cache_read_input_tokens: 4000,
  output_tokens: 9,
};
export const ANTHROPIC_OVERLOADED_MESSAGE = 'Overloaded (mock)';
export const ANTHROPIC_UNAVAILABLE_MESSAGE = 'Service unavailable (mock)';
export const ANTHROPIC_TOOL_PREAMBLE = 'Let me check the weather.';
export const ANTHROPIC_TOOL_USE = {
  id: 'toolu_mock_01',
  name: 'get_weather',
  input: { city: 'Paris', unit: 'celsius' },
};
// The tool input split mid-token, as the API streams it (it often opens with an empty piece).
export const ANTHROPIC_TOOL_JSON_PIECES = ['', '{"city": "Pa', 'ris", "un', 'it": "celsius"}'];

export const ANTHROPIC_THINKING_PIECES = ['The user wants the weather;', ' I should call the tool.'];
export const ANTHROPIC_THINKING = ANTHROPIC_THINKING_PIECES.join('');
export const ANTHROPIC_THINKING_SIGNATURE = 'EqQBCgIYAhIMmockThinkingSignature0123456789==';
export const ANTHROPIC_THINKING_MISSING =
  'messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`.';

function thinkingOn(body) {
  return body.thinking?.type === 'enabled' || body.thinking?.type === 'adaptive';
}

function thinkingBlock() {
  return { type: 'thinking', thinking: ANTHROPIC_THINKING, signature: ANTHROPIC_THINKING_SIGNATURE };
}

// Whether a thinking request sends back its last tool-use turn without the signed block first.
function losesThinking(body) {
  if (!thinkingOn(body) || !Array.isArray(body.messages)) {
    return false;
  }
  const last = body.messages.findLast((m) => m.role === 'assistant');
  const blocks = Array.isArray(last?.content) ? last.content : [];
  if (!blocks.some((b) => b.type === 'tool_use')) {
    return false;
  }
  // Claude checks the signature against the text: both must come back as they went out.
  const first = blocks[0];
  return !(
    first?.type === 'thinking' &&
    first.signature === ANTHROPIC_THINKING_SIGNATURE &&
    first.thinking === ANTHROPIC_THINKING
  );
}

function withThinking(body, answer) {
  if (thinkingOn(body)) {
    answer.content.unshift(thinkingBlock());
  }
  return answer;
}

function message(model) {
  return {
    id: 'msg_mock_1',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: ANTHROPIC_REPLY }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: ANTHROPIC_USAGE,
  };
}

function toolUseMessage(model) {
  return {
    id: 'msg_mock_3',
    type: 'message',
    role: 'assistant',
    model,
    content: [
      { type: 'text', text: ANTHROPIC_TOOL_PREAMBLE },
      { type: 'tool_use', ...ANTHROPIC_TOOL_USE },
    ],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: ANTHROPIC_USAGE,
  };
}

// Whether Claude should call the tool now: it was offered tools and the last user turn does not
// already bring a tool_result.
function wantsToolUse(body) {
  if (!Array.isArray(body.tools) || body.tools.length === 0) {
    return false;
  }
  const last = Array.isArray(body.messages) ? body.messages.at(-1) : undefined;
  const blocks = Array.isArray(last?.content) ? last.content : [];
  return !blocks.some((b) => b.type === 'tool_result');
}

function event(name, data) {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

function messageStart(model) {
  return event('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_mock_2',
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: ANTHROPIC_STREAM_USAGE.input_tokens, output_tokens: 1 },
      },
    });
}

function messageEnd(stopReason) {
  return [
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: ANTHROPIC_STREAM_USAGE.output_tokens },
    }),
    event('message_stop', { type: 'message_stop' }),
  ];
}

// Block `base` is text, the next the tool_use (after a thinking block when `base` is 1): the
// OpenAI tool index (0) is not the block index.
function toolStreamFrames(model, base) {
  const frames = [
    messageStart(model),
    event('content_block_start', {
      type: 'content_block_start',
      index: base,
      content_block: { type: 'text', text: '' },
    }),
    event('content_block_delta', {
      type: 'content_block_delta',
      index: base,
      delta: { type: 'text_delta', text: ANTHROPIC_TOOL_PREAMBLE },
    }),
    event('content_block_stop', { type: 'content_block_stop', index: base }),
    event('content_block_start', {
      type: 'content_block_start',
      index: base + 1,
      content_block: {
        type: 'tool_use',
        id: ANTHROPIC_TOOL_USE.id,
        name: ANTHROPIC_TOOL_USE.name,
        input: {},
      },
    }),
  ];
  for (const partial_json of ANTHROPIC_TOOL_JSON_PIECES) {
    frames.push(
      event('content_block_delta', {
        type: 'content_block_delta',
        index: base + 1,
        delta: { type: 'input_json_delta', partial_json },
      }),
    );
  }
  frames.push(event('content_block_stop', { type: 'content_block_stop', index: base + 1 }));
  frames.push(...messageEnd('tool_use'));
  return frames;
}

function streamFrames(model, base) {
  const frames = [
    messageStart(model),
    event('content_block_start', {
      type: 'content_block_start',
      index: base,
      content_block: { type: 'text', text: '' },
    }),
    event('ping', { type: 'ping' }),
  ];
  for (const text of ANTHROPIC_DELTAS) {
    frames.push(
      event('content_block_delta', {
        type: 'content_block_delta',
        index: base,
        delta: { type: 'text_delta', text },
      }),
    );
  }
  frames.push(event('content_block_stop', { type: 'content_block_stop', index: base }));
  frames.push(...messageEnd('end_turn'));
  return frames;
}

// Block 0 when thinking is on: thinking_delta pieces, then the signature.
function thinkingFrames() {
  const frames = [
    event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'thinking', thinking: '', signature: '' },
    }),
  ];
  for (const thinking of ANTHROPIC_THINKING_PIECES) {
    frames.push(
      event('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'thinking_delta', thinking },
      }),
    );
  }
  frames.push(
    event('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'signature_delta', signature: ANTHROPIC_THINKING_SIGNATURE },
    }),
    event('content_block_stop', { type: 'content_block_stop', index: 0 }),
  );
  return frames;
}

// Web search, a tool Claude's servers run (https://docs.anthropic.com/en/docs/agents-and-tools/
// tool-use/web-search-tool): offered the web_search tool, the mock answers with the search's
// call, its encrypted result and text that cites it; streamed, the call's input comes as
// input_json_delta, the result whole, the citation as citations_delta. As Claude does, it
// refuses a conversation whose search result or citation came back changed.
export const ANTHROPIC_SEARCH_TURN = [
  { type: 'text', text: 'Let me search.' },
  { type: 'server_tool_use', id: 'srvtoolu_mock_1', name: 'web_search', input: { query: 'keygate' } },
  {
    type: 'web_search_tool_result',
    tool_use_id: 'srvtoolu_mock_1',
    content: [
      {
        type: 'web_search_result',
        url: 'https://example.com/keygate',
        title: 'Keygate',
        encrypted_content: 'EqgfCioIARgBIiQ3YTE2mockEncryptedContent==',
        page_age: null,
      },
    ],
  },
  {
    type: 'text',
    text: 'Keygate is a gateway.',
    citations: [
      {
        type: 'web_search_result_location',
        url: 'https://example.com/keygate',
        title: 'Keygate',
        encrypted_index: 'Eo8BCioIAhgBIiQyYjQ0mockEncryptedIndex==',
        cited_text: 'Keygate is an LLM gateway.',
      },
    ],
  },
];
export const ANTHROPIC_SEARCH_USAGE = {
  input_tokens: 120,
  output_tokens: 40,
  server_tool_use: { web_search_requests: 1 },
};
export const ANTHROPIC_SEARCH_TAMPERED = 'messages.1.content: the web search result was changed.';

function offersWebSearch(body) {
  return Array.isArray(body.tools) && body.tools.some((t) => String(t.type).startsWith('web_search_'));
}

// Every assistant turn that searched must come back exactly as the mock wrote it.
function searchTurnsIntact(body) {
  const turns = (body.messages ?? []).filter(
    (m) => m.role === 'assistant' && Array.isArray(m.content) &&
      m.content.some((b) => b.type === 'web_search_tool_result'),
  );
  return turns.every((m) => JSON.stringify(m.content) === JSON.stringify(ANTHROPIC_SEARCH_TURN));
}

function searchMessage(model) {
  return {
    id: 'msg_mock_search',
    type: 'message',
    role: 'assistant',
    model,
    content: ANTHROPIC_SEARCH_TURN,
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: ANTHROPIC_SEARCH_USAGE,
  };
}

function searchStreamFrames(model) {
  const [intro, call, result, cited] = ANTHROPIC_SEARCH_TURN;
  const block = (index, content_block) =>
    event('content_block_start', { type: 'content_block_start', index, content_block });
  const delta = (index, d) => event('content_block_delta', { type: 'content_block_delta', index, delta: d });
  const stop = (index) => event('content_block_stop', { type: 'content_block_stop', index });
  return [
    messageStart(model),
    block(0, { type: 'text', text: '' }),
    delta(0, { type: 'text_delta', text: intro.text }),
    stop(0),
    block(1, { ...call, input: {} }),
    delta(1, { type: 'input_json_delta', partial_json: '{"query": ' }),
    delta(1, { type: 'input_json_delta', partial_json: '"keygate"}' }),
    stop(1),
    block(2, result),
    stop(2),
    block(3, { type: 'text', text: '' }),
    delta(3, { type: 'citations_delta', citation: cited.citations[0] }),
    delta(3, { type: 'text_delta', text: cited.text }),
    stop(3),
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: ANTHROPIC_SEARCH_USAGE.output_tokens, server_tool_use: { web_search_requests: 1 } },
    }),
    event('message_stop', { type: 'message_stop' }),
  ];
}

// POST /v1/messages/count_tokens (https://docs.anthropic.com/en/api/messages-count-tokens):
// refuses what the real endpoint refuses (max_tokens, stream, sampling parameters) and counts
// something every test can recompute: the length of the messages' JSON.
export function mockTokenCount(body) {
  return JSON.stringify(body.messages ?? []).length + JSON.stringify(body.system ?? '').length;
}

function countTokens(res, body) {
  const extra = ['max_tokens', 'stream', 'temperature', 'top_p', 'top_k', 'metadata'].find(
    (k) => k in body,
  );
  if (extra || !body.model || !Array.isArray(body.messages)) {
    sendJson(res, 400, {
      type: 'error',
      error: { type: 'invalid_request_error', message: `${extra}: Extra inputs are not permitted` },
    });
    return;
  }
  sendJson(res, 200, { input_tokens: mockTokenCount(body) });
}

async function handle(req, res, recorded) {
  const path = recorded.path.split('?')[0];
  if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
    countTokens(res, recorded.body ?? {});
    return;
  }
  if (req.method !== 'POST' || path !== '/v1/messages') {
    sendJson(res, 404, {
      type: 'error',
      error: { type: 'not_found_error', message: `mock: no route ${req.method} ${path}` },
    });
    return;
  }
  const body = recorded.body ?? {};
  const model = String(body.model ?? '');
  if (model === 'overloaded') {
    sendJson(res, 529, {
      type: 'error',
      error: { type: 'overloaded_error', message: ANTHROPIC_OVERLOADED_MESSAGE },
    });
    return;
  }
  if (model === 'unavailable_503') {
    sendJson(res, 503, {
      type: 'error',
      error: { type: 'api_error', message: ANTHROPIC_UNAVAILABLE_MESSAGE },
    });
    return;
  }
  if (losesThinking(body)) {
    sendJson(res, 400, {
      type: 'error',
      error: { type: 'invalid_request_error', message: ANTHROPIC_THINKING_MISSING },
    });
    return;
  }
  if (offersWebSearch(body)) {
    if (!searchTurnsIntact(body)) {
      sendJson(res, 400, {
        type: 'error',
        error: { type: 'invalid_request_error', message: ANTHROPIC_SEARCH_TAMPERED },
      });
    } else if (body.stream === true) {
      await sendSse(res, searchStreamFrames(model));
    } else {
      sendJson(res, 200, searchMessage(model));
    }
    return;
  }
  const toolUse = wantsToolUse(body);
  if (body.stream === true) {
    const base = thinkingOn(body) ? 1 : 0;
    const frames = toolUse ? toolStreamFrames(model, base) : streamFrames(model, base);
    if (base === 1) {
      frames.splice(1, 0, ...thinkingFrames());  // after message_start
    }
    await sendSse(res, frames);
    return;
  }
  const answer = withThinking(body, toolUse ? toolUseMessage(model) : message(model));
  if (JSON.stringify(body).includes('"cache_control"')) {
    answer.usage = ANTHROPIC_CACHED_USAGE;  // a prompt with cache marks: read and written
  }
  sendJson(res, 200, answer);
}

export function startMockAnthropic() {
  return startMockServer(handle);
}
