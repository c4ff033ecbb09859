import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { DescribeKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { BuiltServices } from '../queue/config.js';
import { postgresReadiness, type ReadinessCheck } from '../ops/ops-server.js';

/**
 * Readiness of what the records service and the lifecycle process cannot work without (ops/ops-server.ts
 * /readyz): the catalog (PostgreSQL), the bucket (S3 HeadBucket: reachable and allowed) and, with a KMS
 * key root, the key (KMS DescribeKey — cheap, and it fails on the same network or IAM problem that would
 * fail every Decrypt). A failure answers with the check's name and an error class or code, never a message.
 */
export function s3Readiness(s3: S3Client, bucket: string): ReadinessCheck {
  return {
    name: 's3',
    async check() {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    },
  };
}

export function kmsReadiness(kms: KMSClient, keyId: string): ReadinessCheck {
  return {
    name: 'kms',
    async check() {
      await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    },
  };
}

/** PostgreSQL, S3 and (when the key root is in KMS) KMS of services built from the pipeline's configuration. */
export function storeReadiness(built: BuiltServices, bucket: string): ReadinessCheck[] {
  const checks = [postgresReadiness('postgres', built.services.pool), s3Readiness(built.s3, bucket)];
  const root = built.services.keyRoot;
  if (built.kms && root.kind === 'aws-kms') checks.push(kmsReadiness(built.kms, root.keyId));
  return checks;
}
