import { sql, type Kysely } from 'kysely'

// Frozen in time: this file describes the schema as it was on its date; change it with a new migration.
// Full-text search over messages: a stored generated tsvector (Postgres keeps it in step with every insert, edit and
// delete) under a GIN index. The index is built concurrently, so this migration runs outside a transaction (see
// core/db/migrate.ts): each statement is its own, and each can be run again after a failure.
export const transactional = false

export async function up (db: Kysely<any>): Promise<void> {
  // unaccent is a trusted extension (a database owner may create it) shipped in contrib with every packaged Postgres.
  await sql`create extension if not exists unaccent`.execute(db)
  // The configuration every vector and query uses. It starts as `simple` (no stemming, no stop words: chat is
  // multilingual) with accents folded on the word tokens that can hold them; SEARCH_LANGUAGE re-maps it at migrate time.
  await sql`
    do $$ begin
      if not exists (select 1 from pg_ts_config where cfgname = 'pigeon_search') then
        create text search configuration pigeon_search (copy = simple);
        alter text search configuration pigeon_search alter mapping for word, hword, hword_part with unaccent, simple;
        comment on text search configuration pigeon_search is 'simple';
      end if;
    end $$`.execute(db)
  // Adding a stored generated column rewrites the table under an exclusive lock (every vector is computed once):
  // the one long step; the README says what it costs on a million messages. Waiting behind a long transaction while
  // holding everyone else back would be worse, so it gives up after 10 s rather than queue.
  await sql`set lock_timeout = '10s'`.execute(db)
  await sql`
    alter table messages add column if not exists search_vector tsvector
      generated always as (to_tsvector('pigeon_search'::regconfig, coalesce(text, ''))) stored`.execute(db)
  await sql`reset lock_timeout`.execute(db)
  // A concurrent build that failed leaves an invalid index behind: drop it, so the build below runs again.
  const { rows } = await sql<{ valid: boolean }>`
    select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
    where c.relname = 'messages_search_idx'`.execute(db)
  if (rows[0]?.valid === false) await sql`drop index concurrently messages_search_idx`.execute(db)
  // fastupdate off: each insert updates the index at once, never stalls on flushing a pending list.
  await sql`
    create index concurrently if not exists messages_search_idx on messages
      using gin (search_vector) with (fastupdate = off)`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop index concurrently if exists messages_search_idx`.execute(db)
  await sql`alter table messages drop column if exists search_vector`.execute(db)
  await sql`drop text search configuration if exists pigeon_search`.execute(db)
}
