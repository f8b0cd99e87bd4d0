export { parseKeyring, formatKeyring, generateKey, type Keyring } from './keyring.js';
export { AesGcmPayloadCodec, createDataConverter, ENCODING, CIPHER, UnknownKeyError } from './payload-codec.js';
export { ShreddingPayloadCodec, subjectOf, carriesPersonalValue, KEY_KIND } from './shredding-codec.js';
export { SubjectKeyStore, KeyDestroyedError, destroySubjectKeys, KEY_DESTROYED_CHANNEL, type Subject } from './subject-keys.js';
export { keyringFromConfig, ensureDevPayloadKeys } from './config.js';
