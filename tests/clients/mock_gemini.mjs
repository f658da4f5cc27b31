// A mock of Google's Gemini API in its documented wire format
// (https://ai.google.dev/api/generate-content): POST /v1beta/models/{model}:generateContent as
// JSON, and POST /v1beta/models/{model}:streamGenerateContent?alt=sse as SSE events, each a whole
// GenerateContentResponse, CRLF-delimited as Google sends them; the last one carries finishReason
// and usageMetadata. The key arrives in the x-goog-api-key header (the test asserts that).
// POST /v1beta/models/{model}:batchEmbedContents (https://ai.google.dev/api/embeddings) answers
// {"embeddings": [{"values": [...]}, ...]}, one per entry of "requests", in order (see
// geminiMockEmbedding), at most 100 of them; like Google it reports no token count for embeddings.
// What the request holds picks the behaviour:
//   tools, and the last turn is not a functionResponse -> a functionCall (GEMINI_FUNCTION_CALL)
//   streaming without alt=sse -> HTTP 400 (Google would answer a JSON array keygate cannot read)
//   anything else -> a normal answer (GEMINI_REPLY, GEMINI_DELTAS, GEMINI_USAGE)

import { startMockServer, sendJson, sendSse } from './mock_server.mjs';

export const GEMINI_REPLY = 'Hello from the mock Gemini upstream.';
export const GEMINI_DELTAS = ['Hal', 'lo', ' from', ' Gemini', ' mock', '.'];
export const GEMINI_USAGE = { promptTokenCount: 11, candidatesTokenCount: 6, totalTokenCount: 17 };
export const GEMINI_FUNCTION_CALL = {
  name: 'get_weather',
  args: { city: 'Zurich', unit: 'celsius' },
};
export const GEMINI_MODEL_VERSION = 'gemini-2.5-flash-mock-001';

const ROUTE = new RegExp(
  '^/v1beta/models/([^/:]+):' +
    '(generateContent|streamGenerateContent|countTokens|batchEmbedContents)$',
);

// Embeddings: entry `index` of a batch gets its own vector of `dimensions` numbers (the entry's
// outputDimensionality, else GEMINI_EMBEDDING_DIMENSIONS; a real gemini-embedding-001 has 3072).
// Numbers as Google writes them, decimals that are not float32s (so a test sees whether they were
// narrowed), the first one in exponent notation.
export const GEMINI_EMBEDDING_DIMENSIONS = 6;
// Google takes at most 100 entries in one batchEmbedContents request (OpenAI takes 2048 inputs).
export const GEMINI_EMBEDDING_BATCH_LIMIT = 100;

export function geminiMockEmbedding(index, dimensions = GEMINI_EMBEDDING_DIMENSIONS) {
  const values = [-(index + 1) * 1.25e-7];
  for (let j = 1; j < dimensions; ++j) {
    values.push(Number(Math.sin((index + 1) * (j + 1)).toFixed(9)));
  }
  return values;
}

// batchEmbedContents: every entry names the path's model and holds text parts, as Google demands.
function batchEmbedContents(res, model, body) {
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0) {
    googleError(res, 400, 'INVALID_ARGUMENT', 'mock: batchEmbedContents wants "requests"');
    return;
  }
  if (requests.length > GEMINI_EMBEDDING_BATCH_LIMIT) {
    // Google's own words for it.
    googleError(res, 400, 'INVALID_ARGUMENT',
      'BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n');
    return;
  }
  const embeddings = [];
  for (const [index, entry] of requests.entries()) {
    if (entry?.model !== `models/${model}`) {
      const message = `mock: requests[${index}].model is ${entry?.model}, not models/${model}`;
      googleError(res, 400, 'INVALID_ARGUMENT', message);
      return;
    }
    const parts = entry.content?.parts;
    const allText = Array.isArray(parts) && parts.every((p) => typeof p.text === 'string');
    if (!allText || parts.length === 0) {
      googleError(res, 400, 'INVALID_ARGUMENT', `mock: requests[${index}].content holds no text`);
      return;
    }
    const dimensions = entry.outputDimensionality ?? GEMINI_EMBEDDING_DIMENSIONS;
    if (!Number.isInteger(dimensions) || dimensions < 1) {
      googleError(res, 400, 'INVALID_ARGUMENT', `mock: requests[${index}].outputDimensionality`);
      return;
    }
    embeddings.push({ values: geminiMockEmbedding(index, dimensions) });
  }
  sendJson(res, 200, { embeddings });
}

