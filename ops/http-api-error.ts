/**
 * The error model the HTTP APIs share (key service, records service): a stable code, its HTTP status, and
 * a message that names the field and the fix. Bodies are `{ error: { code, message, field?, reason? } }`.
 * Each service lists its own codes and statuses and subclasses HttpApiError; messages carry identifiers at
 * most, never tokens, key material, names or media.
 */
export interface ErrorBody<Code extends string> {
  error: { code: Code; message: string; field?: string; reason?: string };
}

export abstract class HttpApiError<Code extends string> extends Error {
  readonly field: string | undefined;
  readonly reason: string | undefined;

  protected constructor(
    readonly code: Code,
    readonly status: number,
    message: string,
    options: { field?: string; reason?: string; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.field = options.field;
    this.reason = options.reason;
  }

  toBody(): ErrorBody<Code> {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field === undefined ? {} : { field: this.field }),
        ...(this.reason === undefined ? {} : { reason: this.reason }),
      },
    };
  }
}

/** The JSON schema of an error body whose code is one of `codes` (for route response schemas and OpenAPI). */
export function errorBodySchema(codes: readonly string[]) {
  return {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', enum: [...codes] },
          message: { type: 'string' },
          field: { type: 'string' },
          reason: { type: 'string' },
        },
      },
    },
  } as const;
}

interface SchemaViolation {
  instancePath?: string;
  params?: { missingProperty?: string; additionalProperty?: string };
  message?: string;
}

/**
 * What a Fastify schema-validation error says, as a field path (`params.recordingId`, `body` fields
 * without a prefix) and a message that names it and the fix. Undefined when `error` is not one.
 */
export function describeValidationError(
  error: { validation?: unknown; validationContext?: string },
  fallbackField: string,
): { field: string; message: string } | undefined {
  if (error.validation === undefined) return undefined;
  const first = (error.validation as SchemaViolation[])[0];
  const path = (first?.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  const named = first?.params?.missingProperty ?? first?.params?.additionalProperty;
  const field = [error.validationContext === 'body' ? '' : error.validationContext, path, named].filter((p) => p !== undefined && p !== '').join('.');
  const what = first?.params?.additionalProperty !== undefined ? 'is not a known field: remove it' : (first?.message ?? 'is invalid');
  return { field: field || fallbackField, message: `${field || 'request'} ${what}` };
}
