// The platform surface the E2EE library may use, declared narrowly. The library compiles with no DOM
// and no Node types (one tsconfig per runtime); everything it touches outside the language is here, so a
// new platform dependency is a visible, reviewed change. All three runtimes (page, worker, Node >= 24)
// provide these as globals.

declare global {
  type BufferSourceLike = ArrayBuffer | ArrayBufferView;

  interface PlatformCryptoKey {
    readonly type: string;
    readonly extractable: boolean;
    readonly algorithm: { name: string };
    readonly usages: string[];
  }

  interface PlatformSubtleCrypto {
    importKey(
      format: 'raw',
      keyData: BufferSourceLike,
      algorithm: string | { name: string; hash?: string; length?: number },
      extractable: boolean,
      keyUsages: string[],
    ): Promise<PlatformCryptoKey>;
    encrypt(
      algorithm:
        | { name: 'AES-GCM'; iv: BufferSourceLike; additionalData?: BufferSourceLike; tagLength?: number }
        | { name: 'AES-CTR'; counter: BufferSourceLike; length: number },
      key: PlatformCryptoKey,
      data: BufferSourceLike,
    ): Promise<ArrayBuffer>;
    decrypt(
      algorithm:
        | { name: 'AES-GCM'; iv: BufferSourceLike; additionalData?: BufferSourceLike; tagLength?: number }
        | { name: 'AES-CTR'; counter: BufferSourceLike; length: number },
      key: PlatformCryptoKey,
      data: BufferSourceLike,
    ): Promise<ArrayBuffer>;
    sign(algorithm: 'HMAC' | { name: 'HMAC' }, key: PlatformCryptoKey, data: BufferSourceLike): Promise<ArrayBuffer>;
    verify(
      algorithm: 'HMAC' | { name: 'HMAC' },
      key: PlatformCryptoKey,
      signature: BufferSourceLike,
      data: BufferSourceLike,
    ): Promise<boolean>;
    deriveBits(
      algorithm: { name: 'HKDF'; hash: string; salt: BufferSourceLike; info: BufferSourceLike },
      baseKey: PlatformCryptoKey,
      length: number,
    ): Promise<ArrayBuffer>;
  }

  interface PlatformCrypto {
    readonly subtle: PlatformSubtleCrypto;
    getRandomValues<T extends ArrayBufferView>(array: T): T;
  }

  var crypto: PlatformCrypto;
}

export {};
