/**
 * Error answers as real providers send them, each with its source. Where
 * OpenAI and the relays disagree the emulator can be told which to play,
 * because the bot meets both: Tuzi imitates OpenAI, and resellers run
 * new-api (QuantumNous/new-api) in front of the same endpoint.
 */
import { randomBytes } from 'node:crypto';

export interface Answer {
  status: number;
  /** Sent as JSON unless it is a string. */
  body: unknown;
  headers?: Record<string, string>;
}

/** Which provider's wording an answer imitates. */
export type ProviderStyle = 'openai' | 'new-api';
/** Balance answers; `payment-required` is the 402 that credit-based gateways send. */
export type QuotaStyle = ProviderStyle | 'payment-required';

function openAiError(
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
): Answer {
  return { status, body: { error: { message, type, param, code } } };
}

/**
 * new-api appends the request id to every message it aborts with
 * (common.MessageWithRequestId: "%s (request id: %s)"); its ids are a
 * timestamp followed by random characters.
 */
function withRequestId(message: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/\D/g, '').slice(0, 17);
  return `${message} (request id: ${stamp}${randomBytes(5).toString('hex')})`;
}

/**
 * new-api's task routes (POST/GET /v1/videos…) answer with a TaskError, not
 * OpenAI's `{error}` envelope: `{"code","message","data":null}`
 * (dto/task.go TaskError; controller respondTaskError does
 * `c.JSON(taskErr.StatusCode, taskErr)`).
 */
function newApiTaskError(status: number, code: string, message: string): Answer {
  return { status, body: { code, message, data: null } };
}

/** `model` names nothing the provider serves (any more). */
export function modelNotFound(style: ProviderStyle, model: string, now: number): Answer {
  if (style === 'new-api') {
    // middleware/distributor.go: no channel for (group, model) → 503 with
    // code model_not_found, written by abortWithOpenAiMessage as
    // {"error":{"message","type":"new_api_error","code"}}.
    return {
      status: 503,
      body: {
        error: {
          message: withRequestId(`当前分组 default 下对于模型 ${model} 无可用渠道`, now),
          type: 'new_api_error',
          code: 'model_not_found',
        },
      },
    };
  }
  // OpenAI: 404 {"error":{"message":"The model `x` does not exist or you do not
  // have access to it.","type":"invalid_request_error","param":null,
  // "code":"model_not_found"}} (as quoted in openai/openai-agents-python#458).
  return openAiError(
    404,
    `The model \`${model}\` does not exist or you do not have access to it.`,
    'invalid_request_error',
    'model_not_found',
  );
}

/** A task id the provider does not know (never created, deleted, or forgotten). */
export function taskNotFound(style: ProviderStyle): Answer {
  if (style === 'new-api') {
    // relay/relay_task.go videoFetchByIDRespBodyBuilder: an unknown task is
    // TaskErrorWrapperLocal(errors.New("task_not_exist"), "task_not_exist",
    // http.StatusBadRequest) — HTTP 400, message equal to the code.
    return newApiTaskError(400, 'task_not_exist', 'task_not_exist');
  }
  // The emulator's long-standing OpenAI-style 404; the bot's tests rely on its code.
  return {
    status: 404,
    body: { error: { message: 'Video not found', type: 'invalid_request_error', code: 'not_found' } },
  };
}

/**
 * The task's result was deleted upstream. facts/tuzi.md; a public Tuzi
 * client matches on `410`, `"status":"expired"` and this exact message, and
 * notes that on Tuzi such a 410 may clear up later, so it keeps polling the
 * same task instead of creating a new one.
 */
export function resultDeleted(): Answer {
  return { status: 410, body: { status: 'expired', message: 'async task result has been deleted' } };
}

export interface QuotaContext {
  balance: number;
  cost: number;
}

