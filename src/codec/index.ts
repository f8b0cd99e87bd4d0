export { parseKeyring, formatKeyring, generateKey, type Keyring } from './keyring.js';
export { AesGcmPayloadCodec, createDataConverter, ENCODING, CIPHER, UnknownKeyError } from './payload-codec.js';
export { keyringFromConfig, ensureDevPayloadKeys } from './config.js';