// countTokens (https://ai.google.dev/api/tokens): takes the generateContent request wrapped as
// generateContentRequest, whose model must name the path's; counts something a test can
// recompute: the length of the contents' and the system instruction's JSON.
export function mockGeminiTokenCount(request) {
  return JSON.stringify(request.contents ?? []).length +
    JSON.stringify(request.systemInstruction ?? {}).length;
}

function countTokens(res, model, body) {
  const request = body.generateContentRequest;
  if (!request || request.model !== `models/${model}` || !Array.isArray(request.contents)) {
    googleError(res, 400, 'INVALID_ARGUMENT', 'mock: countTokens wants generateContentRequest');
    return;
  }
  sendJson(res, 200, { totalTokens: mockGeminiTokenCount(request) });
}

function response(parts, last) {
  const r = {
    candidates: [{ content: { parts, role: 'model' }, index: 0 }],
    modelVersion: GEMINI_MODEL_VERSION,
    responseId: 'mock-gemini-r1',
  };
  if (last) {
    r.candidates[0].finishReason = 'STOP';
    r.usageMetadata = GEMINI_USAGE;
  }
  return r;
}

function event(value) {
  return `data: ${JSON.stringify(value)}\r\n\r\n`;
}

// Whether the model should call the tool now: it was offered tools and has not yet seen the
// function's result (the last turn is not a functionResponse).
function wantsFunctionCall(body) {
  if (!Array.isArray(body.tools) || body.tools.length === 0) {
    return false;
  }
  const last = Array.isArray(body.contents) ? body.contents.at(-1) : undefined;
  const parts = Array.isArray(last?.parts) ? last.parts : [];
  return !parts.some((p) => p.functionResponse !== undefined);
}

function googleError(res, status, grpcStatus, message) {
  sendJson(res, status, { error: { code: status, message, status: grpcStatus } });
}

async function handle(req, res, recorded) {
  const [path, query = ''] = recorded.path.split('?');
  const route = ROUTE.exec(path);
  if (req.method !== 'POST' || route === null) {
    googleError(res, 404, 'NOT_FOUND', `mock: no route ${req.method} ${path}`);
    return;
  }
  const body = recorded.body ?? {};
  if (route[2] === 'countTokens') {
    countTokens(res, route[1], body);
    return;
  }
  if (route[2] === 'batchEmbedContents') {
    batchEmbedContents(res, route[1], body);
    return;
  }
  const streaming = route[2] === 'streamGenerateContent';
  if (streaming && new URLSearchParams(query).get('alt') !== 'sse') {
    googleError(res, 400, 'INVALID_ARGUMENT', 'mock: streamGenerateContent without alt=sse');
    return;
  }
  if (wantsFunctionCall(body)) {
    const parts = [{ functionCall: GEMINI_FUNCTION_CALL }];
    if (streaming) {
      await sendSse(res, [event(response(parts, true))]);
    } else {
      sendJson(res, 200, response(parts, true));
    }
    return;
  }
  if (streaming) {
    const frames = GEMINI_DELTAS.map((text, i) =>
      event(response([{ text }], i + 1 === GEMINI_DELTAS.length)),
    );
    await sendSse(res, frames);
    return;
  }
  sendJson(res, 200, response([{ text: GEMINI_REPLY }], true));
}

export function startMockGemini() {
  return startMockServer(handle);
}
