-- 0015: the uploaded chunks compressed with lz4 instead of pglz. Every chunk (1 MiB of CSV text) is
-- compressed once on upload and read back once by validation, then deleted: pglz spent most of the
-- upload's server time. 50 chunks of the B1 file (51 MB), two runs each of INSERT then SELECT by seq:
-- pglz 2.03 / 1.73 s + 1.18 / 0.94 s, lz4 1.27 / 1.01 s + 0.99 / 0.85 s, 21 MB vs 23 MB stored.
-- A server built without lz4 keeps pglz (the only other choice): same data, just slower.
DO $$
BEGIN
  EXECUTE 'ALTER TABLE ingest_chunks ALTER COLUMN data SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this server has no lz4: ingest_chunks stays with pglz';
END $$;
