/** A response as the records API tests read it. */
export interface TestResponse {
  statusCode: number;
  headers: Record<string, string>;
  rawPayload: Buffer;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TestRequest {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  payload?: unknown;
}

/**
 * A client for a records API listening at `base`, over real HTTP on 127.0.0.1 (light-my-request's
 * CommonJS cookie import does not load under jest's ESM), with fastify's inject() shape.
 */
export function httpTestClient(base: string): { inject(request: TestRequest): Promise<TestResponse> } {
  return {
    async inject({ method = 'GET', url, headers = {}, payload }) {
      const response = await fetch(`${base}${url}`, {
        method,
        headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
      });
      const rawPayload = Buffer.from(await response.arrayBuffer());
      const out: Record<string, string> = {};
      response.headers.forEach((value, name) => (out[name] = value));
      return { statusCode: response.status, headers: out, rawPayload, json: () => JSON.parse(rawPayload.toString('utf8')) };
    },
  };
}