/** Not enough balance for this job. */
export function insufficientQuota(style: QuotaStyle, ctx: QuotaContext): Answer {
  if (style === 'new-api') {
    // service/pre_consume_quota.go: pre-consuming more than the balance is
    // 403 ErrorCodeInsufficientUserQuota ("预扣费额度失败, 用户剩余额度: …,
    // 需要预扣费额度: …"); on a task route TaskErrorFromAPIError turns it into
    // a TaskError with code insufficient_user_quota.
    return newApiTaskError(
      403,
      'insufficient_user_quota',
      `预扣费额度失败, 用户剩余额度: ＄${ctx.balance}, 需要预扣费额度: ＄${ctx.cost}`,
    );
  }
  if (style === 'payment-required') {
    // OpenRouter's 402: {"error":{"code":402,"message":"Insufficient credits. …"}}
    // (openrouter.ai docs, PaymentRequiredResponseErrorData) — a numeric code.
    return {
      status: 402,
      body: { error: { code: 402, message: 'Insufficient credits. Add more credits to continue.' } },
    };
  }
  // OpenAI's documented empty-balance error: 429 with type and code
  // insufficient_quota (error-codes guide; body as quoted in
  // Pythagora-io/gpt-pilot#340 and ChatGPTNextWeb/NextChat#3664). No
  // Retry-After: waiting does not refill a balance.
  return openAiError(
    429,
    'You exceeded your current quota, please check your plan and billing details. For more information on this ' +
      'error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
    'insufficient_quota',
    'insufficient_quota',
  );
}

/** Too many jobs of this key still running. */
export function concurrencyLimited(
  style: ProviderStyle,
  ctx: { limit: number; running: number; retryAfterSeconds: number },
): Answer {
  const headers = { 'retry-after': String(ctx.retryAfterSeconds) };
  if (style === 'new-api') {
    // An upstream 429 comes back through RelayTaskSubmit as
    // TaskErrorWrapper(…, "fail_to_fetch_task", 429), and respondTaskError
    // rewrites every 429 message to "当前分组上游负载已饱和，请稍后再试".
    return { ...newApiTaskError(429, 'fail_to_fetch_task', '当前分组上游负载已饱和，请稍后再试'), headers };
  }
  // OpenAI's rate-limit error ("429 - Rate limit reached for requests",
  // error-codes guide): code rate_limit_exceeded, type naming the limit.
  // The per-key job cap itself is unpublished (facts/tuzi.md: one public
  // plugin allows 2 per token), so the numbers are the emulator's.
  return {
    ...openAiError(
      429,
      `Rate limit reached for video generation on concurrent jobs: Limit ${ctx.limit}, Used ${ctx.running}, ` +
        `Requested 1. Please try again in ${ctx.retryAfterSeconds}s.`,
      'requests',
      'rate_limit_exceeded',
    ),
    headers,
  };
}

/** OpenAI echoes the key masked: a prefix, stars, the last four characters. */
export function maskKey(key: string): string {
  if (key.length < 12) return '***';
  return `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}`;
}

/** A key that existed and was revoked (or disabled by the operator). */
export function keyRevoked(style: ProviderStyle, key: string, now: number): Answer {
  if (style === 'new-api') {
    // model/token.go ValidateUserToken: a disabled token is "该令牌状态不可用",
    // aborted with 401 as {"error":{"message":"… (request id: …)","type":"new_api_error"}}.
    return {
      status: 401,
      body: { error: { message: withRequestId('该令牌状态不可用', now), type: 'new_api_error' } },
    };
  }
  // OpenAI: "401 - Incorrect API key provided … You are using a revoked API
  // key" (error-codes guide), code invalid_api_key.
  return openAiError(
    401,
    `Incorrect API key provided: ${maskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    'invalid_request_error',
    'invalid_api_key',
  );
}

/**
 * OpenAI documents DELETE for "a completed or failed video" only; how it
 * refuses a running one is unpublished, so this wording is the emulator's.
 */
export function deleteRefused(id: string, status: string): Answer {
  return openAiError(
    400,
    `Video '${id}' is ${status}; only completed or failed videos can be deleted.`,
    'invalid_request_error',
    'invalid_request',
  );
}

/**
 * How the file host answers an expired link. Signed object-store URLs (the
 * CDN behind `video_url`) answer 403 AccessDenied "Request has expired"
 * after their expiry (Amazon S3 presigned URLs; Aliyun OSS alike); some
 * hosts answer 410 Gone instead.
 */
export function linkExpired(status: 403 | 410): Answer {
  if (status === 410) return { status: 410, body: 'Gone', headers: { 'content-type': 'text/plain' } };
  return {
    status: 403,
    headers: { 'content-type': 'application/xml' },
    body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
  };
}
