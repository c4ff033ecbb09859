import { writeFile } from 'node:fs/promises';
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';

/**
 * The sealing configuration a benchmark's services read (CHAPERONE_SEAL_CONFIG), development mode over the
 * benchmark's own servers: its PostgreSQL, the s3rver stand-in, and the KMS double, in which a key root and
 * an Ed25519 manifest-signing key are created here. `s3` and `extra` add or override settings.
 */
export async function writeBenchSealConfig(
  file: string,
  servers: {
    kmsClient: KMSClient;
    kms: { region: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } };
    databaseUrl: string;
    redis: { url: string; prefix?: string };
    s3Port: number;
    spoolDir: string;
  },
  settings: { s3?: (rootKeyArn: string) => Record<string, unknown>; extra?: Record<string, unknown> } = {},
): Promise<void> {
  const root = await servers.kmsClient.send(new CreateKeyCommand({ Description: 'bench root' }));
  const signing = await servers.kmsClient.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }));
  const rootKeyArn = root.KeyMetadata!.Arn!;
  await writeFile(
    file,
    JSON.stringify({
      mode: 'development',
      spoolDir: servers.spoolDir,
      redis: servers.redis,
      database: { url: servers.databaseUrl },
      s3: {
        bucket: 'chaperone-recordings',
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${servers.s3Port}`,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        forcePathStyle: true,
        checksums: 'when-required',
        ...settings.s3?.(rootKeyArn),
      },
      kms: { region: servers.kms.region, endpoint: servers.kms.endpoint, credentials: servers.kms.credentials },
      keyRoot: { kind: 'aws-kms', keyId: rootKeyArn },
      signer: { kind: 'aws-kms', keyId: signing.KeyMetadata!.Arn! },
      ...settings.extra,
    }),
  );
}
