// A mock of OpenAI's API in its documented wire format
// (https://platform.openai.com/docs/api-reference/chat): POST /v1/chat/completions as JSON or as
// SSE chat.completion.chunk events, GET /v1/models, and POST /v1/embeddings
// (https://platform.openai.com/docs/api-reference/embeddings/create).
// Like TensorZero's dummy provider, the model name picks the behaviour:
//   error_500  -> HTTP 500 with an OpenAI error body
//   length_cut -> a normal answer cut by its token limit (finish_reason "length")
//   cut_stream -> streamed, the first two deltas, then the stream ends without finishing
//   anything   -> a normal answer (OPENAI_REPLY, OPENAI_DELTAS, OPENAI_USAGE)
// except that a non-streamed request offering tools whose last message is not a tool result gets
// a call of its first tool (OPENAI_TOOL_CALL, no text), as GPT does
// (https://platform.openai.com/docs/guides/function-calling).

import { startMockServer, sendJson, sendSse } from './mock_server.mjs';

export const OPENAI_REPLY = 'Hello from the mock OpenAI upstream.';
// Split so that each delta is a separate SSE event: the client must see them in this order.
export const OPENAI_DELTAS = ['Hel', 'lo', ' from', ' the', ' mock', ' stream', '.'];
export const OPENAI_USAGE = { prompt_tokens: 13, completion_tokens: 7, total_tokens: 20 };
export const OPENAI_STREAM_USAGE = { prompt_tokens: 17, completion_tokens: 7, total_tokens: 24 };
export const OPENAI_ERROR_MESSAGE = 'The mock upstream failed on purpose (error_500).';

export const OPENAI_TOOL_CALL = { id: 'call_mock_1', arguments: '{"city":"Paris"}' };

const CREATED = 1730000000;

const finishReason = (model) => (model === 'length_cut' ? 'length' : 'stop');

// The tool the mock calls: the request's first, unless the last message is a tool result.
function toolToCall(body) {
  const last = Array.isArray(body.messages) ? body.messages.at(-1) : undefined;
  if (!Array.isArray(body.tools) || body.tools.length === 0 || last?.role === 'tool') {
    return null;
  }
  return String(body.tools[0].function?.name);
}

function toolCallCompletion(model, name) {
  const answer = completion(model);
  const call = {
    id: OPENAI_TOOL_CALL.id,
    type: 'function',
    function: { name, arguments: OPENAI_TOOL_CALL.arguments },
  };
  answer.choices[0].message = {
    role: 'assistant',
    content: null,
    tool_calls: [call],
    refusal: null,
  };
  answer.choices[0].finish_reason = 'tool_calls';
  return answer;
}

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
        finish_reason: finishReason(model),
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
  frames.push(chunk(model, [{ index: 0, delta: {}, finish_reason: finishReason(model) }], u));
  if (includeUsage) {
    frames.push(chunk(model, [], OPENAI_STREAM_USAGE));
  }
  frames.push('data: [DONE]\n\n');
  return frames;
}

// Embeddings: each input gets its own vector, a function of its index (openaiMockEmbedding), of
// `dimensions` numbers when the request gives it, else OPENAI_EMBEDDING_DIMENSIONS (a real
// text-embedding-3-small has 1536). Numbers are float32s, as OpenAI's are: as JSON numbers, or
// with "encoding_format": "base64" as the base64 of their little-endian bytes.
export const OPENAI_EMBEDDING_DIMENSIONS = 8;

export function openaiMockEmbedding(index, dimensions = OPENAI_EMBEDDING_DIMENSIONS) {
  const values = [];
  for (let j = 0; j < dimensions; ++j) {
    values.push(Math.fround((index + 1) * 0.1 - j * 0.0123));
  }
  return values;
}

// The mock's token count (usage.prompt_tokens): not keygate's estimate, so a test can tell the
// two apart. 7 per input, plus its length (characters, or token ids).
export function openaiMockEmbeddingTokens(inputs) {
  return inputs.reduce((sum, item) => sum + 7 + item.length, 0);
}

// OpenAI's "input": one string, an array of strings, an array of token ids (one input), or an
// array of arrays of token ids. Returns the list of inputs, or null when it is none of these.
function embeddingInputs(input) {
  if (typeof input === 'string') {
    return input.length > 0 ? [input] : null;
  }
  if (!Array.isArray(input) || input.length === 0) {
    return null;
  }
  if (input.every((t) => Number.isInteger(t))) {
    return [input];
  }
  if (input.every((s) => (typeof s === 'string' || Array.isArray(s)) && s.length > 0)) {
    return input;
  }
  return null;
}

// OpenAI's base64 encoding_format: the vector's float32s, little-endian, in base64.
function float32Base64(values) {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString('base64');
}

function embeddings(res, body) {
  const inputs = embeddingInputs(body.input);
  const format = body.encoding_format ?? 'float';
  const dimensions = body.dimensions ?? OPENAI_EMBEDDING_DIMENSIONS;
  const invalid = (message, param) =>
    sendJson(res, 400, {
      error: { message, type: 'invalid_request_error', param, code: null },
    });
  if (typeof body.model !== 'string' || body.model.length === 0) {
    invalid('mock: you must provide a model parameter', 'model');
    return;
  }
  if (inputs === null) {
    invalid('mock: input must be a string, or an array of strings or token ids', 'input');
    return;
  }
  if (format !== 'float' && format !== 'base64') {
    invalid(`mock: encoding_format must be float or base64, not ${format}`, 'encoding_format');
    return;
  }
  if (!Number.isInteger(dimensions) || dimensions < 1) {
    invalid('mock: dimensions must be a positive integer', 'dimensions');
    return;
  }
  const tokens = openaiMockEmbeddingTokens(inputs);
  sendJson(res, 200, {
    object: 'list',
    data: inputs.map((_, index) => {
      const values = openaiMockEmbedding(index, dimensions);
      const embedding = format === 'base64' ? float32Base64(values) : values;
      return { object: 'embedding', index, embedding };
    }),
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

async function handle(req, res, recorded) {
  const path = recorded.path.split('?')[0];
  if (req.method === 'POST' && path === '/v1/embeddings') {
    embeddings(res, recorded.body ?? {});
    return;
  }
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
    const frames = streamFrames(model, includeUsage);
    await sendSse(res, model === 'cut_stream' ? frames.slice(0, 3) : frames);
    return;
  }
  const tool = toolToCall(body);
  sendJson(res, 200, tool === null ? completion(model) : toolCallCompletion(model, tool));
}

// `options`: as startMockServer's (`tls` for HTTPS).
export function startMockOpenAI(options) {
  return startMockServer(handle, options);
}
