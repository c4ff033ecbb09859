import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { KmsError } from './errors.js';

/**
 * Verifies an AWS Signature Version 4 `Authorization` header the way AWS does, for a JSON 1.1 POST
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html): canonical request →
 * string to sign → HMAC-SHA256 chain over date, region and service. The double knows the secret of each
 * access key it accepts, so a client with wrong credentials is refused exactly as KMS refuses it.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SignedCaller {
  accessKeyId: string;
  region: string;
}

const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return Number.NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ');
}

export function verifySigV4(params: {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  service: string;
  secrets: ReadonlyMap<string, string>;
  now?: number;
}): SignedCaller {
  const { method, path, headers, body, service, secrets } = params;
  const authorization = headerValue(headers, 'authorization');
  if (!authorization) throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!m) throw new KmsError('IncompleteSignature', 'Authorization header requires Credential, SignedHeaders and Signature (AWS4-HMAC-SHA256).');
  const [, accessKeyId, scopeDate, region, scopeService, signedHeaderList, signature] = m as unknown as string[];
  const secret = secrets.get(accessKeyId!);
  if (secret === undefined) throw new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (scopeService !== service) throw new KmsError('InvalidSignatureException', `Credential should be scoped to correct service: '${service}'.`);
  const amzDate = headerValue(headers, 'x-amz-date');
  if (!amzDate) throw new KmsError('IncompleteSignature', 'Missing X-Amz-Date header.');
  const signedAt = parseAmzDate(amzDate);
  if (!Number.isFinite(signedAt) || amzDate.slice(0, 8) !== scopeDate) throw new KmsError('InvalidSignatureException', 'Date in Credential scope does not match X-Amz-Date.');
  if (Math.abs((params.now ?? Date.now()) - signedAt) > MAX_CLOCK_SKEW_MS) throw new KmsError('InvalidSignatureException', 'Signature expired: the request time is more than 5 minutes from the server time.');
  const signedHeaders = signedHeaderList!.split(';');
  if (!signedHeaders.includes('host')) throw new KmsError('InvalidSignatureException', "'Host' must be a signed header.");
  const canonicalHeaders = signedHeaders.map((name) => `${name}:${headerValue(headers, name) ?? ''}\n`).join('');
  const payloadHash = sha256Hex(body);
  const canonicalRequest = [method, path, '', canonicalHeaders, signedHeaderList, payloadHash].join('\n');
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, scopeDate!), region!), service), 'aws4_request');
  const expected = Buffer.from(hmac(signingKey, stringToSign).toString('hex'), 'utf8');
  if (!timingSafeEqual(expected, Buffer.from(signature!, 'utf8'))) {
    throw new KmsError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
  }
  return { accessKeyId: accessKeyId!, region: region! };
}
