// A mock of OpenAI's API in its documented wire format
// (https://platform.openai.com/docs/api-reference/chat): POST /v1/chat/completions as JSON or as
// SSE chat.completion.chunk events, and GET /v1/models.
// Like TensorZero's dummy provider, the model name picks the behaviour:
//   error_500  -> HTTP 500 with an OpenAI error body
//   anything   -> a normal answer (OPENAI_REPLY, OPENAI_DELTAS, OPENAI_USAGE)

import { startMockServer, sendJson, sendSse } from './mock_server.mjs';

export const OPENAI_REPLY = 'Hello from the mock OpenAI upstream.';
// Split so that each delta is a separate SSE event: the client must see them in this order.
export const OPENAI_DELTAS = ['Hel', 'lo', ' from', ' the', ' mock', ' stream', '.'];
export const OPENAI_USAGE = { prompt_tokens: 13, completion_tokens: 7, total_tokens: 20 };
export const OPENAI_STREAM_USAGE = { prompt_tokens: 17, completion_tokens: 7, total_tokens: 24 };
export const OPENAI_ERROR_MESSAGE = 'The mock upstream failed on purpose (error_500).';

const CREATED = 1730000000;

function completion(model) {
  return {
    id: 'chatcmpl-mock-1',
    object: 'chat.completion',
    created: CREATED,
    model,
    system_fingerprint: 'fp_mock',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: OPENAI_REPLY, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: OPENAI_USAGE,
  };
}

function chunk(model, choices, usage) {
  const c = {
    id: 'chatcmpl-mock-2',
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    system_fingerprint: 'fp_mock',
    choices,
  };
  if (usage !== undefined) {
    c.usage = usage;
  }
  return `data: ${JSON.stringify(c)}\n\n`;
}

function streamFrames(model, includeUsage) {
  // With include_usage, every chunk carries "usage": null and one last chunk with empty choices
  // carries the totals, as OpenAI documents.
  const u = includeUsage ? null : undefined;
  const frames = [
    chunk(model, [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], u),
  ];
  for (const text of OPENAI_DELTAS) {
    frames.push(chunk(model, [{ index: 0, delta: { content: text }, finish_reason: null }], u));
  }
  frames.push(chunk(model, [{ index: 0, delta: {}, finish_reason: 'stop' }], u));
  if (includeUsage) {
    frames.push(chunk(model, [], OPENAI_STREAM_USAGE));
  }
  frames.push('data: [DONE]\n\n');
  return frames;
}

async function handle(req, res, recorded) {
  const path = recorded.path.split('?')[0];
  if (req.method === 'GET' && path === '/v1/models') {
    sendJson(res, 200, {
      object: 'list',
      data: [{ id: 'gpt-4o-mini', object: 'model', created: CREATED, owned_by: 'system' }],
    });
    return;
  }
  if (req.method !== 'POST' || path !== '/v1/chat/completions') {
    sendJson(res, 404, {
      error: { message: `mock: no route ${req.method} ${path}`, type: 'invalid_request_error' },
    });
    return;
  }
  const body = recorded.body ?? {};
  const model = String(body.model ?? '');
  if (model === 'error_500') {
    sendJson(res, 500, {
      error: { message: OPENAI_ERROR_MESSAGE, type: 'server_error', param: null, code: null },
    });
    return;
  }
  if (body.stream === true) {
    const includeUsage = body.stream_options?.include_usage === true;
    await sendSse(res, streamFrames(model, includeUsage));
    return;
  }
  sendJson(res, 200, completion(model));
}

// `options`: as startMockServer's (`tls` for HTTPS).
export function startMockOpenAI(options) {
  return startMockServer(handle, options);
}
