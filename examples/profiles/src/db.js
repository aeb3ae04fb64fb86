// The profiles table. A file column holds only the name the storage returned
// (as Django's FileField does); the bytes live in the storage.
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS profile (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  name          TEXT NOT NULL,
  avatar        TEXT,
  avatar_width  INTEGER,
  avatar_height INTEGER,
  document      TEXT,
  document_name TEXT NOT NULL DEFAULT '',
  created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)`

const pick = (row, keys) => Object.fromEntries(keys.map((k) => [k, row[k] ?? null]))

/**
 * Opens (creating if needed) the SQLite database at `file` (`:memory:` works).
 * @returns the profile repository.
 */
export function openDatabase(file) {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.exec(SCHEMA)
  const stmts = {
    all: db.prepare('SELECT * FROM profile ORDER BY id DESC'),
    get: db.prepare('SELECT * FROM profile WHERE id = ?'),
    insert: db.prepare(
      `INSERT INTO profile (name, avatar, avatar_width, avatar_height, document, document_name)
       VALUES (@name, @avatar, @avatar_width, @avatar_height, @document, @document_name)`,
    ),
    setAvatar: db.prepare('UPDATE profile SET avatar = @avatar, avatar_width = @avatar_width, avatar_height = @avatar_height WHERE id = @id'),
    remove: db.prepare('DELETE FROM profile WHERE id = ?'),
  }
  return {
    all: () => stmts.all.all(),
    get: (id) => stmts.get.get(id),
    insert: (row) => Number(stmts.insert.run(pick(row, ['name', 'avatar', 'avatar_width', 'avatar_height', 'document', 'document_name'])).lastInsertRowid),
    setAvatar: (id, row) => stmts.setAvatar.run({ id, ...pick(row, ['avatar', 'avatar_width', 'avatar_height']) }),
    remove: (id) => stmts.remove.run(id).changes > 0,
    close: () => db.close(),
  }
}
