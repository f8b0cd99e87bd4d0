-- Up Migration

-- Who read Temporal payloads in clear through the codec endpoint (src/api/routes/codec.ts): the
-- name of the decode credential (or the local Temporal UI of `npm start`), the namespace, the
-- workflow when the caller names it, and how many payloads. The payloads themselves are never kept.
CREATE TABLE codec_decodes (
  id bigserial PRIMARY KEY,
  decoded_at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  namespace text NOT NULL,
  workflow_id text,
  payloads integer NOT NULL,
  request_id text NOT NULL
);
CREATE INDEX codec_decodes_decoded_at_idx ON codec_decodes (decoded_at);

-- Down Migration
DROP TABLE codec_decodes;
