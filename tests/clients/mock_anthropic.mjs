// A mock of Anthropic's Messages API in its documented wire format:
// POST /v1/messages as JSON (https://docs.anthropic.com/en/api/messages) or as SSE events
// message_start, content_block_start, ping, content_block_delta, content_block_stop,
// message_delta, message_stop (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
// The model name picks the behaviour:
//   overloaded -> HTTP 529 with Anthropic's overloaded_error body
//   anything   -> a normal answer (ANTHROPIC_REPLY, ANTHROPIC_DELTAS, ANTHROPIC_USAGE)

import { startMockServer, sendJson, sendSse } from './mock_server.mjs';

export const ANTHROPIC_REPLY = 'Hello from the mock Anthropic upstream.';
export const ANTHROPIC_DELTAS = ['Bon', 'jour', ' from', ' Claude', ' mock', '.'];
export const ANTHROPIC_USAGE = { input_tokens: 21, output_tokens: 9 };
export const ANTHROPIC_STREAM_USAGE = { input_tokens: 25, output_tokens: 15 };
export const ANTHROPIC_OVERLOADED_MESSAGE = 'Overloaded (mock)';

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

function event(name, data) {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

function streamFrames(model) {
  const frames = [
    event('message_start', {
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
    }),
    event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    event('ping', { type: 'ping' }),
  ];
  for (const text of ANTHROPIC_DELTAS) {
    frames.push(
      event('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text },
      }),
    );
  }
  frames.push(event('content_block_stop', { type: 'content_block_stop', index: 0 }));
  frames.push(
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: ANTHROPIC_STREAM_USAGE.output_tokens },
    }),
  );
  frames.push(event('message_stop', { type: 'message_stop' }));
  return frames;
}

async function handle(req, res, recorded) {
  const path = recorded.path.split('?')[0];
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
  if (body.stream === true) {
    await sendSse(res, streamFrames(model));
    return;
  }
  sendJson(res, 200, message(model));
}

export function startMockAnthropic() {
  return startMockServer(handle);
}
